"""Where the bot remembers the rollback it confirmed for each app, so the follow-up ("Git and
the cluster agree again") lands in the same Slack thread, even after a restart.

A rollback ends in Git much later than in the cluster: the revert pull request is merged
hours or days after the click. When an admin confirms a rollback, the bot keeps one record
per app (the channel and ts of the confirmed message and who confirmed it) in the same
key-value table as the approval messages (``bot.approvals_store``: the controller's runtime
store in ``kajitori run``). A newer rollback of the app replaces the record.

:func:`thread_link` is the thread's web link, handed to the controller for the revert pull
request's description: Slack's ``chat.getPermalink`` when it answers, else the documented
``https://slack.com/archives/<channel>/p<ts without the dot>`` shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.approvals_store import KeyValue, MemoryKeyValue

log = logging.getLogger("bot")

KV_NAMESPACE: Final = "slack-rollback-threads"
ARCHIVES_URL: Final = "https://slack.com/archives"


@dataclass(frozen=True)
class RollbackThread:
    """The message a rollback of ``app`` was confirmed on: its channel and ts, and who."""

    app: str
    channel: str
    ts: str
    confirmed_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "channel": self.channel,
            "ts": self.ts,
            "confirmedBy": self.confirmed_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RollbackThread:
        """The record ``to_dict`` wrote; ValueError naming the missing field otherwise."""
        try:
            return cls(
                app=str(data["app"]),
                channel=str(data["channel"]),
                ts=str(data["ts"]),
                confirmed_by=str(data.get("confirmedBy") or ""),
            )
        except KeyError as exc:
            raise ValueError(f"malformed rollback thread record: missing {exc}") from None


class RollbackThreads:
    """The confirmed rollback message of each app (module docstring)."""

    def __init__(self, table: KeyValue | None = None) -> None:
        self.table: KeyValue = table if table is not None else MemoryKeyValue()

    def put(self, thread: RollbackThread) -> None:
        self.table.kv_put(KV_NAMESPACE, thread.app, thread.to_dict())

    def get(self, app: str) -> RollbackThread | None:
        """The app's record; None when there is none (or it cannot be read: logged)."""
        raw = self.table.kv_get(KV_NAMESPACE, app)
        if not isinstance(raw, Mapping):
            return None
        try:
            return RollbackThread.from_dict(raw)
        except ValueError as error:
            log.warning("app %s: %s", app, error)
            return None


def archive_url(channel: str, ts: str) -> str:
    """Slack's documented permalink shape for a message: ``p`` + the ts without its dot."""
    return f"{ARCHIVES_URL}/{channel}/p{ts.replace('.', '')}"


def thread_link(client: WebClient, channel: str, ts: str) -> str:
    """The message's permalink from ``chat.getPermalink``, else :func:`archive_url`; "" when
    the channel or ts is unknown."""
    if not channel or not ts:
        return ""
    try:
        answer = client.chat_getPermalink(channel=channel, message_ts=ts)
        found = answer.get("permalink")
        if isinstance(found, str) and found.startswith("https://"):
            return found
    except (SlackClientError, OSError) as error:
        log.debug("chat.getPermalink failed (%s); building the link", type(error).__name__)
    return archive_url(channel, ts)
