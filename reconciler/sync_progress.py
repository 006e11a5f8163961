"""How a sync judges the progress of what it wrote, and the messages it reports, as Argo CD
words them (gitops-engine ``sync_context.go``: getOperationPhase, setRunningPhase,
setOperationFailed).

- A hook is done when its health says so: Healthy means Succeeded, Progressing or Suspended
  means still Running, Degraded or Unknown means Failed, and a kind without a health check
  (a ConfigMap) succeeds as soon as it exists ("<name> created").
- A resource of an earlier wave is Succeeded when Healthy or without a health check, Failed
  when Degraded, and otherwise still Running.

A hook carrying the hook finalizer is judged on its real state even while it is being
deleted, so that the result of a Job deleted early (ttlSecondsAfterFinished) is still read.
Pure functions over plain dicts and results; ``SyncEvent`` is the progress record handed to
a caller's callback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from reconciler.health import assess
from reconciler.plan_types import Task
from reconciler.sync_approval import Approval
from reconciler.sync_types import (
    FAILED,
    PRUNE_SKIPPED,
    PRUNED,
    RUNNING,
    SUCCEEDED,
    SYNCED,
    ResourceResult,
)

# Event kinds.
EVENT_STARTED: Final = "started"
EVENT_DRY_RUN: Final = "dry-run"
EVENT_GROUP: Final = "group"
EVENT_RESULT: Final = "result"
EVENT_WAITING: Final = "waiting"
EVENT_WARNING: Final = "warning"
EVENT_FINISHED: Final = "finished"
EVENT_APPROVAL_REQUESTED: Final = "approval-requested"
EVENT_APPROVAL_DECIDED: Final = "approval-decided"


@dataclass(frozen=True)
class SyncEvent:
    """Something a sync operation did, for progress output: the operation ``started``, its
    ``dry-run`` passed, a (phase, wave) ``group`` started, a task's ``result`` was recorded or
    changed, the operation is ``waiting``, a ``warning``, or it ``finished``. A gated hook's
    ``approval-requested`` (the controller publishes ``ApprovalRequested`` for it) and
    ``approval-decided`` (approved, rejected, timed out or superseded) carry the ``approval``."""

    kind: str
    message: str
    phase: str = ""
    wave: int | None = None
    result: ResourceResult | None = None
    approval: Approval | None = None


def hook_progress(live: Mapping[str, Any]) -> tuple[str, str]:
    """(hookPhase, message) of a live hook object."""
    name = str((live.get("metadata") or {}).get("name", ""))
    health = assess(dict(live))
    if health is None:
        return SUCCEEDED, f"{name} created"
    if health.status == "Healthy":
        return SUCCEEDED, health.message or f"{name} succeeded"
    if health.status in ("Degraded", "Unknown"):
        return FAILED, health.message or f"{name} failed"
    return RUNNING, health.message


def resource_progress(live: Mapping[str, Any]) -> tuple[str, str] | None:
    """(hookPhase, message) of a live resource applied in an earlier wave, or None while it
    is neither healthy nor degraded (the task keeps running)."""
    health = assess(dict(live))
    if health is None:
        return SUCCEEDED, ""
    if health.status == "Healthy":
        return SUCCEEDED, health.message
    if health.status == "Degraded":
        return FAILED, health.message or f"{live.get('kind')} is degraded"
    return None


def task_label(task: Task) -> str:
    """``group/kind/name`` as Argo CD names a task in its messages."""
    return f"{task.key.group}/{task.key.kind}/{task.key.name}"


def waiting_message(tasks: Sequence[Task], *, deletion: bool = False) -> str:
    """Argo CD's running message: "waiting for completion of hook batch/Job/migrate and 2 more
    hooks", "waiting for healthy state of apps/Deployment/web", "waiting for deletion of ..."."""
    first = tasks[0]
    what, more = (
        ("completion of hook", "hooks") if first.is_hook else ("healthy state of", "resources")
    )
    if deletion:
        what = "deletion of"
    message = f"waiting for {what} {task_label(first)}"
    if len(tasks) > 1:
        message += f" and {len(tasks) - 1} more {more}"
    return message


def confirmation_message(tasks: Sequence[Task]) -> str:
    """Argo CD's message while ``Prune=confirm`` prunes wait for approval."""
    first = tasks[0]
    api_version = str((first.live or {}).get("apiVersion", ""))
    message = f"Waiting for pruning confirmation of {api_version}/{first.key.kind}/{first.key.name}"
    if len(tasks) > 1:
        message += f" and {len(tasks) - 1} more resources"
    return message


def failure_message(message: str, failed: Sequence[ResourceResult]) -> str:
    """``message`` followed by the failed objects and why, as Argo CD joins them
    ("..., reason: <key>: <why>, <key>: <why>")."""
    reasons = [f"{result.key}: {result.message}" for result in failed if result.message]
    return f"{message}, reason: {', '.join(reasons)}" if reasons else message


def dry_run_result(task: Task) -> ResourceResult:
    """The result of a task in a dry-run operation, where every task ends at its dry-run."""
    if task.is_prune:
        status = PRUNE_SKIPPED if task.prune_skip_message else PRUNED
        message = task.prune_skip_message or "pruned (dry run)"
    else:
        status, message = SYNCED, f"{task.key.kind}/{task.key.name} configured (dry run)"
    return ResourceResult(
        key=task.key,
        sync_phase=task.phase,
        version=task_version(task),
        status=status,
        message=message,
        hook_type=task.hook_type,
        hook_phase=SUCCEEDED,
    )


def task_version(task: Task) -> str:
    """The version part of the task's apiVersion (``v1`` of ``apps/v1``)."""
    obj = task.target if task.target is not None else task.live
    return str((obj or {}).get("apiVersion", "")).rpartition("/")[2]
