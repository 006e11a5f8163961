"""When the controller refreshes apps and steps operations: APScheduler 3.x underneath.

- One periodic refresh job per app (``IntervalTrigger``): coalesced, one instance at a time,
  never lost to a late wake-up (no misfire limit). ``interval`` is the longest time between
  two polls and ``jitter`` spreads them below it (Argo CD's 120 s + up to 60 s jitter is
  ``interval=180, jitter=60``), so apps do not all fetch at once. ``None`` turns polling off:
  such an app refreshes only on request.
- ``request(app, fetch=..., delay=...)`` refreshes an app soon (a webhook, a live change, a
  self-heal backoff). Requests merge: one made while the app refreshes makes that refresh run
  once more right after (``fetch`` wanted by any request is kept), one made while a refresh
  is pending joins the earlier of the two. So an app is never refreshed by two threads at
  once, and a burst of watch events costs one or two refreshes.
- ``call_later(key, delay, fn)`` runs a short callable on a separate executor after ``delay``
  seconds (the controller uses it to hand the next step of an operation to its worker pool
  after a wave delay or poll interval); a second call with the same key replaces the first.

Refresh jobs run on the scheduler's executor of ``refresh_workers`` threads; the callables of
``call_later`` on a small executor of their own, so a slow Git fetch never delays a step.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.interval import IntervalTrigger

from reconciler.model import Application
from reconciler.sync_types import StateError, parse_duration

log = logging.getLogger(__name__)

REFRESH_INTERVAL_ANNOTATION: Final = "kajitori.dev/refresh-interval"

Refresh = Callable[[str, bool], None]
DISPATCH_WORKERS: Final = 2
MIN_INTERVAL: Final = 0.05


@dataclass
class _Slot:
    """One app's refresh bookkeeping."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: bool = False
    again: bool = False
    fetch: bool = False
    pending_at: float | None = None
    idle: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.idle.set()


REQUESTED_INSTANCES: Final = 8


def refresh_interval(app: Application, default: float) -> float | None:
    """The app's polling interval: its ``kajitori.dev/refresh-interval`` annotation (``30s``,
    ``5m``; ``0`` turns polling off: None), else ``default``. A value that is not a duration
    is logged and ignored."""
    text = app.annotations.get(REFRESH_INTERVAL_ANNOTATION)
    if text is None:
        return default
    try:
        seconds = parse_duration(text, f"app {app.name}: {REFRESH_INTERVAL_ANNOTATION}")
    except StateError as error:
        log.warning("%s; polling every %g s", error, default, extra={"app": app.name})
        return default
    return seconds if seconds > 0 else None


def _at(delay: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=max(0.0, delay))


class _BackgroundScheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler's BackgroundScheduler without a shutdown race that kills its thread:
    ``shutdown()`` marks the scheduler stopped before it takes the job-store lock, so a pass
    over due jobs that is running then and removes a date job that has fired finds the
    scheduler stopped, looks for the job among the not-yet-added ones only, and raises
    JobLookupError out of the scheduler's thread. Once stopped, a missing job is no error."""

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        try:
            super().remove_job(job_id, jobstore)
        except JobLookupError:
            if self.state != STATE_STOPPED:
                raise


