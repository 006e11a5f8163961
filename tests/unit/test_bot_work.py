"""bot.work.WorkPool: bounded, essential work always queued, acks first."""

from __future__ import annotations

import threading
import time

from bot.work import WorkPool


def test_the_pool_refuses_work_beyond_max_pending_but_not_essential_work() -> None:
    pool = WorkPool(workers=1, max_pending=2, quiet=0)
    release = threading.Event()
    ran: list[str] = []
    try:
        assert pool.submit(release.wait, 5) is not None
        assert pool.submit(ran.append, "second") is not None
        assert pool.submit(ran.append, "refused") is None
        essential = pool.submit(ran.append, "essential", essential=True)
        assert essential is not None and pool.pending == 3
    finally:
        release.set()
    essential.result(5)
    assert ran == ["second", "essential"]
    pool.shutdown()
    assert pool.submit(ran.append, "late", essential=True) is None


def test_a_failing_task_is_logged_and_frees_its_slot() -> None:
    pool = WorkPool(workers=1, max_pending=1, quiet=0)

    def boom() -> None:
        raise RuntimeError("boom")

    future = pool.submit(boom)
    assert future is not None and future.result(5) is None
    assert pool.pending == 0 and pool.submit(lambda: None) is not None
    pool.shutdown()


def test_work_waits_for_a_quiet_moment_between_requests() -> None:
    pool = WorkPool(workers=1, quiet=0.1, max_yield=1.0)
    pool.request_arrived()
    started = time.monotonic()
    pool.yield_to_acks()
    waited = time.monotonic() - started
    assert 0.05 < waited < 0.5
    started = time.monotonic()
    pool.yield_to_acks()  # nothing arrived since: no wait
    assert time.monotonic() - started < 0.05
    pool.shutdown()


def test_a_steady_stream_of_requests_delays_work_at_most_max_yield() -> None:
    pool = WorkPool(workers=1, quiet=0.2, max_yield=0.3)
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            pool.request_arrived()
            time.sleep(0.01)

    feeder = threading.Thread(target=stream)
    feeder.start()
    try:
        started = time.monotonic()
        pool.yield_to_acks()
        assert 0.25 < time.monotonic() - started < 0.8
    finally:
        stop.set()
        feeder.join()
        pool.shutdown()
