"""The Slack calls of notification delivery, over an injected ``slack_sdk.WebClient``, with
every failure sorted by what it means for sending again.

* :class:`CallFailure` ``rate_limited``: HTTP 429; Slack did not process the call. Wait
  ``retry_after`` seconds, then send the same call again.
* ``transient``: the call certainly did not take effect (connection refused, 503
  ``service_unavailable``, ``request_timeout``): safe to send again after a backoff.
* ``ambiguous``: the call may have taken effect (a timeout or a reset connection after the
  request went out, another 5xx, ``internal_error`` / ``fatal_error``, which Slack documents as
  "it's possible some aspect of the operation succeeded"). A post is only sent again after
  :meth:`SlackCalls.find_post` found no such message in the channel.
* ``permanent``: Slack refused the call (``channel_not_found``, ``not_in_channel``,
  ``invalid_blocks``, ``invalid_auth``...): sending again cannot help.

slack_sdk's default ``ConnectionErrorRetryHandler`` re-sends a request whose answer was lost,
which is how a notification gets posted twice; :func:`safe_client` gives a client without it
(keeping ``RateLimitErrorRetryHandler``, which only retries 429s, where Slack did nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Final, Literal
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import RateLimitErrorRetryHandler, RetryHandler

from bot.notify.delivery_types import DeliveryRequest

log = logging.getLogger(__name__)

FailureKind = Literal["rate_limited", "transient", "ambiguous", "permanent"]
DEFAULT_RETRY_AFTER: Final = 1.0
# How far before our own clock a found message's ts may be (clock skew between us and Slack).
CLOCK_SKEW: Final = 60.0
_TRANSIENT_CODES: Final = frozenset({"service_unavailable", "request_timeout", "ratelimited"})
_AMBIGUOUS_CODES: Final = frozenset({"internal_error", "fatal_error"})
_HISTORY_LIMIT: Final = 100


@dataclass
class CallFailure(Exception):
    """A Slack call failed; ``kind`` says whether and when to try again (module docstring).
    ``error`` is Slack's error code or a short description (never a token)."""

    kind: FailureKind
    error: str
    retry_after: float = 0.0

    def __str__(self) -> str:
        return self.error


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(str(raw)))
            except ValueError:
                return DEFAULT_RETRY_AFTER
    return DEFAULT_RETRY_AFTER


def classify(exc: Exception) -> CallFailure:
    """What a failed WebClient call means (module docstring)."""
    if isinstance(exc, CallFailure):
        return exc
    if isinstance(exc, SlackApiError):
        status = int(getattr(exc.response, "status_code", 0) or 0)
        data = getattr(exc.response, "data", None)
        code = str(data.get("error") or "") if isinstance(data, Mapping) else ""
        code = code or f"HTTP {status}"
        if status == 429 or (code == "ratelimited" and status != 200):
            return CallFailure("rate_limited", code, _retry_after(exc.response.headers or {}))
        if code in _TRANSIENT_CODES or status == 503:
            return CallFailure("transient", code)
        if code in _AMBIGUOUS_CODES or status >= 500:
            return CallFailure("ambiguous", code)
        return CallFailure("permanent", code)
    refused = isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, URLError) and isinstance(exc.reason, ConnectionRefusedError)
    )
    if refused:
        return CallFailure("transient", "connection refused")
    if isinstance(exc, URLError | OSError | HTTPException):
        return CallFailure("ambiguous", f"{type(exc).__name__}: {exc}")
    if isinstance(exc, SlackClientError):
        return CallFailure("permanent", f"{type(exc).__name__}: {exc}")
    return CallFailure("ambiguous", f"{type(exc).__name__}: {exc}")


def safe_client(client: WebClient) -> WebClient:
    """``client`` itself when its retry handlers only retry 429s; otherwise a sibling client
    (same token, base URL, timeout, TLS, proxy and headers) without the others, since a
    handler that re-sends after a lost answer can post a notification twice."""
    handlers = list(client.retry_handlers or [])
    safe: list[RetryHandler] = [h for h in handlers if isinstance(h, RateLimitErrorRetryHandler)]
    if len(safe) == len(handlers):
        return client
    dropped = ", ".join(type(h).__name__ for h in handlers if h not in safe)
    log.info("notifications use a Slack client without %s (it may post twice)", dropped)
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=dict(client.headers or {}),
        retry_handlers=safe,
    )


