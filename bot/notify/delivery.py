"""Delivery of notifications to Slack: threads by ``groupingKey``, Argo's delivery policies,
at most one message per second per channel, 429s honoured, failures retried, every
notification sent exactly once, across restarts.

:class:`SlackDelivery` takes the records the notifier stored (``submit``) and sends them from
one sender thread, in order per channel (``bot.notify.delivery_steps`` does one step per
Slack call; ``bot.notify.delivery_pacer`` spaces the calls). Policies, as in
argocd-notifications (a ``groupingKey`` is scoped to its channel; without one every message
is a plain post):

* ``Post``: the first message of a group is its root; later ones reply in its thread;
* ``PostAndUpdate``: later ones reply in the thread *and* rewrite the root with their
  content, so the channel shows one message per deploy with its latest state;
* ``Update``: later ones only rewrite the root.

Thread roots are persisted (``bot.notify.state``), so a restart keeps threads. A record is
saved before each Slack call and after it; at start-up unfinished records are resumed, and
one that was mid-post is first looked for in the channel. A failure is retried with
exponential backoff up to ``max_attempts`` tries, then logged, reported to ``on_outcome`` (the
metrics hook) and stored as failed; a 429 pauses all sending for its ``Retry-After`` and does
not count as a try.

:class:`LogDelivery` is the headless stand-in: it logs each notification's text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from slack_sdk import WebClient

from bot.notify.delivery_pacer import DEFAULT_PER_SECOND, ChannelPacer
from bot.notify.delivery_slack import SlackCalls
from bot.notify.delivery_steps import StepRunner
from bot.notify.delivery_types import DeliveryOutcome, DeliveryRecord, outcome_of
from bot.notify.state import NotificationStore

log = logging.getLogger(__name__)

OutcomeHook = Callable[[DeliveryOutcome], object]
DEFAULT_RETENTION: Final = 30 * 24 * 3600.0

__all__ = ["Delivery", "LogDelivery", "OutcomeHook", "SlackDelivery"]


class Delivery(Protocol):
    """Where the notifier hands stored delivery records."""

    def submit(self, records: Sequence[DeliveryRecord]) -> None:
        """Send these records (already stored) eventually; returns at once."""
        ...


class _Outcomes:
    """Counters and the outcome hook, shared by both deliveries."""

    def __init__(self, hook: OutcomeHook | None) -> None:
        self.hook = hook
        self.counts: dict[str, int] = {"sent": 0, "failed": 0, "unknown": 0}

    def report(self, record: DeliveryRecord) -> None:
        self.counts[record.status] = self.counts.get(record.status, 0) + 1
        if self.hook is None:
            return
        try:
            self.hook(outcome_of(record))
        except Exception:
            log.exception("the notification outcome hook failed for %s", record.key)


class SlackDelivery:
    """Sends stored records to Slack on a sender thread (see the module docstring).

    ``per_second`` is the per-channel rate (1 in production; tests that do not measure it
    may raise it). ``backoff`` is the first retry delay in seconds, doubled per try up to
    ``max_backoff``. A post whose answer was lost is looked for in the channel no sooner
    than ``check_delay`` seconds later (so a request Slack was still processing has landed)
    before it is sent again. ``clock`` is the wall clock (records and the posted-message check use
    it); pacing uses a monotonic clock."""

    def __init__(
        self,
        client: WebClient,
        store: NotificationStore,
        *,
        per_second: float = DEFAULT_PER_SECOND,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_rate_limited: int = 50,
        check_delay: float = 10.0,
        on_outcome: OutcomeHook | None = None,
        clock: Callable[[], float] = time.time,
        retention: float = DEFAULT_RETENTION,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.store = store
        self._clock = clock
        self._retention = retention
        self._pacer = ChannelPacer(per_second)
        self._outcomes = _Outcomes(on_outcome)
        self._steps = StepRunner(
            SlackCalls(client),
            store,
            self._pacer,
            clock=clock,
            max_attempts=max_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            max_rate_limited=max_rate_limited,
            check_delay=check_delay,
        )
        self._cond = threading.Condition()
        self._queues: dict[str, deque[str]] = {}
        self._records: dict[str, DeliveryRecord] = {}
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SlackDelivery:
        """Resume the unfinished records of the store, prune old ones, start sending."""
        if self._thread is not None:
            return self
        try:
            pruned = self.store.prune(self._clock() - self._retention)
            if pruned:
                log.debug("pruned %d old notification records", pruned)
        except Exception:
            log.exception("could not prune old notification records")
        resumed = self.store.unfinished_deliveries()
        if resumed:
            log.info("resuming %d unfinished notification(s)", len(resumed))
        self.submit(resumed)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="notify-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current call; what is queued stays stored and resumes at the next
        start."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> SlackDelivery:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the queue ---------------------------------------------------------------------------

    def submit(self, records: Sequence[DeliveryRecord]) -> None:
        with self._cond:
            for record in records:
                if record.finished or record.key in self._records:
                    continue
                self._records[record.key] = record
                self._queues.setdefault(record.request.channel, deque()).append(record.key)
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        """Records queued or being sent."""
        with self._cond:
            return len(self._records)

    @property
    def counts(self) -> dict[str, int]:
        """Finished deliveries by status (sent, failed, unknown) since construction."""
        with self._cond:
            return dict(self._outcomes.counts)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted record is finished; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._records or self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.25 if left is None else min(left, 0.25))
            return True

    def _next(self) -> tuple[str, float]:
        """The channel to serve next and when (monotonic); ("", 0) when nothing is queued.
        Call with the lock held."""
        best, best_at = "", 0.0
        for channel, keys in self._queues.items():
            if not keys:
                continue
            record = self._records[keys[0]]
            at = max(
                self._pacer.ready_at(self._steps.pace_key(record)),
                self._steps.not_before(record.key),
            )
            if not best or at < best_at:
                best, best_at = channel, at
        return best, best_at

    def _run(self) -> None:
        while True:
            with self._cond:
                record: DeliveryRecord | None = None
                while record is None:
                    if self._stopping:
                        return
                    channel, at = self._next()
                    wait = at - time.monotonic()
                    if not channel or wait > 0:
                        self._cond.wait(None if not channel else wait)
                        continue
                    record = self._records[self._queues[channel][0]]
                self._busy = True
            updated = self._step(record)
            with self._cond:
                self._busy = False
                if updated.finished:
                    self._queues[record.request.channel].popleft()
                    del self._records[record.key]
                    self._outcomes.report(updated)
                else:
                    self._records[record.key] = updated
                self._cond.notify_all()

    def _step(self, record: DeliveryRecord) -> DeliveryRecord:
        try:
            return self._steps.step(record)
        except Exception as exc:
            # A bug or a store failure: keep the record for a later try rather than spin.
            log.exception("notification %s: delivery step failed", record.key)
            try:
                return self._steps.retry_later(record, f"{type(exc).__name__}: {exc}")
            except Exception:
                log.exception("notification %s: cannot record the failure", record.key)
                self._steps.delay(record.key, self._steps.max_backoff)
                return record


class LogDelivery:
    """Headless delivery (no Slack): logs each notification's text and marks it sent. The
    last 1000 lines stay in ``lines`` (for ``kajitori demo`` and tests)."""

    def __init__(
        self,
        store: NotificationStore,
        *,
        on_outcome: OutcomeHook | None = None,
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self._clock = clock
        self._log = logger or log
        self._outcomes = _Outcomes(on_outcome)
        self.lines: deque[str] = deque(maxlen=1000)

    def start(self) -> LogDelivery:
        """Log what a previous run left unsent."""
        self.submit(self.store.unfinished_deliveries())
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Nothing to stop; for symmetry with :class:`SlackDelivery`."""

    def submit(self, records: Sequence[DeliveryRecord]) -> None:
        for record in records:
            if record.finished:
                continue
            request = record.request
            line = f"[{request.trigger}] #{request.channel} {request.app}: {request.text}"
            self.lines.append(line)
            self._log.info("notification (no Slack connected) %s", line)
            done = record.with_(status="sent", updated_at=self._clock())
            self.store.save_delivery(done)
            self._outcomes.report(done)
