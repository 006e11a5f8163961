"""Waiting times between attempts: the retry backoff of a failed sync (``syncPolicy.retry``) and
the self-heal backoff of automated syncs, both as Argo CD computes them.

Pure: times are passed in as unix seconds; nothing here reads a clock.
"""

from __future__ import annotations

from typing import Final

from reconciler.model import Backoff, RetryStrategy

# Argo CD's controller defaults (controller.self.heal.backoff.{timeout.seconds,factor,cap.seconds}).
SELF_HEAL_DURATION: Final = 2.0
SELF_HEAL_FACTOR: Final = 3.0
SELF_HEAL_CAP: Final = 300.0

# The retry strategy of an automated sync when spec.syncPolicy.retry is not set.
AUTOMATED_DEFAULT_RETRY: Final = RetryStrategy(limit=5)


def retry_delay(attempt: int, backoff: Backoff) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry):
    ``duration × factor^attempt``, capped at ``max_duration`` (no cap when it is 0 or less).
    So the defaults (5 s, ×2, 3 min) give 5, 10, 20, 40, 80, 160, 180, 180 ..."""
    if attempt < 0:
        raise ValueError(f"retry attempt must be 0 or more, not {attempt}")
    delay = backoff.duration * backoff.factor**attempt
    if backoff.max_duration > 0:
        delay = min(backoff.max_duration, delay)
    return float(delay)


def next_retry_at(last_attempt_at: float, attempt: int, backoff: Backoff) -> float:
    """Unix time at which retry number ``attempt`` may start, counted from the end of the
    previous attempt."""
    return last_attempt_at + retry_delay(attempt, backoff)


def retry_allowed(retries_done: int, strategy: RetryStrategy | None) -> bool:
    """Whether a failed operation is retried again: ``limit`` 0 (or no strategy) means never,
    a negative limit means without end, otherwise while fewer than ``limit`` retries ran."""
    if strategy is None or strategy.limit == 0:
        return False
    return strategy.limit < 0 or retries_done < strategy.limit


def self_heal_delay(
    attempts: int,
    duration: float = SELF_HEAL_DURATION,
    factor: float = SELF_HEAL_FACTOR,
    cap: float = SELF_HEAL_CAP,
) -> float:
    """The self-heal backoff after ``attempts`` self-heal syncs of the same revision: 0 before
    the first, then ``duration × factor^(attempts-1)`` capped at ``cap`` — 0, 2, 6, 18, 54, 162,
    300, 300 ... seconds with Argo CD's defaults (its wait.Backoff stepped ``attempts`` times)."""
    if attempts <= 0:
        return 0.0
    delay = duration * factor ** (attempts - 1)
    if cap > 0:
        delay = min(cap, delay)
    return float(delay)


def self_heal_remaining(
    attempts: int,
    last_finished_at: float | None,
    now: float,
    duration: float = SELF_HEAL_DURATION,
    factor: float = SELF_HEAL_FACTOR,
    cap: float = SELF_HEAL_CAP,
) -> float:
    """Seconds still to wait before the next self-heal sync, counted from the end of the last
    operation (the whole delay when that time is unknown); 0 or less means "go now"."""
    delay = self_heal_delay(attempts, duration, factor, cap)
    if last_finished_at is None:
        return delay
    return delay - (now - last_finished_at)
