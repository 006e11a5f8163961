"""What the events of an operation say, built from its state: who started it, which commit,
the per-resource results, the resource an approval is about, and Failed versus retrying."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.controller_op_events import (
    approval_requested,
    sync_ended,
    sync_failed,
    sync_running,
)
from reconciler.event_types import (
    AUTOMATED,
    CommitSummary,
    ResourceResult,
    SyncFailed,
    SyncSucceeded,
)
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
    ResourceKey,
)
from reconciler.sync_approval import Approval, HookSummary
from reconciler.sync_types import ERROR, FAILED, RUNNING, SUCCEEDED, OperationState, SyncRequest
from reconciler.sync_types import ResourceResult as TaskResult

APP = Application(
    "shop",
    ApplicationSpec(
        source=ApplicationSource("https://git.example.com/a.git", "shop"),
        destination=Destination(namespace="shop"),
        project="payments",
    ),
)
COMMIT = CommitSummary("abc123", "Ann", "Bump the image", "2024-05-01T11:00:00Z")
CONFIGMAP = ResourceKey("", "ConfigMap", "shop", "settings")
NOW = 1714564800.0  # 2024-05-01T12:00:00Z


def state(phase: str = RUNNING, **request: Any) -> OperationState:
    op = OperationState(
        request=SyncRequest(**request),
        started_at=int(NOW) - 30,
        revision="abc123",
        phase=phase,
        message="one or more objects failed",
    )
    op.record(TaskResult(CONFIGMAP, "Sync", status="Synced", message="configured"))
    return op


def test_sync_running_names_who_started_it_and_when() -> None:
    event = sync_running(APP, state(initiated_by="U0ALICE"), COMMIT, now=NOW, resumed=False)
    assert (event.app, event.project, event.revision) == ("shop", "payments", "abc123")
    assert event.initiated_by == "U0ALICE"
    assert event.time == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert event.started_at == datetime(2024, 5, 1, 11, 59, 30, tzinfo=UTC)
    assert (event.commit, event.message) == (COMMIT, "one or more objects failed")


def test_a_resumed_or_automated_operation_says_so() -> None:
    event = sync_running(
        APP, state(automated=True, initiated_by="U0X"), None, now=NOW, resumed=True
    )
    assert (event.initiated_by, event.message) == (AUTOMATED, "resumed after a restart")
    assert sync_running(APP, state(), None, now=NOW, resumed=False).initiated_by == AUTOMATED


def test_approval_requested_names_the_hook_resource() -> None:
    approval = Approval(
        id="ap-1",
        resource="batch/Job/shop/migrate",
        hook=HookSummary("migrate", "Job", "shop", "PreSync"),
        requested_at=NOW,
        expires_at=NOW + 3600,
        message="run the database migration?",
    )
    event = approval_requested(APP, state(), approval, COMMIT, now=NOW)
    assert event.approval_id == "ap-1"
    assert event.resource == ResourceKey("batch", "Job", "shop", "migrate")
    assert (event.message, event.revision, event.commit) == (
        "run the database migration?",
        "abc123",
        COMMIT,
    )


def test_an_approval_resource_that_is_no_key_gives_none() -> None:
    approval = Approval("ap-2", "migrate", HookSummary("migrate"), NOW, NOW + 60)
    assert approval_requested(APP, state(), approval, None, now=NOW).resource is None


def test_a_failed_attempt_with_a_retry_to_come_is_failed_and_retrying() -> None:
    event = sync_failed(APP, state(RUNNING), COMMIT, now=NOW, retrying=True)
    assert (event.phase, event.retrying) == (FAILED, True)
    assert event.resources == (ResourceResult(CONFIGMAP, "Synced", "configured", hook_phase=""),)


def test_the_end_is_succeeded_or_failed_with_its_phase() -> None:
    succeeded = sync_ended(APP, state(SUCCEEDED), COMMIT, now=NOW)
    assert isinstance(succeeded, SyncSucceeded)
    assert succeeded.resources[0].key == CONFIGMAP
    errored = sync_ended(APP, state(ERROR), COMMIT, now=NOW)
    assert isinstance(errored, SyncFailed)
    assert (errored.phase, errored.retrying) == (ERROR, False)
