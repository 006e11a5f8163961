"""The change history that watches replay and follow.

Every committed change becomes an :class:`Event` appended to :class:`History` with its
resourceVersion. A watch from resourceVersion R replays the events after R and then waits for
new ones; when events after R have already been dropped (the history keeps a bounded number,
and a reset empties it) the watch is answered with 410 Gone, as kube-apiserver does when its
watch cache no longer reaches back that far.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]


@dataclass(slots=True)
class Event:
    """One committed change of one object."""

    rv: int
    type: str
    group: str
    kind: str
    namespace: str
    obj: dict[str, Any]
    prev: dict[str, Any] | None
    raw: bytes


class History:
    """A bounded, ordered log of events, with waiting for new ones."""

    def __init__(self, size: int = 10000) -> None:
        self._size = max(size, 1)
        self._events: list[Event] = []
        self._floor = 0
        self._cond = threading.Condition()
        self._closed = False

    @property
    def floor(self) -> int:
        """Watches from a resourceVersion below this one get 410 Gone."""
        return self._floor

    @property
    def closed(self) -> bool:
        """True once the server stops: watches end."""
        return self._closed

    def append(self, event: Event) -> None:
        """Record a committed event and wake the watchers."""
        with self._cond:
            self._events.append(event)
            if len(self._events) > 2 * self._size:
                dropped = len(self._events) - self._size
                self._floor = self._events[dropped - 1].rv
                del self._events[:dropped]
            self._cond.notify_all()

    def reset(self, current_rv: int) -> None:
        """Forget every event: watches from before ``current_rv`` become too old."""
        with self._cond:
            self._events = []
            self._floor = current_rv
            self._cond.notify_all()

    def close(self) -> None:
        """End every waiting watch."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        """Allow watches again after a stop."""
        with self._cond:
            self._closed = False

    def wake(self) -> None:
        """Wake waiting watchers (they re-check their deadline and the closed flag)."""
        with self._cond:
            self._cond.notify_all()

    def after(self, rv: int, timeout: float) -> list[Event] | None:
        """Events with resourceVersion > ``rv``, waiting up to ``timeout`` seconds for one.
        None when ``rv`` is older than the history reaches (410 Gone)."""
        with self._cond:
            if rv < self._floor:
                return None
            events = self._events
            if not events or events[-1].rv <= rv:
                if self._closed:
                    return []
                self._cond.wait(timeout)
                if rv < self._floor:
                    return None
                events = self._events
            start = bisect.bisect_right(events, rv, key=lambda e: e.rv)
            return events[start:]


@dataclass(frozen=True)
class WatchFilter:
    """What one watch wants to see."""

    group: str
    kind: str
    namespace: str | None
    predicate: Predicate | None

    def translate(self, event: Event) -> str | None:
        """The event type this watch reports for ``event``, or None to skip it. With a
        selector, an object that stops matching is reported DELETED and one that starts
        matching ADDED, as kube-apiserver does."""
        if event.kind != self.kind or event.group != self.group:
            return None
        if self.namespace is not None and event.namespace != self.namespace:
            return None
        pred = self.predicate
        if pred is None:
            return event.type
        now_matches = pred(event.obj)
        if event.type != "MODIFIED" or event.prev is None:
            return event.type if now_matches else None
        was_matching = pred(event.prev)
        if now_matches and was_matching:
            return "MODIFIED"
        if now_matches:
            return "ADDED"
        if was_matching:
            return "DELETED"
        return None
