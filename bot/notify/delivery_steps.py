"""One delivery step at a time: decide the thread, check a post that may already be there,
post, update the root, and on failure decide when to try again.

:class:`StepRunner` is the sender thread's worker. ``step(record)`` makes at most one write
call to Slack (so the pacer can space them) and returns the record's new state, saved in the
store before the call that could be lost and after every change, so a restart finds each
record where this process left it (``bot.notify.delivery_types`` describes the states).

Exactly once: a post whose answer was lost (or that was under way when the process died) is
``sending``; the next step looks for it in the channel (``SlackCalls.find_post``) before
posting again. If that check is impossible (no history scope, Slack refusing), the record
ends ``unknown`` rather than risk a duplicate. Root updates are idempotent and simply retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.notify.delivery_pacer import ChannelPacer
from bot.notify.delivery_slack import CallFailure, SlackCalls
from bot.notify.delivery_types import DeliveryRecord, DeliveryStatus, ThreadRoot
from bot.notify.state import NotificationStore

log = logging.getLogger(__name__)


def needs_post(record: DeliveryRecord) -> bool:
    """Whether the record posts a message (always, except Update inside a thread)."""
    return not record.thread_ts or record.request.policy != "Update"


def needs_update(record: DeliveryRecord) -> bool:
    """Whether the record rewrites its group's root (PostAndUpdate / Update in a thread)."""
    return bool(record.thread_ts) and record.request.policy in ("PostAndUpdate", "Update")


def _where(record: DeliveryRecord) -> str:
    request = record.request
    return f"notification {request.trigger} for app {request.app} to {request.channel}"


