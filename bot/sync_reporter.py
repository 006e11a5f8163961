"""One operation (a sync or a rollback) reported in a channel: ONE message, kept current with
chat.update, a thread reply per (phase, wave) group, and the final result.

The controller calls :meth:`SyncReporter.on_progress` on its worker thread after every step
and wants it to return at once, so the callback only stores the newest state and, when no
report is under way, queues one on the bot's pool. A report always works from the newest state
it finds and loops while newer ones arrive, so states are coalesced (ten quick steps may give
one chat.update) and at most one report per operation runs at a time: replies can never be
posted twice, and Slack rate limits (retried after Retry-After by the client) slow the
channel message down without holding up the sync or duplicating anything.

The message is posted once the controller has accepted the operation (:meth:`started`) and
its ticket names the target revision; progress that arrives earlier waits for it. When a Web
API call fails for another reason than a rate limit (a 5xx, a dropped connection), the report
is tried again a few times with growing delays, so the final result still arrives when no
newer progress will come.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Final

from bot.blocks import SlackMessage, sync_finished, sync_started, sync_wave_reply
from bot.blocks_kit import context, message
from bot.progress import (
    GroupKey,
    Progress,
    ended_groups,
    group_results,
    needs_status_waves,
    outcome_of,
    read_progress,
    running_summary,
    wave_view,
    waves_from_status,
)
from bot.runtime import BotRuntime, Posted
from bot.views import SyncView
from reconciler.controller_api import OperationTicket
from reconciler.event_types import CommitSummary
from reconciler.model import ResourceKey

log = logging.getLogger(__name__)

# Seconds before reporting again after a failed Web API call (429s are retried by the client
# itself; these cover connection errors and 5xx answers).
RETRY_DELAYS: Final = (1.0, 2.0, 4.0, 8.0, 16.0)


class SyncReporter:
    """Reports one operation on ``app`` in ``channel`` (an ID or #name)."""

    def __init__(
        self,
        runtime: BotRuntime,
        *,
        app: str,
        project: str,
        channel: str,
        initiated_by: str,
        prune: bool = False,
        dry_run: bool = False,
        commit: CommitSummary | None = None,
    ) -> None:
        self._rt = runtime
        self.app = app
        self.project = project
        self.channel = channel
        self.initiated_by = initiated_by
        self.prune = prune
        self.dry_run = dry_run
        self.commit = commit
        self._lock = threading.Lock()
        self._ticket: OperationTicket | None = None
        self._state: Mapping[str, Any] | None = None
        self._generation = 0
        self._scheduled = False
        # Only the report that holds ``_scheduled`` touches the fields below.
        self._posted: Posted | None = None
        self._last_main: SlackMessage | None = None
        self._replied: set[GroupKey] = set()
        self._final_posted = False
        self._status_waves: dict[ResourceKey, int] | None = None
        self._retry_timer: threading.Timer | None = None
        self._retries = 0

    # -- what the controller and the command handler call ------------------------------------

    def on_progress(self, state: Mapping[str, Any]) -> None:
        """The controller's progress callback: store, and queue a report if none runs."""
        with self._lock:
            self._state = dict(state)
            self._generation += 1
            if self._scheduled or self._ticket is None:
                return
            self._scheduled = True
        if self._rt.pool.submit(self._report, essential=True) is None:
            with self._lock:
                self._scheduled = False
            log.warning("progress of %s not reported: the bot is shutting down", self.app)

    def started(self, ticket: OperationTicket) -> None:
        """The controller accepted the operation: post the message now, on this thread (so
        the caller knows whether it could), and leave later progress to the pool."""
        with self._lock:
            self._ticket = ticket
            self._generation += 1
            if self._scheduled:
                return
            self._scheduled = True
        self._report(inline=True)

    @property
    def posted(self) -> Posted | None:
        """The channel message, once posted."""
        return self._posted

    # -- reporting (one at a time per operation) ---------------------------------------------

    def _report(self, inline: bool = False) -> None:
        """Render the newest state until no newer one arrived. ``inline`` (the caller's own
        thread) renders once and hands any newer state to the pool."""
        while True:
            with self._lock:
                generation = self._generation
                state = self._state
                ticket = self._ticket
            delivered = True
            try:
                if ticket is not None:
                    delivered = self._render(ticket, state)
            except Exception:
                log.exception("reporting the progress of %s failed", self.app)
                delivered = False
            if not delivered:
                self._retry_later()
            with self._lock:
                if self._generation == generation:
                    self._scheduled = False
                    return
            if inline:
                break
        if self._rt.pool.submit(self._report, essential=True) is None:
            with self._lock:
                self._scheduled = False

    def _view(self, ticket: OperationTicket, progress: Progress | None) -> SyncView:
        revision = ticket.revision or (progress.revision if progress else "")
        return SyncView(
            app=self.app,
            to_revision=revision,
            project=self.project,
            initiated_by=self.initiated_by,
            from_revision=ticket.previous_revision,
            commit=self.commit,
            prune=self.prune,
            dry_run=self.dry_run,
        )

    def _render(self, ticket: OperationTicket, state: Mapping[str, Any] | None) -> bool:
        """Bring the channel up to ``state``; False when some Web API call failed."""
        progress = read_progress(state) if state is not None else None
        view = self._view(ticket, progress)
        if self._posted is None:
            first = sync_started(view)
            self._posted = self._rt.post(self.channel, first)
            if self._posted is None:
                return False
            self._last_main = first
        if progress is None:
            return True
        delivered = True
        groups = group_results(progress, self._waves(progress))
        for key, results in ended_groups(progress, groups):
            if key not in self._replied:
                reply = sync_wave_reply(view, wave_view(key, results))
                if self._rt.post(self._posted.channel_id, reply, thread_ts=self._posted.ts):
                    self._replied.add(key)
                else:
                    delivered = False
        if progress.over:
            main = sync_finished(view, outcome_of(progress))
        else:
            main = self._running(view, progress, groups[-1][0] if groups else None)
        if main != self._last_main:
            if self._rt.update(self._posted, main):
                self._last_main = main
            else:
                delivered = False
        if progress.completed and not self._final_posted:
            final = sync_finished(view, outcome_of(progress))
            if self._rt.post(self._posted.channel_id, final, thread_ts=self._posted.ts):
                self._final_posted = True
            else:
                delivered = False
        return delivered

    def _retry_later(self) -> None:
        """After a failed Web API call, report again in a while (a few times, backing off)
        even if no newer progress comes: the last state must reach the channel."""
        with self._lock:
            if self._retry_timer is not None or self._retries >= len(RETRY_DELAYS):
                return
            delay = RETRY_DELAYS[self._retries]
            self._retries += 1
            timer = threading.Timer(delay, self._retry)
            timer.daemon = True
            self._retry_timer = timer
        log.info("reporting %s again in %gs after a failed Slack call", self.app, delay)
        timer.start()

    def _retry(self) -> None:
        with self._lock:
            self._retry_timer = None
            self._generation += 1
            if self._scheduled:
                return
            self._scheduled = True
        if self._rt.pool.submit(self._report, essential=True) is None:
            with self._lock:
                self._scheduled = False

    def _running(
        self, view: SyncView, progress: Progress, current: GroupKey | None
    ) -> SlackMessage:
        started = sync_started(view)
        blocks = [*started["blocks"][:-1], context(running_summary(progress, current))]
        return message(started["text"], blocks)

    def _waves(self, progress: Progress) -> dict[ResourceKey, int]:
        """The waves in the app's status, read once per operation when results lack one."""
        if self._status_waves is None and needs_status_waves(progress):
            try:
                self._status_waves = waves_from_status(self._rt.controller.app_status(self.app))
            except Exception:
                log.warning("no wave numbers for %s: app_status failed", self.app, exc_info=True)
                self._status_waves = {}
        return self._status_waves or {}
