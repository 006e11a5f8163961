"""Socket Mode in the Slack stand-in, as a test or the demo drives it: slash commands and
clicks sent to the app over its WebSocket, mirroring the HTTP helpers of
:class:`~sandbox.slack.SlackSandbox`.

``SlackSandbox(app_token="xapp-…")`` accepts that app-level token for ``apps.connections.open``;
``sandbox.socket`` (a :class:`SocketMode`) then sends envelopes to the connected app and
returns each ack as a :class:`~sandbox.slack_socket_link.SocketReply`::

    with SlackSandbox(app_token="xapp-1-sandbox") as slack:
        ...  # start the app in Socket Mode against slack.url
        slack.socket.wait_connected()
        reply = slack.socket.send_slash_command("/sync", "guestbook", user_id="U0BOB")
        assert reply.on_time and reply.elapsed < 3
        slack.wait_until(lambda: slack.responses(reply.response_url), what="the answer")

The protocol itself (tickets, hello, envelopes, acks, disconnect, ping) is served by
:class:`~sandbox.slack_socket_hub.SocketModeHub`; see sandbox/SLACK.md.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any

from sandbox.slack_socket_hub import INTERACTIVE, SLASH_COMMANDS, SocketModeHub
from sandbox.slack_socket_link import CLOSED, LATE, MISSED, OPEN, SocketReply

__all__ = ["SocketMode", "SocketReply"]


class SocketMode(SocketModeHub):
    """Socket Mode of one stand-in workspace, with helpers that build Slack's envelopes from
    the workspace's people, channels and messages (bad setup raises ValueError naming it)."""

    def send_slash_command(
        self,
        command: str,
        text: str = "",
        *,
        user_id: str = "U0ALICE",
        channel_id: str = "C0DEPLOYS",
        timeout: float = 10.0,
    ) -> SocketReply:
        """A slash command as a ``slash_commands`` envelope; its ack payload is shown as Slack
        shows an immediate answer. The reply carries the response_url."""
        hook, fields = self.interactions.slash_command_payload(
            command, text, user_id=user_id, channel_id=channel_id
        )
        return self.deliver(
            SLASH_COMMANDS, dict(fields), accepts_response_payload=True, hook=hook, timeout=timeout
        )

    def click_button(
        self,
        channel_id: str,
        ts: str,
        action_id: str,
        *,
        user_id: str = "U0ALICE",
        timeout: float = 10.0,
    ) -> SocketReply:
        """A click on button ``action_id`` of message (or ephemeral) ``ts`` as an
        ``interactive`` block_actions envelope (its confirm dialog counts as confirmed)."""
        payload = self.interactions.click_payload(channel_id, ts, action_id, user_id=user_id)
        return self.deliver(INTERACTIVE, payload, accepts_response_payload=False, timeout=timeout)

    def send_block_action(
        self, payload: Mapping[str, Any], *, timeout: float = 10.0
    ) -> SocketReply:
        """A block_actions ``payload`` you built (a response_url is added if missing)."""
        doc = self.interactions.block_action_payload(payload)
        return self.deliver(INTERACTIVE, doc, accepts_response_payload=False, timeout=timeout)

    def send_view_submission(
        self, view: Mapping[str, Any], *, user_id: str = "U0ALICE", timeout: float = 10.0
    ) -> SocketReply:
        """A view_submission of ``view``; Slack takes a response payload (response_action)."""
        payload = self.interactions.view_payload(view, user_id=user_id)
        return self.deliver(INTERACTIVE, payload, accepts_response_payload=True, timeout=timeout)

    def refuse_connections(self, status: int | None = 503) -> None:
        """Answer WebSocket handshakes with HTTP ``status`` instead of 101 (a fault: tickets
        are still handed out); None accepts them again."""
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (4xx/5xx), got {status}")
        with self._lock:
            self.refuse_status = status

    # ---- connections and what happened ---------------------------------------------------

    def ping(self, timeout: float = 2.0) -> dict[str, float | None]:
        """Ping every connection; the seconds each took to answer (None: no pong in time)."""
        with self._lock:
            links = [link for link in self._links.values() if link.state != CLOSED]
        waits: dict[str, tuple[threading.Event, float]] = {}
        for link in links:
            token = f"sandbox-ping-{secrets.token_hex(4)}".encode()
            event = threading.Event()
            link.pongs[token] = event
            with contextlib.suppress(OSError):
                link.ws.send_ping(token)
            waits[link.id] = (event, time.monotonic())
        deadline = time.monotonic() + timeout
        answers: dict[str, float | None] = {}
        for link_id, (event, started) in waits.items():
            answered = event.wait(max(0.0, deadline - time.monotonic()))
            answers[link_id] = time.monotonic() - started if answered else None
        return answers

    def wait_connected(self, timeout: float = 5.0, *, newer_than: str | None = None) -> str:
        """The id of an open connection (opened after ``newer_than``, a connection id),
        waiting up to ``timeout`` seconds for one; TimeoutError otherwise."""
        with self._lock:
            known = self._links.get(newer_than or "")
        after = known.seq if known is not None else 0
        found: list[str] = []

        def connected() -> bool:
            with self._lock:
                found[:] = [
                    link.id
                    for link in self._links.values()
                    if link.state == OPEN and link.seq > after
                ]
            return bool(found)

        deadline = time.monotonic() + timeout
        with self.ws.changed:
            while not connected():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"Slack sandbox: no Socket Mode connection within {timeout}s"
                    )
                self.ws.changed.wait(min(remaining, 0.25))
        return found[-1]

    def connections(self) -> list[dict[str, Any]]:
        """Every connection so far, oldest first, with its state and counters."""
        with self._lock:
            return [link.record() for link in self._links.values()]

    def open_connections(self) -> list[str]:
        """The ids of the connections envelopes may go to."""
        with self._lock:
            return [link.id for link in self._links.values() if link.state == OPEN]

    def envelopes(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every envelope sent, in order, with its ack (optionally only one status)."""
        with self._lock:
            records = [envelope.record() for envelope in self._envelopes.values()]
        return [r for r in records if status is None or r["status"] == status]

    def missed(self) -> list[dict[str, Any]]:
        """Envelopes not acknowledged within Slack's 3 seconds (late or never)."""
        return [r for r in self.envelopes() if r["status"] in (MISSED, LATE)]

    def stray(self) -> list[dict[str, Any]]:
        """Messages from the app that were no ack of a known envelope (and repeated acks
        are counted on their envelope)."""
        with self._lock:
            return [dict(entry) for entry in self._stray]

    def view(self) -> dict[str, Any]:
        """Everything above, for ``GET /_sandbox/socket``."""
        return {
            "connections": self.connections(),
            "envelopes": self.envelopes(),
            "stray": self.stray(),
        }