class AppScheduler:
    """Periodic and requested refreshes per app plus step timers (module docstring).
    ``refresh(app, fetch)`` is called on a scheduler thread; its exceptions are logged."""

    def __init__(self, refresh: Refresh, *, refresh_workers: int = 4) -> None:
        self._refresh = refresh
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._scheduler = _BackgroundScheduler(
            timezone=UTC,
            executors={
                "default": ThreadPoolExecutor(max(1, refresh_workers)),
                "dispatch": ThreadPoolExecutor(DISPATCH_WORKERS),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running) and not self._stopped

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop firing jobs and wait up to ``timeout`` seconds for refreshes that run now;
        True when they all finished."""
        self._stopped = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        deadline = time.monotonic() + timeout
        with self._lock:
            slots = list(self._slots.values())
        return all(slot.idle.wait(max(0.0, deadline - time.monotonic())) for slot in slots)

    # -- apps ------------------------------------------------------------------------------

    def add_app(
        self, app: str, interval: float | None, jitter: float = 0.0, first_delay: float = 0.0
    ) -> None:
        """Poll ``app`` every ``interval`` seconds at most (None: never), the first time
        after ``first_delay``; replaces an earlier schedule of the app."""
        with self._lock:
            self._slots.setdefault(app, _Slot())
        if interval is None:
            self._remove_job(f"refresh:{app}")
            return
        jitter = max(0.0, min(jitter, interval - MIN_INTERVAL))
        trigger = IntervalTrigger(
            seconds=max(MIN_INTERVAL, interval - jitter), jitter=jitter or None, timezone=UTC
        )
        self._scheduler.add_job(
            self._run,
            trigger,
            args=[app, True, False],
            id=f"refresh:{app}",
            name=f"refresh {app}",
            replace_existing=True,
            next_run_time=_at(first_delay),
        )

    def remove_app(self, app: str) -> None:
        self._remove_job(f"refresh:{app}")
        self._remove_job(f"refresh-now:{app}")
        with self._lock:
            self._slots.pop(app, None)

    def request(self, app: str, *, fetch: bool = True, delay: float = 0.0) -> None:
        """Refresh ``app`` after ``delay`` seconds (merged with other requests)."""
        slot = self._slot(app)
        if slot is None or self._stopped:
            return
        at = time.time() + max(0.0, delay)
        with slot.lock:
            slot.fetch = slot.fetch or fetch
            if slot.running and delay <= 0:
                slot.again = True
                return
            if slot.pending_at is not None and slot.pending_at <= at:
                return
            slot.pending_at = at
        self._scheduler.add_job(
            self._run,
            "date",
            run_date=_at(delay),
            args=[app, False, True],
            id=f"refresh-now:{app}",
            name=f"refresh {app} now",
            replace_existing=True,
            # _run serialises refreshes itself (slot.running/again); an instance that
            # APScheduler skipped would leave pending_at set and swallow later requests.
            max_instances=REQUESTED_INSTANCES,
        )

    def wait_idle(self, app: str, timeout: float | None = None) -> bool:
        """Block until no refresh of ``app`` runs; False on timeout."""
        slot = self._slot(app)
        return True if slot is None else slot.idle.wait(timeout)

    def call_later(self, key: str, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` after ``delay`` seconds on the dispatch executor."""
        if self._stopped:
            return
        self._scheduler.add_job(
            fn,
            "date",
            run_date=_at(delay),
            args=list(args),
            id=f"call:{key}",
            name=key,
            executor="dispatch",
            replace_existing=True,
        )

    # -- the job ---------------------------------------------------------------------------

    def _slot(self, app: str) -> _Slot | None:
        with self._lock:
            return self._slots.get(app)

    def _remove_job(self, job_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(job_id)

    def _run(self, app: str, fetch: bool, requested: bool) -> None:
        slot = self._slot(app)
        if slot is None or self._stopped:
            return
        with slot.lock:
            if requested:
                slot.pending_at = None
            if slot.running:
                slot.again = True
                slot.fetch = slot.fetch or fetch
                return
            slot.running, slot.again = True, False
            fetch, slot.fetch = fetch or slot.fetch, False
            slot.idle.clear()
        try:
            while True:
                try:
                    self._refresh(app, fetch)
                except Exception:
                    log.exception("refreshing app %s failed", app, extra={"app": app})
                with slot.lock:
                    if not slot.again or self._stopped:
                        return
                    slot.again = False
                    fetch, slot.fetch = slot.fetch, False
        finally:
            with slot.lock:
                slot.running = False
                slot.idle.set()


__all__ = ["REFRESH_INTERVAL_ANNOTATION", "AppScheduler", "refresh_interval"]
