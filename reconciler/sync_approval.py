"""The approval of a gated hook: a hook annotated ``kajitori.dev/approval: required`` holds its
sync before it is created until a person approves it (issue 8).

An ``Approval`` is kept in the operation state (``status.operationState.approval``, the latest
one; earlier ones of the same operation in ``approvalHistory``), so a restarted process keeps
waiting and a decision after the restart still counts. Its JSON shape::

    approval:
      id: 3be1c0d5a7f94e21              # what the approve/reject API and buttons name
      state: Pending                    # Pending | Approved | Rejected | TimedOut | Superseded
      resource: batch/Job/shop/migrate-3f2a1bc-presync-1700000000   # group/kind/namespace/name
      hook: {name, kind, namespace, phase, image, command, args}   # first container; no env
      requestedAt: 2024-05-01T10:00:00Z
      expiresAt: 2024-05-01T11:00:00Z
      decidedBy: U024BE7LH              # once decided
      decidedAt: 2024-05-01T10:03:12Z
      message: waiting for approval of batch/Job/migrate-3f2a1bc-presync-1700000000
      attempt: 0                        # the retryCount of the attempt that asked

``Superseded`` means the operation ended without a decision for another reason: a newer sync
took its place, or it was terminated. The id is derived from the operation id, the attempt and
the hook, so the same hook asked again after a crash (before its request was saved) keeps the
id a posted message already carries.

Pure: no I/O, no clock (times are passed in as unix seconds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from reconciler.errors import KajitoriError
from reconciler.model import ResourceKey
from reconciler.plan_types import Task
from reconciler.sync_fields import StateError, as_mapping, list_field, parse_rfc3339, rfc3339

PENDING: Final = "Pending"
APPROVED: Final = "Approved"
REJECTED: Final = "Rejected"
TIMED_OUT: Final = "TimedOut"
SUPERSEDED: Final = "Superseded"
APPROVAL_STATES: Final = (PENDING, APPROVED, REJECTED, TIMED_OUT, SUPERSEDED)

DEFAULT_APPROVAL_TIMEOUT: Final = 3600.0
TIMED_OUT_MESSAGE: Final = "approval timed out"
SUPERSEDED_MESSAGE: Final = "superseded by a newer sync"

# Where the first container of a kind that runs something lives.
_CONTAINER_PATHS: Final = (
    ("spec", "template", "spec"),  # Job, Deployment, ...
    ("spec",),  # Pod
    ("spec", "jobTemplate", "spec", "template", "spec"),  # CronJob
)


class ApprovalError(KajitoriError, LookupError):
    """A decision about an approval this operation does not have (a wrong or stale id)."""


@dataclass(frozen=True)
class HookSummary:
    """What a gated hook will run, for the person deciding: its first container's image,
    command and args. Never its environment (it may hold secrets)."""

    name: str
    kind: str = ""
    namespace: str = ""
    phase: str = ""
    image: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "namespace": self.namespace,
            "phase": self.phase,
            "image": self.image,
            "command": list(self.command),
            "args": list(self.args),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HookSummary:
        data = as_mapping(data, "approval.hook")
        return cls(
            name=str(data.get("name", "")),
            kind=str(data.get("kind", "")),
            namespace=str(data.get("namespace", "")),
            phase=str(data.get("phase", "")),
            image=str(data.get("image", "")),
            command=tuple(str(item) for item in list_field(data, "command")),
            args=tuple(str(item) for item in list_field(data, "args")),
        )


@dataclass(frozen=True)
class Approval:
    """One request for approval of one hook in one attempt of an operation, and its
    decision. ``decided_at`` is None while Pending."""

    id: str
    resource: str
    hook: HookSummary
    requested_at: float
    expires_at: float
    state: str = PENDING
    decided_by: str = ""
    decided_at: float | None = None
    message: str = ""
    attempt: int = 0

    @property
    def pending(self) -> bool:
        return self.state == PENDING

    @property
    def approved(self) -> bool:
        return self.state == APPROVED

    @property
    def result_key(self) -> str:
        """The ``Task.result_key`` of the gated hook."""
        return f"{self.resource}:{self.hook.phase}"

    def decided(self, state: str, by: str, at: float, message: str) -> Approval:
        """This approval with a decision (Approved, Rejected, TimedOut or Superseded)."""
        if state not in APPROVAL_STATES or state == PENDING:
            raise ValueError(f"not a decision: {state!r}")
        return replace(self, state=state, decided_by=by, decided_at=at, message=message)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "resource": self.resource,
            "hook": self.hook.to_dict(),
            "requestedAt": rfc3339(self.requested_at),
            "expiresAt": rfc3339(self.expires_at),
            "message": self.message,
            "attempt": self.attempt,
        }
        if self.decided_at is not None:
            data["decidedBy"] = self.decided_by
            data["decidedAt"] = rfc3339(self.decided_at)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Approval:
        data = as_mapping(data, "approval")
        state = str(data.get("state", PENDING))
        if state not in APPROVAL_STATES:
            known = ", ".join(APPROVAL_STATES)
            raise StateError(f"approval.state: {state!r} is not one of {known}")
        for name in ("id", "resource", "requestedAt", "expiresAt"):
            if not data.get(name):
                raise StateError(f"approval.{name} is missing")
        decided_at = data.get("decidedAt")
        return cls(
            id=str(data["id"]),
            resource=str(data["resource"]),
            hook=HookSummary.from_dict(data.get("hook") or {}),
            requested_at=parse_rfc3339(str(data["requestedAt"]), "approval.requestedAt"),
            expires_at=parse_rfc3339(str(data["expiresAt"]), "approval.expiresAt"),
            state=state,
            decided_by=str(data.get("decidedBy", "")),
            decided_at=parse_rfc3339(str(decided_at), "approval.decidedAt") if decided_at else None,
            message=str(data.get("message", "")),
            attempt=int(data.get("attempt", 0)),
        )


def resource_of(key: ResourceKey) -> str:
    """``group/kind/namespace/name`` (the group empty for core kinds: ``/Pod/shop/x``)."""
    return f"{key.group}/{key.kind}/{key.namespace}/{key.name}"


def approval_id(operation_id: str, attempt: int, result_key: str) -> str:
    """A stable id for the approval of one hook in one attempt of one operation."""
    digest = hashlib.sha256(f"{operation_id}\n{attempt}\n{result_key}".encode()).hexdigest()
    return digest[:16]


def waiting_for_approval(task: Task) -> str:
    """The operation's message while the hook waits: ``waiting for approval of
    batch/Job/migrate``."""
    return f"waiting for approval of {task.key.group}/{task.key.kind}/{task.key.name}"


def request_approval(
    task: Task, *, operation_id: str, attempt: int, now: float, timeout: float
) -> Approval:
    """A new pending approval of ``task`` (a gated hook), expiring ``timeout`` seconds on."""
    return Approval(
        id=approval_id(operation_id, attempt, task.result_key),
        resource=resource_of(task.key),
        hook=hook_summary(task),
        requested_at=now,
        expires_at=now + max(0.0, timeout),
        message=waiting_for_approval(task),
        attempt=attempt,
    )


def hook_summary(task: Task) -> HookSummary:
    """What the hook of ``task`` will run (its first container)."""
    container = first_container(task.target or {})
    return HookSummary(
        name=task.key.name,
        kind=task.key.kind,
        namespace=task.key.namespace,
        phase=task.phase,
        image=str(container.get("image", "")),
        command=_strings(container.get("command")),
        args=_strings(container.get("args")),
    )


def first_container(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The first container of a Job, Pod, CronJob or workload ({} when there is none)."""
    for path in _CONTAINER_PATHS:
        node: Any = obj
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        containers = node.get("containers") if isinstance(node, Mapping) else None
        if isinstance(containers, list) and containers and isinstance(containers[0], Mapping):
            return containers[0]
    return {}


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        return tuple(str(item) for item in value)
    return ()
