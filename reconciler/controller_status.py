"""An app's status as the controller keeps it (``AppRecord``) and the Argo CD-shaped
Application document built from it (``app_document``), which the bot, notification triggers
and templates read.

The record is what a refresh learns (sync status and revision, health and when it last
changed, conditions with their transition times, the resources, when it was reconciled) plus
the controller's bookkeeping that must survive a restart (when the app was first seen, the
self-heal attempts at the current revision, the drift already reported). It is stored as JSON
in the runtime store after every refresh.

Pure: times are passed in (RFC 3339 strings or unix seconds); no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from reconciler.compare_types import Comparison, Condition
from reconciler.controller_api import AppSummary
from reconciler.history import HistoryEntry
from reconciler.model import UNKNOWN, Application, Automated
from reconciler.state_runtime import Override

API_VERSION: Final = "argoproj.io/v1alpha1"
SYNC_ERROR: Final = "SyncError"


@dataclass
class AppRecord:
    """One app's persisted status and bookkeeping (see the module docstring)."""

    created_at: str = ""
    sync_status: str = UNKNOWN
    revision: str = ""
    health_status: str = UNKNOWN
    health_message: str = ""
    health_changed_at: str = ""
    conditions: list[dict[str, str]] = field(default_factory=list)
    reconciled_at: str = ""
    resources: list[dict[str, Any]] = field(default_factory=list)
    commit: dict[str, str] = field(default_factory=dict)
    self_heal_revision: str = ""
    self_heal_attempts: int = 0
    drift_signature: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AppRecord:
        """A record read back; unknown or malformed fields are dropped (a record is a cache
        of what the next refresh recomputes, so a damaged one is not fatal)."""
        record = cls()
        if not isinstance(data, Mapping):
            return record
        for name, default in asdict(record).items():
            value = data.get(name, default)
            if isinstance(value, type(default)):
                setattr(record, name, value)
        return record

    def condition_types(self) -> list[str]:
        return [str(c.get("type", "")) for c in self.conditions]


def merge_conditions(
    previous: Sequence[Mapping[str, str]], current: Sequence[Condition], now: str
) -> list[dict[str, str]]:
    """``current`` as Argo CD condition dicts; a condition already present (same type and
    message) keeps its ``lastTransitionTime``, a new one gets ``now``."""
    seen = {(str(c.get("type")), str(c.get("message"))): c for c in previous}
    merged: list[dict[str, str]] = []
    for condition in current:
        old = seen.get((condition.type, condition.message))
        since = str(old.get("lastTransitionTime", now)) if old else now
        merged.append(
            {"type": condition.type, "message": condition.message, "lastTransitionTime": since}
        )
    return merged


def resource_entries(comparison: Comparison) -> list[dict[str, Any]]:
    """Argo CD's ``status.resources``: one entry per resource, without desired or live
    objects (those may hold secrets) and without diffs."""
    entries: list[dict[str, Any]] = []
    for resource in comparison.resources:
        source = resource.desired or resource.live or {}
        api_version = str(source.get("apiVersion", ""))
        entry: dict[str, Any] = {
            "group": resource.key.group,
            "version": api_version.rpartition("/")[2],
            "kind": resource.key.kind,
            "namespace": resource.key.namespace,
            "name": resource.key.name,
            "status": resource.status or "",
        }
        if resource.health is not None:
            entry["health"] = {"status": str(resource.health.status)}
            if resource.health.message:
                entry["health"]["message"] = resource.health.message
        if resource.hook:
            entry["hook"] = True
        if resource.requires_pruning:
            entry["requiresPruning"] = True
        entries.append(entry)
    return entries


