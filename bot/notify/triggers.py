"""Triggers: when a notification is due, with argocd-notifications' semantics and without its
start-up burst. Pure: the caller passes the app, the time and the dedup state, and gets back
the firings and the new state (plain JSON data) to persist.

A :class:`Trigger` is a list of :class:`Condition` s; each condition is checked and
deduplicated on its own, keyed by its index and a hash of its ``when`` (editing ``when``
re-arms it, as in Argo).

* ``when`` true and no ``oncePer``: fires once, then stays quiet while ``when`` stays true;
  it re-arms when ``when`` turns false (an evaluation error or a non-bool counts as false).
* ``oncePer`` (an expression, evaluated only when ``when`` is true; nil reads ``<nil>`` as in
  Go, an error reads as no ``oncePer``): fires once per distinct value; values are remembered
  (the newest 100) even while ``when`` is false.
* ``debounce`` (kajitori's addition; an expression giving seconds, a numeric string or a
  duration): ``when`` must have stayed true that long, across evaluations, before firing.
* Baseline: a condition seen for the first time (a new subscription, an edited ``when``, the
  first evaluation after install) records the current state as already notified and fires
  nothing, unless the app itself is new (``metadata.creationTimestamp`` within
  ``new_app_seconds`` of ``now``), so ``on-created`` still fires for new apps.
* ``previous`` (kajitori's addition) is visible to expressions when a trigger reads it: the
  Argo-shaped summary of the app at this trigger's previous evaluation (sync status and
  revision, operation phase and synced revision, and the last *settled* health: Progressing
  never overwrites it, nor does a first Missing), so ``on-health-recovered`` can say
  Degraded -> Healthy even when Progressing came in between.

State layout (per app): ``{"version": 1, "triggers": {name: {"conditions": {"[i].hash":
{"active": bool, "since": rfc3339|None, "sent": {oncePerValue: rfc3339}}}, "previous": {...}}}}``.
Records of triggers not evaluated are kept untouched; a malformed record is treated as absent.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from bot.notify.expr import ExprError, Expression, format_value
from bot.notify.expr_errors import EvalFailure
from bot.notify.expr_values import parse_rfc3339, seconds_of
from bot.notify.triggers_config import parse_triggers
from bot.notify.triggers_model import (
    Condition,
    Firing,
    Trigger,
    TriggerEvaluation,
    condition_key,
)

__all__ = [
    "Condition",
    "Firing",
    "Trigger",
    "TriggerEvaluation",
    "condition_key",
    "evaluate_trigger",
    "evaluate_triggers",
    "is_new_app",
    "parse_triggers",
    "snapshot",
]

STATE_VERSION: Final = 1
MAX_ONCE_PER_VALUES: Final = 100
DEFAULT_NEW_APP_SECONDS: Final = 300.0
_SETTLING_HEALTH: Final = "Progressing"
_SNAPSHOT_PATHS: Final = (
    ("status", "sync", "status"),
    ("status", "sync", "revision"),
    ("status", "operationState", "phase"),
    ("status", "operationState", "syncResult", "revision"),
)
_HEALTH_PATH: Final = ("status", "health", "status")


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def _read_stamp(value: Any, fallback: datetime) -> datetime:
    try:
        return parse_rfc3339(value).dt
    except EvalFailure:
        return fallback


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def snapshot(app: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``previous`` summary to keep after seeing ``app`` (see the module docstring)."""
    result: dict[str, Any] = {}
    for path in _SNAPSHOT_PATHS:
        value = _dig(app, path)
        if isinstance(value, str | int | float | bool):
            _put(result, path, value)
    health = _dig(app, _HEALTH_PATH)
    settled = _dig(previous, _HEALTH_PATH)
    first_missing = health == "Missing" and settled is None
    if isinstance(health, str) and health != _SETTLING_HEALTH and not first_missing:
        settled = health
    if isinstance(settled, str):
        _put(result, _HEALTH_PATH, settled)
    return result


