"""The ``notifications`` section of kajitori's settings, typed, in argocd-notifications' words.

::

    notifications:
      context:                    # what templates see as `context`
        argocdUrl: https://kajitori.example.com
      defaultTriggers: [on-deployed, on-sync-failed, on-health-degraded]
      defaultTriggers.slack: [...]          # optional, per service (Argo's form)
      triggers:                   # add or override triggers (`trigger.<name>` keys also work)
        on-deployed: |
          - when: app.status.operationState?.phase in ['Succeeded']
            oncePer: app.status.operationState?.syncResult?.revision
            send: [app-deployed]
      templates:                  # add or override templates (`template.<name>` keys also work)
        app-deployed:
          message: "{{ app.metadata.name }} is live"
      subscriptions:              # global; each may be limited to some apps
        - recipients: [slack:deploys]        # `slack:<channel>` or a bare channel
          triggers: [on-deployed]            # none: the default triggers
          selector: team=payments,tier!=test # Kubernetes label selector on app labels
          apps: [checkout]                   # kajitori: only these apps
          projects: [payments]               # kajitori: only apps of these projects

Every value may also be a YAML string, as in ``argocd-notifications-cm``, and the ConfigMap's
flat ``trigger.<name>`` / ``template.<name>`` keys are read too, so its ``data`` can be pasted.
The built-in triggers and templates are always there; a user one of the same name replaces it.

Without ``defaultTriggers`` the defaults are ``on-deployed``, ``on-sync-failed`` and
``on-health-degraded`` (Argo CD has none, so ``subscribe.slack: chan`` alone sends nothing
there); ``defaultTriggers: []`` turns defaults off. ``context`` holds plain values only: a
secret (``{env: NAME}``) is refused, since any template could print it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import yaml

from bot.notify.subscriptions import (
    DEFAULT_TRIGGERS,
    SUPPORTED_SERVICES,
    NotificationSettings,
    Subscription,
)
from bot.notify.subscriptions_annotations import Destination, destination
from bot.notify.subscriptions_selector import LabelSelector, SelectorError, selector_from
from bot.notify.templates import Template, parse_templates
from bot.notify.templates_catalog import templates_with_catalog
from bot.notify.triggers import Trigger, parse_triggers
from bot.notify.triggers_catalog import triggers_with_catalog
from reconciler.config_fields import suggestion
from reconciler.errors import ConfigError
from reconciler.settings import Secret

SERVICES: Final = SUPPORTED_SERVICES
SECTION: Final = "notifications"
_KEYS: Final = ("context", "defaultTriggers", "triggers", "templates", "subscriptions")
_SUBSCRIPTION_KEYS: Final = ("recipients", "triggers", "selector", "apps", "projects")


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{self.source}: {SECTION}.{path}: {message}")

    def data(self, path: str, value: Any) -> Any:
        """A value written as data or as a YAML string of it (the ConfigMap form)."""
        if not isinstance(value, str):
            return value
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark else ""
            self.add(path, f"not valid YAML{at}")
            return None

    def names(self, path: str, value: Any) -> tuple[str, ...] | None:
        value = self.data(path, value)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.add(path, "must be a list of names")
            return None
        return tuple(value)

    def context(self, value: Any) -> dict[str, Any]:
        value = self.data("context", value)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add("context", "must be a mapping of names to values")
            return {}
        result: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, Secret):
                self.add(
                    f"context.{key}",
                    "secrets are not allowed in context (templates could print them)",
                )
            elif item is None or isinstance(item, str | int | float | bool):
                result[str(key)] = item
            else:
                self.add(f"context.{key}", "must be a string, number or boolean")
        return result

    def recipient(self, path: str, value: Any) -> Destination | None:
        if not isinstance(value, str) or not value.strip():
            self.add(path, "must be '<service>:<channel>' or a channel")
            return None
        service, colon, channel = value.partition(":")
        if not colon:
            service, channel = "slack", value
        if service not in SERVICES:
            self.add(
                path,
                f"service '{service}' is not supported (kajitori delivers to: "
                f"{', '.join(SERVICES)})",
            )
            return None
        dest = destination(service, channel)
        if not dest.channel:
            self.add(path, "names no channel")
            return None
        return dest

    def subscription(
        self, path: str, raw: Any, triggers: Mapping[str, Trigger]
    ) -> Subscription | None:
        if not isinstance(raw, Mapping):
            self.add(path, "must be a mapping with recipients (and triggers, selector, ...)")
            return None
        before = len(self.problems)
        for key in raw:
            if key not in _SUBSCRIPTION_KEYS:
                self.add(
                    f"{path}.{key}", f"unknown field{suggestion(str(key), _SUBSCRIPTION_KEYS)}"
                )
        recipients_raw = raw.get("recipients")
        if not isinstance(recipients_raw, list) or not recipients_raw:
            self.add(f"{path}.recipients", "must be a non-empty list such as [slack:deploys]")
            recipients_raw = []
        recipients = [
            self.recipient(f"{path}.recipients[{i}]", r) for i, r in enumerate(recipients_raw)
        ]
        names = self.names(f"{path}.triggers", raw.get("triggers")) or ()
        self.check_names(f"{path}.triggers", names, triggers)
        selector = LabelSelector()
        try:
            selector = selector_from(raw.get("selector"))
        except SelectorError as exc:
            self.add(f"{path}.selector", str(exc))
        apps = self.names(f"{path}.apps", raw.get("apps")) or ()
        projects = self.names(f"{path}.projects", raw.get("projects")) or ()
        if len(self.problems) > before:
            return None
        unique = tuple(dict.fromkeys(r for r in recipients if r is not None))
        return Subscription(unique, names, selector, apps, projects)

    def check_names(
        self, path: str, names: tuple[str, ...], triggers: Mapping[str, Trigger]
    ) -> None:
        for name in names:
            if name not in triggers:
                self.add(path, f"unknown trigger '{name}'{suggestion(name, triggers)}")

    def check_sends(
        self, triggers: Mapping[str, Trigger], templates: Mapping[str, Template]
    ) -> None:
        for trigger in triggers.values():
            for index, condition in enumerate(trigger.conditions):
                for name in condition.send:
                    if name not in templates:
                        self.add(
                            f"triggers.{trigger.name}[{index}].send",
                            f"unknown template '{name}'{suggestion(name, templates)}",
                        )


def _split_flat(section: Mapping[str, Any], parser: _Parser) -> dict[str, dict[str, Any]]:
    """The section's keys sorted into known groups; flat ``trigger.x``/``template.x`` keys
    join ``triggers``/``templates``."""
    groups: dict[str, dict[str, Any]] = {"triggers": {}, "templates": {}, "defaults": {}}
    for key, value in section.items():
        if not isinstance(key, str):
            parser.add(str(key), "keys must be strings")
        elif key.startswith("trigger."):
            groups["triggers"][key] = value
        elif key.startswith("template."):
            groups["templates"][key] = value
        elif key.startswith("defaultTriggers."):
            groups["defaults"][key.removeprefix("defaultTriggers.")] = value
        elif key.startswith("service."):
            parser.add(key, "Slack itself is configured in the 'slack' section of the settings")
        elif key not in _KEYS:
            parser.add(key, f"unknown field{suggestion(key, _KEYS)}")
    for group in ("triggers", "templates"):
        nested = parser.data(group, section.get(group))
        if isinstance(nested, Mapping):
            groups[group].update(nested)
        elif nested is not None:
            parser.add(group, "must be a mapping of names to definitions")
    return groups


def _parse_defined(
    parser: _Parser, groups: dict[str, dict[str, Any]], strict: bool
) -> tuple[dict[str, Trigger], dict[str, Template]]:
    user_triggers: dict[str, Trigger] = {}
    user_templates: dict[str, Template] = {}
    try:
        user_triggers = parse_triggers(
            groups["triggers"], source=f"{parser.source}: {SECTION}.triggers"
        )
    except ConfigError as exc:
        parser.problems.extend(exc.problems)
    try:
        user_templates = parse_templates(
            groups["templates"], source=f"{parser.source}: {SECTION}.templates", strict=strict
        )
    except ConfigError as exc:
        parser.problems.extend(exc.problems)
    return triggers_with_catalog(user_triggers), templates_with_catalog(user_templates)


def parse_notification_settings(
    section: Mapping[str, Any] | None, *, source: str = "settings", strict: bool = False
) -> NotificationSettings:
    """The typed section from the settings' raw ``notifications`` mapping (a
    :class:`reconciler.settings.RawSection`, a plain mapping, or None for the defaults).
    ``strict`` makes user templates treat undefined variables as errors. Raises
    :class:`ConfigError` listing every problem, each naming the field."""
    parser = _Parser(source)
    section = section or {}
    groups = _split_flat(section, parser)
    triggers, templates = _parse_defined(parser, groups, strict)
    parser.check_sends(triggers, templates)
    default_triggers: tuple[str, ...] = DEFAULT_TRIGGERS
    if "defaultTriggers" in section:
        default_triggers = parser.names("defaultTriggers", section["defaultTriggers"]) or ()
        parser.check_names("defaultTriggers", default_triggers, triggers)
    per_service: dict[str, tuple[str, ...]] = {}
    for service, raw in groups["defaults"].items():
        path = f"defaultTriggers.{service}"
        if service not in SERVICES:
            parser.add(path, f"service '{service}' is not supported (kajitori delivers to: slack)")
            continue
        per_service[service] = parser.names(path, raw) or ()
        parser.check_names(path, per_service[service], triggers)
    raw_subscriptions = parser.data("subscriptions", section.get("subscriptions")) or []
    subscriptions: list[Subscription] = []
    if not isinstance(raw_subscriptions, list):
        parser.add("subscriptions", "must be a list of {recipients, triggers, selector}")
        raw_subscriptions = []
    for index, raw in enumerate(raw_subscriptions):
        parsed = parser.subscription(f"subscriptions[{index}]", raw, triggers)
        if parsed is not None:
            subscriptions.append(parsed)
    context = parser.context(section.get("context"))
    if parser.problems:
        raise ConfigError(parser.problems)
    return NotificationSettings(
        triggers=triggers,
        templates=templates,
        subscriptions=tuple(subscriptions),
        default_triggers=default_triggers,
        service_default_triggers=per_service,
        context=context,
    )
