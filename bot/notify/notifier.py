"""The notifier: reconciler events in, Slack notifications out, the argocd-notifications way.

``Notifier`` subscribes to the controller's :class:`~reconciler.events.EventBus`. On each
event it reads the app as an Argo-shaped dict (``controller.app_status``), evaluates the
triggers that have at least one destination for that app (app and project annotations,
global subscriptions) against the app's persisted dedup state, renders each firing's
templates once per destination (with the commit and drift the events carried) and hands the
deliveries to Slack (or, headless, to the log). A periodic :meth:`Notifier.resync` does the
same for every app, as Argo's 60 s resync does, so debounced triggers (drift) fire without a
new event and an app removed while kajitori was down still gets ``on-deleted``.

No burst at start-up: the first time an app is evaluated (no stored state) every condition
that is true now is recorded as already notified, unless the app appeared after the notifier
started (then it is new, and ``on-created`` and friends fire). An app is evaluated only once
the controller has compared it (it has a sync status), so the baseline is taken over real
status, not blanks. The new trigger state and the new deliveries are stored in one
transaction before anything is sent, which with the delivery keys makes each notification go
out once, also across restarts.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from bot.notify.delivery import Delivery, LogDelivery
from bot.notify.delivery_types import DeliveryRecord, DeliveryRequest
from bot.notify.notifier_inputs import (
    AppMemory,
    deleted_view,
    project_dict,
    reconciled,
    with_creation_time,
)
from bot.notify.state import NotificationStore
from bot.notify.subscriptions import NotificationSettings, subscription_problems
from bot.notify.subscriptions_annotations import Destination
from bot.notify.templates import TemplateError, render_notification
from bot.notify.templates_vars import template_variables
from bot.notify.triggers import Firing, evaluate_triggers
from reconciler.controller_api import ControllerAPI, UnknownAppError
from reconciler.event_types import AppRemoved, Event
from reconciler.events import EventBus, Subscription
from reconciler.model import AppProject

log = logging.getLogger(__name__)

ProjectLookup = Callable[[str], AppProject | Mapping[str, Any] | None]
DEFAULT_RESYNC_INTERVAL: Final = 60.0
_NEVER_NEW: Final = -1.0
# Firings of one evaluation are sent in the order a deploy happens, so that a thread reads
# in order and a PostAndUpdate root ends showing the outcome ("deployed" after "synced").
_LIFECYCLE: Final = {
    "on-created": 0,
    "on-sync-running": 1,
    "on-approval-required": 2,
    "on-sync-failed": 3,
    "on-sync-succeeded": 3,
    "on-deployed": 4,
    "on-deleted": 9,
}
_OTHERS: Final = 5

__all__ = ["DEFAULT_RESYNC_INTERVAL", "Notifier", "ProjectLookup"]


class Notifier:
    """Evaluates triggers on events and delivers notifications (module docstring).

    ``delivery`` None means headless: a :class:`LogDelivery` logs each notification's text.
    ``clock`` is the wall clock in seconds (``time.time``). ``projects`` looks an AppProject
    up by name, for its annotations and the ``appProject`` variable (None: none known).
    Construct it once the controller knows its apps: apps known then are not "new"."""

    def __init__(
        self,
        settings: NotificationSettings,
        controller: ControllerAPI,
        store: NotificationStore,
        delivery: Delivery | None,
        clock: Callable[[], float] = time.time,
        *,
        projects: ProjectLookup | None = None,
        resync_interval: float = DEFAULT_RESYNC_INTERVAL,
    ) -> None:
        self.settings = settings
        self.controller = controller
        self.store = store
        self.delivery: Delivery = delivery if delivery is not None else LogDelivery(store)
        self.clock = clock
        self.projects = projects
        self.resync_interval = resync_interval
        self._memory = AppMemory()
        self._lock = threading.RLock()
        self._startup_apps = set(controller.app_names()) | set(store.known_apps())
        self._reported: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- wiring ------------------------------------------------------------------------------

    def subscribe(self, bus: EventBus, name: str = "notifications") -> Subscription:
        """Receive every event of ``bus`` (on the bus's thread for this subscriber)."""
        return bus.subscribe(self.handle, name)

    def start(self) -> Notifier:
        """Run :meth:`resync` every ``resync_interval`` seconds on a thread of its own."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="notify-resync", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.resync_interval):
            try:
                self.resync()
            except Exception:
                log.exception("notification resync failed")

    # -- entry points ------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """The EventBus callback: re-evaluate the app the event is about."""
        self._memory.observe(event)
        try:
            self.evaluate(event.app, event)
        except Exception:
            log.exception("notifications for app %s (%s) failed", event.app, event.type)

    def resync(self) -> None:
        """Evaluate every app now; apps gone from the configuration get ``on-deleted``."""
        names = self.controller.app_names()
        for name in names:
            try:
                self.evaluate(name)
            except Exception:
                log.exception("notifications for app %s failed", name)
        for gone in sorted(set(self.store.known_apps()) - set(names)):
            removed = AppRemoved(app=gone, time=self._now())
            try:
                self.evaluate(gone, removed)
            except Exception:
                log.exception("notifications for removed app %s failed", gone)

    def evaluate(self, app: str, event: Event | None = None) -> list[DeliveryRecord]:
        """Evaluate ``app``'s subscribed triggers now; returns the deliveries handed over."""
        with self._lock:
            data = self._app_view(app, event)
            if data is None:
                return []
            removed = isinstance(event, AppRemoved)
            self._memory.remember_app(app, data)
            added = self._evaluate(app, data, event)
            if removed:
                self.store.forget_app(app)
                self._memory.forget(app)
                self._startup_apps.discard(app)
        if added:
            self.delivery.submit([r for r in added if not r.finished])
        return added

    # -- steps -------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _app_view(self, app: str, event: Event | None) -> dict[str, Any] | None:
        if isinstance(event, AppRemoved):
            return deleted_view(self._memory.last_app(app), app, event)
        try:
            data = self.controller.app_status(app)
        except UnknownAppError:
            log.debug("notifications: app %s is not configured (any more)", app)
            return None
        return data if reconciled(data) else None

    def _project(self, data: Mapping[str, Any]) -> AppProject | Mapping[str, Any] | None:
        spec = data.get("spec")
        name = str(spec.get("project") or "default") if isinstance(spec, Mapping) else "default"
        if self.projects is None:
            return None
        try:
            return self.projects(name)
        except Exception:
            log.exception("notifications: looking up project %s failed", name)
            return None

    def _evaluate(
        self, app: str, data: Mapping[str, Any], event: Event | None
    ) -> list[DeliveryRecord]:
        project = self._project(data)
        self._report_problems(app, data, project)
        subscribed = self.settings.subscribed_triggers(data, project)
        stored = self.store.trigger_state(app)
        is_new = stored is None and app not in self._startup_apps
        now = self._now()
        if is_new:
            data = with_creation_time(data, now)
        evaluation = evaluate_triggers(
            [self.settings.triggers[name] for name in subscribed],
            data,
            self.settings.context,
            now,
            state=stored,
            app_project=project_dict(project),
            new_app_seconds=math.inf if is_new else _NEVER_NEW,
        )
        for error in evaluation.errors:
            log.warning("notifications for app %s: %s", app, error)
        records: list[DeliveryRecord] = []
        firings = sorted(evaluation.firings, key=lambda f: _LIFECYCLE.get(f.trigger, _OTHERS))
        for firing in firings:
            log.info(
                "trigger %s fired for app %s (%s)", firing.trigger, app, firing.once_per or "-"
            )
            for dest in subscribed.get(firing.trigger, ()):
                records.append(self._record(app, data, project, firing, dest, event))
        return self.store.record_evaluation(app, evaluation.state, records, self.clock())

    def _record(
        self,
        app: str,
        data: Mapping[str, Any],
        project: AppProject | Mapping[str, Any] | None,
        firing: Firing,
        dest: Destination,
        event: Event | None,
    ) -> DeliveryRecord:
        now = self.clock()
        key = f"{app}|{firing.key}|{dest}"
        variables = template_variables(
            data,
            context=self.settings.context,
            commit=self._memory.commit_for(app, data, event),
            app_project=project_dict(project),
            drift=self._memory.drift_for(app, data),
            service=dest.service,
            recipient=dest.channel,
        )
        try:
            notification = render_notification(self.settings.templates, firing.send, variables)
        except TemplateError as exc:
            log.error("notification %s for app %s not sent: %s", firing.trigger, app, exc)
            failed = DeliveryRequest(
                key, app, firing.trigger, dest.channel, {"text": ""}, dest.service, created_at=now
            )
            return DeliveryRecord(failed, status="failed", error=str(exc), updated_at=now)
        slack = notification.slack
        request = DeliveryRequest(
            key=key,
            app=app,
            trigger=firing.trigger,
            channel=dest.channel,
            payload=notification.slack_payload(),
            service=dest.service,
            grouping_key=slack.grouping_key if slack else "",
            policy=slack.delivery_policy if slack else "Post",
            notify_broadcast=slack.notify_broadcast if slack else False,
            username=slack.username if slack else "",
            icon=slack.icon if slack else "",
            created_at=now,
        )
        return DeliveryRecord(request, updated_at=now)

    def _report_problems(
        self, app: str, data: Mapping[str, Any], project: AppProject | Mapping[str, Any] | None
    ) -> None:
        """Log each subscription problem of the app once per process."""
        for problem in subscription_problems(self.settings, data, project):
            if problem not in self._reported:
                self._reported.add(problem)
                log.warning("notification subscriptions: %s", problem)
