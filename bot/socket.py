"""Socket Mode: the bot connects out to Slack over a WebSocket, so no inbound port is needed.

Slack hands out the WebSocket URL through ``apps.connections.open`` with the app-level token
(``xapp-…``, scope ``connections:write``); slack_bolt's built-in handler keeps the connection
up and reconnects when Slack refreshes it. Commands and clicks arrive on the socket and run
through the same ``App`` listeners as in HTTP mode.
"""

from __future__ import annotations

import contextlib
import socket

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.settings import BotSettings
from reconciler.errors import ConfigError, KajitoriError


class SlackConnectionError(KajitoriError):
    """The bot could not connect to Slack; the message says why (never the token)."""


def socket_mode_handler(app: App, settings: BotSettings) -> SocketModeHandler:
    """A Socket Mode handler for ``app`` with the settings' app-level token (not connected)."""
    token = settings.slack.app_token
    if token is None:
        raise ConfigError(
            [
                "slack.appToken: required in socket mode (an app-level token xapp-... with "
                "connections:write)"
            ]
        )
    return SocketModeHandler(app, app_token=token.reveal())


def start_socket_mode(app: App, settings: BotSettings) -> SocketModeHandler:
    """Connect ``app`` to Slack over Socket Mode and return the handler (give it to
    :func:`stop_socket_mode` to disconnect). SlackConnectionError when Slack refuses the
    connection or the WebSocket cannot be opened; the handler is closed then, so it does not
    keep retrying in the background."""
    handler = socket_mode_handler(app, settings)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as error:
        handler.close()  # type: ignore[no-untyped-call]
        code = error.response.get("error") if error.response is not None else "unknown"
        raise SlackConnectionError(f"Slack refused the Socket Mode connection: {code}") from None
    except (SlackClientError, OSError) as error:
        handler.close()  # type: ignore[no-untyped-call]
        raise SlackConnectionError(
            f"could not reach Slack for Socket Mode: {type(error).__name__}"
        ) from None
    # slack_sdk's built-in client logs a failed WebSocket handshake (or a refused TCP
    # connection) and returns as if connected; only is_connected() tells.
    if not handler.client.is_connected():
        handler.close()  # type: ignore[no-untyped-call]
        raise SlackConnectionError(
            "could not open the Socket Mode WebSocket that Slack handed out "
            "(apps.connections.open succeeded)"
        )
    return handler


def stop_socket_mode(handler: SocketModeHandler) -> None:
    """Disconnect from Slack and end the handler's threads. slack_sdk's built-in client reads
    in a blocking ``recv`` (3 s timeout) while holding the lock its close needs; shutting the
    socket down first ends that read at once, so stopping takes milliseconds, not 3 s."""
    session = handler.client.current_session
    sock = session.sock if session is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    handler.close()  # type: ignore[no-untyped-call]
