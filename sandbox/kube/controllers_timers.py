"""A timer queue served by one daemon thread: the clock of the simulated controllers.

Every piece of controller work (reacting to a store event, moving a Deployment from
Progressing to Available, ending a Job) is a callable put on this queue with a delay. One
thread runs them in due order, so the controllers never race each other and a store listener
only has to enqueue. Work may carry a key: while a keyed item is pending, scheduling the same
key again is a no-op, which keeps a burst of events for one object from piling up duplicates.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Item:
    due: float
    seq: int
    fn: Callable[[], object] = field(compare=False)
    key: Hashable | None = field(compare=False)
    generation: int = field(compare=False)


class TimerQueue:
    """Runs callables at (monotonic) due times on one worker thread.

    clear() forgets everything pending; stop() ends the thread after the running item.
    A callable that raises is logged and never stops the thread.
    """

    def __init__(self, name: str = "kube-controllers") -> None:
        self._name = name
        self._heap: list[_Item] = []
        self._keys: set[Hashable] = set()
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._busy = False
        self._running_generation = 0

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to finish and wait for it; pending items are dropped."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._keys.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._cond:
            self._thread = None

    def clear(self) -> None:
        """Forget every pending item (running work finishes; its follow-ups are dropped)."""
        with self._cond:
            self._heap.clear()
            self._keys.clear()
            self._generation += 1
            self._cond.notify_all()

    def call_later(
        self, delay: float, fn: Callable[[], object], key: Hashable | None = None
    ) -> bool:
        """Run fn after delay seconds. Returns False (and schedules nothing) when an item
        with the same key is already pending or the queue is stopped."""
        with self._cond:
            if self._stopping:
                return False
            # A follow-up of work that started before clear() belongs to the old world.
            if (
                self._busy
                and threading.current_thread() is self._thread
                and self._running_generation != self._generation
            ):
                return False
            if key is not None:
                if key in self._keys:
                    return False
                self._keys.add(key)
            due = time.monotonic() + max(0.0, delay)
            heapq.heappush(self._heap, _Item(due, next(self._seq), fn, key, self._generation))
            self._cond.notify()
            return True

    def is_pending(self, key: Hashable) -> bool:
        """True while an item with this key waits to run."""
        with self._cond:
            return key in self._keys

    def idle(self) -> bool:
        """True when nothing is due now and nothing is running (used by tests and waits)."""
        with self._cond:
            if self._busy:
                return False
            return not self._heap or self._heap[0].due > time.monotonic()

    def _run(self) -> None:
        while True:
            with self._cond:
                item = self._next_due()
                if item is None:
                    return
                self._busy = True
                self._running_generation = item.generation
            try:
                item.fn()
            except Exception:
                log.exception("controller work item failed; skipped")
            finally:
                with self._cond:
                    self._busy = False

    def _next_due(self) -> _Item | None:
        """Wait (holding the condition) for the next due item; None when stopping."""
        while not self._stopping:
            if not self._heap:
                self._cond.wait()
                continue
            wait = self._heap[0].due - time.monotonic()
            if wait > 0:
                self._cond.wait(wait)
                continue
            item = heapq.heappop(self._heap)
            if item.key is not None:
                self._keys.discard(item.key)
            return item
        return None
