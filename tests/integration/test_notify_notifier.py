"""The notifier's own behaviour: no burst at start-up, new and removed apps, subscriptions
from annotations and projects, the periodic resync, the event bus, the Update policy, template
failures and headless mode (Slack sandbox, real WebClient, SQLite store)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from bot.notify.notifier import Notifier
from bot.notify.state import SQLiteNotificationStore
from reconciler.events import EventBus
from reconciler.model import AppProject
from tests.integration.notify_helpers import (
    B_START,
    REV_A,
    REV_B,
    REV_C,
    FakeController,
    app_dict,
    channel_messages,
    drive,
    pipeline,
    settings_for,
    sync_running,
)


def test_no_burst_at_start_up_and_new_apps_are_announced(tmp_path: Path) -> None:
    apps = [
        app_dict("deployed", phase="Succeeded"),
        app_dict("degraded", health="Degraded", phase="Failed"),
        app_dict("unknown", sync="Unknown", phase="Running"),
        {"metadata": {"name": "fresh"}, "spec": {"project": "default"}, "status": {}},
    ]
    with pipeline(tmp_path, settings_for(), apps) as p:
        p.notifier.resync()
        p.settle()
        assert p.outcomes == [] and p.slack.calls("chat.postMessage") == []
        # "fresh" has not been compared yet: no baseline taken over blanks.
        assert p.store.known_apps() == ["degraded", "deployed", "unknown"]
        p.controller.set(app_dict("fresh", health="Degraded", phase="Failed"))
        p.controller.set(app_dict("added-later", created=""))  # no creationTimestamp
        p.notifier.resync()
        p.settle()
        assert sorted((o.app, o.trigger) for o in p.outcomes) == [("added-later", "on-created")]


def test_update_policy_rewrites_the_first_message_without_replies(tmp_path: Path) -> None:
    template = {
        "message": "{{ app.metadata.name }} is {{ app.status.health.status }}",
        "slack": {"groupingKey": "{{ app.metadata.name }}-health", "deliveryPolicy": "Update"},
    }
    trigger = [
        {
            "when": "app.status.health.status != 'Unknown'",
            "oncePer": "app.status.health.status",
            "send": ["health-line"],
        }
    ]
    extra = {"templates": {"health-line": template}, "triggers": {"health-line": trigger}}
    settings = settings_for(["health-line"], extra=extra)
    with pipeline(tmp_path, settings, [app_dict(health="Unknown")]) as p:
        drive(p, app_dict(health="Unknown"))
        for health in ("Progressing", "Healthy", "Degraded"):
            drive(p, app_dict(health=health), times=1)
        tops = channel_messages(p.slack)
        assert len(tops) == 1 and tops[0]["replies"] == []
        assert tops[0]["text"] == "guestbook is Degraded"
        assert [e["text"] for e in tops[0]["edits"]] == [
            "guestbook is Progressing",
            "guestbook is Healthy",
        ]


def test_events_from_the_bus_reach_the_channel(tmp_path: Path) -> None:
    with pipeline(tmp_path, settings_for(["on-sync-running"]), [app_dict()]) as p:
        drive(p, app_dict())
        bus = EventBus()
        p.notifier.subscribe(bus)
        try:
            p.controller.set(app_dict(revision=REV_B, phase="Running", started=B_START))
            bus.publish(sync_running("guestbook", REV_B))
            assert bus.wait_idle(5)
            p.settle()
        finally:
            bus.close()
        [posted] = channel_messages(p.slack)
        assert "Syncing" in posted["text"] and REV_B[:7] in posted["text"]


def test_headless_logs_the_rendered_text(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    settings = settings_for(["on-sync-failed"])
    with SQLiteNotificationStore(tmp_path / "n.db") as store:
        controller = FakeController({"guestbook": app_dict(phase="Succeeded", revision=REV_A)})
        notifier = Notifier(settings, controller, store, None, time.time)
        notifier.resync()
        controller.set(app_dict(revision=REV_C, phase="Failed", message="boom: quota exceeded"))
        [record] = notifier.evaluate("guestbook")
        assert "boom: quota exceeded" in caplog.text and "#deploys" in caplog.text
        stored = store.delivery(record.key)
        assert stored is not None and stored.status == "sent"
        assert REV_A not in caplog.text  # the old revision was only a baseline


def test_the_periodic_resync_fires_debounced_drift_and_notices_removed_apps(
    tmp_path: Path,
) -> None:
    with pipeline(tmp_path, settings_for(), [app_dict(phase="Succeeded")]) as p:
        drive(p, app_dict(phase="Succeeded"))
        p.controller.set(app_dict(sync="OutOfSync", phase="Succeeded"))
        p.notifier.resync_interval = 0.05
        p.notifier.start()
        try:
            time.sleep(0.3)  # several resyncs, but the drift is younger than 120 s
            p.settle()
            assert p.outcomes == []
            p.clock.advance(130)
            deadline = time.monotonic() + 5
            while not p.outcomes and time.monotonic() < deadline:
                time.sleep(0.05)
            p.settle()
            assert [o.trigger for o in p.outcomes] == ["on-out-of-sync"]
            # Removed from the configuration without an event (say, while kajitori was down).
            p.controller.remove("guestbook")
            deadline = time.monotonic() + 5
            while len(p.outcomes) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            p.settle()
        finally:
            p.notifier.stop()
        assert [o.trigger for o in p.outcomes] == ["on-out-of-sync", "on-deleted"]
        assert p.store.known_apps() == []
        assert "is no longer managed" in channel_messages(p.slack)[-1]["text"]


def test_annotations_of_apps_and_projects_choose_the_channels(tmp_path: Path) -> None:
    settings = settings_for([], extra={"subscriptions": [], "defaultTriggers": ["on-sync-failed"]})
    annotated = app_dict(
        annotations={"notifications.argoproj.io/subscribe.on-sync-running.slack": "general"}
    )
    project = AppProject(
        name="default",
        annotations={"notifications.argoproj.io/subscribe.slack": "deploys;#general"},
    )
    with pipeline(tmp_path, settings, [annotated]) as p:
        p.notifier.projects = {"default": project}.get
        drive(p, annotated)
        running = app_dict(
            revision=REV_B,
            phase="Running",
            started=B_START,
            annotations=annotated["metadata"]["annotations"],
        )
        drive(p, running)
        failed = app_dict(
            revision=REV_B,
            phase="Failed",
            started=B_START,
            annotations=annotated["metadata"]["annotations"],
        )
        drive(p, failed)
        sent = sorted((o.trigger, o.channel) for o in p.outcomes if o.status == "sent")
        assert sent == [
            ("on-sync-failed", "deploys"),
            ("on-sync-failed", "general"),
            ("on-sync-running", "general"),
        ]
        # #general: the running message is the root; the failure replies under it.
        [general] = channel_messages(p.slack, "C0GENERAL")
        assert [r["text"][:3] for r in general["replies"]] == [":x:"]


def test_a_template_that_fails_is_recorded_and_nothing_is_sent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = {"message": "{{ app.status.operationState.phase.nope() }}"}
    settings = settings_for(["on-sync-failed"], extra={"templates": {"app-sync-failed": broken}})
    with pipeline(tmp_path, settings, [app_dict()]) as p:
        drive(p, app_dict())
        drive(p, app_dict(revision=REV_C, phase="Failed"))
        assert p.slack.calls("chat.postMessage") == []
        [key] = [k for k in _keys(p.store) if "on-sync-failed" in k]
        record = p.store.delivery(key)
        assert record is not None and record.status == "failed"
        assert "template 'app-sync-failed'" in record.error
        assert "template 'app-sync-failed'" in caplog.text


def _keys(store: SQLiteNotificationStore) -> list[str]:
    import sqlite3

    with sqlite3.connect(store.path) as db:
        return [row[0] for row in db.execute("SELECT key FROM notify_deliveries")]
