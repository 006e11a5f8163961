"""Parsing the ``slack`` section of the Settings document into ``SlackSettings``.

How the bot connects (mode and tokens), the slash command names it answers to, the channel
routes and the approval timeout. Every problem is reported on the field it concerns, through
``reconciler.config_fields.Fields``; a token is checked by its shape (``xoxb-``, ``xapp-``)
without ever being quoted, so a message can be logged as it is.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from types import MappingProxyType
from typing import Any

from bot.settings_types import (
    DEFAULT_APPROVAL_TIMEOUT,
    HTTP_MODE,
    SOCKET_MODE,
    ChannelRoutes,
    CommandNames,
    SlackSettings,
)
from reconciler.config_fields import Fields, suggestion, type_name
from reconciler.settings import Secret

_SLACK_FIELDS = (
    "mode",
    "botToken",
    "appToken",
    "signingSecret",
    "commands",
    "channels",
    "approvalTimeout",
    "apiUrl",
)
_COMMAND_FIELDS = {
    "sync": "sync",
    "diff": "diff",
    "rollback": "rollback",
    "toggleSelfHeal": "toggle_selfheal",
    "gitops": "gitops",
}
# Slash command names: lowercase, no spaces, at most 32 characters after the slash.
_COMMAND_NAME = re.compile(r"^/[a-z0-9][a-z0-9_.-]{0,31}$")
# A channel ID (C…, G… or D…) or a channel name with or without "#".
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_CHANNEL_NAME = re.compile(r"^#?[a-z0-9][a-z0-9_\-]{0,79}$")
_API_URL = re.compile(r"^https?://[^/\s@]+(/\S*)?$")


def _token(fields: Fields, key: str, prefix: str, what: str) -> Secret | None:
    """A token written literally (a str) or resolved from ``{env: NAME}`` (a Secret);
    ``prefix`` ("xoxb-") catches a token pasted into the wrong field, without quoting it."""
    value = fields.data.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        secret = Secret(value)
    elif isinstance(value, Secret):
        secret = value
    else:
        fields.problem(key, f"expected a string or {{env: NAME}}, got {type_name(value)}")
        return None
    if not secret.reveal():
        fields.problem(key, "must not be empty")
        return None
    if prefix and not secret.reveal().startswith(prefix):
        fields.problem(key, f"the value from the {secret.origin} is not {what} ({prefix}...)")
        return None
    return secret


def _commands(fields: Fields | None) -> CommandNames:
    if fields is None:
        return CommandNames()
    fields.check_keys(tuple(_COMMAND_FIELDS))
    defaults = CommandNames()
    names: dict[str, str] = {}
    seen: dict[str, str] = {}
    for key, attribute in _COMMAND_FIELDS.items():
        name = fields.string(key, getattr(defaults, attribute), nonempty=True)
        if not _COMMAND_NAME.match(name):
            if name:  # "" was reported as empty already
                fields.problem(
                    key,
                    "must be a slash command: '/' then up to 32 lowercase letters, digits, "
                    "'-', '_' or '.'",
                )
            name = getattr(defaults, attribute)
        elif name in seen:
            fields.problem(key, f"{name} is already the {seen[name]} command")
        seen[name] = key
        names[attribute] = name
    return CommandNames(**names)


def _channel(fields: Fields, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        fields.problem(key, f"expected a channel ID or #name, got {type_name(value)}")
        return ""
    channel = value.strip()
    if not (_CHANNEL_ID.match(channel) or _CHANNEL_NAME.match(channel)):
        fields.problem(
            key,
            "is neither a channel ID (C0123ABC) nor a channel name (lowercase, no spaces, "
            "at most 80 characters)",
        )
        return ""
    return channel


def _channel_map(
    fields: Fields, key: str, known: Collection[str] | None, what: str
) -> dict[str, str]:
    section = fields.mapping(key)
    if section is None:
        return {}
    result: dict[str, str] = {}
    for name, value in section.data.items():
        name = str(name)
        if known is not None and name not in known:
            section.problem(name, f"no {what} named {name!r}{suggestion(name, known)}")
            continue
        channel = _channel(section, name, value)
        if channel:
            result[name] = channel
    return result


def _channels(
    fields: Fields | None,
    apps: Collection[str] | None,
    projects: Collection[str] | None,
) -> ChannelRoutes:
    if fields is None:
        return ChannelRoutes()
    fields.check_keys(("default", "apps", "projects"))
    default = _channel(fields, "default", fields.data["default"]) if fields.has("default") else ""
    return ChannelRoutes(
        default=default,
        apps=MappingProxyType(_channel_map(fields, "apps", apps, "app")),
        projects=MappingProxyType(_channel_map(fields, "projects", projects, "project")),
    )


def _api_url(fields: Fields) -> str:
    """``apiUrl``: the Web API base URL (for a Slack stand-in, as ``kajitori demo`` uses),
    always ending in "/" as slack_sdk appends method names to it; "" when not set."""
    if not fields.has("apiUrl"):
        return ""
    url = fields.string("apiUrl", "", nonempty=True).strip()
    if not url:
        return ""
    if not _API_URL.match(url):
        fields.problem(
            "apiUrl",
            "expected an http(s) URL without credentials, such as https://slack.com/api/",
        )
        return ""
    return url if url.endswith("/") else url + "/"


def parse_slack_settings(
    fields: Fields,
    *,
    apps: Collection[str] | None = None,
    projects: Collection[str] | None = None,
) -> SlackSettings:
    """The ``slack`` section (``fields``, a redacted view). ``apps`` and ``projects``, when
    given, are the configured names: channel routes for other names are problems."""
    fields.check_keys(_SLACK_FIELDS)
    mode = fields.string("mode", SOCKET_MODE)
    if mode not in (SOCKET_MODE, HTTP_MODE):
        fields.problem("mode", f"must be 'socket' or 'http', got {fields.got(mode)}")
        mode = SOCKET_MODE
    bot_token = _token(fields, "botToken", "xoxb-", "a bot token")
    app_token = _token(fields, "appToken", "xapp-", "an app-level token")
    signing_secret = _token(fields, "signingSecret", "", "a signing secret")
    if fields.has("botToken") or fields.has("mode"):
        if not fields.has("botToken"):
            fields.problem("botToken", "required to connect to Slack (the xoxb-... bot token)")
        if mode == SOCKET_MODE and app_token is None and not fields.has("appToken"):
            fields.problem(
                "appToken",
                "required in socket mode (an app-level token xapp-... with connections:write)",
            )
        if mode == HTTP_MODE and signing_secret is None and not fields.has("signingSecret"):
            fields.problem(
                "signingSecret", "required in http mode (to verify requests come from Slack)"
            )
    elif fields.has("appToken") or fields.has("signingSecret"):
        fields.problem("botToken", "required when appToken or signingSecret is set")
    timeout = fields.duration("approvalTimeout", DEFAULT_APPROVAL_TIMEOUT, positive=True)
    return SlackSettings(
        mode=HTTP_MODE if mode == HTTP_MODE else SOCKET_MODE,
        bot_token=bot_token,
        app_token=app_token,
        signing_secret=signing_secret,
        commands=_commands(fields.mapping("commands")),
        channels=_channels(fields.mapping("channels"), apps, projects),
        approval_timeout=timeout,
        api_url=_api_url(fields),
    )


__all__ = ["parse_slack_settings"]
