"""Deployment history and rollback rules (Argo CD's status.history)."""

from __future__ import annotations

import pytest

from reconciler.history import (
    HistoryEntry,
    RollbackError,
    add_entry,
    rollback_request,
    rollback_target,
    should_record,
)
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Automated,
    Destination,
    ResourceKey,
    SyncPolicy,
)
from reconciler.sync_types import OperationState, SyncRequest


def finished(revision: str, phase: str = "Succeeded", **request: object) -> OperationState:
    return OperationState(
        request=SyncRequest(initiated_by="alice", **request),  # type: ignore[arg-type]
        started_at=1_700_000_000,
        revision=revision,
        source={"repoURL": "https://git.example.com/a.git", "path": "shop"},
        phase=phase,
    )


def app(*, automated: bool = False) -> Application:
    return Application(
        "shop",
        ApplicationSpec(
            source=ApplicationSource("https://git.example.com/a.git", "shop"),
            destination=Destination(namespace="shop"),
            sync_policy=SyncPolicy(
                automated=Automated() if automated else None, sync_options=("Validate=false",)
            ),
        ),
    )


def test_ids_start_at_zero_and_keep_increasing_after_trimming() -> None:
    history: list[HistoryEntry] = []
    for number in range(5):
        history = add_entry(history, finished(f"rev{number}"), deployed_at=1_700_000_100, limit=3)
    assert [(e.id, e.revision) for e in history] == [(2, "rev2"), (3, "rev3"), (4, "rev4")]
    entry = history[-1]
    assert (entry.deployed_at, entry.deploy_started_at) == (
        "2023-11-14T22:15:00Z",
        "2023-11-14T22:13:20Z",
    )
    assert entry.initiated_by == "alice"
    assert HistoryEntry.from_dict(entry.to_dict()) == entry


def test_only_a_successful_full_real_sync_is_recorded() -> None:
    assert should_record(finished("r"))
    assert not should_record(finished("r", phase="Failed"))
    assert not should_record(finished("r", dry_run=True))
    assert not should_record(finished("r", resources=(ResourceKey("", "ConfigMap", "", "c"),)))


def test_rollback_goes_to_the_deployment_before_the_current_one_by_default() -> None:
    history = add_entry([], finished("old"), deployed_at=1)
    with pytest.raises(RollbackError, match="holds 1 deployment; a rollback without an ID"):
        rollback_target(history, None)
    history = add_entry(history, finished("new"), deployed_at=2)
    assert rollback_target(history, None).revision == "old"
    assert rollback_target(history, 1).revision == "new"
    with pytest.raises(RollbackError, match=r"no entry with ID 9 \(known IDs: 0, 1\)"):
        rollback_target(history, 9)


def test_rollback_syncs_the_revision_without_hooks() -> None:
    entry = HistoryEntry(3, "abc123", "", "")
    request = rollback_request(app(), entry, prune=True, initiated_by="bob")
    assert (request.revision, request.strategy, request.prune) == ("abc123", "apply", True)
    assert request.sync_options == ("Validate=false",)
    assert request.initiated_by == "bob"


def test_rollback_is_refused_while_auto_sync_is_on() -> None:
    with pytest.raises(
        RollbackError, match="rollback cannot be initiated when auto-sync is enabled"
    ):
        rollback_request(app(automated=True), HistoryEntry(0, "abc", "", ""))
