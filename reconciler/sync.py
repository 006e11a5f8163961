"""SyncOperation: one sync of an app, a resumable state machine over ``ClusterProtocol`` that
follows Argo CD's sync engine (gitops-engine ``pkg/sync/sync_context.go``).

Each ``step()`` does what one Argo CD sync iteration does and returns the operation state as
data (``reconciler.sync_types.OperationState.to_dict()``, Argo CD's
``status.operationState``):

1. The first step reads the cluster (``reconciler.sync_inventory``), builds the plan
   (``reconciler.plan.build_plan``), refuses a shared resource when ``FailOnSharedResource``
   is set, and dry-runs every task on the server (``dryRun=All``). If any dry-run fails,
   nothing is written and the operation ends Failed naming every failing object. A dry-run
   operation ends there, Succeeded. Otherwise the destination namespace is created when
   ``CreateNamespace`` asks for it.
2. Every step then re-reads what is still running: hooks finish by health (Job Complete or
   Failed, no health check: done once created); resources of earlier waves must become
   Healthy (Degraded fails the sync). While anything runs, or a pruned object is still being
   deleted, the step returns at once with "waiting for ...": the caller calls step() again.
3. A failed task runs the SyncFail hooks; when they are done the operation ends Failed with
   the failed objects and their reasons. With ``syncPolicy.retry`` a failed attempt is
   retried after ``retry_delay`` (phase stays Running, ``retryCount`` counts; the bookkeeping
   is in ``reconciler.sync_attempts``).
4. Otherwise the next (phase, wave) group runs: prunes in parallel (``Prune=confirm`` waits
   for approval), then BeforeHookCreation deletions (the step returns and waits until they
   are gone), then the applies in runs of one kind, each run in parallel on a bounded pool.
   After a group that is not the last, the next one waits ``wave_delay`` seconds (Argo CD's
   2 s), without blocking: step() says so and returns.
   Before a group runs, its unchanged ``kajitori.dev/hook-run: on-change`` hooks are skipped
   and a ``kajitori.dev/approval: required`` hook asks for approval (``reconciler.sync_gate``):
   the operation stays Running with a Pending ``approval`` and step() returns at once, reading
   and writing nothing, until ``decide()`` (Rejected: SyncFail hooks, then Failed "rejected by
   <user>", no retry), the approval timeout (Failed "approval timed out") or ``supersede()``.
5. When nothing is left the HookSucceeded hooks are deleted (HookFailed ones on failure) and
   the operation ends Succeeded. A last wave without hooks succeeds right after it is applied,
   as in Argo CD.

The state is plain data; ``SyncOperation.restore`` rebuilds the plan from it (the same
revision and start time give the same tasks and hook names) and carries on: a task with a
result is never applied again, and a hook that this operation created before a crash, but
whose result was never saved, is recognised by its ``kajitori.dev/sync-operation``
annotation and adopted rather than run a second time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from reconciler.cluster_protocol import ClusterProtocol
from reconciler.errors import ClusterError, ComparisonError
from reconciler.hooks import PlanError
from reconciler.model import Application
from reconciler.sync_approval import (
    DEFAULT_APPROVAL_TIMEOUT,
    SUPERSEDED_MESSAGE,
    Approval,
    ApprovalError,
)
from reconciler.sync_attempts import first_state, retry_due, schedule_retry
from reconciler.sync_begin import build_runner, first_step
from reconciler.sync_exec import Pool, TaskWriter
from reconciler.sync_gate import HookGate, close_pending, decide, expire
from reconciler.sync_hook_run import HookRecord
from reconciler.sync_progress import (
    EVENT_APPROVAL_DECIDED,
    EVENT_FINISHED,
    EVENT_STARTED,
    EVENT_WAITING,
    SyncEvent,
)
from reconciler.sync_steps import StepRunner
from reconciler.sync_types import (
    ERROR,
    FAILED,
    TERMINATING,
    OperationState,
    SyncRequest,
)

__all__ = ["DEFAULT_WAVE_DELAY", "Approval", "ApprovalError", "SyncOperation", "SyncRequest"]

log = logging.getLogger(__name__)

DEFAULT_WAVE_DELAY: Final = 2.0
DEFAULT_WORKERS: Final = 8

EventSink = Callable[[SyncEvent], None]


class SyncOperation:
    """One sync operation of ``app`` towards ``desired`` (its rendered manifests at the
    operation's revision). Create it with ``start`` or ``restore``; call ``step()`` until
    ``completed``, or ``run()``. Thread-safe: steps and ``terminate()`` are serialised."""

    def __init__(
        self,
        app: Application,
        desired: Sequence[Mapping[str, Any]],
        cluster: ClusterProtocol,
        state: OperationState,
        *,
        clock: Callable[[], float] = time.time,
        sleeper: Callable[[float], None] = time.sleep,
        wave_delay: float = DEFAULT_WAVE_DELAY,
        workers: int = DEFAULT_WORKERS,
        on_event: EventSink | None = None,
        approval_timeout: float = DEFAULT_APPROVAL_TIMEOUT,
        hook_fingerprints: Mapping[str, HookRecord] | None = None,
    ) -> None:
        self.app = app
        self.desired = list(desired)
        self.cluster = cluster
        self.state = state
        self.clock = clock
        self.sleeper = sleeper
        self.wave_delay = max(0.0, wave_delay)
        self._sink = on_event
        self.approval_timeout = approval_timeout
        self.hook_fingerprints = dict(hook_fingerprints or {})
        self._lock = threading.RLock()
        self._pool = Pool(workers)
        self._not_before = retry_due(state)  # a restored operation between two attempts
        self._steps: StepRunner | None = None
        self._dry_run_passed = False

    def _emit(self, event: SyncEvent) -> None:
        """Hand an event to the caller's callback; its failures never break the operation."""
        if self._sink is None:
            return
        try:
            self._sink(event)
        except Exception:  # a progress printer must not fail a sync
            log.exception("the sync event callback failed on %s", event.kind)

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        app: Application,
        desired: Sequence[Mapping[str, Any]],
        cluster: ClusterProtocol,
        request: SyncRequest | None = None,
        *,
        revision: str,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> SyncOperation:
        """A new operation syncing ``app`` to ``desired``, rendered at commit ``revision``.
        The request's sync options and retry default to the app's ``syncPolicy``
        (``reconciler.sync_attempts.first_state``)."""
        request = request or SyncRequest()
        state = first_state(app, request, revision=revision, started_at=int(clock()))
        operation = cls(app, desired, cluster, state, clock=clock, **options)
        operation._emit(SyncEvent(EVENT_STARTED, f"syncing {app.name} to {revision}"))
        return operation

    @classmethod
    def restore(
        cls,
        state: Mapping[str, Any] | OperationState,
        app: Application,
        desired: Sequence[Mapping[str, Any]],
        cluster: ClusterProtocol,
        **options: Any,
    ) -> SyncOperation:
        """Resume an operation from its saved state. ``desired`` must be the app's manifests
        rendered at the state's ``syncResult.revision``. Raises StateError for a state that
        cannot be read."""
        if not isinstance(state, OperationState):
            state = OperationState.from_dict(state)
        return cls(app, desired, cluster, state, **options)

    # -- the public surface ----------------------------------------------------------------

    @property
    def completed(self) -> bool:
        return self.state.completed

    @property
    def phase(self) -> str:
        return self.state.phase

    def to_dict(self) -> dict[str, Any]:
        """The operation state, Argo CD's ``status.operationState``."""
        with self._lock:
            return self.state.to_dict()

    def step(self) -> dict[str, Any]:
        """Advance by at most one (phase, wave) group; never blocks on anything but the
        requests of that group. Returns the operation state."""
        with self._lock:
            try:
                self._step()
            except PlanError as error:
                self._finish(FAILED, f"one or more synchronization tasks are not valid: {error}")
            except ComparisonError as error:
                self._finish(FAILED, f"one or more synchronization tasks are not valid: {error}")
            except ClusterError as error:
                if error.code == 0 or error.code == 429 or error.code >= 500:
                    self.state.message = f"cannot reach the cluster, trying again: {error}"
                    self._emit(SyncEvent(EVENT_WAITING, self.state.message))
                else:
                    self._finish(ERROR, str(error))
            return self.state.to_dict()

    def terminate(self) -> dict[str, Any]:
        """Stop the operation: running hooks are deleted, finalizers removed, and the
        operation ends Failed "Operation terminated" (Error if that had errors)."""
        with self._lock:
            if not self.state.completed:
                closed = close_pending(self.state, "the operation was terminated", self.clock())
                if closed is not None:
                    self._emit(SyncEvent(EVENT_APPROVAL_DECIDED, closed.message, approval=closed))
                self.state.phase = TERMINATING
                self.state.message = "terminating"
                self._terminate()
            return self.state.to_dict()

    @property
    def approval(self) -> Approval | None:
        """The latest approval this operation asked for (Pending while it waits), if any."""
        with self._lock:
            return self.state.approval

    def decide(
        self, approval_id: str, approved: bool, user: str, now: float | None = None
    ) -> Approval:
        """A person's decision on the gated hook waiting for approval ``approval_id``: the
        decision made. Idempotent: the first decision wins and a later one (a double click,
        a second approver) gets the first back unchanged. Approved: the next step creates the
        hook and the sync goes on; rejected: the next steps run the SyncFail hooks and end the
        operation Failed "rejected by <user>". Raises ApprovalError for an unknown id."""
        with self._lock:
            decision, made = decide(
                self.state, approval_id, approved, user, self.clock() if now is None else now
            )
            if made:
                self._emit(SyncEvent(EVENT_APPROVAL_DECIDED, decision.message, approval=decision))
            return decision

    def supersede(self, message: str = "") -> dict[str, Any]:
        """End the operation because a newer sync takes its place: a pending approval becomes
        Superseded and the operation ends Failed with ``message`` (default "superseded by a
        newer sync"); nothing more is written, no SyncFail hook runs. An operation that is
        not waiting for approval is terminated (its running hooks deleted) first."""
        message = message or SUPERSEDED_MESSAGE
        with self._lock:
            if self.state.completed:
                return self.state.to_dict()
            closed = close_pending(self.state, message, self.clock())
            if closed is None:
                self.state.phase, self.state.message = TERMINATING, "terminating"
                self._terminate(message)
            else:
                self._emit(SyncEvent(EVENT_APPROVAL_DECIDED, message, approval=closed))
                self._end(FAILED, message)
            return self.state.to_dict()

    def update_app(self, app: Application) -> None:
        """Carry on with a refreshed Application, e.g. one whose
        ``argocd.argoproj.io/deletion-approved`` annotation now approves Prune=confirm prunes.
        The plan is not rebuilt: the desired objects stay those of the operation's revision."""
        with self._lock:
            self.app = app
            if self._steps is not None:
                self._steps.app = app

    def seconds_until_due(self) -> float:
        """How long ``step()`` has nothing to do (a wave delay or a retry backoff); 0 when it
        should be called again as soon as the caller likes."""
        return max(0.0, self._not_before - self.clock())

    def run(self, *, poll_interval: float = 1.0, timeout: float | None = None) -> dict[str, Any]:
        """Step until the operation completes, sleeping ``poll_interval`` seconds (or until
        the next due time) between steps; ``timeout`` terminates it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self.step()
            if self.completed:
                return state
            if deadline is not None and time.monotonic() >= deadline:
                return self.terminate()
            self.sleeper(max(poll_interval, self.seconds_until_due()))

    def close(self) -> None:
        """Release the worker threads (also done when the operation completes)."""
        self._pool.close()

    # -- one step --------------------------------------------------------------------------

    def _step(self) -> None:
        state = self.state
        if state.completed:
            return
        if state.phase == TERMINATING:
            self._terminate()
            return
        if state.pending_approval is not None:
            expired = expire(state, self.clock())
            if expired is None:
                return  # waiting for a person: nothing to read or write
            self._emit(SyncEvent(EVENT_APPROVAL_DECIDED, expired.message, approval=expired))
        if self.clock() < self._not_before:
            return
        if state.awaiting_retry:
            self._begin_attempt()
        steps = self._runner()
        if not (state.results or self._dry_run_passed):
            ended = first_step(steps, state, self._emit)
            if ended is not None:
                self._finish(*ended)
                return
            self._dry_run_passed = True
        outcome = steps.advance()
        if outcome.finished is not None and outcome.final:
            self._end(outcome.finished, outcome.message)
        elif outcome.finished is not None:
            self._finish(outcome.finished, outcome.message)
        elif outcome.delay_next and self.wave_delay > 0:
            self._not_before = self.clock() + self.wave_delay

    def _runner(self) -> StepRunner:
        if self._steps is None:
            writer = TaskWriter(
                self.cluster, self.app.name, self._operation_id(), sleeper=self.sleeper
            )
            gate = HookGate(
                self.state,
                operation_id=self.state.id or str(self.state.started_at),
                clock=self.clock,
                timeout=self._approval_timeout(),
                known=self.hook_fingerprints,
            )
            self._steps = build_runner(
                self.app,
                self.desired,
                self.cluster,
                self.state,
                writer=writer,
                gate=gate,
                pool=self._pool,
                emit=self._emit,
            )
        return self._steps

    def _approval_timeout(self) -> float:
        requested = self.state.request.approval_timeout
        return self.approval_timeout if requested is None else requested

    def _operation_id(self) -> str:
        """Names this attempt of this operation on the hooks it creates."""
        state = self.state
        return f"{self.app.name}/{state.id or state.started_at}/{state.retry_count}"

    def _begin_attempt(self) -> None:
        """A retry: the same operation from the start, with fresh results and plan."""
        self.state.results = {}
        self.state.finished_at = None
        self._steps = None
        self._dry_run_passed = False

    def _finish(self, phase: str, message: str) -> None:
        state = self.state
        state.phase, state.message = phase, message
        state.finished_at = self.clock()
        due = schedule_retry(state, phase, message)  # None: no retry, the operation ends
        if due is not None:
            self._not_before = due
            self._emit(SyncEvent(EVENT_WAITING, state.message))
            return
        self._emit(SyncEvent(EVENT_FINISHED, message, phase=phase))
        self._pool.close()

    def _terminate(self, message: str = "Operation terminated") -> None:
        try:
            steps = self._runner()
            errors = steps.terminate()
        except (ClusterError, PlanError, ComparisonError) as error:
            errors = [str(error)]
        if errors:  # either way the operation ends here: a terminated operation is not retried
            self._end(ERROR, "Operation termination had errors: " + "; ".join(errors))
        else:
            self._end(FAILED, message)

    def _end(self, phase: str, message: str) -> None:
        self.state.phase, self.state.message = phase, message
        self.state.finished_at = self.clock()
        self._emit(SyncEvent(EVENT_FINISHED, message, phase=phase))
        self._pool.close()
