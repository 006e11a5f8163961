"""Socket Mode: the bot connects out to Slack over a WebSocket, so no inbound port is needed.

Slack hands out the WebSocket URL through ``apps.connections.open`` with the app-level token
(``xapp-…``, scope ``connections:write``). Commands and clicks arrive on the socket and run
through the same ``App`` listeners as in HTTP mode.

The connection is slack_bolt's handler over slack_sdk's ``websocket_client`` adapter (package
``websocket-client``), not the built-in one. Measured against the Slack stand-in, the built-in
client keeps reading the old connection for up to 3 s after Slack asks for a refresh, so
commands sent meanwhile miss Slack's 3 s ack deadline; after Slack closes the socket it
reconnects only on its 10 s health check, and after a dropped TCP stream only after about
50 s. The websocket-client adapter acks within milliseconds after a refresh and reconnects
about 0.5 s after either kind of close.

That adapter reads each connection on a thread of its own and closes connections from other
threads; when the closing thread consumes the peer's close answer, the reading thread sleeps
out its 10 s ``select`` with no connection open. Two public hooks keep that from happening:
on Slack's ``disconnect`` message the reading thread waits until the old connection has been
closed for it, and :func:`stop_socket_mode` sends the close frame and lets the reading thread
receive the answer before the handler is closed.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Final

from slack_bolt import App
from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler
from slack_sdk.errors import SlackApiError, SlackClientError
from websocket import WebSocketApp, WebSocketBadStatusException, WebSocketException

from bot.settings import BotSettings
from reconciler.errors import ConfigError, KajitoriError

OPEN_TIMEOUT: Final = 10.0  # seconds for the first WebSocket to open at start
REPLACE_TIMEOUT: Final = 5.0  # seconds the reader waits for a refreshed connection to close
CLOSE_TIMEOUT: Final = 2.0  # seconds stop waits for Slack to answer the close frame
_POLL: Final = 0.01


class SlackConnectionError(KajitoriError):
    """The bot could not connect to Slack; the message says why (never the token)."""


def socket_mode_handler(app: App, settings: BotSettings) -> SocketModeHandler:
    """A Socket Mode handler for ``app`` with the settings' app-level token (not connected;
    its client's threads run already, so close it even if it never connects)."""
    token = settings.slack.app_token
    if token is None:
        raise ConfigError(
            [
                "slack.appToken: required in socket mode (an app-level token xapp-... with "
                "connections:write)"
            ]
        )
    handler = SocketModeHandler(app, app_token=token.reveal())
    handler.client.on_message_listeners.append(_wait_for_refreshed_link_to_close)
    return handler


class _FirstOpen:
    """Whether the handler's first WebSocket opened or failed, from the client's listeners
    (it connects on its own thread; ``connect()`` returns before the handshake)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: Exception | None = None

    def opened(self, ws: WebSocketApp) -> None:
        self.done.set()

    def failed(self, ws: WebSocketApp, error: Exception) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


def start_socket_mode(
    app: App, settings: BotSettings, *, open_timeout: float = OPEN_TIMEOUT
) -> SocketModeHandler:
    """Connect ``app`` to Slack over Socket Mode and return the handler once its WebSocket is
    open (give it to :func:`stop_socket_mode` to disconnect). SlackConnectionError when Slack
    refuses the connection (with Slack's error code) or the WebSocket does not open within
    ``open_timeout`` seconds; the handler is closed then, so it does not keep retrying in the
    background."""
    handler = socket_mode_handler(app, settings)
    first = _FirstOpen()
    client = handler.client
    client.on_open_listeners.append(first.opened)
    client.on_error_listeners.append(first.failed)
    try:
        try:
            handler.connect()  # type: ignore[no-untyped-call]
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else "unknown"
            raise SlackConnectionError(
                f"Slack refused the Socket Mode connection: {code}"
            ) from None
        except (SlackClientError, OSError) as error:
            raise SlackConnectionError(
                f"could not reach Slack for Socket Mode: {type(error).__name__}"
            ) from None
        if not first.done.wait(open_timeout):
            problem = f"no handshake within {open_timeout:g}s"
        elif first.error is not None:
            problem = _describe(first.error)
        else:
            return handler
        raise SlackConnectionError(
            "could not open the Socket Mode WebSocket that Slack handed out "
            f"(apps.connections.open succeeded): {problem}"
        )
    except SlackConnectionError:
        handler.close()  # type: ignore[no-untyped-call]
        raise
    finally:
        client.on_open_listeners.remove(first.opened)
        client.on_error_listeners.remove(first.failed)


def _describe(error: Exception) -> str:
    """What went wrong opening the WebSocket, without its URL (the URL holds a ticket)."""
    if isinstance(error, WebSocketBadStatusException):
        return f"the handshake was answered with HTTP {error.status_code}"
    return type(error).__name__


def stop_socket_mode(handler: SocketModeHandler) -> None:
    """Disconnect from Slack and end the handler's threads, in about a second at most.

    Closing the connection from this thread would race the client's reading thread for
    Slack's close answer (the loser waits out a 10 s ``select``); instead the close frame is
    sent from here and the reading thread receives the answer and tears the connection down.
    A peer that does not answer within ``CLOSE_TIMEOUT`` gets its socket shut down."""
    client = handler.client
    client.auto_reconnect_enabled = False
    session = client.current_session
    link = session.sock if session is not None else None
    if session is not None and link is not None:
        session.keep_running = False  # the reader tears down at its next wake-up
        with contextlib.suppress(WebSocketException, OSError):
            link.send_close()
        if not _wait_closed(session, CLOSE_TIMEOUT):
            link.abort()  # type: ignore[no-untyped-call]  # wakes the reader: end-of-stream
            _wait_closed(session, CLOSE_TIMEOUT)
    handler.close()  # type: ignore[no-untyped-call]


def _wait_for_refreshed_link_to_close(ws: WebSocketApp, message: str) -> None:
    """On Slack's ``disconnect`` message (read on ``ws``'s reading thread), hold that thread
    until the client, busy opening the new connection on its message thread, has closed
    ``ws``; the reader then finds ``ws`` closed instead of sleeping in ``select`` on it, and
    moves on to the new connection at once."""
    if '"disconnect"' not in message:
        return
    try:
        doc = json.loads(message)
    except ValueError:
        return
    if isinstance(doc, dict) and doc.get("type") == "disconnect":
        _wait_closed(ws, REPLACE_TIMEOUT)


def _wait_closed(session: WebSocketApp, timeout: float) -> bool:
    """Whether ``session``'s socket was released within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while session.sock is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True
