"""What stands between a hook and its creation (issue 8): an on-change hook that has not
changed is skipped, and a gated hook waits for a person's decision.

``HookGate`` is consulted by ``reconciler.sync_steps.StepRunner`` before each (phase, wave)
group runs:

1. ``skip_unchanged``: the on-change hooks of the group whose fingerprint equals the one that
   last succeeded (the caller's records, plus the ones this operation made in an earlier
   attempt) are recorded as skipped and not created. A skipped hook is never asked about.
2. ``hold``: the first gated hook of the group without an approval in this attempt asks for
   one (a Pending ``Approval`` in the state); while any gated hook of the group is not
   Approved, nothing of the group is written.
3. ``stop_reason``: once an approval was Rejected or TimedOut, the operation fails (SyncFail
   hooks run, nothing after the gate is applied, no retry).

The module functions change the state on a decision: ``decide`` (a person's, idempotent),
``expire`` (the timeout) and ``close_pending`` (the operation ends some other way). The hooks
of the SyncFail phase are never held nor skipped: they clean up after a failure.

Pure: the clock is injected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from reconciler.plan_types import Task
from reconciler.sync_approval import (
    APPROVED,
    DEFAULT_APPROVAL_TIMEOUT,
    REJECTED,
    SUPERSEDED,
    TIMED_OUT,
    TIMED_OUT_MESSAGE,
    Approval,
    ApprovalError,
    request_approval,
)
from reconciler.sync_hook_run import (
    HookRecord,
    fingerprint,
    hook_identity,
    skipped_message,
    unchanged_since,
)
from reconciler.sync_types import OperationState


class HookGate:
    """The approvals and on-change skips of one operation (see the module docstring)."""

    def __init__(
        self,
        state: OperationState,
        *,
        operation_id: str,
        clock: Callable[[], float],
        timeout: float = DEFAULT_APPROVAL_TIMEOUT,
        known: Mapping[str, HookRecord] | None = None,
    ) -> None:
        self.state = state
        self.operation_id = operation_id
        self.clock = clock
        self.timeout = timeout
        self.known = dict(known or {})

    def skip_unchanged(self, group: Sequence[Task]) -> list[tuple[Task, str]]:
        """The on-change hooks of ``group`` to skip, each with its result message."""
        known = {**self.known, **self.state.hook_fingerprints}
        return [
            (task, skipped_message(record))
            for task in group
            if (record := unchanged_since(task, known)) is not None
        ]

    def hold(self, group: Sequence[Task]) -> tuple[Approval, bool] | None:
        """The approval that holds ``group`` and whether it was requested just now; None when
        every gated hook of the group is approved (or there is none)."""
        attempt = self.state.retry_count
        for task in group:
            if not (task.is_hook and task.approval_required):
                continue
            approval = self.state.approval_of(task.result_key, attempt)
            if approval is None:
                approval = request_approval(
                    task,
                    operation_id=self.operation_id,
                    attempt=attempt,
                    now=self.clock(),
                    timeout=self.timeout,
                )
                self.state.put_approval(approval)
                return approval, True
            if approval.state != APPROVED:
                return approval, False
        return None

    def stop_reason(self) -> str:
        """Why the operation must fail because of a decision ("" when it need not)."""
        approval = self.state.approval
        if approval is None or approval.attempt != self.state.retry_count:
            return ""
        if approval.state == REJECTED:
            return f"rejected by {approval.decided_by}"
        if approval.state == TIMED_OUT:
            return TIMED_OUT_MESSAGE
        return ""

    def succeeded(self, task: Task) -> None:
        """Remember the fingerprint of an on-change hook that has just succeeded."""
        if task.is_hook and task.run_on_change and task.target is not None:
            self.state.hook_fingerprints[hook_identity(task)] = HookRecord(
                fingerprint(task.target), self.state.revision
            )


def decide(
    state: OperationState, approval_id: str, approved: bool, user: str, now: float
) -> tuple[Approval, bool]:
    """Record a person's decision on approval ``approval_id``: (the decision, whether it was
    made now). The first decision wins: a second one (a double click, another approver)
    returns the first unchanged, as it does for an approval that timed out or was
    superseded. An approval still pending in an operation that has ended becomes Superseded.
    Raises ApprovalError for an id this operation does not have, ValueError without a user."""
    if not user:
        raise ValueError("a decision needs the user who made it")
    approval = next((a for a in state.approvals if a.id == approval_id), None)
    if approval is None:
        latest = state.approval
        known = f"; its approval is {latest.id}" if latest is not None else ""
        raise ApprovalError(f"operation {state.id or '?'} has no approval {approval_id!r}{known}")
    if not approval.pending:
        return approval, False
    if state.completed:
        return close_pending(state, "the operation ended before a decision", now) or approval, True
    if approved:
        decision = approval.decided(APPROVED, user, now, f"approved by {user}")
    else:
        decision = approval.decided(REJECTED, user, now, f"rejected by {user}")
    state.put_approval(decision)
    state.message = decision.message
    return decision, True


def expire(state: OperationState, now: float) -> Approval | None:
    """Time out the pending approval when its time is up; the timed-out approval, or None."""
    approval = state.pending_approval
    if approval is None or now < approval.expires_at:
        return None
    decision = approval.decided(TIMED_OUT, "", now, TIMED_OUT_MESSAGE)
    state.put_approval(decision)
    state.message = TIMED_OUT_MESSAGE
    return decision


def close_pending(state: OperationState, message: str, now: float) -> Approval | None:
    """End the pending approval without a decision (Superseded, with ``message``)."""
    approval = state.pending_approval
    if approval is None:
        return None
    decision = approval.decided(SUPERSEDED, "", now, message)
    state.put_approval(decision)
    return decision
