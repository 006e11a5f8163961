"""Triggers from settings, the argocd-notifications way.

``parse_triggers`` takes a mapping like the ``data`` of ``argocd-notifications-cm``:
``trigger.<name>`` keys (or bare ``<name>`` keys) whose values are YAML strings, or already
parsed lists, of conditions::

    trigger.on-deployed: |
      - when: app.status.operationState?.phase in ['Succeeded']
        oncePer: app.status.operationState?.syncResult?.revision
        send: [app-deployed]

Condition fields: ``when`` (required), ``send`` (required, template names), ``oncePer``,
``description`` and kajitori's ``debounce`` (seconds, a duration text like ``"2m"``, or an
expression over ``context``/``app``). Every problem is reported, each naming the trigger, the
condition and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import yaml

from bot.notify.expr import ExprSyntaxError, compile_expr
from bot.notify.triggers_model import Condition, Trigger
from reconciler.errors import ConfigError

TRIGGER_PREFIX: Final = "trigger."
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_FIELDS: Final = ("when", "send", "oncePer", "description", "debounce")


def _scalar_text(value: Any) -> str | None:
    """YAML turns ``when: true`` into a bool and ``debounce: 120`` into an int; both are
    expressions written without quotes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


class _Collector:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{self.source}: {where}: {message}")

    def conditions(self, name: str, raw: Any) -> list[Any] | None:
        where = f"trigger '{name}'"
        if isinstance(raw, str):
            try:
                raw = yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
                problem = getattr(exc, "problem", None) or "invalid YAML"
                self.add(where, f"not valid YAML{at}: {problem}")
                return None
        if not isinstance(raw, list) or not raw:
            self.add(where, "must be a non-empty list of conditions ({when, send, ...})")
            return None
        return raw

    def expression(self, where: str, field: str, value: Any, required: bool) -> str | None:
        if value is None:
            if required:
                self.add(where, f"field '{field}' is required")
            return None
        text = _scalar_text(value)
        if text is None or not text.strip():
            self.add(where, f"field '{field}' must be a non-empty expression")
            return None
        try:
            compile_expr(text)
        except ExprSyntaxError as exc:
            self.add(where, f"field '{field}': {exc}")
            return None
        return text

    def condition(self, name: str, index: int, raw: Any) -> Condition | None:
        where = f"trigger '{name}' condition [{index}]"
        if not isinstance(raw, Mapping):
            self.add(where, "must be a mapping with 'when' and 'send'")
            return None
        for key in raw:
            if key not in _FIELDS:
                self.add(where, f"unknown field '{key}' (known: {', '.join(_FIELDS)})")
        before = len(self.problems)
        when = self.expression(where, "when", raw.get("when"), required=True)
        once_per = self.expression(where, "oncePer", raw.get("oncePer"), required=False)
        debounce = self.expression(where, "debounce", raw.get("debounce"), required=False)
        send = raw.get("send")
        if not isinstance(send, list) or not send:
            self.add(where, "field 'send' must be a non-empty list of template names")
        elif not all(isinstance(t, str) and t.strip() for t in send):
            self.add(where, "field 'send' must hold template names (non-empty strings)")
        description = raw.get("description", "")
        if not isinstance(description, str):
            self.add(where, "field 'description' must be a string")
        if len(self.problems) > before or when is None or not isinstance(send, list):
            return None
        return Condition(
            when=when,
            send=tuple(str(t).strip() for t in send),
            once_per=once_per,
            description=str(description),
            debounce=debounce,
        )


def parse_triggers(mapping: Mapping[str, Any], *, source: str = "triggers") -> dict[str, Trigger]:
    """Triggers by name from ``mapping`` (see the module docstring). ``source`` names where
    the mapping came from in messages (a file, or ``argocd-notifications-cm``). Raises
    :class:`ConfigError` listing every problem."""
    collector = _Collector(source)
    triggers: dict[str, Trigger] = {}
    for key, raw in mapping.items():
        if not isinstance(key, str):
            collector.add(f"key {key!r}", "trigger names must be strings")
            continue
        name = key.removeprefix(TRIGGER_PREFIX)
        if not _NAME.fullmatch(name):
            collector.add(
                f"key '{key}'", "a trigger name uses letters, digits, '.', '_' and '-' only"
            )
            continue
        if name in triggers:
            collector.add(f"trigger '{name}'", "is defined twice")
            continue
        raw_conditions = collector.conditions(name, raw)
        if raw_conditions is None:
            continue
        conditions = [collector.condition(name, i, c) for i, c in enumerate(raw_conditions)]
        if all(c is not None for c in conditions):
            triggers[name] = Trigger(name, tuple(c for c in conditions if c is not None))
    if collector.problems:
        raise ConfigError(collector.problems)
    return triggers
