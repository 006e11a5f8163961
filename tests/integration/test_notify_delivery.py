"""Notifications end to end: Argo-shaped app dicts from a controller test double, the Notifier,
the SQLite store and SlackDelivery with the real slack_sdk WebClient against the Slack
sandbox. Each catalog trigger fires once per revision, flapping does not spam, a restart
neither resends nor loses a thread, commit messages with quotes and newlines render, a 429
storm delivers each notification once, a Secret's value never reaches a drift message, and a
channel never gets more than one message per second."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.notify.delivery import SlackDelivery
from bot.notify.delivery_types import DeliveryOutcome, DeliveryRecord, DeliveryRequest
from bot.notify.notifier import Notifier
from bot.notify.state import SQLiteNotificationStore
from reconciler.event_types import (
    AppRemoved,
    CommitSummary,
    DriftChange,
    DriftDetected,
    SyncStatusChanged,
)
from reconciler.model import ResourceKey
from sandbox.slack import SlackSandbox
from tests.integration.notify_helpers import (
    B_START,
    C_START,
    CHANNEL,
    REV_A,
    REV_B,
    REV_C,
    FakeController,
    all_posts,
    app_dict,
    channel_messages,
    client_for,
    drive,
    new_delivery,
    pipeline,
    settings_for,
    sync_running,
    visible_text,
)

# -- each trigger once per revision -------------------------------------------------------


def test_each_catalog_trigger_fires_once_per_revision(tmp_path: Path) -> None:
    start = app_dict(phase="Succeeded", revision=REV_A)
    with pipeline(tmp_path, settings_for(), [start]) as p:
        drive(p, start)  # first sight: the baseline, nothing sent
        assert p.outcomes == []
        drive(p, app_dict(sync="OutOfSync", revision=REV_B, phase="Succeeded", op_revision=REV_A))
        running: dict[str, Any] = {"sync": "OutOfSync", "revision": REV_B, "started": B_START}
        drive(p, app_dict(phase="Running", **running))
        approval = {"state": "Pending", "resource": "batch/Job/guestbook/migrate"}
        drive(p, app_dict(phase="Running", approval=approval, **running))
        ok: dict[str, Any] = {"revision": REV_B, "phase": "Succeeded", "started": B_START}
        drive(p, app_dict(health="Progressing", **ok))
        drive(p, app_dict(**ok))  # deployed
        drive(p, app_dict(health="Degraded", **ok))
        drive(p, app_dict(**ok))  # recovered
        drive(p, app_dict(sync="Unknown", **ok))
        drive(p, app_dict(**ok))
        drive(p, app_dict(sync="OutOfSync", **ok))  # drift: debounced 120 s
        assert "on-out-of-sync" not in p.triggers_sent()
        p.clock.advance(121)
        p.notifier.resync()
        p.settle()
        drive(p, app_dict(**ok))
        failing: dict[str, Any] = {"sync": "OutOfSync", "revision": REV_C, "started": C_START}
        drive(p, app_dict(phase="Running", **failing))
        drive(p, app_dict(phase="Failed", message='hook "migrate" failed', **failing))
        p.controller.set(app_dict("checkout"))  # an app added while running: new
        p.notifier.handle(SyncStatusChanged(app="checkout", time=datetime.now(UTC)))
        p.controller.remove("guestbook")
        p.notifier.handle(AppRemoved(app="guestbook", time=datetime.now(UTC)))
        p.settle()

        sent = Counter((o.app, o.trigger) for o in p.outcomes if o.status == "sent")
        assert sent == {
            ("guestbook", "on-sync-running"): 2,  # revisions B and C
            ("guestbook", "on-approval-required"): 1,
            ("guestbook", "on-sync-succeeded"): 1,
            ("guestbook", "on-deployed"): 1,
            ("guestbook", "on-health-degraded"): 1,
            ("guestbook", "on-health-recovered"): 1,
            ("guestbook", "on-sync-status-unknown"): 1,
            ("guestbook", "on-out-of-sync"): 1,
            ("guestbook", "on-sync-failed"): 1,
            ("guestbook", "on-deleted"): 1,
            ("checkout", "on-created"): 1,
        }
        assert len(all_posts(p.slack)) == sum(sent.values())
        tops = channel_messages(p.slack)
        roots = [m for m in tops if m["replies"]]
        # One message per sync operation: the root shows the latest step, the steps reply.
        assert [len(m["replies"]) for m in roots] == [3, 1]
        deploy_root, failed_root = roots
        assert "synced and healthy" in deploy_root["text"] and len(deploy_root["edits"]) == 3
        assert "failed" in failed_root["text"] and 'hook "migrate" failed' in failed_root["text"]


def test_flapping_health_does_not_spam(tmp_path: Path) -> None:
    settings = settings_for(["on-health-degraded", "on-health-recovered"])
    ok = app_dict(revision=REV_B, phase="Succeeded")
    with pipeline(tmp_path, settings, [ok]) as p:
        drive(p, ok)
        for _ in range(6):
            for health in ("Degraded", "Progressing", "Healthy", "Missing", "Healthy"):
                drive(p, app_dict(health=health, revision=REV_B, phase="Succeeded"), times=1)
        assert p.triggers_sent() == ["on-health-degraded", "on-health-recovered"]
        # A new revision may degrade (and recover) again: once more each.
        for health in ("Degraded", "Healthy", "Degraded", "Healthy"):
            drive(p, app_dict(health=health, revision=REV_C, phase="Succeeded"), times=1)
        assert p.triggers_sent() == ["on-health-degraded", "on-health-recovered"] * 2
        assert len(all_posts(p.slack)) == 4


# -- restart ------------------------------------------------------------------------------


def test_restart_neither_resends_nor_loses_the_thread(tmp_path: Path) -> None:
    running = app_dict(sync="OutOfSync", revision=REV_B, phase="Running", started=B_START)
    settings = settings_for()
    with SlackSandbox() as slack:
        with pipeline(tmp_path, settings, [app_dict(phase="Succeeded")], slack=slack) as p:
            drive(p, app_dict(phase="Succeeded"))
            drive(p, running)
            assert p.triggers_sent() == ["on-sync-running"]
            root_ts = channel_messages(slack)[0]["ts"]
        # A new process: new store connection, delivery and notifier on the same file.
        store = SQLiteNotificationStore(tmp_path / "notify.db")
        outcomes: list[DeliveryOutcome] = []
        delivery = new_delivery(slack, store, outcomes)
        controller = FakeController({"guestbook": running})
        notifier = Notifier(settings, controller, store, delivery, lambda: time.time())
        try:
            notifier.resync()
            delivery.wait_idle(10)
            assert outcomes == []  # nothing sent again
            controller.set(app_dict(revision=REV_B, phase="Succeeded", started=B_START))
            notifier.handle(sync_running("guestbook", REV_B))
            assert delivery.wait_idle(10)
        finally:
            delivery.stop()
            store.close()
        assert [o.trigger for o in outcomes] == ["on-sync-succeeded", "on-deployed"]
        tops = channel_messages(slack)
        assert len(tops) == 1 and tops[0]["ts"] == root_ts
        assert len(tops[0]["replies"]) == 2  # the steps of the new process, in the same thread
        assert "synced and healthy" in tops[0]["text"]  # the root shows the latest step


def _record(key: str, text: str, channel: str = CHANNEL, **progress: Any) -> DeliveryRecord:
    request = DeliveryRequest(
        key=key, app="guestbook", trigger="on-sync-running", channel=channel, payload={"text": text}
    )
    return DeliveryRecord(request, **progress)


def test_restart_resumes_unfinished_deliveries_exactly_once(tmp_path: Path) -> None:
    with SlackSandbox() as slack:
        store = SQLiteNotificationStore(tmp_path / "notify.db")
        # Stored but never tried; one that was mid-post when the process died, and had in fact
        # reached Slack; and one mid-post to a channel whose history cannot be read.
        client = client_for(slack)
        posted = client.chat_postMessage(channel=CHANNEL, text="mid-post when killed")
        store.record_evaluation(
            "guestbook",
            {},
            [
                _record("k-pending", "never tried"),
                _record(
                    "k-sending",
                    "mid-post when killed",
                    status="sending",
                    thread_ts="",
                    attempt_started=time.time() - 5,
                ),
                _record(
                    "k-unknowable",
                    "cannot check",
                    "C0GONE",
                    status="sending",
                    thread_ts="",
                    attempt_started=time.time() - 5,
                ),
            ],
            time.time(),
        )
        outcomes: list[DeliveryOutcome] = []
        delivery = new_delivery(slack, store, outcomes)
        try:
            assert delivery.wait_idle(10)
        finally:
            delivery.stop()
        texts = [m["text"] for m in channel_messages(slack)]
        assert sorted(texts) == ["mid-post when killed", "never tried"]
        found = store.delivery("k-sending")
        assert found is not None and found.status == "sent" and found.posted_ts == posted["ts"]
        assert {o.key: o.status for o in outcomes} == {
            "k-pending": "sent",
            "k-sending": "sent",
            "k-unknowable": "unknown",  # not posted again: a duplicate is worse than a gap
        }
        assert [c["args"]["channel"] for c in slack.calls("chat.postMessage")] == [CHANNEL] * 2
        store.close()


# -- content ------------------------------------------------------------------------------


def test_quotes_and_newlines_in_commit_messages_render(tmp_path: Path) -> None:
    message = 'Fix "quoted" title\n\nSecond line with \\ backslash,\ta tab, <!channel> & `code`'
    commit = CommitSummary(sha=REV_B, author='Dana "DJ" O\'Neil', message=message)
    with pipeline(tmp_path, settings_for(["on-sync-running"]), [app_dict()]) as p:
        drive(p, app_dict())
        running = app_dict(sync="OutOfSync", revision=REV_B, phase="Running", started=B_START)
        drive(p, running, sync_running("guestbook", REV_B, commit))
        [posted] = channel_messages(p.slack)
        fields = {f["title"]: f["value"] for f in posted["attachments"][0]["fields"]}
        assert fields["Author"] == 'Dana "DJ" O\'Neil'
        assert 'Fix "quoted" title\n\nSecond line with \\ backslash,\ta tab' in fields["Commit"]
        assert "&lt;!channel&gt; &amp; `code`" in fields["Commit"]
        assert "<!channel>" not in visible_text(posted)


def test_secret_value_never_appears_in_a_drift_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret_values = ("hunter2", "aHVudGVyMg==", "c3VwZXJzZWNyZXQ=")
    secret = ResourceKey("", "Secret", "guestbook", "db-credentials")
    deploy = ResourceKey("apps", "Deployment", "guestbook", "web")
    changes = (
        DriftChange(
            key=secret,
            fields=("data.password",),
            managers=("kubectl-edit",),
            diff="-  password: aHVudGVyMg==\n+  password: c3VwZXJzZWNyZXQ=  # hunter2",
        ),
        DriftChange(key=deploy, fields=("spec.replicas",), managers=("kubectl-scale",)),
    )
    resources = [
        {"kind": "Secret", "namespace": "guestbook", "name": "db-credentials"},
        {"group": "apps", "kind": "Deployment", "namespace": "guestbook", "name": "web"},
    ]
    for resource in resources:
        resource["status"] = "OutOfSync"
    settings = settings_for(["on-out-of-sync"], context={"outOfSyncDebounceSeconds": 0})
    caplog.set_level(logging.DEBUG)
    with pipeline(tmp_path, settings, [app_dict(phase="Succeeded")]) as p:
        drive(p, app_dict(phase="Succeeded"))
        drifted = app_dict(sync="OutOfSync", phase="Succeeded", resources=resources)
        event = DriftDetected(app="guestbook", time=datetime.now(UTC), changes=changes)
        drive(p, drifted, event)
        [posted] = channel_messages(p.slack)
        shown = visible_text(posted)
        assert "Secret/guestbook/db-credentials" in shown and "data.password" in shown
        assert "kubectl-edit" in shown and "spec.replicas" in shown
        stored = p.store.delivery(p.outcomes[0].key)
        assert stored is not None
        stored_text = json.dumps(stored.request.to_dict())
        for value in secret_values:
            assert value not in shown
            assert value not in stored_text
            assert value not in caplog.text


# -- Slack misbehaving ---------------------------------------------------------------------


def _submit(
    store: SQLiteNotificationStore, delivery: SlackDelivery, channel: str, texts: list[str]
) -> None:
    records = [
        DeliveryRecord(
            DeliveryRequest(
                key=f"{channel}-{i}",
                app="guestbook",
                trigger="on-sync-running",
                channel=channel,
                payload={"text": text},
            )
        )
        for i, text in enumerate(texts)
    ]
    delivery.submit(store.record_evaluation("guestbook", {}, records, time.time()))


def test_a_429_storm_delivers_every_notification_exactly_once(tmp_path: Path) -> None:
    with SlackSandbox() as slack, SQLiteNotificationStore(tmp_path / "n.db") as store:
        slack.fail_next("chat.postMessage", times=3, retry_after=1)
        outcomes: list[DeliveryOutcome] = []
        delivery = new_delivery(slack, store, outcomes)
        began = time.monotonic()
        try:
            _submit(store, delivery, "C0DEPLOYS", [f"deploys {i}" for i in range(3)])
            _submit(store, delivery, "C0GENERAL", [f"general {i}" for i in range(3)])
            assert delivery.wait_idle(20)
        finally:
            delivery.stop()
        elapsed = time.monotonic() - began
        for channel, prefix in (("C0DEPLOYS", "deploys"), ("C0GENERAL", "general")):
            texts = sorted(m["text"] for m in channel_messages(slack, channel))
            assert texts == [f"{prefix} {i}" for i in range(3)]
        statuses = [c["http_status"] for c in slack.calls("chat.postMessage")]
        assert statuses.count(429) == 3 and statuses.count(200) == 6
        assert elapsed >= 3.0  # each Retry-After: 1 was waited out
        assert [o.status for o in outcomes] == ["sent"] * 6
        assert all(o.attempts == 0 for o in outcomes)  # a 429 is not a failed try


def test_server_errors_are_retried_after_checking_the_post_did_not_land(tmp_path: Path) -> None:
    with SlackSandbox() as slack, SQLiteNotificationStore(tmp_path / "n.db") as store:
        slack.fail_next("chat.postMessage", times=2, status=500)
        outcomes: list[DeliveryOutcome] = []
        delivery = new_delivery(slack, store, outcomes)
        try:
            _submit(store, delivery, CHANNEL, ["after two 500s"])
            assert delivery.wait_idle(10)
        finally:
            delivery.stop()
        assert [m["text"] for m in channel_messages(slack)] == ["after two 500s"]
        methods = [c["method"] for c in slack.calls() if c["method"] != "auth.test"]
        assert methods == [
            "chat.postMessage",
            "conversations.history",
            "chat.postMessage",
            "conversations.history",
            "chat.postMessage",
        ]
        assert [o.status for o in outcomes] == ["sent"]


def test_a_lost_answer_does_not_post_twice(tmp_path: Path) -> None:
    with SlackSandbox() as slack, SQLiteNotificationStore(tmp_path / "n.db") as store:
        # Slack takes 1.5 s to answer; the client gives up after 1 s, but the post lands.
        slack.set_latency(1.5, "chat.postMessage")
        outcomes: list[DeliveryOutcome] = []
        delivery = new_delivery(slack, store, outcomes, client_timeout=1, check_delay=1.5)

        def heal() -> None:
            slack.wait_until(lambda: bool(slack.calls("chat.postMessage")), timeout=10)
            slack.set_latency(0, "chat.postMessage")

        healer = threading.Thread(target=heal)
        healer.start()
        try:
            _submit(store, delivery, CHANNEL, ["exactly once"])
            assert delivery.wait_idle(15)
        finally:
            delivery.stop()
            healer.join()
        assert [m["text"] for m in channel_messages(slack)] == ["exactly once"]
        assert len(slack.calls("chat.postMessage")) == 1
        assert slack.calls("conversations.history")  # it looked before sending again
        assert [o.status for o in outcomes] == ["sent"]


def test_failures_are_retried_with_backoff_then_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with SlackSandbox() as slack, SQLiteNotificationStore(tmp_path / "n.db") as store:
        slack.fail_next("chat.postMessage", times=3, status=503)
        outcomes: list[DeliveryOutcome] = []
        delivery = new_delivery(slack, store, outcomes, max_attempts=3)
        try:
            _submit(store, delivery, CHANNEL, ["never makes it"])
            assert delivery.wait_idle(10)
            _submit(store, delivery, "C0RANDOM", ["bot not invited"])  # not_in_channel
            assert delivery.wait_idle(10)
        finally:
            delivery.stop()
        assert len(slack.calls("chat.postMessage")) == 3 + 1  # permanent errors: one try
        assert [(o.channel, o.status, o.attempts, o.error) for o in outcomes] == [
            (CHANNEL, "failed", 3, "service_unavailable"),
            ("C0RANDOM", "failed", 1, "not_in_channel"),
        ]
        failed = store.delivery(f"{CHANNEL}-0")
        assert failed is not None and failed.status == "failed"
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("service_unavailable" in e and "3 attempt" in e for e in errors)
        assert delivery.counts == {"sent": 0, "failed": 2, "unknown": 0}


# -- pacing --------------------------------------------------------------------------------


def _write_times(slack: SlackSandbox, channel: str) -> list[float]:
    """When each post and each edit landed in ``channel`` (Slack's timestamps)."""
    times: list[float] = []
    for message in all_posts(slack, channel):
        times.append(float(message["ts"]))
        times.extend(float(edit["replaced_at"]) for edit in message.get("edits") or [])
    return sorted(times)


def test_at_most_one_message_per_second_per_channel(tmp_path: Path) -> None:
    settings = settings_for(["on-sync-running", "on-sync-succeeded"])
    apps = [app_dict(name) for name in ("a1", "a2")]
    with pipeline(tmp_path, settings, apps, per_second=1.0) as p:
        for data in apps:
            drive(p, data, times=1)
        began = time.monotonic()
        for name in ("a1", "a2"):  # a sync root, then a reply + a root update each
            p.controller.set(app_dict(name, revision=REV_B, phase="Running", started=B_START))
            p.notifier.handle(sync_running(name, REV_B))
            p.controller.set(app_dict(name, revision=REV_B, phase="Succeeded", started=B_START))
            p.notifier.handle(sync_running(name, REV_B))
        _submit(p.store, p.delivery, "C0GENERAL", ["elsewhere 1", "elsewhere 2"])
        p.settle(20)
        elapsed = time.monotonic() - began
        deploys = _write_times(p.slack, CHANNEL)
        general = _write_times(p.slack, "C0GENERAL")
        assert len(deploys) == 6 and len(general) == 2  # 4 posts + 2 root edits
        for times in (deploys, general):
            gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
            assert min(gaps) >= 0.999, gaps
        # Channels are paced separately: #general did not wait for #deploys.
        assert general[0] < deploys[1]
        assert elapsed < 8.0