def spec_dict(app: Application, automated: Automated | None) -> dict[str, Any]:
    """The app's spec in Argo CD's field names, with the automated policy in effect now
    (``automated``: the spec's, changed by run-time switches)."""
    spec = app.spec
    source = spec.source
    source_dict: dict[str, Any] = {
        "repoURL": source.repo_url,
        "path": source.path,
        "targetRevision": source.target_revision,
    }
    policy: dict[str, Any] = {}
    if automated is not None:
        policy["automated"] = {
            "prune": automated.prune,
            "selfHeal": automated.self_heal,
            "allowEmpty": automated.allow_empty,
        }
    if spec.sync_policy.sync_options:
        policy["syncOptions"] = list(spec.sync_policy.sync_options)
    if spec.sync_policy.retry is not None:
        retry = spec.sync_policy.retry
        policy["retry"] = {
            "limit": retry.limit,
            "backoff": {
                "duration": f"{retry.backoff.duration:g}s",
                "factor": retry.backoff.factor,
                "maxDuration": f"{retry.backoff.max_duration:g}s",
            },
        }
    result: dict[str, Any] = {
        "project": spec.project,
        "source": source_dict,
        "destination": {
            key: value
            for key, value in (
                ("server", spec.destination.server),
                ("name", spec.destination.name),
                ("namespace", spec.destination.namespace),
            )
            if value
        },
        "revisionHistoryLimit": spec.revision_history_limit,
    }
    if policy:
        result["syncPolicy"] = policy
    return result


def summary_of(
    app: Application,
    record: AppRecord,
    *,
    auto_sync: bool,
    self_heal: bool,
    operation_phase: str,
) -> AppSummary:
    """The app's line in ``/gitops apps``."""
    return AppSummary(
        name=app.name,
        project=app.spec.project,
        sync_status=record.sync_status,
        health_status=record.health_status,
        revision=record.revision,
        auto_sync=auto_sync,
        self_heal=self_heal,
        operation_phase=operation_phase,
    )


def app_document(
    app: Application,
    record: AppRecord,
    *,
    automated: Automated | None,
    operation: Mapping[str, Any] | None,
    history: Sequence[HistoryEntry],
    overrides: Mapping[str, Override],
) -> dict[str, Any]:
    """The app as an Argo CD Application: metadata (with creationTimestamp), spec and
    status (sync, health, operationState, history, conditions, reconciledAt, resources).
    kajitori's run-time switches are under ``status.overrides``."""
    metadata: dict[str, Any] = {"name": app.name, "namespace": app.namespace}
    if record.created_at:
        metadata["creationTimestamp"] = record.created_at
    if app.labels:
        metadata["labels"] = dict(app.labels)
    if app.annotations:
        metadata["annotations"] = dict(app.annotations)
    source = app.spec.source
    health: dict[str, Any] = {"status": record.health_status}
    if record.health_message:
        health["message"] = record.health_message
    if record.health_changed_at:
        health["lastTransitionTime"] = record.health_changed_at
    status: dict[str, Any] = {
        "sync": {
            "status": record.sync_status,
            "revision": record.revision,
            "comparedTo": {
                "source": {
                    "repoURL": source.repo_url,
                    "path": source.path,
                    "targetRevision": source.target_revision,
                },
                "destination": spec_dict(app, None)["destination"],
            },
        },
        "health": health,
        "history": [entry.to_dict() for entry in history],
        "conditions": [dict(c) for c in record.conditions],
        "resources": [dict(r) for r in record.resources],
    }
    if record.reconciled_at:
        status["reconciledAt"] = record.reconciled_at
    if operation is not None:
        status["operationState"] = dict(operation)
    if overrides:
        status["overrides"] = {
            name: {"enabled": o.enabled, "changedBy": o.changed_by, "changedAt": o.changed_at}
            for name, o in sorted(overrides.items())
        }
    if record.commit:
        status["revisionInfo"] = dict(record.commit)
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": metadata,
        "spec": spec_dict(app, automated),
        "status": status,
    }


__all__ = [
    "API_VERSION",
    "SYNC_ERROR",
    "AppRecord",
    "app_document",
    "merge_conditions",
    "resource_entries",
    "spec_dict",
    "summary_of",
]
