"""The in-process event stream: the controller publishes, notifications and logs subscribe.

``EventBus.publish`` never waits for a subscriber. Each subscription owns a bounded queue and a
daemon thread that calls its callback one event at a time, in publication order. A slow
subscriber only falls behind: when its queue is full the oldest queued event is dropped, the
drop is counted (``Subscription.dropped``) and a warning is logged (at most every 10 s per
subscriber). A callback that raises is logged and counted (``Subscription.failed``) and the
next event is delivered as usual. So reconciliation is never blocked or broken by a consumer.

The event types live in ``reconciler.event_types`` and are re-exported here, so callers
import everything from this module::

    bus = EventBus()
    sub = bus.subscribe(notifier.handle, "notifications", types=(SyncFailed, SyncSucceeded))
    bus.publish(SyncFailed(app="guestbook", time=now, revision=sha, message="..."))
    bus.close()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

from reconciler.event_types import (
    AUTOMATED,
    EVENT_TYPES,
    AppAdded,
    AppRemoved,
    ApprovalRequested,
    CommitSummary,
    DriftChange,
    DriftDetected,
    Event,
    HealthChanged,
    ResourceHealth,
    ResourceResult,
    SyncFailed,
    SyncRunning,
    SyncStatusChanged,
    SyncSucceeded,
    event_from_dict,
)

log = logging.getLogger(__name__)

Callback = Callable[[Event], object]  # the return value is ignored

DEFAULT_QUEUE_SIZE: Final = 1000
# A subscriber that keeps overflowing is reported at most this often (seconds).
DROP_WARNING_INTERVAL: Final = 10.0


class Subscription:
    """One subscriber: its callback, bounded queue, delivery thread and counters.

    Counters (read at any time): ``delivered`` (callback returned), ``failed`` (callback
    raised), ``dropped`` (discarded because the queue was full), ``pending`` (queued now)."""

    def __init__(
        self,
        callback: Callback,
        name: str,
        queue_size: int,
        types: tuple[type[Event], ...],
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"subscriber {name!r}: queue_size must be at least 1")
        self.name = name
        self._callback = callback
        self._types = types
        self._queue: deque[Event] = deque()
        self._size = queue_size
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False  # finish the queue, then exit
        self._cancelled = False  # exit after the current event
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._dropped_reported = 0
        self._last_warning = float("-inf")
        self._thread = threading.Thread(target=self._run, name=f"events-{name}", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def active(self) -> bool:
        """True until the subscription was cancelled or its bus closed."""
        return self._thread.is_alive() and not (self._stopping or self._cancelled)

    def wants(self, event: Event) -> bool:
        return not self._types or isinstance(event, self._types)

    def offer(self, event: Event) -> None:
        """Queue ``event`` without blocking; drops the oldest queued event when full."""
        with self._cond:
            if self._stopping or self._cancelled:
                return
            if len(self._queue) >= self._size:
                self._queue.popleft()
                self.dropped += 1
                self._warn_dropped()
            self._queue.append(event)
            self._cond.notify_all()

    def _warn_dropped(self) -> None:
        now = time.monotonic()
        if now - self._last_warning < DROP_WARNING_INTERVAL:
            return
        new = self.dropped - self._dropped_reported
        self._dropped_reported = self.dropped
        self._last_warning = now
        log.warning(
            "event subscriber %r is too slow: dropped %d oldest event(s) (%d in total, queue "
            "size %d)",
            self.name,
            new,
            self.dropped,
            self._size,
            extra={"subscriber": self.name, "dropped_total": self.dropped},
        )

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the queue is empty and no callback runs; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                if not self._thread.is_alive():
                    return not self._busy and not self._queue
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left if left is not None else 0.5)
            return True

    def cancel(self, timeout: float | None = 5.0) -> None:
        """Stop delivering: queued events are discarded; waits up to ``timeout`` for the
        callback that is running now."""
        with self._cond:
            self._cancelled = True
            self._queue.clear()
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def stop(self, timeout: float | None = 5.0) -> int:
        """Deliver what is queued, then stop. Returns how many queued events had to be
        discarded because that took longer than ``timeout`` (0 when all were delivered)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if not self._thread.is_alive():
            return 0
        with self._cond:
            discarded = len(self._queue)
            self._cancelled = True
            self._queue.clear()
            self._cond.notify_all()
        return discarded

    def _next(self) -> Event | None:
        with self._cond:
            while not self._queue:
                self._busy = False
                self._cond.notify_all()
                if self._stopping or self._cancelled:
                    return None
                self._cond.wait()
            if self._cancelled:
                return None
            self._busy = True
            return self._queue.popleft()

    def _run(self) -> None:
        while True:
            event = self._next()
            if event is None:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
                return
            try:
                self._callback(event)
            except Exception:
                self.failed += 1
                log.exception(
                    "event subscriber %r failed on %s for app %s",
                    self.name,
                    event.type,
                    event.app,
                    extra={"subscriber": self.name, "app": event.app},
                )
            else:
                self.delivered += 1

    def __repr__(self) -> str:
        return (
            f"Subscription({self.name!r}, pending={self.pending}, delivered={self.delivered}, "
            f"failed={self.failed}, dropped={self.dropped})"
        )


