"""Socket Mode: the bot connects out to Slack over a WebSocket, so no inbound port is needed.

Slack hands out the WebSocket URL through ``apps.connections.open`` with the app-level token
(``xapp-…``, scope ``connections:write``); slack_bolt's built-in handler keeps the connection
up and reconnects when Slack refreshes it. Commands and clicks arrive on the socket and run
through the same ``App`` listeners as in HTTP mode.
"""

from __future__ import annotations

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
    """Connect ``app`` to Slack over Socket Mode and return the handler (``close()`` it to
    disconnect). SlackConnectionError when Slack refuses the connection."""
    handler = socket_mode_handler(app, settings)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else "unknown"
        raise SlackConnectionError(f"Slack refused the Socket Mode connection: {code}") from None
    except (SlackClientError, OSError) as error:
        raise SlackConnectionError(
            f"could not reach Slack for Socket Mode: {type(error).__name__}"
        ) from None
    return handler
