"""The bot's typed settings: the ``slack`` and ``rbac`` sections of the Settings document.

``reconciler.settings`` keeps those sections as :class:`~reconciler.settings.RawSection`
mappings (with ``{env: NAME}`` values already resolved into Secrets); this module turns them
into frozen objects once, at start-up, so the rest of the bot never looks at raw YAML:

```yaml
slack:
  mode: socket                       # or http (Events API over the signing secret)
  botToken: {env: SLACK_BOT_TOKEN}   # xoxb-...
  appToken: {env: SLACK_APP_TOKEN}   # xapp-..., socket mode only
  signingSecret: {env: SLACK_SIGNING_SECRET}   # http mode only
  commands: {sync: /sync, diff: /diff, rollback: /rollback,
             toggleSelfHeal: /toggle-selfheal, gitops: /gitops}
  channels: {default: "#deploys", apps: {guestbook: "#guestbook"}, projects: {payments: C0PAY}}
  approvalTimeout: 1h
  apiUrl: https://slack.com/api/     # optional: another Web API base (a stand-in's)
rbac:
  projects:
    "*":      {viewers: [S0DEVS]}
    payments: {deployers: [U0BOB], admins: [S0PLATFORM]}
```

A missing ``slack`` section (or one without ``botToken`` and ``mode``) means Slack is not
connected; the other fields still apply. Tokens stay :class:`~reconciler.settings.Secret`.
Problems raise :class:`~reconciler.errors.ConfigError` naming each field; no message ever
quotes a token.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from reconciler.config_fields import Fields, Problems, suggestion, type_name
from reconciler.errors import ConfigError
from reconciler.settings import Secret, Settings

SOCKET_MODE: Final = "socket"
HTTP_MODE: Final = "http"
ALL_PROJECTS: Final = "*"
EVERYONE: Final = "*"  # as a role member: every user of the workspace
DEFAULT_APPROVAL_TIMEOUT: Final = 3600.0

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
_ROLE_FIELDS = ("viewers", "deployers", "admins")
# Slash command names: lowercase, no spaces, at most 32 characters after the slash.
_COMMAND_NAME = re.compile(r"^/[a-z0-9][a-z0-9_.-]{0,31}$")
# A channel ID (C…, G… or D…) or a channel name with or without "#".
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_CHANNEL_NAME = re.compile(r"^#?[a-z0-9][a-z0-9_\-]{0,79}$")
# Slack user IDs (U… or, in Enterprise Grid, W…) and user group IDs (S…).
USER_ID: Final = re.compile(r"^[UW][A-Z0-9]{2,}$")
GROUP_ID: Final = re.compile(r"^S[A-Z0-9]{2,}$")
_API_URL = re.compile(r"^https?://[^/\s@]+(/\S*)?$")


@dataclass(frozen=True)
class CommandNames:
    """The slash command names the bot answers to (configurable to avoid clashes with other
    apps in the workspace)."""

    sync: str = "/sync"
    diff: str = "/diff"
    rollback: str = "/rollback"
    toggle_selfheal: str = "/toggle-selfheal"
    gitops: str = "/gitops"

    def all(self) -> tuple[str, ...]:
        return (self.sync, self.diff, self.rollback, self.toggle_selfheal, self.gitops)


DEFAULT_COMMANDS: Final = CommandNames()


def _frozen(mapping: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class ChannelRoutes:
    """Where messages about an app go: the app's own channel, else its project's channel,
    else the channel a command came from, else ``default`` (for automated events, which come
    from no channel)."""

    default: str = ""
    apps: Mapping[str, str] = field(default_factory=_frozen)
    projects: Mapping[str, str] = field(default_factory=_frozen)

    def channel_for(self, app: str, project: str, origin: str = "") -> str:
        """The channel for messages about ``app`` (in ``project``) caused from the channel
        ``origin`` ("" for automated events); "" when nothing is configured."""
        return self.apps.get(app) or self.projects.get(project) or origin or self.default


@dataclass(frozen=True, repr=False)
class SlackSettings:
    """How the bot connects to Slack and what it answers to. ``approval_timeout`` is seconds."""

    mode: Literal["socket", "http"] = SOCKET_MODE
    bot_token: Secret | None = None
    app_token: Secret | None = None
    signing_secret: Secret | None = None
    commands: CommandNames = field(default_factory=CommandNames)
    channels: ChannelRoutes = field(default_factory=ChannelRoutes)
    approval_timeout: float = DEFAULT_APPROVAL_TIMEOUT
    api_url: str = ""  # the Web API base URL ending in "/"; "" means Slack's own

    @property
    def connected(self) -> bool:
        """Whether Slack is configured at all (a bot token is set)."""
        return self.bot_token is not None

    def __repr__(self) -> str:
        return (
            f"SlackSettings(mode={self.mode!r}, connected={self.connected}, "
            f"commands={self.commands!r}, channels={self.channels!r}, "
            f"approval_timeout={self.approval_timeout!r}, api_url={self.api_url!r})"
        )


@dataclass(frozen=True)
class ProjectRoles:
    """Who holds each role in one project: Slack user IDs (U…/W…), user group IDs (S…) and
    ``"*"`` for everyone in the workspace."""

    viewers: frozenset[str] = frozenset()
    deployers: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RbacSettings:
    """Roles per project; the ``"*"`` entry applies to every project. Empty means RBAC is not
    configured, and then only read commands are allowed."""

    projects: Mapping[str, ProjectRoles] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def configured(self) -> bool:
        return bool(self.projects)

    def entries_for(self, project: str) -> tuple[ProjectRoles, ...]:
        """The entries that apply to ``project``: its own and the ``"*"`` one."""
        found = (self.projects.get(project), self.projects.get(ALL_PROJECTS))
        return tuple(entry for entry in found if entry is not None)


@dataclass(frozen=True)
class BotSettings:
    """Everything the bot reads from the Settings document."""

    slack: SlackSettings = field(default_factory=SlackSettings)
    rbac: RbacSettings = field(default_factory=RbacSettings)


# -- parsing ----------------------------------------------------------------------------------


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
        apps=_frozen(_channel_map(fields, "apps", apps, "app")),
        projects=_frozen(_channel_map(fields, "projects", projects, "project")),
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


def _is_member_id(member: str) -> bool:
    return member == EVERYONE or bool(USER_ID.match(member) or GROUP_ID.match(member))


def _members(fields: Fields, key: str) -> frozenset[str]:
    value = fields.data.get(key)
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        fields.problem(key, f"expected a list of IDs, got {type_name(value)}")
        return frozenset()
    members: set[str] = set()
    for index, member in enumerate(value):
        where = f"{fields.path}.{key}[{index}]"
        if not isinstance(member, str):
            fields.problems.add(where, f"expected a string, got {type_name(member)}")
        elif _is_member_id(member.strip()):
            members.add(member.strip())
        else:
            fields.problems.add(
                where,
                f"{member!r} is not a Slack user ID (U…/W…), a user group ID (S…) or '*'; "
                "find IDs in a profile's or group's 'Copy member ID' menu",
            )
    return frozenset(members)


def parse_rbac_settings(fields: Fields, *, projects: Collection[str] | None = None) -> RbacSettings:
    """The ``rbac`` section. ``projects``, when given, are the configured project names: an
    entry for another name (likely a typo that would silently deny everyone) is a problem."""
    fields.check_keys(("projects",))
    section = fields.mapping("projects")
    if section is None:
        return RbacSettings()
    entries: dict[str, ProjectRoles] = {}
    for name, value in section.data.items():
        name = str(name)
        if projects is not None and name != ALL_PROJECTS and name not in projects:
            hint = suggestion(name, projects)
            section.problem(name, f"no project named {name!r}{hint} (use '*' for every project)")
            continue
        if not isinstance(value, dict):
            section.problem(name, f"expected a mapping of {', '.join(_ROLE_FIELDS)}")
            continue
        roles = section.child(value, f"{section.path}.{name}")
        roles.check_keys(_ROLE_FIELDS)
        entries[name] = ProjectRoles(
            viewers=_members(roles, "viewers"),
            deployers=_members(roles, "deployers"),
            admins=_members(roles, "admins"),
        )
    return RbacSettings(projects=MappingProxyType(entries))


def parse_bot_settings(
    settings: Settings,
    *,
    source: str = "<settings>",
    apps: Collection[str] | None = None,
    projects: Collection[str] | None = None,
) -> BotSettings:
    """The bot's settings from the raw ``slack`` and ``rbac`` sections of ``settings``.
    ``source`` (the settings file) starts every problem; ``apps`` and ``projects`` (the
    configured names, when known) catch routes and RBAC entries for names that do not exist.
    Raises ConfigError listing every problem."""
    problems = Problems(source)
    root = Fields({}, "", problems).redacted()
    slack = parse_slack_settings(
        root.child(dict(settings.slack), "slack"), apps=apps, projects=projects
    )
    rbac = parse_rbac_settings(root.child(dict(settings.rbac), "rbac"), projects=projects)
    if problems.messages:
        raise ConfigError(problems.messages)
    return BotSettings(slack=slack, rbac=rbac)
