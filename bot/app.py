"""The Slack app: a slack_bolt ``App`` wired to the controller. The only module (with
``bot.socket``) that imports slack_bolt.

``create_app(settings, controller)`` builds it for either transport:

- HTTP mode (``slack.mode: http``): Slack posts commands and clicks to ``/slack/events``;
  Bolt checks each request's signature with the signing secret and refuses timestamps more
  than five minutes off (401). :func:`wsgi_app` gives the WSGI callable that
  ``reconciler.http.HttpApi.mount("/slack/events", ..., strip_prefix=False)`` serves on the
  same waitress server as /metrics and the webhooks (not Bolt's development server).
- Socket Mode (``slack.mode: socket``): no inbound port; ``bot.socket.start_socket_mode``
  connects with the app-level token. Bolt does not sign-check socket requests, so request
  verification is off there.

Every listener acknowledges at once and queues the real work on the bot's bounded
:class:`~bot.work.WorkPool`: Slack's 3-second deadline is met however slow the controller, Git
or the Web API are. Since a listener does nothing but that, Bolt runs it on the request's own
thread and answers when it returns (``process_before_response=True``), instead of handing it to
a listener pool and polling for the ack every 10 ms.

The Web API client is ``client`` when given, else one built from the bot token with
``api_url`` (or the settings' ``slack.apiUrl``) as its base: a stand-in's URL in tests and the
demo. Either way it retries 429
answers after their Retry-After. ``verify_token=False`` skips Bolt's eager ``auth.test`` at
start-up (for a stand-in that is not up yet); Bolt then checks the token on the first request.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.actions import handle_rollback_cancel, handle_rollback_confirm
from bot.actions_approval import handle_approval_approve, handle_approval_reject
from bot.approvals_store import ApprovalMessages
from bot.blocks import ROLLBACK_CANCEL_ACTION, ROLLBACK_CONFIRM_ACTION
from bot.blocks_approval import APPROVE_ACTION, REJECT_ACTION
from bot.commands import handle_command
from bot.groups import UserGroups, rbac_groups
from bot.rollback_threads import RollbackThreads
from bot.runtime import RATE_LIMIT_RETRIES, BotRuntime, rate_limited_client
from bot.settings import HTTP_MODE, BotSettings
from bot.work import DEFAULT_MAX_PENDING, DEFAULT_WORKERS, WorkPool
from reconciler.controller_api import ControllerAPI
from reconciler.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SLACK_EVENTS_PATH: Final = "/slack/events"
SLACK_API_URL: Final = "https://slack.com/api/"
# The slack_bolt App's name; it is also the name of the logger Bolt configures, so it must not
# be "kajitori" (the parent of kajitori.run and kajitori.notifications, whose level Bolt would
# reset).
APP_NAME: Final = "kajitori-bot"
BUSY_TEXT: Final = ":hourglass: kajitori is busy right now; please try again in a minute."

_RUNTIMES: weakref.WeakKeyDictionary[App, BotRuntime] = weakref.WeakKeyDictionary()
_APPROVALS: weakref.WeakKeyDictionary[App, ApprovalMessages] = weakref.WeakKeyDictionary()


def make_web_client(settings: BotSettings, *, api_url: str | None = None) -> WebClient:
    """A Web API client with the bot token, retrying connection errors and 429s, on
    ``api_url``, else the settings' ``slack.apiUrl``, else Slack's own."""
    token = settings.slack.bot_token
    if token is None:
        raise ConfigError(["slack.botToken: required to connect to Slack (xoxb-...)"])
    return WebClient(
        token=token.reveal(),
        base_url=api_url or settings.slack.api_url or SLACK_API_URL,
        retry_handlers=[
            ConnectionErrorRetryHandler(),
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


def _signing_secret(settings: BotSettings) -> str:
    slack = settings.slack
    if slack.mode != HTTP_MODE:
        return ""
    if slack.signing_secret is None:
        raise ConfigError(["slack.signingSecret: required in http mode"])
    return slack.signing_secret.reveal()


def create_app(
    settings: BotSettings,
    controller: ControllerAPI,
    *,
    client: WebClient | None = None,
    executor: Executor | None = None,
    api_url: str | None = None,
    verify_token: bool = True,
    workers: int = DEFAULT_WORKERS,
    max_pending: int = DEFAULT_MAX_PENDING,
    approvals: ApprovalMessages | None = None,
) -> App:
    """The Slack app for ``settings`` on ``controller``. ``executor`` (owned by the caller)
    runs the bot's work instead of a pool of ``workers`` threads; at most ``max_pending``
    commands wait or run at once, further ones are answered "busy". ConfigError when Slack
    is not configured (no bot token) or http mode lacks its signing secret. ``approvals``
    keeps the approval messages posted (``bot.approvals``); in memory when not given."""
    signing_secret = _signing_secret(settings)
    web = rate_limited_client(client or make_web_client(settings, api_url=api_url))
    if not web.token:
        raise ConfigError(["the Slack Web API client has no token (slack.botToken)"])
    runtime = BotRuntime(
        settings,
        controller,
        web,
        WorkPool(executor, workers=workers, max_pending=max_pending),
        UserGroups(web, rbac_groups(settings.rbac)),
    )
    app = App(
        name=APP_NAME,
        client=web,  # its token is the app's; Bolt ignores ``token`` when given a client
        signing_secret=signing_secret,
        request_verification_enabled=settings.slack.mode == HTTP_MODE,
        token_verification_enabled=verify_token,
        process_before_response=True,
    )
    messages = approvals if approvals is not None else ApprovalMessages()
    _register(app, runtime, messages)
    _RUNTIMES[app] = runtime
    _APPROVALS[app] = messages
    return app


def runtime_of(app: App) -> BotRuntime:
    """The runtime behind an app made by :func:`create_app` (its pool, client, caches)."""
    return _RUNTIMES[app]


def approval_messages(app: App) -> ApprovalMessages:
    """The approval messages of an app made by :func:`create_app`."""
    return _APPROVALS[app]


def shutdown(app: App, wait: bool = True) -> None:
    """Stop taking work and (with ``wait``) let queued work finish. Stop serving the app's
    HTTP endpoint (or Socket Mode) first."""
    runtime = _RUNTIMES.get(app)
    if runtime is not None:
        runtime.pool.shutdown(wait=wait)


def wsgi_app(app: App, path: str = SLACK_EVENTS_PATH) -> WSGIApplication:
    """The WSGI callable answering Slack's requests at ``path`` (mount it unstripped). Each
    request is announced to the bot's pool as it comes in, so queued work waits for the
    acks (see :class:`bot.work.WorkPool`)."""
    handler = SlackRequestHandler(app, path=path)
    runtime = _RUNTIMES.get(app)

    def answer(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if runtime is not None:
            runtime.pool.request_arrived()
        return handler(environ, start_response)

    return answer


Handler = Callable[[BotRuntime, dict[str, Any]], None]


def _register(app: App, runtime: BotRuntime, messages: ApprovalMessages) -> None:
    def on_command(ack: Ack, body: dict[str, Any]) -> None:
        runtime.pool.request_arrived()
        if runtime.pool.submit(handle_command, runtime, dict(body)) is None:
            ack(text=BUSY_TEXT)
        else:
            ack()

    def click(handler: Handler) -> Callable[[Ack, dict[str, Any]], None]:
        def on_click(ack: Ack, body: dict[str, Any]) -> None:
            runtime.pool.request_arrived()
            ack()
            runtime.pool.submit(handler, runtime, dict(body), essential=True)

        return on_click

    for name in runtime.commands.all():
        app.command(name)(on_command)
    threads = RollbackThreads(messages.table)  # the same table as the approval messages
    app.action(ROLLBACK_CONFIRM_ACTION)(click(partial(handle_rollback_confirm, threads=threads)))
    app.action(ROLLBACK_CANCEL_ACTION)(click(handle_rollback_cancel))
    app.action(APPROVE_ACTION)(click(partial(handle_approval_approve, messages=messages)))
    app.action(REJECT_ACTION)(click(partial(handle_approval_reject, messages=messages)))
