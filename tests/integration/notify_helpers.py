"""Helpers for the notification tests: a controller test double that serves Argo-shaped app
dicts the test sets, a hand-driven clock, app dict builders and a ready-made pipeline (Slack
sandbox, real slack_sdk WebClient, SQLite store, SlackDelivery, Notifier)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from bot.notify.delivery import SlackDelivery
from bot.notify.delivery_slack import make_client
from bot.notify.delivery_types import DeliveryOutcome
from bot.notify.notifier import Notifier
from bot.notify.notify_settings import parse_notification_settings
from bot.notify.state import SQLiteNotificationStore
from bot.notify.subscriptions import NotificationSettings
from reconciler.controller_api import UnknownAppError
from reconciler.event_types import CommitSummary, Event, SyncRunning, SyncStatusChanged
from sandbox.slack import SlackSandbox

REV_A = "a" * 40
REV_B = "b" * 40
REV_C = "c" * 40
OLD = "2024-01-01T00:00:00Z"
BASE_TIME = 1_717_200_000.0  # 2024-06-01T00:00:00Z
CHANNEL = "C0DEPLOYS"
B_START = "2024-06-01T00:10:00Z"
C_START = "2024-06-01T01:00:00Z"

ALL_TRIGGERS = [
    "on-created",
    "on-deleted",
    "on-deployed",
    "on-health-degraded",
    "on-sync-failed",
    "on-sync-running",
    "on-sync-status-unknown",
    "on-sync-succeeded",
    "on-out-of-sync",
    "on-health-recovered",
    "on-approval-required",
]


class FakeClock:
    """A wall clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, start: float = BASE_TIME) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeController:
    """ControllerAPI over app dicts the test sets: ``app_names`` and ``app_status`` are what
    the notifier reads; the other methods are not used by it and say so."""

    def __init__(self, apps: Mapping[str, dict[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self._apps: dict[str, dict[str, Any]] = dict(apps or {})

    def set(self, data: dict[str, Any]) -> None:
        with self._lock:
            self._apps[data["metadata"]["name"]] = copy.deepcopy(data)

    def remove(self, name: str) -> None:
        with self._lock:
            self._apps.pop(name, None)

    def app_names(self) -> list[str]:
        with self._lock:
            return sorted(self._apps)

    def app_status(self, app: str) -> dict[str, Any]:
        with self._lock:
            if app not in self._apps:
                raise UnknownAppError(app, sorted(self._apps))
            return copy.deepcopy(self._apps[app])

    def _unused(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("not used by the notifier")

    application = apps = refresh = diff = sync = history = rollback = _unused
    set_auto_sync = set_self_heal = self_heal_enabled = auto_sync_enabled = _unused
    record_audit = _unused


def app_dict(
    name: str = "guestbook",
    *,
    sync: str = "Synced",
    health: str = "Healthy",
    revision: str = REV_A,
    phase: str | None = None,
    op_revision: str | None = None,
    started: str = "2024-06-01T00:00:00Z",
    finished: str = "2024-06-01T00:00:30Z",
    message: str = "",
    approval: Mapping[str, Any] | None = None,
    resources: list[dict[str, Any]] | None = None,
    annotations: Mapping[str, str] | None = None,
    created: str = OLD,
    self_heal: bool = False,
) -> dict[str, Any]:
    """An Argo-shaped Application dict as the controller's ``app_status`` gives it."""
    status: dict[str, Any] = {
        "sync": {"status": sync, "revision": revision},
        "health": {"status": health},
        "reconciledAt": "2024-06-01T00:00:00Z",
        "resources": resources or [],
    }
    if phase is not None:
        op_rev = op_revision or revision
        operation: dict[str, Any] = {
            "phase": phase,
            "message": message,
            "startedAt": started,
            "operation": {"sync": {"revision": op_rev}, "initiatedBy": {"automated": True}},
            "syncResult": {"revision": op_rev, "resources": []},
        }
        if phase != "Running":
            operation["finishedAt"] = finished
        if approval is not None:
            operation["approval"] = dict(approval)
        status["operationState"] = operation
    automated: dict[str, Any] = {"prune": False, "selfHeal": self_heal}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "creationTimestamp": created,
            "labels": {},
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://github.com/example/gitops.git",
                "path": name,
                "targetRevision": "HEAD",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": {"automated": automated},
        },
        "status": status,
    }


def settings_for(
    triggers: list[str] | None = None,
    *,
    channel: str = "deploys",
    extra: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> NotificationSettings:
    section: dict[str, Any] = {
        "context": {"argocdUrl": "https://kajitori.example.com", **(context or {})},
        "subscriptions": [
            {"recipients": [f"slack:{channel}"], "triggers": triggers or list(ALL_TRIGGERS)}
        ],
    }
    section.update(extra or {})
    return parse_notification_settings(section, source="test settings")


@dataclass
class Pipeline:
    """Everything between an app dict and a Slack channel, wired for a test."""

    slack: SlackSandbox
    controller: FakeController
    clock: FakeClock
    store: SQLiteNotificationStore
    delivery: SlackDelivery
    notifier: Notifier
    outcomes: list[DeliveryOutcome] = field(default_factory=list)

    def settle(self, timeout: float = 15.0) -> None:
        assert self.delivery.wait_idle(timeout), "deliveries did not finish in time"

    def triggers_sent(self) -> list[str]:
        return [o.trigger for o in self.outcomes if o.status == "sent"]


def client_for(slack: SlackSandbox, timeout: int = 5) -> WebClient:
    return make_client(slack.bot_token, base_url=slack.url, timeout=timeout)


def new_delivery(
    slack: SlackSandbox,
    store: SQLiteNotificationStore,
    outcomes: list[DeliveryOutcome],
    **options: Any,
) -> SlackDelivery:
    settings: dict[str, Any] = {"per_second": 20.0, "backoff": 0.05, "check_delay": 0.2}
    settings.update(options)
    timeout = int(settings.pop("client_timeout", 5))
    return SlackDelivery(
        client_for(slack, timeout), store, on_outcome=outcomes.append, **settings
    ).start()


@contextmanager
def pipeline(
    tmp_path: Path,
    settings: NotificationSettings,
    apps: list[dict[str, Any]] | None = None,
    *,
    slack: SlackSandbox | None = None,
    **delivery_options: Any,
) -> Iterator[Pipeline]:
    """A running pipeline over a fresh sandbox (or ``slack``) and ``tmp_path/notify.db``."""
    own = slack is None
    sandbox = slack or SlackSandbox().start()
    store = SQLiteNotificationStore(tmp_path / "notify.db")
    controller = FakeController({a["metadata"]["name"]: a for a in apps or []})
    clock = FakeClock()
    outcomes: list[DeliveryOutcome] = []
    delivery = new_delivery(sandbox, store, outcomes, **delivery_options)
    notifier = Notifier(settings, controller, store, delivery, clock)
    try:
        yield Pipeline(sandbox, controller, clock, store, delivery, notifier, outcomes)
    finally:
        delivery.stop()
        store.close()
        if own:
            sandbox.stop()


def channel_messages(slack: SlackSandbox, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """Top-level messages of a channel as the sandbox shows them (replies nested)."""
    messages: list[dict[str, Any]] = slack.messages(channel)["messages"]
    return messages


def all_posts(slack: SlackSandbox, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """Every message of a channel, replies included, in posting order."""
    found: list[dict[str, Any]] = []
    for message in channel_messages(slack, channel):
        found.append(message)
        found.extend(message.get("replies") or [])
    return sorted(found, key=lambda m: float(m["ts"]))


def visible_text(message: Mapping[str, Any]) -> str:
    """Everything a person could read in a message: text, attachments and blocks."""
    return json.dumps(
        {k: message.get(k) for k in ("text", "attachments", "blocks")}, ensure_ascii=False
    )


def drive(p: Pipeline, data: dict[str, Any], event: Event | None = None, times: int = 2) -> None:
    """Show the notifier the app in state ``data`` (``times`` events, as flapping controllers
    send several) and wait for the deliveries."""
    p.controller.set(data)
    name = data["metadata"]["name"]
    for _ in range(times):
        p.notifier.handle(
            event or SyncStatusChanged(app=name, time=datetime.fromtimestamp(p.clock(), UTC))
        )
    p.settle()


def sync_running(app: str, revision: str, commit: CommitSummary | None = None) -> SyncRunning:
    return SyncRunning(
        app=app, time=datetime(2024, 6, 1, tzinfo=UTC), revision=revision, commit=commit
    )
