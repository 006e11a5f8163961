"""The bot under test: ``bot.app.create_app`` (a real slack_bolt App) mounted on
``reconciler.http``'s waitress server at /slack/events, its real Web API client pointed at the
Slack sandbox, and a :class:`~tests.integration.bot_fakes.FakeController` behind it. Plus the
settings the tests use and helpers to read what Slack shows."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler

from bot.app import SLACK_EVENTS_PATH, create_app, shutdown, wsgi_app
from bot.settings import (
    BotSettings,
    ChannelRoutes,
    CommandNames,
    ProjectRoles,
    RbacSettings,
    SlackSettings,
)
from bot.socket import start_socket_mode, stop_socket_mode
from reconciler.http import HttpApi, HttpServer
from reconciler.settings import Secret
from sandbox.slack import BotReply, SlackSandbox, SocketReply
from tests.integration.bot_fakes import FakeController

SECRET = "bot-test-signing-secret"

RBAC = RbacSettings(
    projects=MappingProxyType(
        {
            "*": ProjectRoles(
                viewers=frozenset({"*"}),
                deployers=frozenset({"U0BOB"}),
                admins=frozenset({"S0PLATFORM"}),  # alice and carol
            ),
        }
    )
)


def bot_settings(
    rbac: RbacSettings = RBAC,
    *,
    app_channels: Mapping[str, str] | None = None,
    commands: CommandNames | None = None,
) -> BotSettings:
    """HTTP-mode settings for the sandbox (its bot token and the test signing secret)."""
    return BotSettings(
        slack=SlackSettings(
            mode="http",
            bot_token=Secret("xoxb-sandbox"),
            signing_secret=Secret(SECRET),
            commands=commands or CommandNames(),
            channels=ChannelRoutes(apps=MappingProxyType(dict(app_channels or {}))),
        ),
        rbac=rbac,
    )


class _ChannelView:
    """What a bot under test posted, read from the sandbox ``slack``: the answers to a
    command's response_url and a channel's messages (HTTP and Socket Mode alike)."""

    slack: SlackSandbox

    def answers(
        self, reply: BotReply | SocketReply, count: int = 1, timeout: float = 5.0
    ) -> list[str]:
        """The texts (text + every block's text) the bot posted to the reply's response_url,
        once there are ``count`` of them."""
        self.slack.wait_until(
            lambda: len(self.slack.responses(reply.response_url)) >= count,
            timeout=timeout,
            what=f"{count} answer(s) to the command",
        )
        return [rendered(r["body"]) for r in self.slack.responses(reply.response_url)]

    def messages(self, channel: str = "C0DEPLOYS") -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.slack.messages(channel)["messages"]
        return found

    def wait_messages(self, channel: str, count: int, timeout: float = 5.0) -> None:
        self.slack.wait_until(
            lambda: len(self.messages(channel)) >= count, timeout=timeout, what="messages"
        )


class BotUnderTest(_ChannelView):
    """``create_app`` served by ``reconciler.http`` (waitress) at /slack/events, its Web API
    client pointed at ``slack``. ``url`` is what the sandbox posts commands and clicks to."""

    def __init__(
        self,
        slack: SlackSandbox,
        controller: FakeController,
        settings: BotSettings | None = None,
        *,
        threads: int = 8,
        workers: int = 8,
        max_pending: int = 256,
    ) -> None:
        self.slack = slack
        self.controller = controller
        self.app = create_app(
            settings or bot_settings(),
            controller,
            api_url=slack.url,
            workers=workers,
            max_pending=max_pending,
        )
        api = HttpApi()
        api.mount(SLACK_EVENTS_PATH, wsgi_app(self.app), strip_prefix=False)
        self.server = HttpServer(api, host="127.0.0.1", port=0, threads=threads)

    def __enter__(self) -> BotUnderTest:
        self.server.start()
        self.url = self.server.url + SLACK_EVENTS_PATH
        return self

    def __exit__(self, *exc: object) -> None:
        # HttpServer.stop() sets its stop flag before pulling the trigger, so its serve thread
        # may have closed the trigger already (EBADF); the server is down either way.
        with contextlib.suppress(OSError):
            self.server.stop()
        shutdown(self.app)

    def command(self, command: str, text: str = "", **kwargs: Any) -> BotReply:
        reply = self.slack.send_slash_command(self.url, command, text, **kwargs)
        assert reply.status == 200, (reply.status, reply.text)
        return reply


def rendered(doc: Mapping[str, Any] | None) -> str:
    """Everything a message shows: its text and the text of every block, element and field."""
    if not doc:
        return ""
    parts = [str(doc.get("text", ""))]

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for name, item in value.items():
                if name == "text" and isinstance(item, str):
                    parts.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(doc.get("blocks") or [])
    return "\n".join(parts)


def thread_of(message: Mapping[str, Any]) -> list[str]:
    """The rendered replies in a message's thread."""
    return [rendered(r) for r in message.get("replies") or []]


APP_TOKEN = "xapp-1-A0KAJITORI-bot-test"


def socket_settings(rbac: RbacSettings = RBAC, *, app_token: str = APP_TOKEN) -> BotSettings:
    """Socket Mode settings for the sandbox (its bot token and ``app_token``)."""
    return BotSettings(
        slack=SlackSettings(
            mode="socket",
            bot_token=Secret("xoxb-sandbox"),
            app_token=Secret(app_token),
        ),
        rbac=rbac,
    )


class SocketBotUnderTest(_ChannelView):
    """``create_app`` connected to ``slack`` over Socket Mode by ``bot.socket``'s
    ``start_socket_mode`` (slack_bolt's SocketModeHandler over slack_sdk's websocket-client
    adapter); the sandbox needs ``app_token=APP_TOKEN``. Commands and clicks go over the
    WebSocket."""

    def __init__(
        self,
        slack: SlackSandbox,
        controller: FakeController,
        settings: BotSettings | None = None,
        *,
        workers: int = 8,
        max_pending: int = 256,
    ) -> None:
        self.slack = slack
        self.controller = controller
        self.settings = settings or socket_settings()
        self.app = create_app(
            self.settings,
            controller,
            api_url=slack.url,
            workers=workers,
            max_pending=max_pending,
        )
        self.handler: SocketModeHandler | None = None

    def __enter__(self) -> SocketBotUnderTest:
        self.handler = start_socket_mode(self.app, self.settings)
        self.connection = self.slack.socket.wait_connected()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handler is not None:
            stop_socket_mode(self.handler)
        shutdown(self.app)

    def command(self, command: str, text: str = "", **kwargs: Any) -> SocketReply:
        reply = self.slack.socket.send_slash_command(command, text, **kwargs)
        assert reply.on_time, reply
        return reply

    def click(self, channel: str, ts: str, action_id: str, **kwargs: Any) -> SocketReply:
        reply = self.slack.socket.click_button(channel, ts, action_id, **kwargs)
        assert reply.on_time, reply
        return reply
