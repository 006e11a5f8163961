"""What every command and click handler shares: the controller, the Web API client, the
worker pool, the user-group cache, and the few ways the bot talks back.

Handlers get plain payload dicts (the slash command's form fields, the block_actions body)
and a :class:`BotRuntime`; they never see slack_bolt (``bot.app`` is the only module that
imports it). Talking back:

- :meth:`BotRuntime.tell` answers only the person who asked (ephemeral): through the request's
  ``response_url`` (works in any channel, even where the bot is not a member), falling back to
  ``chat.postEphemeral``;
- :meth:`BotRuntime.post` / :meth:`BotRuntime.update` write channel messages with the bot
  token.

Slack's 429 answers are retried after their ``Retry-After`` by the client's retry handler
(slack_sdk ``RateLimitErrorRetryHandler``): a rate-limited call was not carried out, so
retrying it cannot post twice. Any other failure is logged and reported as False/None, never
raised into Slack: an unexpected exception becomes "internal error, see logs (id …)" with the
traceback only in the log.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.authz import Action, Decision, authorize
from bot.blocks import SlackMessage, error_message
from bot.groups import UserGroups
from bot.settings import BotSettings, CommandNames
from bot.work import WorkPool
from reconciler.controller_api import ControllerAPI

log = logging.getLogger("bot")

RATE_LIMIT_RETRIES: Final = 5
RESPONSE_URL_TIMEOUT: Final = 10


def _api_error(error: Exception) -> str:
    """A Web API failure as a short code for the log (never the request, never a token)."""
    if isinstance(error, SlackApiError) and error.response is not None:
        return str(error.response.get("error") or error.response.status_code)
    return type(error).__name__


@dataclass(frozen=True)
class Requester:
    """Who asked, where, and the response_url to answer them privately."""

    user_id: str
    channel_id: str
    response_url: str = ""

    @classmethod
    def of_command(cls, payload: Mapping[str, Any]) -> Requester:
        return cls(
            str(payload.get("user_id", "")),
            str(payload.get("channel_id", "")),
            str(payload.get("response_url", "")),
        )

    @classmethod
    def of_action(cls, body: Mapping[str, Any]) -> Requester:
        user = body.get("user") or {}
        container = body.get("container") or {}
        channel = body.get("channel") or {}
        return cls(
            str(user.get("id", "")),
            str(container.get("channel_id") or channel.get("id") or ""),
            str(body.get("response_url", "")),
        )


@dataclass(frozen=True)
class Posted:
    """A message the bot posted: its channel ID and ts."""

    channel_id: str
    ts: str


@dataclass
class Claims:
    """Buttons already acted on, by (channel, message ts): who claimed each. A double click
    (or two people clicking at once) finds the first claim and does nothing."""

    _claims: dict[tuple[str, str], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, channel: str, ts: str, user: str) -> str | None:
        """Claim for ``user``; None when that worked, else who claimed first."""
        with self._lock:
            first = self._claims.get((channel, ts))
            if first is not None:
                return first
            self._claims[(channel, ts)] = user
            return None


def rate_limited_client(client: WebClient) -> WebClient:
    """``client`` with a 429 retry handler (honouring Retry-After) unless it has one."""
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return client


class BotRuntime:
    """The bot's shared services; one per app."""

    def __init__(
        self,
        settings: BotSettings,
        controller: ControllerAPI,
        client: WebClient,
        pool: WorkPool,
        groups: UserGroups,
    ) -> None:
        self.settings = settings
        self.controller = controller
        self.client = client
        self.pool = pool
        self.groups = groups
        self.claims = Claims()

    @property
    def commands(self) -> CommandNames:
        """The configured slash command names."""
        return self.settings.slack.commands

    # -- authorization and audit -----------------------------------------------------------

    def project_of(self, app: str) -> str:
        return self.controller.application(app).spec.project

    def decide(self, user_id: str, project: str, action: Action) -> Decision:
        """Authorize, looking up the user's groups only when the user's own ID (or "*") is
        not enough."""
        rbac = self.settings.rbac
        decision = authorize(user_id, (), project, action, rbac)
        if decision.allowed or not rbac.configured or not self.groups.groups:
            return decision
        return authorize(user_id, self.groups.groups_of(user_id), project, action, rbac)

    def audit(self, actor: str, action: str, app: str, *, allowed: bool, detail: str) -> None:
        """Write to the controller's audit log; a failure there is logged, not raised."""
        try:
            self.controller.record_audit(actor, action, app, allowed=allowed, detail=detail)
        except Exception:
            log.exception("could not write the audit record for %s %s %s", actor, action, app)

    # -- answering -------------------------------------------------------------------------

    def respond(
        self,
        response_url: str,
        msg: SlackMessage,
        *,
        ephemeral: bool = True,
        replace_original: bool = False,
    ) -> bool:
        """Post ``msg`` to a response_url; False when that failed."""
        if not response_url:
            return False
        self.pool.yield_to_acks()
        webhook = WebhookClient(
            response_url,
            timeout=RESPONSE_URL_TIMEOUT,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
        )
        try:
            answer = webhook.send(
                text=msg["text"],
                blocks=msg["blocks"],
                response_type="ephemeral" if ephemeral else "in_channel",
                replace_original=replace_original,
            )
        except (SlackClientError, OSError) as error:
            log.warning("response_url post failed: %s", type(error).__name__)
            return False
        if answer.status_code != 200:
            log.warning("response_url post failed: HTTP %s %s", answer.status_code, answer.body)
            return False
        return True

    def tell(self, requester: Requester, msg: SlackMessage) -> bool:
        """Answer ``requester`` privately: response_url, else chat.postEphemeral."""
        if self.respond(requester.response_url, msg):
            return True
        if not requester.channel_id or not requester.user_id:
            return False
        try:
            self.client.chat_postEphemeral(
                channel=requester.channel_id,
                user=requester.user_id,
                text=msg["text"],
                blocks=msg["blocks"],
            )
        except (SlackClientError, OSError) as error:
            log.warning("chat.postEphemeral failed: %s", _api_error(error))
            return False
        return True

    def post(self, channel: str, msg: SlackMessage, *, thread_ts: str = "") -> Posted | None:
        """chat.postMessage; the posted message's channel ID and ts, or None."""
        self.pool.yield_to_acks()
        kwargs: dict[str, Any] = {"channel": channel, "text": msg["text"], "blocks": msg["blocks"]}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        try:
            answer = self.client.chat_postMessage(**kwargs)
        except (SlackClientError, OSError) as error:
            log.warning("chat.postMessage to %s failed: %s", channel, _api_error(error))
            return None
        return Posted(str(answer.get("channel") or channel), str(answer.get("ts") or ""))

    def update(self, posted: Posted, msg: SlackMessage) -> bool:
        """chat.update of a message the bot posted; False when that failed."""
        self.pool.yield_to_acks()
        try:
            self.client.chat_update(
                channel=posted.channel_id, ts=posted.ts, text=msg["text"], blocks=msg["blocks"]
            )
        except (SlackClientError, OSError) as error:
            log.warning("chat.update of %s failed: %s", posted.ts, _api_error(error))
            return False
        return True

    def internal_error(self, requester: Requester | None, what: str) -> str:
        """Log the current exception with a fresh id and tell the requester only the id.
        Call from an ``except`` block."""
        error_id = uuid.uuid4().hex[:12]
        log.exception("%s failed (error id %s)", what, error_id)
        if requester is not None:
            self.tell(requester, error_message(f"internal error, see logs (id {error_id})"))
        return error_id
