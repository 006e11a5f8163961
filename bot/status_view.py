"""The controller's answers → the inputs of the read-only listings (``/gitops``).

``ControllerAPI.apps()`` gives :class:`~reconciler.controller_api.AppSummary` rows and
``app_status(app)`` an Argo-shaped Application dict (``status.sync``, ``status.health``,
``status.resources``, ``status.conditions``, ``status.operationState``); the builders in
:mod:`bot.blocks_listing` take :class:`~bot.views.AppRow` and :class:`~bot.views.StatusView`.
Reading is tolerant: a missing or mistyped field shows as unknown rather than failing the
command. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.views import AppRow, ResourceRow, StatusView
from reconciler.controller_api import AppSummary
from reconciler.model import ResourceKey


def app_row(summary: AppSummary) -> AppRow:
    """A listing row from the controller's summary."""
    return AppRow(
        name=summary.name,
        project=summary.project,
        sync_status=summary.sync_status or "Unknown",
        health_status=summary.health_status or "Unknown",
        revision=summary.revision,
        auto_sync=summary.auto_sync,
        self_heal=summary.self_heal,
        operation_phase=summary.operation_phase,
    )


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _time(value: Any) -> datetime | None:
    text = _text(value).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def current_revision(app_status: Mapping[str, Any]) -> str:
    """The revision the app is synced to (``status.sync.revision``), "" when unknown."""
    return _text(_map(_map(app_status.get("status")).get("sync")).get("revision"))


def _resource_rows(resources: Any) -> list[ResourceRow]:
    rows = []
    for item in resources if isinstance(resources, list) else []:
        entry = _map(item)
        if not entry:
            continue
        sync = _text(entry.get("status"))
        health = _map(entry.get("health"))
        health_status = _text(health.get("status"))
        if sync in ("Synced", "") and health_status in ("Healthy", ""):
            continue
        key = ResourceKey(
            _text(entry.get("group")),
            _text(entry.get("kind")),
            _text(entry.get("namespace")),
            _text(entry.get("name")),
        )
        rows.append(ResourceRow(key, sync, health_status, _text(health.get("message"))))
    return rows


def status_view(
    app_status: Mapping[str, Any], *, name: str, project: str, auto_sync: bool, self_heal: bool
) -> StatusView:
    """The detailed status of one app: its row, the resources that are not Synced and
    Healthy, the conditions' messages and the last operation's end."""
    status = _map(app_status.get("status"))
    sync = _map(status.get("sync"))
    health = _map(status.get("health"))
    operation = _map(status.get("operationState"))
    row = AppRow(
        name=name,
        project=project,
        sync_status=_text(sync.get("status")) or "Unknown",
        health_status=_text(health.get("status")) or "Unknown",
        revision=_text(sync.get("revision")),
        auto_sync=auto_sync,
        self_heal=self_heal,
        operation_phase=_text(operation.get("phase")),
        message=_text(health.get("message")),
    )
    conditions = []
    for item in status.get("conditions") or []:
        condition = _map(item)
        text = _text(condition.get("message"))
        kind = _text(condition.get("type"))
        if text:
            conditions.append(f"{kind}: {text}" if kind else text)
    return StatusView(
        app=row,
        resources=_resource_rows(status.get("resources")),
        conditions=conditions,
        last_synced_at=_time(operation.get("finishedAt")),
    )