class EventBus:
    """Fan-out of events to subscribers, each on its own thread and bounded queue."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._closed = False

    def subscribe(
        self,
        callback: Callback,
        name: str,
        *,
        types: Sequence[type[Event]] = (),
        queue_size: int | None = None,
    ) -> Subscription:
        """Deliver every published event (or only those of ``types``) to ``callback`` on a
        thread of its own. ``name`` identifies the subscriber in logs."""
        for event_type in types:
            if not (isinstance(event_type, type) and issubclass(event_type, Event)):
                raise TypeError(f"subscriber {name!r}: {event_type!r} is not an event type")
        subscription = Subscription(callback, name, queue_size or self._queue_size, tuple(types))
        with self._lock:
            if self._closed:
                subscription.cancel()
                raise RuntimeError(f"cannot subscribe {name!r}: the event bus is closed")
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Cancel one subscription (its queued events are discarded)."""
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
        subscription.cancel()

    @property
    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions)

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every interested subscriber; returns at once. Events published
        after ``close()`` are ignored."""
        if not isinstance(event, Event):
            raise TypeError(f"cannot publish {type(event).__name__}: not an Event")
        with self._lock:
            if self._closed:
                log.debug("event bus closed: %s for app %s not delivered", event.type, event.app)
                return
            subscribers = list(self._subscriptions)
        for subscription in subscribers:
            if subscription.wants(event):
                subscription.offer(event)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every subscriber has handled its queue; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for subscription in self.subscriptions:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not subscription.wait_idle(left):
                return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting events, give subscribers up to ``timeout`` seconds in total to
        handle what is queued, then stop their threads."""
        with self._lock:
            self._closed = True
            subscribers, self._subscriptions = self._subscriptions, []
        deadline = time.monotonic() + timeout
        for subscription in subscribers:
            discarded = subscription.stop(max(0.0, deadline - time.monotonic()))
            if discarded:
                log.warning(
                    "event subscriber %r did not finish within %.1f s; %d event(s) discarded",
                    subscription.name,
                    timeout,
                    discarded,
                )


__all__ = [
    "AUTOMATED",
    "EVENT_TYPES",
    "AppAdded",
    "AppRemoved",
    "ApprovalRequested",
    "Callback",
    "CommitSummary",
    "DriftChange",
    "DriftDetected",
    "Event",
    "EventBus",
    "HealthChanged",
    "ResourceHealth",
    "ResourceResult",
    "Subscription",
    "SyncFailed",
    "SyncRunning",
    "SyncStatusChanged",
    "SyncSucceeded",
    "event_from_dict",
]
