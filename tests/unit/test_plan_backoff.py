"""Retry and self-heal backoff (reconciler.plan_backoff)."""

from __future__ import annotations

import pytest

from reconciler.model import Backoff, RetryStrategy
from reconciler.plan import retry_delay
from reconciler.plan_backoff import (
    AUTOMATED_DEFAULT_RETRY,
    next_retry_at,
    retry_allowed,
    self_heal_delay,
    self_heal_remaining,
)


def test_retry_delay_defaults_double_up_to_three_minutes() -> None:
    delays = [retry_delay(n, Backoff()) for n in range(8)]
    assert delays == [5, 10, 20, 40, 80, 160, 180, 180]


def test_retry_delay_custom_backoff() -> None:
    backoff = Backoff(duration=3, factor=1.5, max_duration=10)
    assert [retry_delay(n, backoff) for n in range(4)] == [3, 4.5, 6.75, 10]


def test_retry_delay_without_cap() -> None:
    assert retry_delay(10, Backoff(duration=1, factor=2, max_duration=0)) == 1024


def test_retry_delay_refuses_negative_attempt() -> None:
    with pytest.raises(ValueError, match="attempt"):
        retry_delay(-1, Backoff())


def test_next_retry_at_counts_from_last_attempt() -> None:
    assert next_retry_at(1000.0, 2, Backoff()) == 1020.0


def test_retry_allowed_by_limit() -> None:
    assert [retry_allowed(n, RetryStrategy(limit=2)) for n in range(3)] == [True, True, False]
    assert not retry_allowed(0, None) and not retry_allowed(0, RetryStrategy(limit=0))
    assert retry_allowed(10_000, RetryStrategy(limit=-1))
    assert AUTOMATED_DEFAULT_RETRY.limit == 5


def test_self_heal_delay_follows_argo_defaults() -> None:
    delays = [self_heal_delay(n) for n in range(9)]
    assert delays == [0, 2, 6, 18, 54, 162, 300, 300, 300]


def test_self_heal_remaining_counts_from_last_finish() -> None:
    assert self_heal_remaining(3, last_finished_at=100.0, now=110.0) == 8.0
    assert self_heal_remaining(3, last_finished_at=None, now=110.0) == 18.0
    assert self_heal_remaining(1, last_finished_at=100.0, now=200.0) < 0
