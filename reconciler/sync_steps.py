"""The work of one sync step over a fixed plan: refresh what runs, wait, fail (with SyncFail
hooks) or run the next (phase, wave) group. ``reconciler.sync.SyncOperation`` owns the
operation's life (start, dry-run, retries, termination); ``StepRunner`` does one Argo CD sync
iteration on a plan and records every result in the shared ``OperationState``.

A group runs as gitops-engine's runTasks does: prunes first, all in parallel (Prune=confirm
prunes wait for the Application's deletion-approved annotation); then BeforeHookCreation
deletions, after which the step returns and the next one waits until they are gone; then the
applies in runs of consecutive tasks of one kind, each run in parallel, later runs going ahead
even when an earlier one failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from reconciler.errors import ClusterError
from reconciler.hooks import HOOK_FAILED, HOOK_SUCCEEDED, SYNC_FAIL
from reconciler.model import Application
from reconciler.plan_types import Plan, Task
from reconciler.sync_exec import Outcome, Pool, TaskWriter, describe_key, kind_runs
from reconciler.sync_gate import HookGate
from reconciler.sync_inventory import Inventory
from reconciler.sync_options import deletion_approved
from reconciler.sync_progress import (
    EVENT_APPROVAL_REQUESTED,
    EVENT_GROUP,
    EVENT_RESULT,
    EVENT_WAITING,
    SyncEvent,
    confirmation_message,
    failure_message,
    hook_progress,
    resource_progress,
    waiting_message,
)
from reconciler.sync_types import (
    ERROR,
    FAILED,
    PRUNED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    SYNCED,
    OperationState,
    ResourceResult,
)

_SUCCESSFUL: Final = "successful"
_PENDING: Final = "pending"
_FAILED: Final = "failed"


@dataclass(frozen=True)
class Advance:
    """What a step came to: ``finished`` is the phase the operation ends with (None while it
    goes on); ``delay_next`` asks for the wave delay before the next step (a group that is not
    the last was applied); ``final`` ends the operation without retries (a rejected or
    timed-out approval)."""

    finished: str | None = None
    message: str = ""
    delay_next: bool = False
    final: bool = False


class StepRunner:
    """Runs the plan of one attempt of one operation, a step at a time."""

    def __init__(
        self,
        app: Application,
        plan: Plan,
        inventory: Inventory,
        writer: TaskWriter,
        pool: Pool,
        state: OperationState,
        emit: Callable[[SyncEvent], None],
        gate: HookGate | None = None,
    ) -> None:
        self.app = app
        self.plan = plan
        self.inventory = inventory
        self.writer = writer
        self.pool = pool
        self.state = state
        self.emit = emit
        self.gate = gate or HookGate(state, operation_id=state.id, clock=time.time)
        self.live: dict[str, dict[str, Any] | None] = {
            t.result_key: dict(t.live) if t.live is not None else None for t in plan.tasks
        }
        self._released: set[str] = set()
        self._awaiting_deletion: dict[str, Task] = {}
        self._announced: set[tuple[str, int]] = set()

    # -- results ---------------------------------------------------------------------------

    def result(self, task: Task) -> ResourceResult | None:
        return self.state.results.get(task.result_key)

    def record(self, task: Task, status: str, hook_phase: str, message: str) -> ResourceResult:
        obj = task.target if task.target is not None else task.live
        version = str((obj or {}).get("apiVersion", "")).rpartition("/")[2]
        result = ResourceResult(
            key=task.key,
            sync_phase=task.phase,
            version=version,
            status=status,
            message=message,
            hook_type=task.hook_type,
            hook_phase=hook_phase,
        )
        before = self.state.results.get(task.result_key)
        self.state.record(result)
        after = self.state.results[task.result_key]
        if after != before:
            self.emit(SyncEvent(EVENT_RESULT, after.message, task.phase, task.wave, after))
            if after.successful:
                self.gate.succeeded(task)
        return after

    # -- one step --------------------------------------------------------------------------

    def advance(self) -> Advance:
        tasks = self.plan.tasks
        running = [t for t in tasks if (r := self.result(t)) and r.running and not t.is_prune]
        for task, live in zip(running, self.fetch(running), strict=True):
            self._update_running(task, live)
        waiting = [t for t in running if self._running(t) and (self.plan.multi_step or t.is_hook)]
        if waiting:
            return self._wait(waiting)
        if self._awaiting_deletion:
            pending = list(self._awaiting_deletion.values())
            for task, live in zip(pending, self.fetch(pending), strict=True):
                if live is None:
                    del self._awaiting_deletion[task.result_key]
            if self._awaiting_deletion:
                return self._wait(list(self._awaiting_deletion.values()), deletion=True)
        self._release_finalizers()
        stop = self.gate.stop_reason()
        if stop:  # a person rejected the gated hook, or nobody decided in time: no retry
            self.delete_hooks(HOOK_FAILED)
            return self._failed([], stop, final=True)
        main = [t for t in tasks if t.phase != SYNC_FAIL]
        failed = [t for t in main if (r := self.result(t)) and r.completed and r.failed]
        if failed:
            self.delete_hooks(HOOK_FAILED)
            return self._failed(
                failed, "one or more synchronization tasks completed unsuccessfully"
            )
        pending = [t for t in main if self.result(t) is None]
        if not pending:
            self.delete_hooks(HOOK_SUCCEEDED)
            return Advance(SUCCEEDED, "successfully synced (no more tasks)")
        phase, wave = pending[0].phase, pending[0].wave
        group = [t for t in pending if (t.phase, t.wave) == (phase, wave)]
        self._announce(phase, wave, group)
        skipped = {t.result_key for t in self._skip_unchanged(group)}
        pending = [t for t in pending if t.result_key not in skipped]
        group = [t for t in group if t.result_key not in skipped]
        if self._held(group):
            return Advance()
        remaining = [t for t in pending if (t.phase, t.wave) != (phase, wave) or t.is_hook]
        final = all((t.phase, t.wave) == (phase, wave) for t in pending)
        self.state.phase, self.state.message = RUNNING, "one or more tasks are running"
        outcome = self._run_group(group)
        if outcome == _FAILED:
            self.delete_hooks(HOOK_FAILED)
            return self._failed(group, "one or more objects failed to apply")
        if outcome == _SUCCESSFUL:
            if not remaining:
                self.delete_hooks(HOOK_SUCCEEDED)
                return Advance(SUCCEEDED, "successfully synced (all tasks run)")
            self.state.message = waiting_message(remaining)
        return Advance(delay_next=not final)

    def _skip_unchanged(self, group: Sequence[Task]) -> list[Task]:
        """Record the on-change hooks of ``group`` that have not changed as skipped."""
        skipped = self.gate.skip_unchanged(group)
        for task, message in skipped:
            self.record(task, SYNCED, SKIPPED, message)
        return [task for task, _ in skipped]

    def _held(self, group: Sequence[Task]) -> bool:
        """Whether a gated hook of ``group`` waits for approval (asking for it if new)."""
        held = self.gate.hold(group)
        if held is None:
            return False
        approval, new = held
        self.state.phase, self.state.message = RUNNING, approval.message
        if new:
            self.emit(SyncEvent(EVENT_APPROVAL_REQUESTED, approval.message, approval=approval))
        return True

    def _running(self, task: Task) -> bool:
        result = self.result(task)
        return result is not None and result.running

    def _wait(self, tasks: Sequence[Task], *, deletion: bool = False) -> Advance:
        self.state.phase = RUNNING
        self.state.message = waiting_message(tasks, deletion=deletion)
        self.emit(SyncEvent(EVENT_WAITING, self.state.message))
        return Advance()

    def _announce(self, phase: str, wave: int, group: Sequence[Task]) -> None:
        if (phase, wave) not in self._announced:
            self._announced.add((phase, wave))
            count = f"{len(group)} task{'s' if len(group) != 1 else ''}"
            self.emit(SyncEvent(EVENT_GROUP, f"{phase} wave {wave}: {count}", phase, wave))

    def _update_running(self, task: Task, live: dict[str, Any] | None) -> None:
        result = self.result(task)
        assert result is not None
        self.live[task.result_key] = live
        if task.is_hook:
            if live is None:
                self.record(
                    task, result.status, FAILED, f"{task.key.name} was deleted before it completed"
                )
                return
            phase, message = hook_progress(live)
            self.record(task, result.status, phase, message or result.message)
            return
        if live is not None:
            progress = resource_progress(live)
            if progress is not None:
                self.record(task, result.status, progress[0], progress[1] or result.message)

    def _failed(self, failed: Sequence[Task], message: str, *, final: bool = False) -> Advance:
        """The operation failed: run the SyncFail hooks, then end Failed (``final``: without
        the retries of syncPolicy.retry)."""
        results = [r for t in failed if (r := self.result(t)) and r.failed]
        error = failure_message(message, results)
        hooks = self.plan.sync_fail_tasks
        if not hooks:
            return Advance(FAILED, error, final=final)
        if all((r := self.result(t)) is not None and r.completed for t in hooks):
            bad = [r for t in hooks if (r := self.result(t)) and r.failed]
            if bad:
                error += "\n" + failure_message("one or more SyncFail hooks failed", bad)
            return Advance(FAILED, error, final=final)
        not_started = [t for t in hooks if self.result(t) is None]
        if not_started:
            self._announce(SYNC_FAIL, not_started[0].wave, not_started)
            if self._run_group(not_started) == _FAILED:
                bad = [r for t in hooks if (r := self.result(t)) and r.failed]
                error += "\n" + failure_message("one or more SyncFail hooks failed", bad)
                return Advance(FAILED, error, final=final)
        self.state.phase, self.state.message = RUNNING, f"{error} (running SyncFail hooks)"
        return Advance()

    # -- a group ---------------------------------------------------------------------------

    def _run_group(self, group: Sequence[Task]) -> str:
        prunes = [t for t in group if t.is_prune]
        creates = [t for t in group if not t.is_prune]
        if prunes:
            unconfirmed = [t for t in prunes if t.requires_confirmation]
            if unconfirmed and not deletion_approved(self.app.annotations, self.state.started_at):
                self.state.message = confirmation_message(unconfirmed)
                return _PENDING
            outcomes = self.pool.map(self.writer.prune, prunes)
            for task, outcome in zip(prunes, outcomes, strict=True):
                self.record(
                    task, outcome.status, FAILED if outcome.failed else SUCCEEDED, outcome.message
                )
                if outcome.status == PRUNED:
                    self._awaiting_deletion[task.result_key] = task
            if any(outcome.failed for outcome in outcomes):
                return _FAILED
        hooks = [t for t in creates if t.is_hook]
        for task, live in zip(hooks, self.fetch(hooks), strict=True):
            self.live[task.result_key] = live
        doomed = [
            t
            for t in hooks
            if t.deletes_before_creation
            and (live := self.live[t.result_key]) is not None
            and not self.writer.created_by_this_operation(live)
        ]
        if doomed:
            return self._delete_before_creation(doomed)
        state = _SUCCESSFUL
        for run in kind_runs(creates):
            outcomes = self.pool.map(self._apply, run)
            for task, result in zip(run, outcomes, strict=True):
                self.live[task.result_key] = result.live
                self.record(
                    task, result.status, FAILED if result.failed else RUNNING, result.message
                )
                if result.failed:
                    state = _FAILED
        return state

    def _apply(self, task: Task) -> Outcome:
        live = self.live.get(task.result_key)
        if task.is_hook and live is not None and self.writer.created_by_this_operation(live):
            return Outcome(SYNCED, f"{describe_key(task.key)} created (before a restart)", live)
        return self.writer.apply(task, live)

    def _delete_before_creation(self, doomed: Sequence[Task]) -> str:
        """BeforeHookCreation: delete the leftover hooks; creation waits for a later step."""
        failed = False
        for task in doomed:
            live = self.live[task.result_key]
            assert live is not None
            try:
                self.writer.remove_finalizer(task, live)
                if not (live.get("metadata") or {}).get("deletionTimestamp"):
                    self.writer.delete(task.key, self.writer.propagation(task))
            except ClusterError as error:
                self.record(task, "", ERROR, f"failed to delete resource: {error}")
                failed = True
        if failed:
            return _FAILED
        self.state.message = waiting_message(doomed, deletion=True)
        return _PENDING

    # -- hooks at the end ------------------------------------------------------------------

    def _release_finalizers(self) -> None:
        """Completed hooks lose the hook finalizer once their result is recorded."""
        done = [
            t
            for t in self.plan.tasks
            if t.is_hook
            and (r := self.result(t))
            and r.completed
            and t.result_key not in self._released
        ]
        for task, live in zip(done, self.fetch(done), strict=True):
            try:
                if live is not None:
                    self.writer.remove_finalizer(task, live)
                self._released.add(task.result_key)
            except ClusterError as error:
                result = self.result(task)
                status = result.status if result else ""
                self.record(task, status, ERROR, f"Failed to remove hook finalizer: {error}")

    def delete_hooks(self, policy: str) -> None:
        """Delete the completed hooks with this delete policy (HookSucceeded on success,
        HookFailed on failure)."""
        hooks = [
            t
            for t in self.plan.tasks
            if t.is_hook
            and t.has_delete_policy(policy)
            and (r := self.result(t))
            and not (r.running or r.skipped)
        ]
        for task, live in zip(hooks, self.fetch(hooks), strict=True):
            if live is None or (live.get("metadata") or {}).get("deletionTimestamp"):
                continue
            try:
                self.writer.delete(task.key, self.writer.propagation(task))
            except ClusterError as error:
                result = self.result(task)
                self.record(
                    task,
                    result.status if result else "",
                    ERROR,
                    f"failed to delete resource: {error}",
                )

    def terminate(self) -> list[str]:
        """Delete the running hooks and release every hook of this operation; the errors."""
        errors: list[str] = []
        hooks = [t for t in self.plan.tasks if t.is_hook]
        for task, live in zip(hooks, self.fetch(hooks), strict=True):
            result = self.result(task)
            if live is None or (result is None and not self.writer.created_by_this_operation(live)):
                continue
            if result is not None and result.skipped:
                continue
            status = result.status if result else SYNCED
            try:
                self.writer.remove_finalizer(task, live)
                phase, message = hook_progress(live)
                if phase == RUNNING:
                    self.writer.delete(task.key, self.writer.propagation(task))
                    phase, message = FAILED, "deleted: the operation was terminated"
                self.record(task, status, phase, message)
            except ClusterError as error:
                errors.append(str(error))
        return errors

    # -- reads -----------------------------------------------------------------------------

    def fetch(self, tasks: Sequence[Task]) -> list[dict[str, Any] | None]:
        """The live objects of ``tasks``, read in parallel."""
        return self.pool.map(self._get, tasks)

    def _get(self, task: Task) -> dict[str, Any] | None:
        obj: Mapping[str, Any] = task.target if task.target is not None else (task.live or {})
        api_version = str(obj.get("apiVersion") or "") or None
        return self.writer.cluster.get(task.key, api_version)