class StepRunner:
    """Performs delivery steps for :class:`bot.notify.delivery.SlackDelivery`."""

    def __init__(
        self,
        calls: SlackCalls,
        store: NotificationStore,
        pacer: ChannelPacer,
        *,
        clock: Callable[[], float],
        max_attempts: int,
        backoff: float,
        max_backoff: float,
        max_rate_limited: int,
        check_delay: float,
    ) -> None:
        self.calls = calls
        self.store = store
        self.pacer = pacer
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_rate_limited = max_rate_limited
        self.check_delay = check_delay
        self._not_before: dict[str, float] = {}
        self._channel_ids: dict[str, str] = {}

    # -- scheduling helpers ------------------------------------------------------------------

    def pace_key(self, record: DeliveryRecord) -> str:
        """The pacer's key: the channel's ID once known, so two spellings share a bucket."""
        channel = record.request.channel
        return record.channel_id or self._channel_ids.get(channel, channel)

    def not_before(self, key: str) -> float:
        """Monotonic time before which the record ``key`` waits (a retry's backoff)."""
        return self._not_before.get(key, 0.0)

    def delay(self, key: str, seconds: float) -> None:
        """Hold the record ``key`` back for ``seconds``."""
        self._not_before[key] = time.monotonic() + seconds

    def _save(self, record: DeliveryRecord, **changes: object) -> DeliveryRecord:
        record = record.with_(updated_at=self.clock(), **changes)
        self.store.save_delivery(record)
        return record

    def _finish(
        self, record: DeliveryRecord, status: DeliveryStatus, error: str = ""
    ) -> DeliveryRecord:
        self._not_before.pop(record.key, None)
        record = self._save(record, status=status, error=error)
        if status == "sent":
            log.info("%s delivered", _where(record))
        elif status == "unknown":
            log.warning(
                "%s: may or may not have been posted (%s); not sent again to avoid a duplicate",
                _where(record),
                error,
            )
        else:
            log.error("%s failed after %d attempt(s): %s", _where(record), record.attempts, error)
        return record

    def retry_later(
        self, record: DeliveryRecord, error: str, min_delay: float = 0.0
    ) -> DeliveryRecord:
        """Count a failed try of the current step; schedule the next or give up (a post
        that may have gone through is checked once more instead)."""
        attempts = record.attempts + 1
        # A post that may have gone through ("sending") gets one more step: the check.
        if attempts >= self.max_attempts and record.status != "sending":
            return self._finish(record.with_(attempts=attempts), "failed", error)
        delay = max(min_delay, min(self.max_backoff, self.backoff * 2 ** (attempts - 1)))
        self._not_before[record.key] = time.monotonic() + delay
        log.warning(
            "%s: attempt %d failed (%s); retrying in %.1f s", _where(record), attempts, error, delay
        )
        status: DeliveryStatus = "sending" if record.status == "sending" else "pending"
        return self._save(record, attempts=attempts, error=error, status=status)

    def _rate_limited(self, record: DeliveryRecord, failure: CallFailure) -> DeliveryRecord:
        self.pacer.pause(time.monotonic() + failure.retry_after)
        count = record.rate_limited + 1
        if count > self.max_rate_limited:
            return self._finish(
                record.with_(rate_limited=count), "failed", f"rate limited {count} times"
            )
        log.info(
            "%s: Slack asked to wait %.1f s (429); waiting", _where(record), failure.retry_after
        )
        return self._save(record, rate_limited=count)

    # -- the step ----------------------------------------------------------------------------

    def step(self, record: DeliveryRecord) -> DeliveryRecord:
        """Advance ``record`` by one Slack write (see the module docstring)."""
        request = record.request
        if record.thread_ts is None:
            root = (
                self.store.thread_root(request.channel, request.grouping_key)
                if request.grouping_key
                else None
            )
            record = self._save(
                record,
                thread_ts=root.ts if root else "",
                channel_id=root.channel_id if root else record.channel_id,
            )
        if record.status == "sending" and needs_post(record) and not record.posted_ts:
            record = self._recover(record)
            if record.finished or record.status == "sending":
                return record
        if needs_post(record) and not record.posted_ts:
            return self._post(record)
        if needs_update(record) and not record.updated:
            return self._update(record)
        return self._finish(record, "sent")

    def _post(self, record: DeliveryRecord) -> DeliveryRecord:
        request = record.request
        record = self._save(record, status="sending", attempt_started=self.clock())
        pace_key = self.pace_key(record)
        try:
            channel_id, ts = self.calls.post(request, record.thread_ts or "")
        except CallFailure as failure:
            return self._post_failed(record, failure)
        finally:
            self.pacer.spent(pace_key, time.monotonic())
        # The channel's ID is its key from now on: it inherits this call's token.
        self.pacer.spent(channel_id, time.monotonic())
        return self._posted(record, channel_id, ts)

    def _post_failed(self, record: DeliveryRecord, failure: CallFailure) -> DeliveryRecord:
        if failure.kind == "rate_limited":
            return self._rate_limited(record.with_(status="pending"), failure)
        if failure.kind == "permanent":
            return self._finish(record.with_(attempts=record.attempts + 1), "failed", failure.error)
        if failure.kind == "transient":
            return self.retry_later(record.with_(status="pending"), failure.error)
        # ambiguous: stay "sending"; the next step looks for the message before posting,
        # after ``check_delay`` so that a request still being processed has landed
        return self.retry_later(record, failure.error, self.check_delay)

    def _posted(self, record: DeliveryRecord, channel_id: str, ts: str) -> DeliveryRecord:
        request = record.request
        now = self.clock()
        self._channel_ids[request.channel] = channel_id
        if request.grouping_key and not record.thread_ts:
            self.store.save_thread_root(
                request.channel, request.grouping_key, ThreadRoot(channel_id, ts), now
            )
        elif request.grouping_key:
            self.store.touch_thread_root(request.channel, request.grouping_key, now)
        record = record.with_(
            status="pending",
            posted_ts=ts,
            channel_id=channel_id,
            attempts=0,
            error="",
            rate_limited=0,
        )
        if needs_update(record) and not record.updated:
            return self._save(record)
        return self._finish(record, "sent")

    def _recover(self, record: DeliveryRecord) -> DeliveryRecord:
        """A post may have reached Slack: find it, else mark the record ready to post again
        (or failed when its tries are used up, or unknown when the check is impossible)."""
        request = record.request
        channel = record.channel_id or self._channel_ids.get(request.channel, request.channel)
        try:
            found = self.calls.find_post(
                channel, record.thread_ts or "", request.text, record.attempt_started
            )
        except CallFailure as failure:
            if failure.kind == "rate_limited":
                return self._rate_limited(record, failure)
            if failure.kind == "permanent" or record.attempts + 1 >= self.max_attempts:
                return self._finish(record, "unknown", f"cannot check the channel: {failure}")
            return self.retry_later(record, f"checking the channel: {failure}")
        if found is not None:
            log.info("%s: the lost post was found in the channel; not sent again", _where(record))
            return self._posted(record, *found)
        if record.attempts >= self.max_attempts:
            return self._finish(record, "failed", record.error or "not posted")
        return self._save(record, status="pending")

    def _update(self, record: DeliveryRecord) -> DeliveryRecord:
        request = record.request
        root_ts = record.thread_ts or ""
        channel_id = record.channel_id or self._channel_ids.get(request.channel, request.channel)
        try:
            self.calls.update(channel_id, root_ts, request)
        except CallFailure as failure:
            if failure.kind == "rate_limited":
                return self._rate_limited(record, failure)
            if failure.kind == "permanent":
                return self._finish(
                    record.with_(attempts=record.attempts + 1),
                    "failed",
                    f"updating the thread's first message: {failure}",
                )
            return self.retry_later(record.with_(status="pending"), failure.error)
        finally:
            self.pacer.spent(self.pace_key(record), time.monotonic())
        if request.grouping_key:
            self.store.touch_thread_root(request.channel, request.grouping_key, self.clock())
        return self._finish(record.with_(updated=True, attempts=0, error=""), "sent")
