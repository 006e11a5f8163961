"""What Socket Mode in the Slack stand-in keeps: connections, envelopes and their acks.

A :class:`Link` is one WebSocket connection of the app (Slack's word for the URL's path,
``/link/``): connecting until Slack's hello is sent, open, then told to ``disconnect`` (no new
envelopes go to it, its acks still count), then closed by either side. An :class:`Envelope`
is one request Slack sent the app (``slash_commands`` or ``interactive``) and what became of
it; its status is derived from the clock, so an envelope nobody acknowledged is counted as
missed once Slack's 3 seconds are up:

- ``acked``: acknowledged within 3 s (for a slash command, the ack's payload was shown);
- ``late``: acknowledged after 3 s; Slack has given up on it by then (the person is told the
  request timed out), so the ack's payload is not shown;
- ``pending`` / ``missed``: no ack yet, within / past the deadline;
- ``dispatch_failed``: no open connection to send it on (the error Slack reports to the
  person when the app is not connected).

Slack does not retry slash commands or interactions (only Events API envelopes, which this
stand-in does not send), so a miss is recorded, not retried.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.slack_responses import Hook
from sandbox.slack_websocket import WebSocket

ACK_DEADLINE: Final = 3.0  # seconds: Slack's deadline for acknowledging a request

CONNECTING: Final = "connecting"  # upgraded, hello not sent yet
OPEN: Final = "open"
DISCONNECTING: Final = "disconnecting"
CLOSED: Final = "closed"

ACKED: Final = "acked"
LATE: Final = "late"
PENDING: Final = "pending"
MISSED: Final = "missed"
DISPATCH_FAILED: Final = "dispatch_failed"


@dataclass
class Link:
    """One Socket Mode connection."""

    id: str
    seq: int
    ws: WebSocket
    opened_at: float
    state: str = OPEN
    disconnect_reason: str | None = None
    closed_at: float | None = None
    closed_by: str | None = None  # "app", "slack", or "network" when the TCP stream just ended
    close_code: int | None = None
    pings_received: int = 0
    pongs_received: int = 0
    envelopes: int = 0
    protocol_error: str | None = None
    pongs: dict[bytes, threading.Event] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The name the hello's and disconnect's ``debug_info.host`` carry."""
        return f"sandbox-link-{self.seq}"

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "closed_by": self.closed_by,
            "close_code": self.close_code,
            "disconnect_reason": self.disconnect_reason,
            "pings_received": self.pings_received,
            "pongs_received": self.pongs_received,
            "envelopes": self.envelopes,
            "protocol_error": self.protocol_error,
        }


@dataclass
class Envelope:
    """One request sent to the app over Socket Mode, and its ack."""

    id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    hook: Hook | None
    response_url: str | None
    link_id: str | None = None
    sent: float = field(default_factory=time.monotonic)
    ack_after: float | None = None  # seconds from sending to the ack
    ack_payload: dict[str, Any] | None = None
    ack_link: str | None = None
    shown: bool = False  # the ack's payload was shown to the person (slash commands)
    duplicate_acks: int = 0
    error: str | None = None
    deadline: float = ACK_DEADLINE
    done: threading.Event = field(default_factory=threading.Event)

    def message(self) -> dict[str, Any]:
        """The envelope as Slack writes it on the WebSocket."""
        return {
            "envelope_id": self.id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }

    def status(self, now: float | None = None) -> str:
        if self.error is not None:
            return self.error
        if self.ack_after is not None:
            return ACKED if self.ack_after <= self.deadline else LATE
        elapsed = (time.monotonic() if now is None else now) - self.sent
        return PENDING if elapsed <= self.deadline else MISSED

    def record(self) -> dict[str, Any]:
        return {
            "envelope_id": self.id,
            "type": self.type,
            "payload_type": self.payload.get("type") or self.payload.get("command"),
            "link": self.link_id,
            "status": self.status(),
            "elapsed": self.ack_after,
            "ack_payload": self.ack_payload,
            "ack_link": self.ack_link,
            "shown": self.shown,
            "duplicate_acks": self.duplicate_acks,
            "accepts_response_payload": self.accepts_response_payload,
            "response_url": self.response_url,
        }

    def reply(self) -> SocketReply:
        return SocketReply(
            envelope_id=self.id,
            type=self.type,
            status=self.status(),
            elapsed=self.ack_after,
            payload=self.ack_payload,
            response_url=self.response_url,
        )


@dataclass(frozen=True)
class SocketReply:
    """The app's answer to one envelope: the Socket Mode twin of an HTTP ``BotReply``.

    ``status`` is one of the envelope statuses (module docstring); ``elapsed`` the seconds
    from sending the envelope to its ack (None without an ack); ``payload`` the ack's
    payload (for a slash command, the immediate answer shown to the person)."""

    envelope_id: str
    type: str
    status: str
    elapsed: float | None
    payload: dict[str, Any] | None
    response_url: str | None

    @property
    def acked(self) -> bool:
        """Acknowledged at all (in time or late)."""
        return self.elapsed is not None

    @property
    def on_time(self) -> bool:
        """Acknowledged within Slack's 3 seconds."""
        return self.status == ACKED
