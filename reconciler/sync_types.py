"""The data of a sync operation: what was asked (``SyncRequest``), what happened to each object
(``ResourceResult``) and the whole ``OperationState``, all convertible to and from the JSON
shape of Argo CD's ``status.operationState``.

Why Argo CD's shape: the controller persists the state between steps, the bot and the
notifications read it, and people who know Argo CD recognise every field (``phase``,
``message``, ``startedAt``, ``finishedAt``, ``retryCount``, ``operation.sync`` and
``syncResult.resources[]`` with ``status``, ``hookType``, ``hookPhase`` and ``syncPhase``).
Nothing else is stored: the operation start in whole seconds names generateName hooks, and a
retry's due time follows from ``finishedAt`` and ``retryCount``, so a restored operation needs
no private fields.

Pure: no I/O, no clock (times are passed in as unix seconds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from reconciler.errors import KajitoriError
from reconciler.model import Backoff, ResourceKey, RetryStrategy

# Operation phases (Argo CD's OperationPhase); a result's hookPhase uses the same values.
RUNNING: Final = "Running"
TERMINATING: Final = "Terminating"
SUCCEEDED: Final = "Succeeded"
FAILED: Final = "Failed"
ERROR: Final = "Error"
COMPLETED_PHASES: Final = frozenset({SUCCEEDED, FAILED, ERROR})

# Per-resource result codes (Argo CD's ResultCode).
SYNCED: Final = "Synced"
SYNC_FAILED: Final = "SyncFailed"
PRUNED: Final = "Pruned"
PRUNE_SKIPPED: Final = "PruneSkipped"

OPERATION_ID_INFO: Final = "operationId"

HOOK_STRATEGY: Final = "hook"
APPLY_STRATEGY: Final = "apply"


class StateError(KajitoriError, ValueError):
    """A stored operation state that cannot be read back; the message names the field."""


def rfc3339(seconds: float) -> str:
    """Unix seconds as Argo CD writes times: ``2024-05-01T10:00:00Z`` (whole seconds)."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str, where: str = "time") -> float:
    """Unix seconds from an RFC 3339 time; StateError naming ``where`` when unreadable."""
    try:
        parsed = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise StateError(f"{where}: {text!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def format_duration(seconds: float) -> str:
    """Seconds as an Argo CD duration string (``5s``, ``3m``, ``1.5s``)."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def parse_duration(value: Any, where: str) -> float:
    """Seconds from ``5``, ``"5"``, ``"5s"``, ``"3m"``, ``"1h"`` or ``"500ms"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if match is None:
        raise StateError(f"{where}: {value!r} is not a duration such as 5s or 3m")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class SyncRequest:
    """What a sync operation was asked to do (Argo CD's ``operation``).

    ``revision`` is what was asked for (branch, tag or commit; "" means the app's
    targetRevision); the commit actually synced is ``OperationState.revision``.
    ``resources`` selects objects (selective sync; a key with namespace "" matches every
    namespace) and, like ``strategy`` "apply", skips hooks. ``sync_options`` are the
    operation's options (the app's, as Argo CD copies them). ``retry`` None means no retries.
    """

    revision: str = ""
    prune: bool = False
    dry_run: bool = False
    resources: tuple[ResourceKey, ...] = ()
    strategy: str = HOOK_STRATEGY
    sync_options: tuple[str, ...] = ()
    initiated_by: str = ""
    automated: bool = False
    retry: RetryStrategy | None = None

    def __post_init__(self) -> None:
        if self.strategy not in (HOOK_STRATEGY, APPLY_STRATEGY):
            raise ValueError(f"sync strategy must be 'hook' or 'apply', not {self.strategy!r}")

    @property
    def selective(self) -> bool:
        return bool(self.resources)

    def to_dict(self) -> dict[str, Any]:
        """Argo CD's ``operation`` object."""
        sync: dict[str, Any] = {
            "revision": self.revision,
            "prune": self.prune,
            "dryRun": self.dry_run,
            "syncStrategy": {self.strategy: {}},
            "syncOptions": list(self.sync_options),
        }
        if self.resources:
            sync["resources"] = [
                {"group": k.group, "kind": k.kind, "namespace": k.namespace, "name": k.name}
                for k in self.resources
            ]
        operation: dict[str, Any] = {
            "sync": sync,
            "initiatedBy": {"username": self.initiated_by, "automated": self.automated},
        }
        if self.retry is not None:
            backoff = self.retry.backoff
            operation["retry"] = {
                "limit": self.retry.limit,
                "backoff": {
                    "duration": format_duration(backoff.duration),
                    "factor": backoff.factor,
                    "maxDuration": format_duration(backoff.max_duration),
                },
            }
        return operation

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyncRequest:
        sync = _mapping(data.get("sync"), "operation.sync")
        strategies = list(_mapping(sync.get("syncStrategy") or {"hook": {}}, "syncStrategy"))
        resources = tuple(
            ResourceKey(
                str(r.get("group", "")),
                str(r.get("kind", "")),
                str(r.get("namespace", "")),
                str(r.get("name", "")),
            )
            for r in (
                _mapping(item, "operation.sync.resources[]") for item in _list(sync, "resources")
            )
        )
        initiated = _mapping(data.get("initiatedBy") or {}, "operation.initiatedBy")
        retry = None
        if data.get("retry") is not None:
            raw = _mapping(data["retry"], "operation.retry")
            backoff = _mapping(raw.get("backoff") or {}, "operation.retry.backoff")
            default = Backoff()
            retry = RetryStrategy(
                limit=int(raw.get("limit", 0)),
                backoff=Backoff(
                    duration=parse_duration(backoff.get("duration", default.duration), "duration"),
                    factor=float(backoff.get("factor", default.factor)),
                    max_duration=parse_duration(
                        backoff.get("maxDuration", default.max_duration), "maxDuration"
                    ),
                ),
            )
        return cls(
            revision=str(sync.get("revision", "")),
            prune=bool(sync.get("prune", False)),
            dry_run=bool(sync.get("dryRun", False)),
            resources=resources,
            strategy=strategies[0] if strategies else HOOK_STRATEGY,
            sync_options=tuple(str(o) for o in _list(sync, "syncOptions")),
            initiated_by=str(initiated.get("username", "")),
            automated=bool(initiated.get("automated", False)),
            retry=retry,
        )


@dataclass(frozen=True)
class ResourceResult:
    """What happened to one task (Argo CD's ResourceResult). ``status`` is "" until the
    object was written, then Synced, SyncFailed, Pruned or PruneSkipped; ``hook_phase`` is
    the task's own progress (Running, Succeeded, Failed, Error), also for non-hooks."""

    key: ResourceKey
    sync_phase: str
    version: str = ""
    status: str = ""
    message: str = ""
    hook_type: str = ""
    hook_phase: str = ""

    @property
    def completed(self) -> bool:
        return self.hook_phase in COMPLETED_PHASES

    @property
    def running(self) -> bool:
        return self.hook_phase == RUNNING

    @property
    def successful(self) -> bool:
        return self.hook_phase == SUCCEEDED

    @property
    def failed(self) -> bool:
        """The task failed: its write was refused, or it ended Failed or Error."""
        return self.status == SYNC_FAILED or self.hook_phase in (FAILED, ERROR)

    @property
    def result_key(self) -> str:
        k = self.key
        return f"{k.group}/{k.kind}/{k.namespace}/{k.name}:{self.sync_phase}"

    def to_dict(self) -> dict[str, Any]:
        k = self.key
        data = {
            "group": k.group,
            "version": self.version,
            "kind": k.kind,
            "namespace": k.namespace,
            "name": k.name,
            "status": self.status,
            "message": self.message,
            "hookType": self.hook_type,
            "hookPhase": self.hook_phase,
            "syncPhase": self.sync_phase,
        }
        return {name: value for name, value in data.items() if value or name in _ALWAYS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceResult:
        key = ResourceKey(
            str(data.get("group", "")),
            str(data.get("kind", "")),
            str(data.get("namespace", "")),
            str(data.get("name", "")),
        )
        return cls(
            key=key,
            sync_phase=str(data.get("syncPhase", "")),
            version=str(data.get("version", "")),
            status=str(data.get("status", "")),
            message=str(data.get("message", "")),
            hook_type=str(data.get("hookType", "")),
            hook_phase=str(data.get("hookPhase", "")),
        )


_ALWAYS: Final = frozenset({"group", "kind", "namespace", "name", "syncPhase"})


@dataclass
class OperationState:
    """One sync operation, mutable while it runs.

    ``started_at`` is unix seconds (whole, as Argo CD's metav1.Time keeps them: the hook
    names depend on it). ``id`` tells operations apart (two may start within one second);
    it is kept in Argo CD's ``operation.info`` list as ``operationId``. ``finished_at`` is
    set when the operation completed, and also while a failed attempt waits for its retry
    (phase still Running, as in Argo CD). ``results`` keep the order in which tasks were
    first recorded, keyed by ``ResourceResult.result_key``.
    """

    request: SyncRequest
    started_at: int
    id: str = ""
    revision: str = ""
    source: Mapping[str, Any] = field(default_factory=dict)
    phase: str = RUNNING
    message: str = ""
    finished_at: float | None = None
    retry_count: int = 0
    results: dict[str, ResourceResult] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.phase in COMPLETED_PHASES

    @property
    def awaiting_retry(self) -> bool:
        """A failed attempt waits for its retry (Argo CD keeps such an operation Running)."""
        return self.phase == RUNNING and self.finished_at is not None

    def record(self, result: ResourceResult) -> None:
        """Add or update a task's result (the first recording fixes its position)."""
        previous = self.results.get(result.result_key)
        if previous is not None and not result.message:
            result = replace(result, message=previous.message)
        self.results[result.result_key] = result

    def to_dict(self) -> dict[str, Any]:
        """Argo CD's ``status.operationState``, JSON-serialisable."""
        operation = self.request.to_dict()
        if self.id:
            operation["info"] = [{"name": OPERATION_ID_INFO, "value": self.id}]
        data: dict[str, Any] = {
            "operation": operation,
            "phase": self.phase,
            "message": self.message,
            "startedAt": rfc3339(self.started_at),
            "retryCount": self.retry_count,
            "syncResult": {
                "revision": self.revision,
                "source": dict(self.source),
                "resources": [result.to_dict() for result in self.results.values()],
            },
        }
        if self.finished_at is not None:
            data["finishedAt"] = rfc3339(self.finished_at)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperationState:
        """Read a state written by ``to_dict``; StateError naming the field otherwise."""
        data = _mapping(data, "operationState")
        operation = _mapping(data.get("operation"), "operation")
        request = SyncRequest.from_dict(operation)
        info = [_mapping(item, "operation.info[]") for item in _list(operation, "info")]
        ids = [str(item.get("value", "")) for item in info if item.get("name") == OPERATION_ID_INFO]
        if "startedAt" not in data:
            raise StateError("operationState.startedAt is missing")
        result = _mapping(data.get("syncResult") or {}, "syncResult")
        state = cls(
            request=request,
            started_at=int(parse_rfc3339(str(data["startedAt"]), "startedAt")),
            id=ids[0] if ids else "",
            revision=str(result.get("revision", "")),
            source=dict(_mapping(result.get("source") or {}, "syncResult.source")),
            phase=str(data.get("phase", RUNNING)),
            message=str(data.get("message", "")),
            retry_count=int(data.get("retryCount", 0)),
        )
        if data.get("finishedAt"):
            state.finished_at = parse_rfc3339(str(data["finishedAt"]), "finishedAt")
        for item in _list(result, "resources"):
            state.record(ResourceResult.from_dict(_mapping(item, "syncResult.resources[]")))
        return state


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StateError(f"{where} must be an object, not {type(value).__name__}")
    return value


def _list(data: Mapping[str, Any], name: str) -> Sequence[Any]:
    value = data.get(name) or []
    if not isinstance(value, list | tuple):
        raise StateError(f"{name} must be a list, not {type(value).__name__}")
    return value
