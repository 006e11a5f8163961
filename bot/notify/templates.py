"""Notification templates in argocd-notifications' words, rendered with sandboxed Jinja2.

A template is ``template.<name>`` (or ``<name>`` in kajitori's ``templates`` mapping) whose
value, a mapping or a YAML string of one, has::

    message: <text template>            # the message text (Slack's `text`)
    slack:
      attachments: <list | JSON string> # data; each string leaf is a template
      blocks: <list | JSON string>      # the same, Block Kit blocks
      groupingKey: <text template>      # messages with the same key share a thread
      notifyBroadcast: <bool>           # thread replies also shown in the channel
      deliveryPolicy: Post | PostAndUpdate | Update
      username: <text template>         # needs chat:write.customize
      icon: <text template>             # :emoji: or an image URL

Other service sections Argo knows (``email``, ``teams``, ``webhook``...) are accepted and
ignored, so an ``argocd-notifications-cm`` can be pasted as is. Text uses Jinja (see
:mod:`bot.notify.templates_env` for the environment's choices); Go-template text copied from
Argo is translated where it is simple (:mod:`bot.notify.templates_go`). Attachments and blocks
are data, rendered leaf by leaf (:mod:`bot.notify.templates_data`), so no value can break the
message's structure.

Several templates for one firing (a trigger's ``send`` list) combine as in Argo: applied in
order, ``message`` replaced only by a non-empty one, and a later ``slack`` section replacing
every Slack field.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import yaml
from jinja2 import Template as JinjaTemplate

from bot.notify.templates_data import (
    DataTemplate,
    FieldError,
    compile_data,
    compile_text,
    render_text,
)
from bot.notify.templates_env import environment
from reconciler.errors import ConfigError, KajitoriError

DeliveryPolicy = Literal["Post", "PostAndUpdate", "Update"]
DELIVERY_POLICIES: Final[tuple[DeliveryPolicy, ...]] = ("Post", "PostAndUpdate", "Update")
TEMPLATE_PREFIX: Final = "template."
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TOP_FIELDS: Final = ("message", "slack")
_SLACK_FIELDS: Final = (
    "attachments",
    "blocks",
    "groupingKey",
    "notifyBroadcast",
    "deliveryPolicy",
    "username",
    "icon",
)

__all__ = [
    "DELIVERY_POLICIES",
    "DeliveryPolicy",
    "Notification",
    "SlackMessage",
    "SlackTemplate",
    "Template",
    "TemplateError",
    "parse_template",
    "parse_templates",
    "render_notification",
]


class TemplateError(KajitoriError):
    """A template failed to render. ``template`` and ``field`` name where; the message says
    ``template '<name>' field <path>: <problem>`` (without ``field`` when the problem is the
    whole template)."""

    def __init__(self, template: str, field: str, message: str) -> None:
        self.template = template
        self.field = field
        where = f" field {field}" if field else ""
        super().__init__(f"template '{template}'{where}: {message}")


@dataclass(frozen=True)
class SlackMessage:
    """The Slack part of a rendered notification: plain JSON data ready for chat.postMessage
    (``attachments``/``blocks`` None when the template has none) and the delivery options."""

    attachments: list[dict[str, Any]] | None = None
    blocks: list[dict[str, Any]] | None = None
    grouping_key: str = ""
    notify_broadcast: bool = False
    delivery_policy: DeliveryPolicy = "Post"
    username: str = ""
    icon: str = ""


@dataclass(frozen=True)
class Notification:
    """A rendered notification: the ``templates`` applied, the ``message`` text and the
    ``slack`` part (None when no template had a ``slack`` section)."""

    templates: tuple[str, ...]
    message: str
    slack: SlackMessage | None = None

    def slack_payload(self) -> dict[str, Any]:
        """The content arguments of chat.postMessage / chat.update: ``text`` plus the
        ``attachments`` and ``blocks`` that are present."""
        payload: dict[str, Any] = {"text": self.message}
        if self.slack is not None:
            if self.slack.attachments is not None:
                payload["attachments"] = self.slack.attachments
            if self.slack.blocks is not None:
                payload["blocks"] = self.slack.blocks
        return payload


Text = JinjaTemplate | str


@dataclass(frozen=True)
class SlackTemplate:
    """The compiled ``slack`` section of a template."""

    attachments: DataTemplate | None
    blocks: DataTemplate | None
    grouping_key: Text
    notify_broadcast: bool
    delivery_policy: DeliveryPolicy
    username: Text
    icon: Text

    def render(self, variables: Mapping[str, Any]) -> SlackMessage:
        return SlackMessage(
            attachments=_rendered_list(self.attachments, variables),
            blocks=_rendered_list(self.blocks, variables),
            grouping_key=render_text(self.grouping_key, variables, "slack.groupingKey").strip(),
            notify_broadcast=self.notify_broadcast,
            delivery_policy=self.delivery_policy,
            username=render_text(self.username, variables, "slack.username").strip(),
            icon=render_text(self.icon, variables, "slack.icon").strip(),
        )


def _rendered_list(
    data: DataTemplate | None, variables: Mapping[str, Any]
) -> list[dict[str, Any]] | None:
    if data is None:
        return None
    return cast(list[dict[str, Any]], data.render(variables))


@dataclass(frozen=True)
class Template:
    """A compiled template: ``message`` (None when the template has no ``message``) and the
    ``slack`` section (None when absent). Immutable; safe to share between threads."""

    name: str
    message: Text | None
    slack: SlackTemplate | None

    def render(self, variables: Mapping[str, Any]) -> Notification:
        """This template alone rendered with ``variables``; :class:`TemplateError` names
        the template and field that failed."""
        return render_notification({self.name: self}, [self.name], variables)


def _render_one(
    template: Template, variables: Mapping[str, Any]
) -> tuple[str, SlackMessage | None]:
    try:
        message = (
            "" if template.message is None else render_text(template.message, variables, "message")
        )
        slack = None if template.slack is None else template.slack.render(variables)
    except FieldError as exc:
        raise TemplateError(template.name, exc.field, exc.message) from None
    return message.strip("\n"), slack


def render_notification(
    templates: Mapping[str, Template], names: Iterable[str], variables: Mapping[str, Any]
) -> Notification:
    """The notification for a firing whose ``send`` lists ``names``, combined as Argo does
    (module docstring). Raises :class:`TemplateError` for an unknown name or a failure."""
    applied: list[str] = []
    message = ""
    slack: SlackMessage | None = None
    for name in names:
        template = templates.get(name)
        if template is None:
            hint = difflib.get_close_matches(name, list(templates), n=1)
            more = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise TemplateError(name, "", f"no such template{more}")
        text, slack_part = _render_one(template, variables)
        if text:
            message = text
        if slack_part is not None:
            slack = slack_part
        applied.append(name)
    return Notification(tuple(applied), message, slack)


# -- parsing -------------------------------------------------------------------------------


def _text_field(strict: bool, raw: Mapping[str, Any], key: str, field: str) -> Text:
    value = raw.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {type(value).__name__}")
    return compile_text(environment(strict), value, field)


def _slack_section(raw: Any, strict: bool) -> SlackTemplate:
    if not isinstance(raw, Mapping):
        raise FieldError("slack", "must be a mapping")
    for key in raw:
        if key not in _SLACK_FIELDS:
            hint = difflib.get_close_matches(str(key), _SLACK_FIELDS, n=1)
            more = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise FieldError(
                f"slack.{key}", f"unknown field{more}; known: {', '.join(_SLACK_FIELDS)}"
            )
    env = environment(strict)
    policy = raw.get("deliveryPolicy") or "Post"
    if policy not in DELIVERY_POLICIES:
        raise FieldError(
            "slack.deliveryPolicy", f"must be one of {', '.join(DELIVERY_POLICIES)}, got {policy!r}"
        )
    broadcast = raw.get("notifyBroadcast", False)
    if broadcast is None:
        broadcast = False
    if not isinstance(broadcast, bool):
        raise FieldError("slack.notifyBroadcast", "must be true or false")
    attachments = raw.get("attachments")
    blocks = raw.get("blocks")
    return SlackTemplate(
        attachments=None
        if attachments in (None, "")
        else compile_data(env, attachments, "slack.attachments"),
        blocks=None
        if blocks in (None, "")
        else compile_data(env, blocks, "slack.blocks", block_list=True),
        grouping_key=_text_field(strict, raw, "groupingKey", "slack.groupingKey"),
        notify_broadcast=broadcast,
        delivery_policy=cast(DeliveryPolicy, policy),
        username=_text_field(strict, raw, "username", "slack.username"),
        icon=_text_field(strict, raw, "icon", "slack.icon"),
    )


def _spec(raw: Any) -> Mapping[str, Any]:
    if isinstance(raw, str):
        try:
            raw = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise FieldError("", f"not valid YAML{at}") from None
    if not isinstance(raw, Mapping):
        raise FieldError("", "must be a mapping with 'message' and/or 'slack'")
    for key, value in raw.items():
        if key in _TOP_FIELDS:
            continue
        close = difflib.get_close_matches(str(key), _TOP_FIELDS, n=1, cutoff=0.75)
        if close or not isinstance(value, Mapping):
            more = f" (did you mean '{close[0]}'?)" if close else ""
            raise FieldError(
                str(key),
                f"unknown field{more}; kajitori reads 'message' and 'slack' (other "
                "services' sections, such as 'email', are mappings and are ignored)",
            )
    return raw


def parse_template(name: str, raw: Any, *, strict: bool = False) -> Template:
    """One template from its settings value. Raises :class:`TemplateError` naming the
    template and field. ``strict`` makes undefined variables errors at render time."""
    try:
        spec = _spec(raw)
        message = spec.get("message")
        if message is not None and not isinstance(message, str):
            raise FieldError("message", f"must be a string, got {type(message).__name__}")
        if message is None and spec.get("slack") is None:
            raise FieldError("", "needs a 'message' or a 'slack' section")
        return Template(
            name=name,
            message=None
            if message is None
            else compile_text(environment(strict), message, "message"),
            slack=None if spec.get("slack") is None else _slack_section(spec["slack"], strict),
        )
    except FieldError as exc:
        raise TemplateError(name, exc.field, exc.message) from None


def parse_templates(
    mapping: Mapping[str, Any], *, source: str = "templates", strict: bool = False
) -> dict[str, Template]:
    """Templates by name from ``mapping``: ``template.<name>`` or bare ``<name>`` keys whose
    values are template mappings or YAML strings of them. Raises :class:`ConfigError` listing
    every problem, each as ``<source>: template '<name>' field <path>: <problem>``."""
    problems: list[str] = []
    templates: dict[str, Template] = {}
    for key, raw in mapping.items():
        if not isinstance(key, str):
            problems.append(f"{source}: key {key!r}: template names must be strings")
            continue
        name = key.removeprefix(TEMPLATE_PREFIX)
        if not _NAME.fullmatch(name):
            problems.append(
                f"{source}: key '{key}': a template name uses letters, digits, '.', '_' and '-'"
            )
            continue
        if name in templates:
            problems.append(f"{source}: template '{name}' is defined twice")
            continue
        try:
            templates[name] = parse_template(name, raw, strict=strict)
        except TemplateError as exc:
            problems.append(f"{source}: {exc}")
    if problems:
        raise ConfigError(problems)
    return templates
