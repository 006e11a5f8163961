"""The reconciler's events: what happened to an app, as small frozen dataclasses.

The controller publishes one of these whenever something a person may want to hear about
happens (an app appeared, a sync started or ended, health or sync status changed, drift was
found, a hook waits for approval); notifications, the audit log and metrics subscribe to them
through ``reconciler.events.EventBus``. Every event carries the app's name, its project and
the time it happened (timezone-aware, UTC), plus what a message about it needs: the revision
and commit, who started the operation, the resources involved and a human message.

Events are plain data: ``to_dict`` turns one into JSON-serialisable primitives (for the state
store's event log and JSON logs) and ``event_from_dict`` turns that back into the same event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

from reconciler.model import ResourceKey

# Who started an operation when nobody did: Argo's InitiatedBy.Automated.
AUTOMATED: Final = "automated"


@dataclass(frozen=True)
class CommitSummary:
    """The commit a revision points at, as a message shows it."""

    sha: str
    author: str = ""
    message: str = ""
    date: str = ""

    @property
    def title(self) -> str:
        """The first line of the commit message."""
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


@dataclass(frozen=True)
class ResourceResult:
    """What a sync did to one resource (Argo's syncResult.resources entry): ``status`` is
    Synced, SyncFailed, Pruned or PruneSkipped; ``hook_phase`` is set for hooks."""

    key: ResourceKey
    status: str
    message: str = ""
    hook_phase: str = ""


@dataclass(frozen=True)
class ResourceHealth:
    """The health of one resource when an app's health changed."""

    key: ResourceKey
    status: str
    message: str = ""


@dataclass(frozen=True)
class DriftChange:
    """One live object that no longer matches Git: the changed field paths (``spec.replicas``),
    the field managers that last wrote them (``kubectl-edit``), and the masked diff."""

    key: ResourceKey
    fields: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()
    diff: str = ""


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event: ``app`` (its name), ``time`` (UTC) and ``project``."""

    app: str
    time: datetime
    project: str = "default"

    @property
    def type(self) -> str:
        """The event's type name, e.g. ``SyncFailed``."""
        return type(self).__name__

    def summary(self) -> str:
        """One line saying what happened, for logs and headless mode."""
        return f"app {self.app}: {self.type}"

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-serialisable primitives, with its ``type``."""
        data: dict[str, Any] = {"type": self.type}
        for item in fields(self):
            data[item.name] = _encode(getattr(self, item.name))
        return data


@dataclass(frozen=True, kw_only=True)
class AppAdded(Event):
    """An app appeared in the configuration (or was seen for the first time)."""

    repo_url: str = ""
    path: str = ""
    target_revision: str = ""
    dest_namespace: str = ""

    def summary(self) -> str:
        return f"app {self.app} added ({self.repo_url} {self.path} @ {self.target_revision})"


@dataclass(frozen=True, kw_only=True)
class AppRemoved(Event):
    """An app was removed from the configuration."""

    def summary(self) -> str:
        return f"app {self.app} removed"


@dataclass(frozen=True, kw_only=True)
class _Operation(Event):
    """Fields every sync operation event carries."""

    revision: str = ""
    initiated_by: str = AUTOMATED
    started_at: datetime | None = None
    commit: CommitSummary | None = None
    message: str = ""

    def _who(self) -> str:
        return "auto-sync" if self.initiated_by == AUTOMATED else self.initiated_by


@dataclass(frozen=True, kw_only=True)
class SyncRunning(_Operation):
    """A sync operation started (Argo's operationState.phase Running)."""

    def summary(self) -> str:
        return f"app {self.app}: sync to {_short(self.revision)} started by {self._who()}"


@dataclass(frozen=True, kw_only=True)
class SyncSucceeded(_Operation):
    """A sync operation ended with phase Succeeded."""

    resources: tuple[ResourceResult, ...] = ()

    def summary(self) -> str:
        return (
            f"app {self.app}: sync to {_short(self.revision)} succeeded "
            f"({len(self.resources)} resources)"
        )


@dataclass(frozen=True, kw_only=True)
class SyncFailed(_Operation):
    """A sync operation ended with phase Failed or Error; ``retrying`` when a retry follows."""

    phase: str = "Failed"
    resources: tuple[ResourceResult, ...] = ()
    retrying: bool = False

    def summary(self) -> str:
        more = " (will retry)" if self.retrying else ""
        return f"app {self.app}: sync to {_short(self.revision)} failed: {self.message}{more}"


@dataclass(frozen=True, kw_only=True)
class HealthChanged(Event):
    """The app's aggregated health status changed (Healthy, Progressing, Degraded, ...);
    ``resources`` lists the resources that are not Healthy."""

    previous: str = ""
    current: str = ""
    message: str = ""
    revision: str = ""
    resources: tuple[ResourceHealth, ...] = ()

    def summary(self) -> str:
        return f"app {self.app}: health {self.previous or '-'} -> {self.current}"


@dataclass(frozen=True, kw_only=True)
class SyncStatusChanged(Event):
    """The app's sync status changed (Synced, OutOfSync, Unknown)."""

    previous: str = ""
    current: str = ""
    revision: str = ""

    def summary(self) -> str:
        return f"app {self.app}: sync status {self.previous or '-'} -> {self.current}"


@dataclass(frozen=True, kw_only=True)
class DriftDetected(Event):
    """Live objects were changed outside Git. ``self_heal`` says whether kajitori will revert
    them (True) or only report them (False)."""

    revision: str = ""
    changes: tuple[DriftChange, ...] = ()
    self_heal: bool = False

    def summary(self) -> str:
        managers = sorted({m for change in self.changes for m in change.managers})
        by = f" by {', '.join(managers)}" if managers else ""
        action = "reverting" if self.self_heal else "left as is"
        return f"app {self.app}: drift in {len(self.changes)} resources{by} ({action})"


@dataclass(frozen=True, kw_only=True)
class ApprovalRequested(Event):
    """A sync waits for a person to approve a step (a database migration hook).
    ``approval_id`` names the request in the approve/reject API."""

    approval_id: str
    revision: str = ""
    resource: ResourceKey | None = None
    message: str = ""
    initiated_by: str = AUTOMATED
    commit: CommitSummary | None = None

    def summary(self) -> str:
        what = f" for {self.resource}" if self.resource else ""
        return f"app {self.app}: approval {self.approval_id} requested{what}: {self.message}"


@dataclass(frozen=True, kw_only=True)
class RollbackCompleted(Event):
    """The merged revert of a rollback is deployed (``reconciler.rollback_git``): Git
    (``revision``, the branch head with the merge) and the cluster agree again, and auto-sync
    was resumed (``auto_sync``; False when it was off before the rollback). ``thread_url``
    links the chat thread the rollback was confirmed in, when the bot gave one."""

    revision: str
    target: str
    pull_request_url: str = ""
    thread_url: str = ""
    auto_sync: bool = True

    def summary(self) -> str:
        return (
            f"app {self.app}: rollback to {self.target[:7]} merged in Git; Git and cluster "
            f"agree at {self.revision[:7]}" + ("; auto-sync resumed" if self.auto_sync else "")
        )


EVENT_TYPES: Final[Mapping[str, type[Event]]] = {
    cls.__name__: cls
    for cls in (
        AppAdded,
        AppRemoved,
        SyncRunning,
        SyncSucceeded,
        SyncFailed,
        HealthChanged,
        SyncStatusChanged,
        DriftDetected,
        ApprovalRequested,
        RollbackCompleted,
    )
}


def _short(revision: str) -> str:
    return revision[:7] if len(revision) == 40 else revision or "?"


# -- (de)serialisation -------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, ResourceKey):
        return {
            "group": value.group,
            "kind": value.kind,
            "namespace": value.namespace,
            "name": value.name,
        }
    if isinstance(value, CommitSummary | ResourceResult | ResourceHealth | DriftChange):
        return {item.name: _encode(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    return value


class _Decoder:
    """Turns the primitives of ``to_dict`` back into field values, by field name."""

    def __init__(self, event_type: type[Event]) -> None:
        self.event_type = event_type

    def value(self, name: str, raw: Any) -> Any:
        if raw is None:
            return None
        if name in ("time", "started_at"):
            return datetime.fromisoformat(str(raw))
        if name == "resource":
            return _key(raw)
        if name == "commit":
            return CommitSummary(**raw)
        if name == "changes":
            return tuple(
                DriftChange(
                    key=_key(item["key"]),
                    fields=tuple(item.get("fields") or ()),
                    managers=tuple(item.get("managers") or ()),
                    diff=str(item.get("diff") or ""),
                )
                for item in raw
            )
        if name == "resources":
            cls = ResourceHealth if self.event_type is HealthChanged else ResourceResult
            return tuple(cls(**{**item, "key": _key(item["key"])}) for item in raw)
        return raw


def _key(raw: Mapping[str, Any]) -> ResourceKey:
    return ResourceKey(
        str(raw.get("group", "")),
        str(raw["kind"]),
        str(raw.get("namespace", "")),
        str(raw["name"]),
    )


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """The event ``to_dict`` produced. ValueError naming the problem for anything else."""
    type_name = str(data.get("type", ""))
    event_type = EVENT_TYPES.get(type_name)
    if event_type is None:
        raise ValueError(f"unknown event type {type_name!r}")
    decoder = _Decoder(event_type)
    known = {item.name for item in fields(event_type)}
    unknown = sorted(set(data) - known - {"type"})
    if unknown:
        raise ValueError(f"event {type_name} has unknown field(s): {', '.join(unknown)}")
    try:
        values = {name: decoder.value(name, raw) for name, raw in data.items() if name != "type"}
        return event_type(**values)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"event {type_name} is malformed: {exc}") from None


__all__ = [
    "AUTOMATED",
    "EVENT_TYPES",
    "AppAdded",
    "AppRemoved",
    "ApprovalRequested",
    "CommitSummary",
    "DriftChange",
    "DriftDetected",
    "Event",
    "HealthChanged",
    "ResourceHealth",
    "ResourceResult",
    "RollbackCompleted",
    "SyncFailed",
    "SyncRunning",
    "SyncStatusChanged",
    "SyncSucceeded",
    "event_from_dict",
]
