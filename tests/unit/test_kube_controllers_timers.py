"""The simulated controllers' timer queue: order, de-duplication, clear, resilience, stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from sandbox.kube.controllers_timers import TimerQueue


@pytest.fixture
def timers() -> Iterator[TimerQueue]:
    queue = TimerQueue("test-timers")
    queue.start()
    yield queue
    queue.stop()


def wait_until(check: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_items_run_in_due_order(timers: TimerQueue) -> None:
    ran: list[str] = []
    timers.call_later(0.06, lambda: ran.append("late"))
    timers.call_later(0.0, lambda: ran.append("now"))
    timers.call_later(0.03, lambda: ran.append("soon"))
    wait_until(lambda: len(ran) == 3)
    assert ran == ["now", "soon", "late"]


def test_items_due_together_run_in_submission_order(timers: TimerQueue) -> None:
    ran: list[int] = []
    gate = threading.Event()
    timers.call_later(0.0, lambda: gate.wait(1.0))  # hold the worker while we submit
    for number in range(20):
        timers.call_later(0.0, lambda n=number: ran.append(n))  # type: ignore[misc]
    gate.set()
    wait_until(lambda: len(ran) == 20)
    assert ran == list(range(20))


def test_a_pending_key_is_not_scheduled_twice(timers: TimerQueue) -> None:
    ran: list[str] = []
    assert timers.call_later(0.05, lambda: ran.append("first"), key="k")
    assert not timers.call_later(0.0, lambda: ran.append("second"), key="k")
    assert timers.is_pending("k")
    wait_until(lambda: ran == ["first"])
    assert not timers.is_pending("k")
    assert timers.call_later(0.0, lambda: ran.append("third"), key="k")
    wait_until(lambda: ran == ["first", "third"])


def test_clear_forgets_pending_items(timers: TimerQueue) -> None:
    ran: list[str] = []
    timers.call_later(0.05, lambda: ran.append("pending"), key="k")
    timers.clear()
    assert not timers.is_pending("k")
    time.sleep(0.1)
    assert ran == []


def test_follow_ups_of_work_running_during_clear_are_dropped(timers: TimerQueue) -> None:
    ran: list[str] = []
    started = threading.Event()
    release = threading.Event()

    def work() -> None:
        started.set()
        release.wait(1.0)
        timers.call_later(0.0, lambda: ran.append("stale follow-up"))

    timers.call_later(0.0, work)
    started.wait(1.0)
    timers.clear()
    release.set()
    timers.call_later(0.02, lambda: ran.append("fresh"))
    wait_until(lambda: ran == ["fresh"])
    time.sleep(0.03)
    assert ran == ["fresh"]


def test_a_failing_item_does_not_stop_the_worker(timers: TimerQueue) -> None:
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("broken controller")

    timers.call_later(0.0, boom)
    timers.call_later(0.01, lambda: ran.append("still alive"))
    wait_until(lambda: ran == ["still alive"])


def test_stop_joins_the_thread_and_refuses_new_work() -> None:
    queue = TimerQueue("stopping")
    queue.start()
    ran: list[str] = []
    queue.call_later(10.0, lambda: ran.append("never"))
    queue.stop()
    assert not any(t.name == "stopping" for t in threading.enumerate())
    assert not queue.call_later(0.0, lambda: ran.append("after stop"))
    assert ran == []


def test_idle_reflects_due_work(timers: TimerQueue) -> None:
    gate = threading.Event()
    timers.call_later(0.0, lambda: gate.wait(1.0))
    wait_until(lambda: not timers.idle())
    gate.set()
    wait_until(timers.idle)
    timers.call_later(5.0, lambda: None)
    assert timers.idle()  # nothing due now
