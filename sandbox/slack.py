"""A stand-in for Slack: the Web API a bot calls, and the requests Slack sends to a bot.

:class:`SlackSandbox` serves a fake Slack Web API over real HTTP on its own thread, so the real
``slack_sdk.WebClient(token, base_url=sandbox.url)`` and slack_bolt talk to it unchanged. It
answers the methods kajitori's bot uses with Slack's response shapes and error codes, enforces
Slack's Block Kit and text limits, can fail on demand (429 with Retry-After, 5xx, latency),
records every call, and shows what each channel displays (messages, threads, edits,
ephemerals, files). In the other direction it sends signed slash commands, button clicks and
modal submissions to a bot's HTTP endpoint, and serves the response_urls those carry; or, in
Socket Mode (``app_token=``), hands out WebSocket URLs through ``apps.connections.open`` and
sends the same requests as envelopes over the app's WebSocket (:attr:`SlackSandbox.socket`).

Typical use::

    with SlackSandbox() as slack:
        client = WebClient(slack.bot_token, base_url=slack.url)
        client.chat_postMessage(channel="C0DEPLOYS", text="hello")
        slack.messages("C0DEPLOYS")["messages"][0]["text"]  # "hello"

The console at ``base_url + "/"`` shows the channels in a browser. See sandbox/SLACK.md for
the defaults (people, channels, groups) and the control API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from sandbox import slack_api_chat, slack_api_directory, slack_api_files
from sandbox.slack_control import Control
from sandbox.slack_faults import ANY_METHOD, CallLog, Faults
from sandbox.slack_http import SlackApplication, SlackHTTPServer
from sandbox.slack_interactions import BotReply, Interactions
from sandbox.slack_model import Channel, User, Usergroup
from sandbox.slack_responses import ResponseHooks
from sandbox.slack_signing import SignatureMode
from sandbox.slack_socket_mode import SocketMode, SocketReply
from sandbox.slack_workspace import Workspace

__all__ = ["BotReply", "SignatureMode", "SlackSandbox", "SocketReply"]

METHODS = {**slack_api_chat.METHODS, **slack_api_directory.METHODS, **slack_api_files.METHODS}


class SlackSandbox:
    """A fake Slack workspace with its Web API on ``http://host:port/api/``.

    ``bot_url`` (settable later) is the bot's HTTP endpoint that the console's command box and
    buttons drive; the ``send_*``/``click_button`` helpers take the URL explicitly instead.
    ``app_token`` is the app-level token ``apps.connections.open`` accepts (none: Socket Mode
    connections are refused with ``invalid_auth``); :attr:`socket` drives a connected app.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        signing_secret: str = "sandbox-signing-secret",
        bot_token: str = "xoxb-sandbox",
        *,
        seed_defaults: bool = True,
        team_id: str = "T0SANDBOX",
        team_domain: str = "kajitori-sandbox",
        bot_user_id: str = "U0KAJITORI",
        bot_name: str = "kajitori",
        bot_id: str = "B0KAJITORI",
        app_id: str = "A0KAJITORI",
        bot_url: str | None = None,
        clock: Callable[[], float] = time.time,
        app_token: str | None = None,
    ) -> None:
        if not signing_secret:
            raise ValueError("signing_secret must not be empty")
        if not bot_token:
            raise ValueError("bot_token must not be empty")
        if app_token is not None and (not app_token or app_token == bot_token):
            raise ValueError("app_token must be a non-empty token other than the bot token")
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self._host = host
        self._port = port
        self.ws = Workspace(
            team_id=team_id,
            team_domain=team_domain,
            bot_user_id=bot_user_id,
            bot_name=bot_name,
            bot_id=bot_id,
            app_id=app_id,
            clock=clock,
        )
        if seed_defaults:
            self.ws.seed_defaults()
        self._faults = Faults()
        self._calls = CallLog()
        self._hooks = ResponseHooks(self.ws)
        self._interactions = Interactions(
            self.ws, self._hooks, signing_secret, lambda: self.base_url
        )
        self.socket = SocketMode(self.ws, self._interactions, self._hooks, lambda: self.base_url)
        control = Control(
            self.ws,
            self._calls,
            self._faults,
            self._hooks,
            self.reset,
            self._interactions,
            lambda: self.bot_url,
            self.socket,
        )
        self._app = SlackApplication(
            self.ws,
            {**METHODS, "apps.connections.open": self.socket.open_connection},
            self._faults,
            self._calls,
            self._hooks,
            bot_token=bot_token,
            control=control,
            app_token=app_token,
            socket_mode=self.socket,
        )
        self.bot_url = bot_url
        self._server: SlackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> SlackSandbox:
        """Bind and serve on a background thread (port 0 picks a free port)."""
        if self._server is not None:
            return self
        server = SlackHTTPServer((self._host, self._port), self._app)
        self._server = server
        self._app.base_url = self.base_url
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self.socket.stop()
        server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SlackSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running sandbox."""
        if self._server is None:
            raise RuntimeError("the Slack sandbox is not started; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    @property
    def url(self) -> str:
        """The Web API base URL (ends in ``/api/``), for ``WebClient(base_url=...)``."""
        return self.base_url + "/api/"

    @property
    def bot_user_id(self) -> str:
        """The bot user's ID (messages the bot posts carry it as ``user``)."""
        return self.ws.bot_user_id

    @property
    def team_id(self) -> str:
        """The workspace (team) ID."""
        return self.ws.team_id

    # ---- the workspace directory -----------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str = "",
        email: str = "",
        is_admin: bool = False,
        channels: Iterable[str] = (),
    ) -> User:
        """Add a person; ``channels`` are existing channel IDs they join."""
        user = User(user_id, name, real_name, email, is_admin=is_admin)
        with self.ws.lock:
            self.ws.add_user(user)
            for channel_id in channels:
                members = self.ws.channel(channel_id).members
                if user_id not in members:
                    members.append(user_id)
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] | None = None,
        is_private: bool = False,
        bot_member: bool = True,
    ) -> Channel:
        """Add a channel (members default to everyone); without ``bot_member`` the bot's posts
        there fail with ``not_in_channel``."""
        return self.ws.add_channel(channel_id, name, members, is_private=is_private, bot=bot_member)

    def add_usergroup(
        self, usergroup_id: str, handle: str, users: Iterable[str], *, name: str = ""
    ) -> Usergroup:
        """Add a user group ``@handle`` with these members."""
        group = Usergroup(usergroup_id, handle, name or handle, list(users))
        self.ws.add_usergroup(group)
        return group

    # ---- what happened ---------------------------------------------------------------------

    def messages(self, channel: str | None = None) -> dict[str, Any]:
        """What a channel shows (or every channel, under ``"channels"``); the same JSON as
        ``GET /_sandbox/messages``."""
        return self.ws.view(channel)

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every Web API call in order (optionally of one method), token removed."""
        return self._calls.calls(method)

    def responses(self, response_url: str | None = None) -> list[dict[str, Any]]:
        """What the bot posted to a response_url (or to all of them), with the effect."""
        hook_id = response_url.rstrip("/").rsplit("/", 1)[-1] if response_url else None
        return self._hooks.records(hook_id)

    def file_content(self, file_id: str) -> bytes | None:
        """The uploaded bytes of a file (None when unknown or not uploaded yet)."""
        with self.ws.lock:
            stored = self.ws.files.get(file_id)
            return stored.data if stored is not None else None

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Block until ``predicate()`` holds (re-checked on every change); TimeoutError if
        it does not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.ws.changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"Slack sandbox: timed out after {timeout}s waiting for {what}"
                    )
                self.ws.changed.wait(min(remaining, 0.25))

    def reset(self) -> None:
        """Forget messages, calls, files, faults, response_urls and Socket Mode envelopes;
        keep the directory and open Socket Mode connections."""
        self.socket.clear()
        self.ws.clear_activity()
        self._calls.clear()
        self._faults.clear()
        self._hooks.clear()

    # ---- faults ----------------------------------------------------------------------------

    def fail_next(
        self, method: str, times: int = 1, *, status: int = 429, retry_after: int | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` ("*" for any) answer ``status``: 429 with
        ``Retry-After`` (default 1 s) and ``ratelimited``, or a 5xx. Nothing is recorded."""
        self._faults.fail_next(method, times, status=status, retry_after=retry_after)

    def set_latency(self, seconds: float, method: str = ANY_METHOD) -> None:
        """Delay answers of ``method`` (default: every method); 0 removes the delay."""
        self._faults.set_latency(seconds, method)

    # ---- Slack → bot -----------------------------------------------------------------------

    def send_slash_command(
        self,
        bot_url: str,
        command: str,
        text: str = "",
        *,
        user_id: str = "U0ALICE",
        channel_id: str = "C0DEPLOYS",
        signature: SignatureMode = "valid",
        timeout: float = 10.0,
    ) -> BotReply:
        """POST a signed slash command to ``bot_url`` as Slack does; the reply carries the
        response_url whose posts :meth:`responses` returns. A 200 answer with content is shown
        (ephemeral unless ``response_type`` says ``in_channel``), as Slack shows an ack."""
        return self._interactions.slash_command(
            bot_url,
            command,
            text,
            user_id=user_id,
            channel_id=channel_id,
            signature=signature,
            timeout=timeout,
        )

    def click_button(
        self,
        bot_url: str,
        channel_id: str,
        ts: str,
        action_id: str,
        *,
        user_id: str = "U0ALICE",
        signature: SignatureMode = "valid",
        timeout: float = 10.0,
    ) -> BotReply:
        """Click the button ``action_id`` of message (or ephemeral) ``ts``: a signed
        block_actions request built from the stored message. A button's confirm dialog counts
        as confirmed."""
        return self._interactions.click_button(
            bot_url,
            channel_id,
            ts,
            action_id,
            user_id=user_id,
            signature=signature,
            timeout=timeout,
        )

    def send_block_action(
        self,
        bot_url: str,
        payload: Mapping[str, Any],
        *,
        signature: SignatureMode = "valid",
        timeout: float = 10.0,
    ) -> BotReply:
        """POST a block_actions ``payload`` you built (a response_url is added if missing)."""
        return self._interactions.block_action(
            bot_url, payload, signature=signature, timeout=timeout
        )

    def send_view_submission(
        self,
        bot_url: str,
        view: Mapping[str, Any],
        *,
        user_id: str = "U0ALICE",
        signature: SignatureMode = "valid",
        timeout: float = 10.0,
    ) -> BotReply:
        """POST a view_submission for ``view`` (callback_id, state, private_metadata...)."""
        return self._interactions.view_submission(
            bot_url, view, user_id=user_id, signature=signature, timeout=timeout
        )
