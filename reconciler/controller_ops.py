"""Running sync operations for the controller: one at a time per app, step by step on a
bounded worker pool, persisted after every step, announced on the event bus.

An operation is never driven by a thread that sleeps between steps: each ``step()`` is one
task on the pool, and the next one is handed to the pool later by a timer (the poll interval,
or the operation's own wave delay or retry backoff). A hook that runs for an hour therefore
holds no worker: other apps' steps, and other apps' hooks, go on around it.

After every step the state is saved (``reconciler.sync_runner.persist``: the history entry is
added when a full sync succeeded), the caller's ``on_progress`` gets the state, and events
go out: ``SyncRunning`` when the operation starts (or resumes after a restart),
``ApprovalRequested`` when a gated hook waits for a person (``decide`` takes the decision),
``SyncFailed(retrying=True)`` for each failed attempt that will be retried, then
``SyncSucceeded`` or ``SyncFailed`` at the end, with the commit and the per-resource results.

``stop()`` lets the steps that run now finish (they persist themselves) and starts no new
one, so the saved state is what the next process resumes.

What each event says is built in ``reconciler.controller_op_events``; this module decides when
to announce it (each approval and each retry once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Final

from reconciler.controller_api import OperationRefused, ProgressCallback
from reconciler.controller_op_events import (
    approval_requested,
    sync_ended,
    sync_failed,
    sync_running,
)
from reconciler.event_types import CommitSummary, Event
from reconciler.metrics import Metrics
from reconciler.model import Application
from reconciler.state import Store
from reconciler.sync import Approval, SyncOperation
from reconciler.sync_runner import persist

log = logging.getLogger(__name__)

Publish = Callable[[Event], None]
CallLater = Callable[[str, float, Callable[..., Any], str], None]
MAX_UNEXPECTED_FAILURES: Final = 3


@dataclass
class Running:
    """One app's operation in flight and what its events need."""

    app: Application
    operation: SyncOperation
    commit: CommitSummary | None = None
    on_progress: ProgressCallback | None = None
    resumed: bool = False
    retries_announced: int = 0
    approval_announced: str = ""
    done: bool = False  # completed and persisted: later steps (a timer, a decision) do nothing
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class OperationRunner:
    """The apps' operations (module docstring). ``call_later(key, delay, fn, app)`` is the
    timer (``AppScheduler.call_later``); ``on_done(app, state)`` is told when an operation
    ended (on a worker thread)."""

    def __init__(
        self,
        *,
        store: Store,
        publish: Publish,
        metrics: Metrics,
        call_later: CallLater,
        workers: int,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 1.0,
        sync_timeout: float | None = None,
        on_done: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self._store = store
        self._publish = publish
        self._metrics = metrics
        self._call_later = call_later
        self._clock = clock
        self.poll_interval = max(0.01, poll_interval)
        self.sync_timeout = sync_timeout
        self._on_done = on_done
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="kajitori-op")
        self._lock = threading.Lock()
        self._ops: dict[str, Running | None] = {}  # None: claimed, being prepared
        self._futures: set[Future[None]] = set()
        self._stopping = False

    # -- claiming an app -------------------------------------------------------------------

    def busy(self, app: str) -> bool:
        with self._lock:
            return app in self._ops

    def phase(self, app: str) -> str:
        with self._lock:
            running = self._ops.get(app)
        return running.operation.phase if running is not None else ""

    def claim(self, app: str) -> None:
        """Reserve ``app`` for an operation being prepared; OperationRefused when one runs
        (or is being prepared) already, or when the controller is stopping."""
        with self._lock:
            if self._stopping:
                raise OperationRefused(f"app {app}: the controller is shutting down")
            if app in self._ops:
                running = self._ops[app]
                what = (
                    f"operation {running.operation.state.id} ({running.operation.phase})"
                    if running is not None
                    else "another operation"
                )
                raise OperationRefused(f"app {app}: {what} is already running; wait for it")
            self._ops[app] = None

    def release(self, app: str) -> None:
        """Give up a claim whose operation could not be prepared."""
        with self._lock:
            if self._ops.get(app) is None:
                self._ops.pop(app, None)

    def launch(self, running: Running) -> None:
        """Start stepping a claimed app's operation (persists it first)."""
        name = running.app.name
        try:
            state = persist(self._store, running.app, running.operation, now=self._clock())
        except BaseException:
            running.operation.close()
            raise  # the caller releases the claim
        with self._lock:
            self._ops[name] = running
        self._publish(
            sync_running(
                running.app,
                running.operation.state,
                running.commit,
                now=self._clock(),
                resumed=running.resumed,
            )
        )
        self._announce_approval(running)
        self._progress(running, state)
        self._submit(name)

    def terminate(self, app: str) -> bool:
        """Ask the app's operation to terminate (done by its next step); False if none."""
        with self._lock:
            running = self._ops.get(app)
        if running is None:
            return False
        self._pool_submit(app, lambda: self._terminate(app, running))
        return True

    def decide(self, app: str, approval_id: str, approved: bool, user: str) -> Approval:
        """A person's decision on the approval the app's operation waits for (idempotent:
        the first decision wins); the operation goes on at once. OperationRefused when the
        app runs no operation; ApprovalError for an id the operation does not have."""
        with self._lock:
            running = self._ops.get(app)
        if running is None:
            raise OperationRefused(f"app {app}: no operation is running, nothing to approve")
        with running.lock:
            if running.done:
                raise OperationRefused(f"app {app}: the operation has ended, nothing to approve")
            decision = running.operation.decide(approval_id, approved, user, self._clock())
            persist(self._store, running.app, running.operation, now=self._clock())
        self._submit(app)
        return decision

    def waiting_revision(self, app: str) -> str:
        """The revision of the app's operation while it waits for approval ("" otherwise)."""
        with self._lock:
            running = self._ops.get(app)
        if running is None or running.done:
            return ""
        state = running.operation.state
        return state.revision if state.pending_approval is not None else ""

    def supersede_waiting(self, app: str, message: str = "") -> bool:
        """End the app's operation if it waits for approval, because a newer sync takes its
        place: the approval becomes Superseded, the operation ends Failed "superseded by a
        newer sync" (``SyncOperation.supersede``), is persisted and announced
        (``SyncFailed``). False when no operation of the app waits for approval."""
        with self._lock:
            running = self._ops.get(app)
        if running is None:
            return False
        with running.lock:
            operation = running.operation
            if running.done or operation.state.pending_approval is None:
                return False
            operation.supersede(message)
            try:
                state = persist(self._store, running.app, operation, now=self._clock())
            except Exception:
                log.exception("cannot save the operation state of app %s", app, extra={"app": app})
                state = operation.to_dict()
            running.done = True
        log.info("app %s: operation %s superseded", app, operation.state.id, extra={"app": app})
        self._progress(running, state)
        self._finish(running, state)
        return True

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self, timeout: float) -> bool:
        """Start no more steps; wait up to ``timeout`` seconds for the running ones (each
        persists its state). True when all finished."""
        with self._lock:
            self._stopping = True
            futures = set(self._futures)
            operations = [r for r in self._ops.values() if r is not None]
        _, pending = wait(futures, timeout=max(0.0, timeout)) if futures else (set(), set())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for running in operations:
            if not pending:
                running.operation.close()
        return not pending

    # -- stepping --------------------------------------------------------------------------

    def _submit(self, app: str) -> None:
        self._pool_submit(app, lambda: self._step(app))

    def _pool_submit(self, app: str, work: Callable[[], None]) -> None:
        with self._lock:
            if self._stopping:
                return
            try:
                future = self._pool.submit(work)
            except RuntimeError:  # the pool was shut down meanwhile
                return
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _dispatch(self, app: str) -> None:
        """Timer callback: hand the app's next step to the pool."""
        self._submit(app)

    def _terminate(self, app: str, running: Running) -> None:
        with running.lock:
            if not running.operation.completed:
                running.operation.terminate()
        self._step(app)  # persists and finishes it at once

    def _step(self, app: str) -> None:
        with self._lock:
            running = self._ops.get(app)
            if running is None or self._stopping:
                return
        with running.lock:
            if running.done:
                return
            operation = running.operation
            try:
                if self._timed_out(operation):
                    operation.terminate()
                else:
                    operation.step()
                running.failures = 0
            except Exception as error:  # a bug must not wedge the app forever
                running.failures += 1
                log.exception("step of the operation of app %s failed", app, extra={"app": app})
                if running.failures >= MAX_UNEXPECTED_FAILURES:
                    self._give_up(operation, error)
            try:
                state = persist(self._store, running.app, operation, now=self._clock())
            except Exception:
                log.exception("cannot save the operation state of app %s", app, extra={"app": app})
                state = operation.to_dict()
            running.done = operation.completed
        self._announce_retry(running)
        self._announce_approval(running)
        self._progress(running, state)
        if running.done:
            self._finish(running, state)
            return
        delay = max(self.poll_interval, operation.seconds_until_due())
        self._call_later(f"step:{app}", delay, self._dispatch, app)

    def _timed_out(self, operation: SyncOperation) -> bool:
        if not self.sync_timeout or operation.completed:
            return False
        return self._clock() - operation.state.started_at > self.sync_timeout

    def _give_up(self, operation: SyncOperation, error: Exception) -> None:
        try:
            operation.terminate()
        except Exception:
            log.exception("terminating a failing operation failed")
        operation.state.phase = "Error"
        operation.state.message = (
            f"the operation failed unexpectedly {MAX_UNEXPECTED_FAILURES} times in a row "
            f"({type(error).__name__}); see the logs"
        )
        operation.state.finished_at = self._clock()

    def _progress(self, running: Running, state: Mapping[str, Any]) -> None:
        if running.on_progress is None:
            return
        try:
            running.on_progress(state)
        except Exception:
            log.exception("the progress callback of app %s failed", running.app.name)

    def _announce_retry(self, running: Running) -> None:
        state = running.operation.state
        if not state.awaiting_retry or state.retry_count <= running.retries_announced:
            return
        running.retries_announced = state.retry_count
        self._publish(
            sync_failed(running.app, state, running.commit, now=self._clock(), retrying=True)
        )

    def _announce_approval(self, running: Running) -> None:
        state = running.operation.state
        approval = state.pending_approval
        if approval is None or approval.id == running.approval_announced:
            return
        running.approval_announced = approval.id
        self._publish(
            approval_requested(running.app, state, approval, running.commit, now=self._clock())
        )

    def _finish(self, running: Running, state: Mapping[str, Any]) -> None:
        name = running.app.name
        op = running.operation.state
        with self._lock:
            if self._ops.get(name) is running:
                del self._ops[name]
        running.operation.close()
        duration = (op.finished_at or self._clock()) - op.started_at
        self._metrics.record_sync(running.app, op.phase, duration)
        event = sync_ended(running.app, op, running.commit, now=self._clock())
        if self._on_done is not None:
            # First, so the app's status already shows the operation's outcome (Synced at the
            # revision) when subscribers read it on the event.
            try:
                self._on_done(name, state)
            except Exception:
                log.exception("after the operation of app %s", name)
        self._publish(event)


__all__ = ["OperationRunner", "Running"]
