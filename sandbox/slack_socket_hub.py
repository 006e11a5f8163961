"""Socket Mode in the Slack stand-in: the app connects out over a WebSocket and Slack sends
it slash commands and clicks as envelopes, which the app acknowledges on the same socket.

The protocol, as Slack's docs describe it and slack_sdk's clients speak it:

1. ``apps.connections.open`` with the app-level token (``xapp-…``, in the Authorization
   header) answers ``{"ok": true, "url": "ws://host:port/link/?ticket=…&app_id=…"}``. The
   ticket is good for one connection.
2. The app opens the WebSocket (RFC 6455, sandbox/slack_websocket.py) on the stand-in's own
   port; Slack greets it with ``{"type": "hello", "num_connections", "debug_info",
   "connection_info": {"app_id"}}``.
3. Slack sends envelopes ``{"envelope_id", "payload", "type": "slash_commands" |
   "interactive", "accepts_response_payload"}``; the app answers each with
   ``{"envelope_id", "payload"?}`` within 3 seconds. A slash command's ack payload is its
   immediate answer, shown as an HTTP ack's body would be.
4. Slack may send ``{"type": "disconnect", "reason": "warning" | "refresh_requested" |
   "link_disabled", "debug_info"}``; the app should open a new connection, and Slack closes
   the old one shortly after.

Pings from the app are answered with pongs (the WebSocket does that); :meth:`SocketMode.ping`
pings the app on demand. Envelopes go to the newest open connection that was not told to
disconnect; acks are matched by envelope_id whichever connection they arrive on.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, Final

from sandbox.slack_interactions import Interactions
from sandbox.slack_responses import Hook, ResponseHooks
from sandbox.slack_socket_link import (
    ACK_DEADLINE,
    CLOSED,
    CONNECTING,
    DISCONNECTING,
    DISPATCH_FAILED,
    OPEN,
    Envelope,
    Link,
    SocketReply,
)
from sandbox.slack_websocket import (
    CLOSE_GOING_AWAY,
    ProtocolError,
    WebSocket,
    handshake_problem,
    handshake_response,
)
from sandbox.slack_workspace import Workspace

LINK_PATH: Final = "/link/"
DISCONNECT_REASONS: Final = ("warning", "refresh_requested", "link_disabled")
# Slack's hello reports roughly how long a connection lives before Slack refreshes it (about
# five hours in the hellos Slack sends); the stand-in refreshes only when told to.
APPROXIMATE_CONNECTION_TIME: Final = 18060
SLASH_COMMANDS: Final = "slash_commands"
INTERACTIVE: Final = "interactive"


def _http_error(status: int, text: str) -> bytes:
    """A plain-text HTTP answer that refuses a WebSocket handshake and ends the connection."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    body = text.encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class SocketModeHub:
    """The Socket Mode side of one stand-in workspace: tickets, connections, envelopes and
    their acks. :class:`~sandbox.slack_socket_mode.SocketMode` adds the helpers."""

    def __init__(
        self,
        ws: Workspace,
        interactions: Interactions,
        hooks: ResponseHooks,
        base_url: Callable[[], str],
    ) -> None:
        self.ws = ws
        self.interactions = interactions
        self.hooks = hooks
        self.base_url = base_url
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._links: dict[str, Link] = {}
        self._envelopes: dict[str, Envelope] = {}
        self._stray: list[dict[str, Any]] = []
        self._timers: list[threading.Timer] = []
        self._seq = 0
        self.refuse_status: int | None = None  # answer handshakes with this (a fault)
        # Slack's 3 s; tests of late and missed acks may shorten it.
        self.ack_deadline = ACK_DEADLINE

    # ---- Web API and the WebSocket endpoint ------------------------------------------------

    def open_connection(
        self, ws: Workspace, args: Mapping[str, Any], context: object
    ) -> dict[str, Any]:
        """``apps.connections.open`` (a Web API method): a one-use WebSocket URL."""
        ticket = secrets.token_hex(16)
        with self._lock:
            self._tickets.add(ticket)
        url = self.base_url().replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{url}{LINK_PATH}?ticket={ticket}&app_id={ws.app_id}"}

    def serve(
        self,
        method: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        sock: socket.socket,
        read: Callable[[int], bytes],
    ) -> None:
        """Serve one WebSocket on a connection the HTTP server hands over, until it ends."""
        problem = handshake_problem(method, headers)
        if problem is not None:
            sock.sendall(_http_error(400, problem))
            return
        with self._lock:
            ticket = query.get("ticket", "")
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
            refuse = self.refuse_status
        if not valid:
            sock.sendall(_http_error(401, "invalid_ticket"))
            return
        if refuse is not None:
            sock.sendall(_http_error(refuse, "refused by the stand-in (a fault)"))
            return
        websocket = WebSocket(sock, read)
        websocket.send_raw(handshake_response(headers["sec-websocket-key"]))
        link = self._open(websocket)
        try:
            self._hello(link)
            self._read(link)
        finally:
            self._closed(link, "network", None)

    def _open(self, websocket: WebSocket) -> Link:
        """Register a connection; envelopes go to it once it has been greeted."""
        with self._lock:
            self._seq += 1
            link = Link(
                f"L{self._seq:06d}",
                self._seq,
                websocket,
                opened_at=self.ws.clock(),
                state=CONNECTING,
            )
            self._links[link.id] = link
        return link

    def _hello(self, link: Link) -> None:
        """Slack's greeting, always the first message on a connection."""
        with self._lock:
            count = sum(1 for other in self._links.values() if other.state != CLOSED)
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {
                "host": link.host,
                "build_number": 1,
                "approximate_connection_time": APPROXIMATE_CONNECTION_TIME,
            },
            "connection_info": {"app_id": self.ws.app_id},
        }
        link.ws.send_text(json.dumps(hello))
        with self._lock:
            if link.state == CONNECTING:
                link.state = OPEN
        self.ws.notify()

    def _read(self, link: Link) -> None:
        while True:
            try:
                incoming = link.ws.receive()
            except ProtocolError as error:
                link.protocol_error = error.reason
                self._closed(link, "slack", error.code)
                return
            if incoming is None:
                self._closed(link, "network", None)
                return
            if incoming.kind == "close":
                self._closed(link, "app", incoming.code)
                return
            if incoming.kind == "ping":
                link.pings_received += 1
            elif incoming.kind == "pong":
                link.pongs_received += 1
                waiter = link.pongs.pop(incoming.data, None)
                if waiter is not None:
                    waiter.set()
            elif incoming.kind == "text":
                self._message(link, incoming.text)
            else:
                self._stray_message(link, "binary message", None)

    def _closed(self, link: Link, by: str | None, code: int | None) -> None:
        with self._lock:
            if link.state == CLOSED:
                return
            link.state = CLOSED
            link.closed_at = self.ws.clock()
            link.closed_by = "slack" if link.ws.server_initiated_close else by
            link.close_code = code
        link.ws.abort()
        self.ws.notify()

    # ---- acks ------------------------------------------------------------------------------

    def _message(self, link: Link, text: str) -> None:
        try:
            doc = json.loads(text)
        except ValueError:
            self._stray_message(link, "not JSON", text)
            return
        envelope_id = doc.get("envelope_id") if isinstance(doc, dict) else None
        if not isinstance(envelope_id, str):
            self._stray_message(link, "not an ack (no envelope_id)", doc)
            return
        payload = doc.get("payload")
        with self._lock:
            envelope = self._envelopes.get(envelope_id)
            if envelope is None:
                self._stray.append({"link": link.id, "problem": "unknown envelope", "doc": doc})
            elif envelope.ack_after is not None:
                envelope.duplicate_acks += 1
                envelope = None
            else:
                envelope.ack_after = time.monotonic() - envelope.sent
                envelope.ack_payload = payload if isinstance(payload, dict) else None
                envelope.ack_link = link.id
        if envelope is not None:
            self._show_ack(envelope)
            envelope.done.set()
        self.ws.notify()

    def _show_ack(self, envelope: Envelope) -> None:
        """A slash command's ack payload is its immediate answer, if it came in time."""
        on_time = envelope.ack_after is not None and envelope.ack_after <= envelope.deadline
        if envelope.type != SLASH_COMMANDS or not on_time or envelope.hook is None:
            return
        if not envelope.ack_payload:
            return
        body = json.dumps(envelope.ack_payload).encode("utf-8")
        self.hooks.apply_ack(envelope.hook, body, "application/json")
        envelope.shown = True

    def _stray_message(self, link: Link, problem: str, doc: Any) -> None:
        with self._lock:
            self._stray.append({"link": link.id, "problem": problem, "doc": doc})
        self.ws.notify()

    # ---- sending ---------------------------------------------------------------------------

    def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool,
        hook: Hook | None = None,
        timeout: float = 10.0,
    ) -> SocketReply:
        """Send one envelope to the newest open connection and wait up to ``timeout`` seconds
        for its ack. ``dispatch_failed`` when no connection is open."""
        response_url = payload.get("response_url")
        envelope = Envelope(
            str(uuid.uuid4()),
            kind,
            payload,
            accepts_response_payload,
            hook,
            response_url if isinstance(response_url, str) else None,
            deadline=self.ack_deadline,
        )
        with self._lock:
            self._envelopes[envelope.id] = envelope
            links = [link for link in self._links.values() if link.state == OPEN]
            link = links[-1] if links else None
            if link is not None:
                envelope.link_id = link.id
                link.envelopes += 1
        if link is None:
            envelope.error = DISPATCH_FAILED
        else:
            envelope.sent = time.monotonic()
            try:
                link.ws.send_text(json.dumps(envelope.message()))
            except OSError:
                envelope.error = DISPATCH_FAILED
                self._closed(link, "network", None)
        self.ws.notify()
        if envelope.error is None:
            envelope.done.wait(timeout)
        return envelope.reply()

    # ---- connection control ----------------------------------------------------------------

    def disconnect(
        self, reason: str = "refresh_requested", *, close_after: float | None = 2.0
    ) -> list[str]:
        """Send ``{"type": "disconnect", "reason"}`` to every open connection and stop sending
        them envelopes; close each ``close_after`` seconds later (None: leave it open).
        Returns the connections told."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"disconnect reason must be one of {DISCONNECT_REASONS}: {reason!r}")
        with self._lock:
            told = [link for link in self._links.values() if link.state == OPEN]
            for link in told:
                link.state = DISCONNECTING
                link.disconnect_reason = reason
        for link in told:
            message = {"type": "disconnect", "reason": reason, "debug_info": {"host": link.host}}
            with contextlib.suppress(OSError):
                link.ws.send_text(json.dumps(message))
            if close_after is not None:
                self._later(close_after, link)
        self.ws.notify()
        return [link.id for link in told]

    def _later(self, delay: float, link: Link) -> None:
        timer = threading.Timer(delay, lambda: link.ws.close(CLOSE_GOING_AWAY, "refresh"))
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
        timer.start()

    def close_connections(self, code: int = CLOSE_GOING_AWAY, *, abrupt: bool = False) -> int:
        """Close every connection with a close frame (``abrupt``: drop the TCP stream
        instead), without a disconnect message first. Returns how many."""
        with self._lock:
            links = [link for link in self._links.values() if link.state != CLOSED]
        for link in links:
            if abrupt:
                link.ws.abort()
            else:
                link.ws.close(code, "closed by the stand-in")
        return len(links)

    def clear(self) -> None:
        """Forget envelopes and stray messages (connections stay up)."""
        with self._lock:
            self._envelopes.clear()
            self._stray.clear()

    def stop(self) -> None:
        """Close every connection (going away) and cancel pending closes."""
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        self.close_connections()
