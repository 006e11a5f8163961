"""Headless notifications: each event becomes the log line its notification would have been."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from reconciler.event_types import (
    DriftChange,
    DriftDetected,
    ResourceResult,
    SyncFailed,
    SyncSucceeded,
)
from reconciler.headless import LOGGER_NAME, MAX_DETAILS, HeadlessNotifier
from reconciler.model import ResourceKey

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER_NAME]


def test_an_event_is_logged_with_its_summary_and_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER_NAME)
    notifier = HeadlessNotifier()
    event = SyncSucceeded(app="guestbook", time=NOW, project="web", revision=SHA)
    notifier(event)
    [record] = records(caplog)
    assert (
        record.getMessage()
        == "would notify: app guestbook: sync to 0123456 succeeded (0 resources)"
    )
    assert record.levelno == logging.INFO
    assert vars(record)["app"] == "guestbook" and vars(record)["project"] == "web"
    assert vars(record)["event"] == "SyncSucceeded" and vars(record)["revision"] == SHA
    assert notifier.count == 1


def test_drift_lists_the_changed_fields_and_managers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER_NAME)
    key = ResourceKey("apps", "Deployment", "web", "frontend")
    change = DriftChange(key=key, fields=("spec.replicas",), managers=("kubectl-edit",))
    HeadlessNotifier()(DriftDetected(app="web", time=NOW, changes=(change,), self_heal=True))
    lines = [r.getMessage() for r in records(caplog)]
    assert lines == [
        "would notify: app web: drift in 1 resources by kubectl-edit (reverting)",
        "  Deployment.apps/web/frontend: spec.replicas (by kubectl-edit)",
    ]


def test_a_failed_sync_lists_only_the_failed_resources_and_caps_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, LOGGER_NAME)
    ok = ResourceResult(ResourceKey("", "ConfigMap", "web", "ok"), "Synced")
    failed = [
        ResourceResult(ResourceKey("", "Secret", "web", f"s{i:02d}"), "SyncFailed", "forbidden")
        for i in range(MAX_DETAILS + 3)
    ]
    event = SyncFailed(
        app="web", time=NOW, message="one or more objects failed", resources=(ok, *failed)
    )
    HeadlessNotifier()(event)
    lines = [r.getMessage() for r in records(caplog)]
    assert lines[0] == "would notify: app web: sync to ? failed: one or more objects failed"
    assert lines[1] == "  Secret/web/s00: SyncFailed: forbidden"
    assert len(lines) == 1 + MAX_DETAILS + 1 and lines[-1] == "  ... and 3 more"
    assert not any("ConfigMap" in line for line in lines)
