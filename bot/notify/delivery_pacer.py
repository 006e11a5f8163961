"""Pacing of Slack calls: at most N calls per second per channel, with no burst, and a pause
for everyone when Slack answers 429.

Slack "generally allows posting one message per second per channel" (api.slack.com/docs/
rate-limits). Each channel has a token bucket of capacity one: a call takes the token, and
the next one becomes available one interval after that call *ended*. Counting from the end
(not the start) matters: Slack stamps a message when the request arrives, which can be any
time before the answer, so only "answer + interval" guarantees two messages are never closer
than an interval as Slack sees them. Posts and edits (chat.update) both count, which is
stricter than Slack but keeps a channel calm.

A 429's ``Retry-After`` applies to the method for the whole workspace, so it pauses every
channel until it has passed. Pure bookkeeping over a monotonic clock passed in by the caller;
the sender thread holds the lock.
"""

from __future__ import annotations

from typing import Final

DEFAULT_PER_SECOND: Final = 1.0


class ChannelPacer:
    """When each channel may be called next (see the module docstring)."""

    def __init__(self, per_second: float = DEFAULT_PER_SECOND) -> None:
        if not per_second > 0:
            raise ValueError(f"per_second must be positive, got {per_second!r}")
        self.interval = 1.0 / per_second
        self._next: dict[str, float] = {}
        self._paused_until = 0.0

    def ready_at(self, channel: str) -> float:
        """The monotonic time from which ``channel`` may be called."""
        return max(self._next.get(channel, 0.0), self._paused_until)

    def spent(self, channel: str, ended_at: float) -> None:
        """A call to ``channel`` ended at ``ended_at``: its token refills one interval later."""
        self._next[channel] = max(self._next.get(channel, 0.0), ended_at + self.interval)

    def pause(self, until: float) -> None:
        """No channel may be called before ``until`` (a 429's Retry-After)."""
        self._paused_until = max(self._paused_until, until)

    @property
    def paused_until(self) -> float:
        return self._paused_until