def is_new_app(app: Mapping[str, Any], now: datetime, new_app_seconds: float) -> bool:
    """Whether ``app`` was created at most ``new_app_seconds`` before ``now``."""
    created = _dig(app, ("metadata", "creationTimestamp"))
    try:
        age = (now - parse_rfc3339(created).dt).total_seconds()
    except EvalFailure:
        return False
    return age <= new_app_seconds


def _record(raw: Any) -> dict[str, Any] | None:
    """A stored condition record in its canonical shape, or None when it is malformed."""
    if not isinstance(raw, Mapping):
        return None
    sent = raw.get("sent", {})
    if not isinstance(sent, Mapping) or not all(isinstance(v, str) for v in sent.values()):
        return None
    since = raw.get("since")
    return {
        "active": raw.get("active") is True,
        "since": since if isinstance(since, str) else None,
        "sent": {str(k): v for k, v in sent.items()},
    }


class _TriggerRun:
    """Evaluation of one trigger for one app; collects firings, records and errors."""

    def __init__(self, trigger: Trigger, env: Mapping[str, Any], now: datetime) -> None:
        self.trigger = trigger
        self.env = env
        self.now = now
        self.firings: list[Firing] = []
        self.errors: list[str] = []

    def error(self, index: int, what: str, exc: ExprError) -> None:
        self.errors.append(f"trigger '{self.trigger.name}' condition [{index}] {what}: {exc}")

    def value(self, index: int, what: str, expr: Expression) -> tuple[bool, Any]:
        try:
            return True, expr.evaluate(self.env, now=self.now)
        except ExprError as exc:
            self.error(index, what, exc)
            return False, None

    def is_true(self, index: int, cond: Condition) -> bool:
        ok, result = self.value(index, "when", cond.when_expr)
        if ok and result is not None and not isinstance(result, bool):
            self.errors.append(
                f"trigger '{self.trigger.name}' condition [{index}] when: "
                f"{cond.when!r} gave a {type(result).__name__}, not a bool (counted as false)"
            )
        return result is True

    def debounce_seconds(self, index: int, cond: Condition) -> float:
        if cond.debounce_expr is None:
            return 0.0
        ok, result = self.value(index, "debounce", cond.debounce_expr)
        if not ok:
            return 0.0
        try:
            return seconds_of(result)
        except EvalFailure as failure:
            self.errors.append(
                f"trigger '{self.trigger.name}' condition [{index}] debounce: {failure.reason} "
                "(no debounce applied)"
            )
            return 0.0

    def step(self, index: int, cond: Condition, old: dict[str, Any] | None, baseline: bool) -> Any:
        """The condition's new record; appends a firing when it fires."""
        sent: dict[str, str] = dict(old["sent"]) if old else {}
        if not self.is_true(index, cond):
            sent.pop("", None)
            if cond.once_per_expr is None:
                sent = {}
            return {"active": False, "since": None, "sent": sent}
        now_stamp = _stamp(self.now)
        since = old["since"] if old and old["active"] and old["since"] else now_stamp
        record = {"active": True, "since": since, "sent": sent}
        once_value: str | None = None
        if cond.once_per_expr is not None:
            ok, result = self.value(index, "oncePer", cond.once_per_expr)
            once_value = format_value(result) if ok else None
        sent_key = once_value if once_value is not None else ""
        if sent_key in sent:
            return record
        waited = (self.now - _read_stamp(since, self.now)).total_seconds()
        if not baseline and waited < self.debounce_seconds(index, cond):
            return record
        sent[sent_key] = now_stamp
        _evict(sent)
        if not baseline:
            key = condition_key(index, cond)
            suffix = f":{once_value}" if once_value is not None else f"@{since}"
            self.firings.append(
                Firing(
                    trigger=self.trigger.name,
                    condition=index,
                    send=cond.send,
                    description=cond.description,
                    once_per=once_value,
                    key=f"{self.trigger.name}:{key}{suffix}",
                )
            )
        return record


