"""reconciler.events: typed events (round trip through plain data) and the EventBus, whose
slow or failing subscribers never block publish()."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime

import pytest

from reconciler import rollback_record
from reconciler.event_types import RollbackCompleted
from reconciler.events import (
    AUTOMATED,
    EVENT_TYPES,
    AppAdded,
    AppRemoved,
    ApprovalRequested,
    CommitSummary,
    DriftChange,
    DriftDetected,
    Event,
    EventBus,
    HealthChanged,
    ResourceHealth,
    ResourceResult,
    SyncFailed,
    SyncRunning,
    SyncStatusChanged,
    SyncSucceeded,
    event_from_dict,
)
from reconciler.model import ResourceKey

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"
DEPLOY = ResourceKey("apps", "Deployment", "shop", "web")
COMMIT = CommitSummary(SHA, "Ada <ada@example.com>", "Bump image\n\nbody", "2024-05-01T11:59:00Z")

EXAMPLES: list[Event] = [
    AppAdded(app="shop", time=NOW, project="team", repo_url="https://g/x.git", path="k8s"),
    AppRemoved(app="shop", time=NOW),
    SyncRunning(app="shop", time=NOW, revision=SHA, initiated_by="alice", started_at=NOW),
    SyncSucceeded(
        app="shop",
        time=NOW,
        revision=SHA,
        commit=COMMIT,
        started_at=NOW,
        resources=(ResourceResult(DEPLOY, "Synced", "configured"),),
    ),
    SyncFailed(
        app="shop",
        time=NOW,
        revision=SHA,
        phase="Error",
        message="hook failed",
        retrying=True,
        resources=(ResourceResult(DEPLOY, "SyncFailed", "boom", hook_phase="Failed"),),
    ),
    HealthChanged(
        app="shop",
        time=NOW,
        previous="Healthy",
        current="Degraded",
        resources=(ResourceHealth(DEPLOY, "Degraded", "crash loop"),),
    ),
    SyncStatusChanged(app="shop", time=NOW, previous="Synced", current="OutOfSync", revision=SHA),
    DriftDetected(
        app="shop",
        time=NOW,
        revision=SHA,
        self_heal=False,
        changes=(DriftChange(DEPLOY, ("spec.replicas",), ("kubectl-edit",), "-1\n+3"),),
    ),
    ApprovalRequested(
        app="shop",
        time=NOW,
        approval_id="a-1",
        resource=ResourceKey("batch", "Job", "shop", "migrate"),
        message="run the migration?",
        commit=COMMIT,
    ),
    RollbackCompleted(
        app="shop",
        time=NOW,
        project="team",
        revision=SHA,
        target="fedcba9876543210fedcba9876543210fedcba98",
        pull_request_url="https://github.example/acme/shop-config/pull/7",
        thread_url="https://slack.com/archives/C0DEPLOYS/p1714564800000100",
        auto_sync=False,
    ),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.type)
def test_every_event_survives_a_json_round_trip(event: Event) -> None:
    text = json.dumps(event.to_dict())
    back = event_from_dict(json.loads(text))
    assert back == event
    assert type(back) is type(event)


def test_the_examples_cover_every_event_type() -> None:
    assert {e.type for e in EXAMPLES} == set(EVENT_TYPES)


def test_a_rollback_completion_read_back_from_the_log_keeps_its_links() -> None:
    """The event log stores plain data; the bot's thread reply needs every field back."""
    event = EXAMPLES[-1]
    back = event_from_dict(json.loads(json.dumps(event.to_dict())))
    assert isinstance(back, RollbackCompleted)
    assert back.thread_url.endswith("/C0DEPLOYS/p1714564800000100")
    assert back.pull_request_url.endswith("/pull/7") and back.auto_sync is False
    assert rollback_record.RollbackCompleted is RollbackCompleted  # one class, two names
    assert back.summary() == (
        f"app shop: rollback to fedcba9 merged in Git; Git and cluster agree at {SHA[:7]}"
    )


def test_events_are_frozen_and_carry_the_common_fields() -> None:
    event = SyncRunning(app="shop", time=NOW, revision=SHA)
    assert (event.app, event.time, event.project, event.initiated_by) == (
        "shop",
        NOW,
        "default",
        AUTOMATED,
    )
    with pytest.raises(AttributeError):
        event.app = "other"  # type: ignore[misc]
    assert event.to_dict()["type"] == "SyncRunning"
    assert event.to_dict()["time"] == "2024-05-01T12:00:00+00:00"


def test_summaries_say_what_happened() -> None:
    running, succeeded, failed = EXAMPLES[2], EXAMPLES[3], EXAMPLES[4]
    assert running.summary() == "app shop: sync to 0123456 started by alice"
    assert succeeded.summary() == "app shop: sync to 0123456 succeeded (1 resources)"
    assert failed.summary() == "app shop: sync to 0123456 failed: hook failed (will retry)"
    assert EXAMPLES[7].summary() == "app shop: drift in 1 resources by kubectl-edit (left as is)"
    assert COMMIT.title == "Bump image"


def test_malformed_dicts_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="unknown event type 'Nope'"):
        event_from_dict({"type": "Nope", "app": "x"})
    with pytest.raises(ValueError, match=r"unknown field.*colour"):
        event_from_dict({"type": "AppRemoved", "app": "x", "time": NOW.isoformat(), "colour": 1})
    with pytest.raises(ValueError, match="AppRemoved is malformed"):
        event_from_dict({"type": "AppRemoved", "app": "x"})  # no time


