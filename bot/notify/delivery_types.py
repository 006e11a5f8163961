"""The data of notification delivery: what to send (:class:`DeliveryRequest`), how far its
delivery got (:class:`DeliveryRecord`) and how it ended (:class:`DeliveryOutcome`).

A request is fixed when a trigger fires: the rendered content and the Slack options of its
template. A record is the request plus its progress, persisted after every step so a restart
resumes where the last process stopped instead of sending again:

* ``pending``: not tried yet (or waiting for a retry);
* ``sending``: a Slack call is under way (``attempt_started`` says since when); a record
  found in this state after a restart may or may not have been posted, so it is checked in
  the channel before anything is sent again;
* ``sent``: done; ``failed``: given up (``error`` says why); ``unknown``: a post may have
  reached Slack but that could not be checked, so it is not sent again (a duplicate is what
  users of argocd-notifications complain about, argocd-notifications#211).

``key`` is the exactly-once key: the app, the trigger firing (trigger, condition and
``oncePer`` value or drift episode) and the destination. Plain JSON round trips
(``to_json``/``from_json``) let any store keep them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Literal

from bot.notify.templates import DELIVERY_POLICIES, DeliveryPolicy

DeliveryStatus = Literal["pending", "sending", "sent", "failed", "unknown"]
STATUSES: Final[tuple[DeliveryStatus, ...]] = ("pending", "sending", "sent", "failed", "unknown")
UNFINISHED: Final[tuple[DeliveryStatus, ...]] = ("pending", "sending")
FINISHED: Final[tuple[DeliveryStatus, ...]] = ("sent", "failed", "unknown")


@dataclass(frozen=True)
class DeliveryRequest:
    """One notification for one destination. ``payload`` holds the content arguments of
    chat.postMessage (``text`` and, when present, ``attachments`` / ``blocks``) as JSON data;
    the other fields are the template's Slack options and where the request came from."""

    key: str
    app: str
    trigger: str
    channel: str
    payload: Mapping[str, Any]
    service: str = "slack"
    grouping_key: str = ""
    policy: DeliveryPolicy = "Post"
    notify_broadcast: bool = False
    username: str = ""
    icon: str = ""
    created_at: float = 0.0

    @property
    def text(self) -> str:
        """The message text (Slack's ``text``)."""
        return str(self.payload.get("text") or "")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["payload"] = dict(self.payload)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeliveryRequest:
        """The request ``to_dict`` gave; ValueError naming the problem otherwise."""
        try:
            key, app, trigger, channel = (
                str(data[f]) for f in ("key", "app", "trigger", "channel")
            )
            policy = str(data.get("policy") or "Post")
            if policy not in DELIVERY_POLICIES:
                raise ValueError(f"unknown delivery policy {policy!r}")
            payload = data["payload"]
            if not isinstance(payload, Mapping):
                raise ValueError("payload must be a mapping")
            return cls(
                key=key,
                app=app,
                trigger=trigger,
                channel=channel,
                payload=dict(payload),
                service=str(data.get("service") or "slack"),
                grouping_key=str(data.get("grouping_key") or ""),
                policy=policy,
                notify_broadcast=bool(data.get("notify_broadcast")),
                username=str(data.get("username") or ""),
                icon=str(data.get("icon") or ""),
                created_at=float(data.get("created_at") or 0.0),
            )
        except KeyError as missing:
            raise ValueError(f"delivery request: field {missing} is missing") from None


@dataclass(frozen=True)
class DeliveryRecord:
    """A request and how far its delivery got (see the module docstring).

    ``thread_ts`` is decided once, at the first step: None = not decided yet, ``""`` = no
    thread (the message is top-level and, with a ``grouping_key``, becomes the group's root),
    else the root it replies to or updates. ``posted_ts`` / ``channel_id`` are set once the
    post is done; ``updated`` once the root was updated (PostAndUpdate / Update).
    ``attempts`` counts failed tries of the current step; ``rate_limited`` the 429 answers."""

    request: DeliveryRequest
    status: DeliveryStatus = "pending"
    attempts: int = 0
    rate_limited: int = 0
    thread_ts: str | None = None
    posted_ts: str = ""
    channel_id: str = ""
    updated: bool = False
    error: str = ""
    attempt_started: float = 0.0
    updated_at: float = 0.0

    @property
    def key(self) -> str:
        return self.request.key

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def with_(self, **changes: Any) -> DeliveryRecord:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    def progress_json(self) -> str:
        """Everything but the request, as JSON (the store keeps the request apart)."""
        data = asdict(self)
        del data["request"]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, request: DeliveryRequest, progress: str) -> DeliveryRecord:
        """The record ``progress_json`` gave for ``request``; ValueError when malformed."""
        try:
            data = json.loads(progress)
        except json.JSONDecodeError as exc:
            raise ValueError(f"delivery {request.key}: progress is not JSON: {exc}") from None
        if not isinstance(data, Mapping):
            raise ValueError(f"delivery {request.key}: progress must be a JSON object")
        status = str(data.get("status") or "pending")
        if status not in STATUSES:
            raise ValueError(f"delivery {request.key}: unknown status {status!r}")
        thread_ts = data.get("thread_ts")
        return cls(
            request=request,
            status=status,
            attempts=int(data.get("attempts") or 0),
            rate_limited=int(data.get("rate_limited") or 0),
            thread_ts=None if thread_ts is None else str(thread_ts),
            posted_ts=str(data.get("posted_ts") or ""),
            channel_id=str(data.get("channel_id") or ""),
            updated=bool(data.get("updated")),
            error=str(data.get("error") or ""),
            attempt_started=float(data.get("attempt_started") or 0.0),
            updated_at=float(data.get("updated_at") or 0.0),
        )


@dataclass(frozen=True)
class ThreadRoot:
    """The first message of a ``groupingKey`` group in a channel: later messages of the group
    reply in its thread (and PostAndUpdate / Update rewrite it)."""

    channel_id: str
    ts: str


@dataclass(frozen=True)
class DeliveryOutcome:
    """How a delivery ended, for logs and metrics (Argo's
    ``argocd_notifications_deliveries_total{trigger,service,succeeded}``)."""

    key: str
    app: str
    trigger: str
    service: str
    channel: str
    status: DeliveryStatus
    attempts: int = 0
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "sent"


def outcome_of(record: DeliveryRecord) -> DeliveryOutcome:
    """The outcome of a finished record."""
    request = record.request
    return DeliveryOutcome(
        key=request.key,
        app=request.app,
        trigger=request.trigger,
        service=request.service,
        channel=request.channel,
        status=record.status,
        attempts=record.attempts,
        error=record.error,
    )
