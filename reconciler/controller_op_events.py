"""The events an operation announces, built from its state: ``SyncRunning`` when it starts or
resumes, ``ApprovalRequested`` when a gated hook waits for a person, ``SyncFailed`` for a failed
attempt (``retrying=True`` when a retry follows) and ``SyncSucceeded`` or ``SyncFailed`` at the
end.

Pure functions over the operation state (``reconciler.sync_types.OperationState``), the app and
the commit summary, with the time passed in: ``reconciler.controller_ops.OperationRunner``
decides when to announce and publishes; what an event says is decided here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.event_types import (
    AUTOMATED,
    ApprovalRequested,
    CommitSummary,
    Event,
    ResourceResult,
    SyncFailed,
    SyncRunning,
    SyncSucceeded,
)
from reconciler.model import Application, ResourceKey
from reconciler.sync_approval import Approval
from reconciler.sync_types import SUCCEEDED, OperationState


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _initiator(state: OperationState) -> str:
    request = state.request
    return AUTOMATED if request.automated else (request.initiated_by or AUTOMATED)


def _results(state: OperationState) -> tuple[ResourceResult, ...]:
    return tuple(
        ResourceResult(key=r.key, status=r.status, message=r.message, hook_phase=r.hook_phase)
        for r in state.results.values()
    )


def _key(resource: str) -> ResourceKey | None:
    """``group/kind/namespace/name`` (an approval's resource) as a key."""
    parts = resource.split("/")
    return ResourceKey(*parts) if len(parts) == 4 else None


def sync_running(
    app: Application,
    state: OperationState,
    commit: CommitSummary | None,
    *,
    now: float,
    resumed: bool,
) -> SyncRunning:
    """The operation started, or (``resumed``) was taken up again after a restart."""
    return SyncRunning(
        app=app.name,
        project=app.spec.project,
        time=_time(now),
        revision=state.revision,
        initiated_by=_initiator(state),
        started_at=_time(state.started_at),
        commit=commit,
        message="resumed after a restart" if resumed else state.message,
    )


def approval_requested(
    app: Application,
    state: OperationState,
    approval: Approval,
    commit: CommitSummary | None,
    *,
    now: float,
) -> ApprovalRequested:
    """The operation waits for a person to decide on ``approval``."""
    return ApprovalRequested(
        app=app.name,
        project=app.spec.project,
        time=_time(now),
        approval_id=approval.id,
        revision=state.revision,
        resource=_key(approval.resource),
        message=approval.message,
        initiated_by=_initiator(state),
        commit=commit,
    )


def sync_failed(
    app: Application,
    state: OperationState,
    commit: CommitSummary | None,
    *,
    now: float,
    retrying: bool,
) -> SyncFailed:
    """An attempt failed: the end of the operation, or (``retrying``, phase Failed while the
    operation stays Running) one that a retry follows."""
    return SyncFailed(
        app=app.name,
        project=app.spec.project,
        time=_time(now),
        revision=state.revision,
        initiated_by=_initiator(state),
        started_at=_time(state.started_at),
        commit=commit,
        message=state.message,
        phase="Failed" if retrying else state.phase,
        resources=_results(state),
        retrying=retrying,
    )


def sync_ended(
    app: Application, state: OperationState, commit: CommitSummary | None, *, now: float
) -> Event:
    """The operation ended: ``SyncSucceeded``, else ``SyncFailed`` with its phase."""
    if state.phase != SUCCEEDED:
        return sync_failed(app, state, commit, now=now, retrying=False)
    return SyncSucceeded(
        app=app.name,
        project=app.spec.project,
        time=_time(now),
        revision=state.revision,
        initiated_by=_initiator(state),
        started_at=_time(state.started_at),
        commit=commit,
        message=state.message,
        resources=_results(state),
    )


__all__ = ["approval_requested", "sync_ended", "sync_failed", "sync_running"]
