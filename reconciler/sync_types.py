"""The data of a sync operation: what was asked (``SyncRequest``), what happened to each object
(``ResourceResult``) and the whole ``OperationState``, all convertible to and from the JSON
shape of Argo CD's ``status.operationState``.

Why Argo CD's shape: the controller persists the state between steps, the bot and the
notifications read it, and people who know Argo CD recognise every field (``phase``,
``message``, ``startedAt``, ``finishedAt``, ``retryCount``, ``operation.sync`` and
``syncResult.resources[]`` with ``status``, ``hookType``, ``hookPhase`` and ``syncPhase``).
kajitori adds three fields of its own (issue 8): ``approval`` (and ``approvalHistory``), the
approval a gated hook waits for (``reconciler.sync_approval``), and ``hookFingerprints``, what
the on-change hooks that succeeded looked like (``reconciler.sync_hook_run``). Nothing else
is stored: the operation start in whole seconds names generateName hooks, and a retry's due
time follows from ``finishedAt`` and ``retryCount``, so a restored operation needs no private
fields.

Pure: no I/O, no clock (times are passed in as unix seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from reconciler.model import Backoff, ResourceKey, RetryStrategy
from reconciler.sync_approval import PENDING, Approval
from reconciler.sync_fields import StateError as StateError
from reconciler.sync_fields import as_mapping as _mapping
from reconciler.sync_fields import format_duration as format_duration
from reconciler.sync_fields import list_field as _list
from reconciler.sync_fields import parse_duration as parse_duration
from reconciler.sync_fields import parse_rfc3339 as parse_rfc3339
from reconciler.sync_fields import rfc3339 as rfc3339
from reconciler.sync_hook_run import SKIPPED as SKIPPED
from reconciler.sync_hook_run import HookRecord, records_from_dict

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


@dataclass(frozen=True)
class SyncRequest:
    """What a sync operation was asked to do (Argo CD's ``operation``).

    ``revision`` is what was asked for (branch, tag or commit; "" means the app's
    targetRevision); the commit actually synced is ``OperationState.revision``.
    ``resources`` selects objects (selective sync; a key with namespace "" matches every
    namespace) and, like ``strategy`` "apply", skips hooks. ``sync_options`` are the
    operation's options (the app's, as Argo CD copies them). ``retry`` None means no retries.
    ``approval_timeout`` (seconds) bounds the wait for the approval of a gated hook; None
    leaves it to the operation's setting (kajitori's ``operation.sync.approvalTimeout``).
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
    approval_timeout: float | None = None

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
        if self.approval_timeout is not None:
            sync["approvalTimeout"] = format_duration(self.approval_timeout)
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
            approval_timeout=parse_duration(sync["approvalTimeout"], "approvalTimeout")
            if sync.get("approvalTimeout") is not None
            else None,
        )


@dataclass(frozen=True)
class ResourceResult:
    """What happened to one task (Argo CD's ResourceResult). ``status`` is "" until the
    object was written, then Synced, SyncFailed, Pruned or PruneSkipped; ``hook_phase`` is
    the task's own progress (Running, Succeeded, Failed, Error), also for non-hooks, or
    ``Skipped`` for an on-change hook that did not run because it had not changed (status
    Synced: kajitori's value, as Argo CD has no skipped hooks)."""

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
    def skipped(self) -> bool:
        """An on-change hook left out: nothing was created, nothing is to be cleaned up."""
        return self.hook_phase == SKIPPED

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

    ``approvals`` are the approvals of gated hooks this operation asked for, oldest first:
    the last one is ``status.operationState.approval``, the others ``approvalHistory``.
    ``hook_fingerprints`` are the fingerprints of the on-change hooks that succeeded in this
    operation, by hook identity (``status.operationState.hookFingerprints``), for the caller
    to save (``reconciler.sync_hook_run``).
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
    approvals: list[Approval] = field(default_factory=list)
    hook_fingerprints: dict[str, HookRecord] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.phase in COMPLETED_PHASES

    @property
    def approval(self) -> Approval | None:
        """The latest approval this operation asked for, if any."""
        return self.approvals[-1] if self.approvals else None

    @property
    def pending_approval(self) -> Approval | None:
        """The approval the operation waits for, if it waits for one."""
        approval = self.approval
        return approval if approval is not None and approval.state == PENDING else None

    def approval_of(self, result_key: str, attempt: int) -> Approval | None:
        """The approval of a hook (by its result key) in an attempt, if it was asked for."""
        for approval in reversed(self.approvals):
            if approval.result_key == result_key and approval.attempt == attempt:
                return approval
        return None

    def put_approval(self, approval: Approval) -> None:
        """Add a new approval, or replace the one with its id (a decision)."""
        for index, known in enumerate(self.approvals):
            if known.id == approval.id:
                self.approvals[index] = approval
                return
        self.approvals.append(approval)

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
        if self.approvals:
            data["approval"] = self.approvals[-1].to_dict()
            if len(self.approvals) > 1:
                data["approvalHistory"] = [a.to_dict() for a in self.approvals[:-1]]
        if self.hook_fingerprints:
            data["hookFingerprints"] = {
                identity: record.to_dict() for identity, record in self.hook_fingerprints.items()
            }
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
        earlier = [Approval.from_dict(item) for item in _list(data, "approvalHistory")]
        latest = [Approval.from_dict(data["approval"])] if data.get("approval") else []
        state.approvals = earlier + latest
        state.hook_fingerprints = records_from_dict(data.get("hookFingerprints"))
        return state
