"""Who gets which notification: subscriptions from the settings and from annotations.

Sources, merged per trigger and deduplicated by (service, channel):

1. the app's annotations and its AppProject's annotations, in Argo CD's forms
   (:mod:`bot.notify.subscriptions_annotations`);
2. the ``subscriptions`` of the settings' ``notifications`` section (global subscriptions;
   :mod:`bot.notify.notify_settings` parses the section into :class:`NotificationSettings`),
   each optionally limited by a label ``selector`` (Argo's), and by ``apps`` and ``projects``
   name lists (kajitori's, for per-app and per-project subscriptions kept in the settings
   rather than in the manifests).

``settings.destinations(app, project, trigger)`` answers "who gets this firing";
``settings.subscribed_triggers(app, project)`` lists the triggers worth evaluating for an app
(those with at least one destination), as Argo CD does. ``app`` is a
:class:`reconciler.model.Application` or an Argo-shaped dict, ``project`` an
:class:`reconciler.model.AppProject`, an Argo-shaped dict or None.

A subscription that names no trigger means the default triggers: ``defaultTriggers.<service>``
when set, else ``defaultTriggers``. Only services kajitori can deliver (``slack``) are returned
by default; annotations for other services (``email``...) are left alone, as Argo CD may still
be reading them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bot.notify.subscriptions_annotations import Destination, read_annotations
from bot.notify.subscriptions_selector import LabelSelector
from bot.notify.templates import Template
from bot.notify.templates_catalog import templates_with_catalog
from bot.notify.triggers import Trigger
from bot.notify.triggers_catalog import triggers_with_catalog
from reconciler.model import Application, AppProject

SUPPORTED_SERVICES: Final = ("slack",)
DEFAULT_TRIGGERS: Final = ("on-deployed", "on-sync-failed", "on-health-degraded")

AppLike = Application | Mapping[str, Any]
ProjectLike = AppProject | Mapping[str, Any] | None

__all__ = [
    "DEFAULT_TRIGGERS",
    "SUPPORTED_SERVICES",
    "Destination",
    "NotificationSettings",
    "Subscription",
    "destinations",
    "subscribed_triggers",
    "subscription_problems",
]


@dataclass(frozen=True)
class Subscription:
    """A global subscription: ``recipients`` get ``triggers`` (empty: the default triggers)
    for every app whose labels match ``selector``, whose name is in ``apps`` and whose
    project is in ``projects`` (empty lists: any)."""

    recipients: tuple[Destination, ...]
    triggers: tuple[str, ...] = ()
    selector: LabelSelector = field(default_factory=LabelSelector)
    apps: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()

    def applies_to(self, app: str, project: str, labels: Mapping[str, str]) -> bool:
        if self.apps and app not in self.apps:
            return False
        if self.projects and project not in self.projects:
            return False
        return self.selector.matches(labels)


def _catalog_triggers() -> dict[str, Trigger]:
    return triggers_with_catalog({})


def _catalog_templates() -> dict[str, Template]:
    return templates_with_catalog({})


@dataclass(frozen=True)
class NotificationSettings:
    """The typed ``notifications`` section: ``triggers`` and ``templates`` (built-in ones
    included), global ``subscriptions``, the default triggers (overall and per service) and
    the ``context`` templates and triggers see."""

    triggers: Mapping[str, Trigger] = field(default_factory=_catalog_triggers)
    templates: Mapping[str, Template] = field(default_factory=_catalog_templates)
    subscriptions: tuple[Subscription, ...] = ()
    default_triggers: tuple[str, ...] = DEFAULT_TRIGGERS
    service_default_triggers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)

    def default_triggers_for(self, service: str) -> tuple[str, ...]:
        """``defaultTriggers.<service>`` when set, else ``defaultTriggers``."""
        return self.service_default_triggers.get(service, self.default_triggers)

    def subscribed_triggers(
        self, app: AppLike, project: ProjectLike = None
    ) -> dict[str, tuple[Destination, ...]]:
        """:func:`subscribed_triggers` with these settings."""
        return subscribed_triggers(self, app, project)

    def destinations(self, app: AppLike, project: ProjectLike, trigger: str) -> list[Destination]:
        """:func:`destinations` with these settings."""
        return destinations(self, app, project, trigger)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


class _AppView:
    """The parts of an app (model object or Argo-shaped dict) subscriptions read."""

    def __init__(self, app: AppLike) -> None:
        if isinstance(app, Application):
            self.name = app.name
            self.project = app.spec.project
            self.labels = dict(app.labels)
            self.annotations = dict(app.annotations)
            return
        meta = _mapping(app.get("metadata"))
        spec = _mapping(app.get("spec"))
        self.name = str(meta.get("name") or "")
        self.project = str(spec.get("project") or "default")
        self.labels = _strings(meta.get("labels"))
        self.annotations = _strings(meta.get("annotations"))


def _project_view(project: ProjectLike) -> tuple[str, dict[str, str]]:
    if project is None:
        return "", {}
    if isinstance(project, AppProject):
        return project.name, dict(project.annotations)
    meta = _mapping(project.get("metadata"))
    return str(meta.get("name") or ""), _strings(meta.get("annotations"))


class _Collector:
    def __init__(self, settings: NotificationSettings, services: Collection[str]) -> None:
        self.settings = settings
        self.services = services
        self.by_trigger: dict[str, list[Destination]] = {}
        self.problems: list[str] = []

    def add(self, trigger: str | None, dest: Destination, origin: str) -> None:
        if dest.service not in self.services:
            return
        names = self.settings.default_triggers_for(dest.service) if trigger is None else (trigger,)
        for name in names:
            if name not in self.settings.triggers:
                self.problems.append(f"{origin}: unknown trigger '{name}'")
                continue
            found = self.by_trigger.setdefault(name, [])
            if dest not in found:
                found.append(dest)


def _collect(
    settings: NotificationSettings, app: AppLike, project: ProjectLike, services: Collection[str]
) -> _Collector:
    view = _AppView(app)
    project_name, project_annotations = _project_view(project)
    collector = _Collector(settings, services)
    app_where = f"Application {view.name}"
    project_where = f"AppProject {project_name or view.project}"
    sources = (
        (app_where, read_annotations(view.annotations, where=app_where)),
        (project_where, read_annotations(project_annotations, where=project_where, legacy=True)),
    )
    for where, source in sources:
        collector.problems.extend(source.problems)
        for sub in source.subscriptions:
            collector.add(sub.trigger, sub.destination, f"{where}: annotation {sub.annotation}")
    for index, subscription in enumerate(settings.subscriptions):
        if not subscription.applies_to(view.name, view.project, view.labels):
            continue
        triggers: tuple[str | None, ...] = subscription.triggers or (None,)
        for dest in subscription.recipients:
            for trigger in triggers:
                collector.add(trigger, dest, f"notifications.subscriptions[{index}]")
    return collector


def subscribed_triggers(
    settings: NotificationSettings,
    app: AppLike,
    project: ProjectLike = None,
    *,
    services: Collection[str] = SUPPORTED_SERVICES,
) -> dict[str, tuple[Destination, ...]]:
    """Every trigger with at least one destination for ``app``, with its destinations in
    order (app annotations, project annotations, settings), deduplicated. Only these
    triggers need evaluating, as in Argo CD."""
    collected = _collect(settings, app, project, services)
    return {name: tuple(dests) for name, dests in collected.by_trigger.items()}


def destinations(
    settings: NotificationSettings,
    app: AppLike,
    project: ProjectLike,
    trigger: str,
    *,
    services: Collection[str] = SUPPORTED_SERVICES,
) -> list[Destination]:
    """Where notifications of ``trigger`` about ``app`` (in ``project``) go, deduplicated."""
    return list(subscribed_triggers(settings, app, project, services=services).get(trigger, ()))


def subscription_problems(
    settings: NotificationSettings, app: AppLike, project: ProjectLike = None
) -> list[str]:
    """Problems in the subscription annotations of ``app`` and ``project`` (malformed
    annotations, unknown triggers), each naming the object and annotation; for logs and
    ``kajitori check``. Annotations of other services are not problems."""
    collected = _collect(settings, app, project, services=SUPPORTED_SERVICES)
    return list(dict.fromkeys(collected.problems))
