"""The bot's worker pool: where every command's and click's work runs, off Slack's ack path.

Slack wants an answer to a slash command or a click within 3 seconds, so the Bolt listeners
only acknowledge and hand the rest (parsing, authorization, controller calls, Web API calls)
to this pool. It is bounded twice: a fixed number of threads, and a cap on work waiting for
one. A command that finds the queue full is refused at once (``submit`` returns False, and the
caller tells the user to try again) instead of piling up minutes of stale work; progress
reports of operations already running are ``essential`` and always queued, because dropping
them would leave a channel message stuck at "Syncing".

Acks come first. Every request from Slack is announced with :meth:`WorkPool.request_arrived`
before it is acknowledged; a task about to start, and a handler about to call the Web API
(:meth:`WorkPool.yield_to_acks`), first waits until no request has arrived for ``quiet``
seconds (at most ``max_yield``). Python runs one thread at a time, so during a burst of
commands the acks get the interpreter and the work they queued follows a moment later,
instead of each ack waiting behind the JSON encoding and HTTP calls of the work before it.

A task that raises is logged here as a last resort; the handlers catch their own errors and
answer the user first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, Final

log = logging.getLogger(__name__)

DEFAULT_WORKERS: Final = 8
DEFAULT_MAX_PENDING: Final = 256
DEFAULT_QUIET: Final = 0.02
DEFAULT_MAX_YIELD: Final = 0.25


class WorkPool:
    """A bounded pool for the bot's work. ``executor`` (owned by the caller when given) runs
    the tasks; otherwise a ``ThreadPoolExecutor`` of ``workers`` threads is created and shut
    down by :meth:`shutdown`. ``max_pending`` caps tasks queued or running at once (essential
    ones excepted)."""

    def __init__(
        self,
        executor: Executor | None = None,
        *,
        workers: int = DEFAULT_WORKERS,
        max_pending: int = DEFAULT_MAX_PENDING,
        quiet: float = DEFAULT_QUIET,
        max_yield: float = DEFAULT_MAX_YIELD,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self._owned = executor is None
        self._executor: Executor = executor or ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="kajitori-bot"
        )
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        self._closed = False
        self._quiet = max(0.0, quiet)
        self._max_yield = max(0.0, max_yield)
        self._last_request = float("-inf")

    def request_arrived(self) -> None:
        """A request from Slack is being acknowledged now (called on the ack path)."""
        self._last_request = time.monotonic()

    def yield_to_acks(self) -> None:
        """Wait until no request arrived for ``quiet`` seconds, at most ``max_yield``."""
        if self._quiet <= 0:
            return
        deadline = time.monotonic() + self._max_yield
        while True:
            now = time.monotonic()
            idle = now - self._last_request
            if idle >= self._quiet or now >= deadline:
                return
            time.sleep(min(self._quiet - idle, deadline - now))

    @property
    def pending(self) -> int:
        """Tasks queued or running now."""
        with self._lock:
            return self._pending

    def submit(
        self, fn: Callable[..., object], *args: Any, essential: bool = False
    ) -> Future[object] | None:
        """Queue ``fn(*args)``; None when refused (the pool is full or shut down)."""
        with self._lock:
            if self._closed or (not essential and self._pending >= self._max_pending):
                return None
            self._pending += 1
        try:
            future = self._executor.submit(self._run, fn, args)
        except RuntimeError:  # the executor was shut down under us
            with self._lock:
                self._pending -= 1
            return None
        return future

    def _run(self, fn: Callable[..., object], args: tuple[Any, ...]) -> object:
        try:
            self.yield_to_acks()
            return fn(*args)
        except Exception:
            name = getattr(fn, "__qualname__", repr(fn))
            log.exception("bot task %s failed", name)
            return None
        finally:
            with self._lock:
                self._pending -= 1

    def shutdown(self, wait: bool = True) -> None:
        """Refuse new work; shut the executor down when this pool created it."""
        with self._lock:
            self._closed = True
        if self._owned:
            self._executor.shutdown(wait=wait)
