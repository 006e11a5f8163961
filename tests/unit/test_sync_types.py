"""The operation state in Argo CD's status.operationState shape: round trips and errors."""

from __future__ import annotations

import json

import pytest

from reconciler.model import Backoff, ResourceKey, RetryStrategy
from reconciler.sync_types import (
    OperationState,
    ResourceResult,
    StateError,
    SyncRequest,
    format_duration,
    parse_duration,
    parse_rfc3339,
    rfc3339,
)

KEY = ResourceKey("apps", "Deployment", "shop", "web")


def full_state() -> OperationState:
    request = SyncRequest(
        revision="main",
        prune=True,
        resources=(ResourceKey("", "ConfigMap", "", "config"),),
        strategy="apply",
        sync_options=("CreateNamespace=true",),
        initiated_by="alice",
        retry=RetryStrategy(limit=3, backoff=Backoff(duration=5, factor=2, max_duration=180)),
    )
    state = OperationState(
        request=request,
        started_at=1_700_000_000,
        id="0123456789abcdef",
        revision="a" * 40,
        source={"repoURL": "https://git.example.com/apps.git", "path": "shop"},
        phase="Failed",
        message="one or more objects failed to apply",
        finished_at=1_700_000_042,
        retry_count=2,
    )
    state.record(ResourceResult(KEY, "Sync", "v1", "Synced", "created", "", "Running"))
    state.record(ResourceResult(KEY, "PreSync", "v1", "Synced", "", "PreSync", "Succeeded"))
    return state


def test_a_state_survives_json_unchanged() -> None:
    state = full_state()
    data = json.loads(json.dumps(state.to_dict()))
    assert OperationState.from_dict(data) == state
    assert data["startedAt"] == "2023-11-14T22:13:20Z"
    assert data["finishedAt"] == "2023-11-14T22:14:02Z"
    assert data["operation"]["sync"]["syncStrategy"] == {"apply": {}}
    assert data["operation"]["retry"]["backoff"] == {
        "duration": "5s",
        "factor": 2,
        "maxDuration": "3m",
    }
    assert data["operation"]["info"] == [{"name": "operationId", "value": "0123456789abcdef"}]
    assert [r["syncPhase"] for r in data["syncResult"]["resources"]] == ["Sync", "PreSync"]


def test_results_keep_their_first_position_and_last_message() -> None:
    state = full_state()
    state.record(ResourceResult(KEY, "Sync", "v1", "Synced", "", "", "Succeeded"))
    first = next(iter(state.results.values()))
    assert (first.hook_phase, first.message) == ("Succeeded", "created")


def test_result_predicates() -> None:
    assert ResourceResult(KEY, "Sync", status="SyncFailed", hook_phase="Failed").failed
    assert ResourceResult(KEY, "Sync", hook_phase="Error").completed
    assert not ResourceResult(KEY, "Sync", status="Synced", hook_phase="Running").completed
    assert ResourceResult(KEY, "Sync", status="Pruned", hook_phase="Succeeded").successful


def test_a_failed_attempt_waiting_for_its_retry_is_recognised() -> None:
    state = OperationState(SyncRequest(), 1, phase="Running", finished_at=5.0)
    assert state.awaiting_retry and not state.completed


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"operation": {"sync": {}}}, "operationState.startedAt is missing"),
        ({"startedAt": "2023-11-14T22:13:20Z"}, "operation must be an object"),
        (
            {"operation": {"sync": {}}, "startedAt": "yesterday"},
            "startedAt: 'yesterday' is not an RFC 3339 time",
        ),
        (
            {
                "operation": {"sync": {}},
                "startedAt": "2023-11-14T22:13:20Z",
                "syncResult": {"resources": {"x": 1}},
            },
            "resources must be a list",
        ),
    ],
)
def test_unreadable_states_are_named(data: dict[str, object], problem: str) -> None:
    with pytest.raises(StateError, match=problem):
        OperationState.from_dict(data)


def test_strategy_must_be_hook_or_apply() -> None:
    with pytest.raises(ValueError, match="'hook' or 'apply'"):
        SyncRequest(strategy="replace")


def test_times_and_durations() -> None:
    assert parse_rfc3339(rfc3339(1_700_000_000.9)) == 1_700_000_000
    assert parse_rfc3339("2023-11-14T23:13:20+01:00") == 1_700_000_000
    assert [parse_duration(v, "d") for v in (5, "5", "5s", "3m", "1h", "500ms")] == [
        5,
        5,
        5,
        180,
        3600,
        0.5,
    ]
    assert [format_duration(v) for v in (5, 180, 1.5, 90)] == ["5s", "3m", "1.5s", "90s"]
    with pytest.raises(StateError, match="maxDuration: 'soon' is not a duration"):
        parse_duration("soon", "maxDuration")
