"""The attempts of a sync operation: a new operation's request completed from the app's
syncPolicy, the retry of a failed attempt, and the wait of a restored one between attempts."""

from __future__ import annotations

import calendar
import time

from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Backoff,
    Destination,
    RetryStrategy,
    SyncPolicy,
)
from reconciler.sync_attempts import first_state, retry_due, schedule_retry
from reconciler.sync_types import ERROR, FAILED, RUNNING, SUCCEEDED, OperationState, SyncRequest

RETRY = RetryStrategy(limit=2, backoff=Backoff(duration=5.0, factor=2.0, max_duration=180.0))
# 2024-05-01T12:00:00Z
T0 = float(calendar.timegm(time.strptime("2024-05-01 12:00:00", "%Y-%m-%d %H:%M:%S")))


def app(policy: SyncPolicy | None = None) -> Application:
    return Application(
        "shop",
        ApplicationSpec(
            source=ApplicationSource("https://git.example.com/a.git", "shop", "main"),
            destination=Destination(namespace="shop"),
            sync_policy=policy or SyncPolicy(),
        ),
    )


def ended(phase: str, retry: RetryStrategy | None = RETRY, retries: int = 0) -> OperationState:
    state = OperationState(request=SyncRequest(retry=retry), started_at=int(T0) - 60)
    state.phase, state.message, state.finished_at = phase, "one or more objects failed", T0
    state.retry_count = retries
    return state


def test_first_state_takes_the_sync_policy_options_and_retry() -> None:
    policy = SyncPolicy(sync_options=("CreateNamespace=true",), retry=RETRY)
    state = first_state(app(policy), SyncRequest(), revision="abc123", started_at=1714564800)
    assert state.request.sync_options == ("CreateNamespace=true",)
    assert state.request.retry == RETRY
    assert (state.revision, state.started_at, state.phase, state.message) == (
        "abc123",
        1714564800,
        RUNNING,
        "starting",
    )
    assert state.source == {
        "repoURL": "https://git.example.com/a.git",
        "path": "shop",
        "targetRevision": "main",
    }
    assert len(state.id) == 16


def test_first_state_keeps_the_request_s_own_options_and_retry() -> None:
    own = RetryStrategy(limit=1)
    request = SyncRequest(sync_options=("Replace=true",), retry=own)
    policy = SyncPolicy(sync_options=("CreateNamespace=true",), retry=RETRY)
    state = first_state(app(policy), request, revision="abc123", started_at=0)
    assert state.request.sync_options == ("Replace=true",)
    assert state.request.retry == own


def test_two_operations_get_different_ids() -> None:
    first = first_state(app(), SyncRequest(), revision="a", started_at=0)
    second = first_state(app(), SyncRequest(), revision="a", started_at=0)
    assert first.id != second.id


def test_a_failed_attempt_is_retried_after_the_backoff() -> None:
    state = ended(FAILED)
    assert schedule_retry(state, FAILED, "one or more objects failed") == T0 + 5.0
    assert (state.phase, state.retry_count) == (RUNNING, 1)
    assert state.message == "one or more objects failed. Retrying attempt #1 at 12:00:05 UTC."
    assert state.awaiting_retry


def test_the_second_retry_waits_twice_as_long() -> None:
    state = ended(ERROR, retries=1)
    assert schedule_retry(state, ERROR, "boom") == T0 + 10.0
    assert state.retry_count == 2


def test_no_retry_past_the_limit_without_a_strategy_or_after_success() -> None:
    for state, phase in (
        (ended(FAILED, retries=2), FAILED),
        (ended(FAILED, retry=None), FAILED),
        (ended(SUCCEEDED), SUCCEEDED),
    ):
        before = (state.phase, state.message, state.retry_count)
        assert schedule_retry(state, phase, state.message) is None
        assert (state.phase, state.message, state.retry_count) == before


def test_a_restored_operation_waits_out_the_rest_of_its_backoff() -> None:
    state = ended(FAILED, retries=1)
    schedule_retry(state, FAILED, "boom")  # retry #2 due 10 s after the end of attempt 2
    assert retry_due(state) == T0 + 10.0


def test_an_operation_not_between_attempts_is_due_at_once() -> None:
    assert retry_due(ended(FAILED)) == 0.0  # ended for good: phase Failed
    running = OperationState(request=SyncRequest(retry=RETRY), started_at=0)
    assert retry_due(running) == 0.0  # no attempt ended yet