# -- the bus -------------------------------------------------------------------------------


def event(n: int) -> SyncRunning:
    return SyncRunning(app=f"app-{n}", time=NOW, revision=str(n))


def test_every_subscriber_gets_every_event_in_order() -> None:
    bus = EventBus()
    first: list[Event] = []
    second: list[Event] = []
    bus.subscribe(first.append, "first")
    bus.subscribe(second.append, "second")
    for n in range(50):
        bus.publish(event(n))
    assert bus.wait_idle(5)
    assert [e.app for e in first] == [f"app-{n}" for n in range(50)]
    assert second == first
    bus.close()


def test_a_subscriber_can_ask_for_some_event_types_only() -> None:
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(got.append, "failures", types=(SyncFailed, HealthChanged))
    for example in EXAMPLES:
        bus.publish(example)
    assert bus.wait_idle(5)
    assert [e.type for e in got] == ["SyncFailed", "HealthChanged"]
    with pytest.raises(TypeError):
        bus.subscribe(got.append, "bad", types=(str,))  # type: ignore[arg-type]
    bus.close()


def test_a_blocked_subscriber_never_blocks_publish_or_the_others() -> None:
    bus = EventBus(queue_size=10)
    release = threading.Event()
    fast: list[Event] = []
    slow = bus.subscribe(lambda e: release.wait(10), "slow")
    bus.subscribe(fast.append, "fast", queue_size=1000)
    bus.publish(event(0))
    deadline = time.monotonic() + 5
    while slow.pending and time.monotonic() < deadline:  # event 0 is now in the callback
        time.sleep(0.01)
    started = time.monotonic()
    for n in range(1, 500):
        bus.publish(event(n))
    assert time.monotonic() - started < 1.0
    assert bus.subscriptions[1].wait_idle(5)
    assert len(fast) == 500
    # the slow one holds one event in its callback and at most 10 queued; the rest dropped
    assert slow.pending == 10
    assert slow.dropped == 499 - 10
    release.set()
    assert slow.wait_idle(5)
    assert slow.delivered == 11
    bus.close()


def test_overflow_drops_the_oldest_events_and_logs_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    release = threading.Event()
    got: list[Event] = []

    def slow(e: Event) -> None:
        release.wait(10)
        got.append(e)

    sub = bus.subscribe(slow, "slow", queue_size=3)
    with caplog.at_level(logging.WARNING, logger="reconciler.events"):
        bus.publish(event(0))
        deadline = time.monotonic() + 5
        while sub.pending and time.monotonic() < deadline:  # event 0 is in the callback
            time.sleep(0.01)
        for n in range(1, 8):
            bus.publish(event(n))
    release.set()
    assert sub.wait_idle(5)
    assert [e.app for e in got] == ["app-0", "app-5", "app-6", "app-7"]
    assert sub.dropped == 4
    warnings = [r for r in caplog.records if "too slow" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited
    assert "'slow'" in warnings[0].getMessage()
    bus.close()


def test_a_failing_subscriber_is_logged_and_keeps_receiving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    seen: list[str] = []

    def flaky(e: Event) -> None:
        seen.append(e.app)
        if e.app == "app-1":
            raise RuntimeError("template broke")

    sub = bus.subscribe(flaky, "notifications")
    with caplog.at_level(logging.ERROR, logger="reconciler.events"):
        for n in range(3):
            bus.publish(event(n))
        assert bus.wait_idle(5)
    assert seen == ["app-0", "app-1", "app-2"]
    assert (sub.delivered, sub.failed) == (2, 1)
    failure = next(r for r in caplog.records if "failed on SyncRunning" in r.getMessage())
    assert failure.exc_info is not None and "template broke" in str(failure.exc_info[1])
    bus.close()


def test_close_delivers_what_is_queued_then_stops_the_threads() -> None:
    bus = EventBus()
    got: list[Event] = []

    def slowish(e: Event) -> None:
        time.sleep(0.01)
        got.append(e)

    sub = bus.subscribe(slowish, "slowish")
    for n in range(20):
        bus.publish(event(n))
    bus.close(timeout=5)
    assert len(got) == 20
    assert not sub.active
    assert not any(t.name == "events-slowish" and t.is_alive() for t in threading.enumerate())
    bus.publish(event(99))  # ignored, no error
    assert len(got) == 20
    with pytest.raises(RuntimeError, match="closed"):
        bus.subscribe(got.append, "late")


def test_close_gives_up_on_a_stuck_subscriber_after_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    release = threading.Event()
    bus.subscribe(lambda e: release.wait(10), "stuck")
    for n in range(5):
        bus.publish(event(n))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="reconciler.events"):
        bus.close(timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert any("did not finish" in r.getMessage() for r in caplog.records)
    release.set()


def test_unsubscribe_stops_delivery() -> None:
    bus = EventBus()
    got: list[Event] = []
    sub = bus.subscribe(got.append, "x")
    bus.publish(event(1))
    assert bus.wait_idle(5)
    bus.unsubscribe(sub)
    bus.publish(event(2))
    time.sleep(0.05)
    assert [e.app for e in got] == ["app-1"]
    assert bus.subscriptions == []
    with pytest.raises(TypeError):
        bus.publish("not an event")  # type: ignore[arg-type]
    bus.close()