def make_client(token: str, *, base_url: str = WebClient.BASE_URL, timeout: int = 30) -> WebClient:
    """A WebClient for notifications: no retry handler (the sender retries, safely)."""
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


def _icon(icon: str) -> dict[str, str]:
    if icon.startswith(":") and icon.endswith(":") and len(icon) > 2:
        return {"icon_emoji": icon}
    if icon.startswith(("https://", "http://")):
        return {"icon_url": icon}
    if icon:
        log.warning("notification icon %r is neither :emoji: nor an http(s) URL; ignored", icon)
    return {}


class SlackCalls:
    """chat.postMessage, chat.update and the "was it posted?" check, for delivery."""

    def __init__(self, client: WebClient) -> None:
        self.client = safe_client(client)
        self._identity: tuple[str, str] | None = None

    def post(self, request: DeliveryRequest, thread_ts: str) -> tuple[str, str]:
        """Post ``request`` (in the thread of ``thread_ts`` when not empty); returns the
        (channel ID, ts) Slack gave the message. Raises :class:`CallFailure`."""
        args: dict[str, Any] = {"channel": request.channel, **dict(request.payload)}
        if thread_ts:
            args["thread_ts"] = thread_ts
            if request.notify_broadcast:
                args["reply_broadcast"] = True
        if request.username:
            args["username"] = request.username
        args.update(_icon(request.icon))
        try:
            response = self.client.chat_postMessage(**args)
        except Exception as exc:
            raise classify(exc) from None
        return str(response.get("channel") or request.channel), str(response.get("ts") or "")

    def update(self, channel_id: str, ts: str, request: DeliveryRequest) -> None:
        """Rewrite message ``ts`` with ``request``'s content; parts the request lacks are
        cleared (Slack keeps omitted attachments and blocks). Raises :class:`CallFailure`."""
        payload = dict(request.payload)
        args: dict[str, Any] = {
            "channel": channel_id,
            "ts": ts,
            "text": payload.get("text", ""),
            "attachments": payload.get("attachments") or [],
            "blocks": payload.get("blocks") or [],
        }
        try:
            self.client.chat_update(**args)
        except Exception as exc:
            raise classify(exc) from None

    def identity(self) -> tuple[str, str]:
        """The bot's (user ID, bot ID), from auth.test once."""
        if self._identity is None:
            try:
                response = self.client.auth_test()
            except Exception as exc:
                raise classify(exc) from None
            self._identity = (str(response.get("user_id") or ""), str(response.get("bot_id") or ""))
        return self._identity

    def find_post(
        self, channel: str, thread_ts: str, text: str, since: float
    ) -> tuple[str, str] | None:
        """The (channel ID, ts) of a message we posted in ``channel`` (in the thread of
        ``thread_ts`` when not empty) with exactly ``text``, no earlier than ``since`` (our
        clock, less :data:`CLOCK_SKEW`); None when there is none. Needs the history scopes
        (``channels:history`` ...); raises :class:`CallFailure` when the check itself fails."""
        user_id, bot_id = self.identity()
        oldest = f"{max(0.0, since - CLOCK_SKEW):.6f}"
        try:
            if thread_ts:
                response = self.client.conversations_replies(
                    channel=channel, ts=thread_ts, oldest=oldest, limit=_HISTORY_LIMIT
                )
            else:
                response = self.client.conversations_history(
                    channel=channel, oldest=oldest, limit=_HISTORY_LIMIT
                )
        except Exception as exc:
            raise classify(exc) from None
        messages = response.get("messages") or []
        for message in messages if isinstance(messages, list) else []:
            if not isinstance(message, Mapping) or message.get("text") != text:
                continue
            ours = (bot_id and message.get("bot_id") == bot_id) or message.get("user") == user_id
            ts = str(message.get("ts") or "")
            try:
                recent = float(ts) >= since - CLOCK_SKEW
            except ValueError:
                recent = False
            if ours and recent and ts != thread_ts:
                return str(response.get("channel") or channel), ts
        return None