def _evict(sent: dict[str, str]) -> None:
    """Keep the newest ``MAX_ONCE_PER_VALUES`` entries."""
    if len(sent) > MAX_ONCE_PER_VALUES:
        for stale in sorted(sent, key=lambda k: sent[k])[: len(sent) - MAX_ONCE_PER_VALUES]:
            del sent[stale]


def _base_state(state: Mapping[str, Any] | None) -> dict[str, Any]:
    new = copy.deepcopy(dict(state)) if isinstance(state, Mapping) else {}
    if not isinstance(new.get("triggers"), dict):
        new["triggers"] = {}
    new["version"] = STATE_VERSION
    return new


def _run_trigger(
    trigger: Trigger,
    app: Mapping[str, Any],
    env: Mapping[str, Any],
    now: datetime,
    new_app: bool,
    new_state: dict[str, Any],
) -> _TriggerRun:
    """Evaluate one trigger, writing its record into ``new_state`` (already a copy)."""
    stored = new_state["triggers"].get(trigger.name)
    stored = stored if isinstance(stored, dict) else {}
    old_conditions = stored.get("conditions")
    old_conditions = old_conditions if isinstance(old_conditions, dict) else {}
    previous = stored.get("previous") if isinstance(stored.get("previous"), dict) else None
    run = _TriggerRun(trigger, {**env, "previous": previous}, now)
    conditions: dict[str, Any] = {}
    for index, cond in enumerate(trigger.conditions):
        key = condition_key(index, cond)
        old = _record(old_conditions.get(key))
        conditions[key] = run.step(index, cond, old, baseline=old is None and not new_app)
    record: dict[str, Any] = {"conditions": conditions}
    if any(cond.reads("previous") for cond in trigger.conditions):
        record["previous"] = snapshot(app, previous)
    new_state["triggers"][trigger.name] = record
    return run


def evaluate_triggers(
    triggers: Iterable[Trigger],
    app: Mapping[str, Any],
    context: Mapping[str, Any],
    now: datetime,
    *,
    state: Mapping[str, Any] | None,
    app_project: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
    new_app_seconds: float = DEFAULT_NEW_APP_SECONDS,
) -> TriggerEvaluation:
    """Evaluate ``triggers`` for ``app`` at ``now`` (aware) against the app's dedup ``state``
    (None or {} the first time). Expressions see ``app``, ``context``, ``appProject``,
    ``time`` (with ``time.Now()`` = ``now``), ``previous`` and any extra ``variables``.
    ``state`` is not modified; the returned evaluation carries the new one. Firings come in
    the order of ``triggers`` and their conditions."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (with a timezone)")
    new_state = _base_state(state)
    env: dict[str, Any] = {
        "app": app,
        "context": context,
        "appProject": app_project if app_project is not None else {},
        **(variables or {}),
    }
    new_app = is_new_app(app, now, new_app_seconds)
    firings: list[Firing] = []
    errors: list[str] = []
    for trigger in triggers:
        run = _run_trigger(trigger, app, env, now, new_app, new_state)
        firings.extend(run.firings)
        errors.extend(run.errors)
    return TriggerEvaluation(tuple(firings), new_state, tuple(errors))


def evaluate_trigger(
    trigger: Trigger,
    app: Mapping[str, Any],
    context: Mapping[str, Any],
    now: datetime,
    *,
    state: Mapping[str, Any] | None,
    app_project: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
    new_app_seconds: float = DEFAULT_NEW_APP_SECONDS,
) -> TriggerEvaluation:
    """:func:`evaluate_triggers` for a single trigger."""
    return evaluate_triggers(
        (trigger,),
        app,
        context,
        now,
        state=state,
        app_project=app_project,
        variables=variables,
        new_app_seconds=new_app_seconds,
    )
