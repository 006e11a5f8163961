"""The end of a rollback in Slack: once the merged revert is deployed, say so in the thread of
the message the rollback was confirmed on.

The controller publishes ``RollbackCompleted`` when the app is Synced at the merge of the
manifest revert (``reconciler.rollback_git``). :class:`RollbackCompletionMessenger` is an
event-bus subscriber (``bot.extension`` attaches it) that looks up where the rollback was
confirmed (``bot.rollback_threads``) and replies in that thread. An app with no record (its
rollback was started from the CLI, or before this record existed) gets its reply in the
app's channel instead, unthreaded, so the news is not lost.
"""

from __future__ import annotations

import logging

from bot.blocks import SlackMessage
from bot.blocks_kit import message, section
from bot.mrkdwn import clip, code, escape, link
from bot.rollback_threads import RollbackThreads
from bot.runtime import BotRuntime, Posted
from reconciler.event_types import Event, RollbackCompleted

log = logging.getLogger("bot")


def completion_text(event: RollbackCompleted) -> tuple[str, str]:
    """The reply's fallback text and its mrkdwn."""
    sha = event.revision[:7] or "?"
    resumed = "auto-sync resumed" if event.auto_sync else "auto-sync stays off"
    merged = f" (revert PR {event.pull_request_url} merged)" if event.pull_request_url else ""
    plain = f"Git and the cluster agree again: {event.app} is Synced at {sha}{merged}; {resumed}"
    pr = ""
    if event.pull_request_url:
        pr = f" (revert PR {link(event.pull_request_url, escape(event.pull_request_url))} merged)"
    rich = (
        f":white_check_mark: Git and the cluster agree again: {clip(event.app, 150)} is Synced "
        f"at {code(sha)}{pr}; {resumed}."
    )
    return plain, rich


def completion_message(event: RollbackCompleted) -> SlackMessage:
    """The thread reply for ``event``."""
    plain, rich = completion_text(event)
    return message(plain, [section(rich)])


class RollbackCompletionMessenger:
    """Replies in the confirmed rollback's thread on ``RollbackCompleted`` (module docstring)."""

    types = (RollbackCompleted,)

    def __init__(self, runtime: BotRuntime, threads: RollbackThreads) -> None:
        self.runtime = runtime
        self.threads = threads

    def handle(self, event: Event) -> None:
        """The event-bus callback; never raises."""
        if not isinstance(event, RollbackCompleted):
            return
        try:
            self.announce(event)
        except Exception:
            log.exception("the rollback completion message for app %s failed", event.app)

    def announce(self, event: RollbackCompleted) -> Posted | None:
        """Post the reply: in the recorded thread, else in the app's channel; what was posted
        (None when there is nowhere to post or Slack refused)."""
        rt = self.runtime
        reply = completion_message(event)
        thread = self.threads.get(event.app)
        if thread is not None:
            posted = rt.post(thread.channel, reply, thread_ts=thread.ts)
            if posted is not None:
                return posted
            log.warning("app %s: could not reply in the rollback's thread", event.app)
        channel = rt.settings.slack.channels.channel_for(event.app, event.project)
        if not channel:
            log.warning(
                "app %s: rollback completed but no Slack channel is configured for it "
                "(slack.channels)",
                event.app,
            )
            return None
        return rt.post(channel, reply)
