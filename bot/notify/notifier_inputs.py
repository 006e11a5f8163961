"""What the notifier remembers between events, and the small views it takes of an app dict.

Events carry what the app dict does not: the commit (author, message) of a sync's revision,
and the objects and field managers of a drift. :class:`AppMemory` keeps the latest of these
per app (in memory: after a restart the next event brings them again), plus the last app dict
seen, so an app removed from the configuration can still be described by ``on-deleted``.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from reconciler.event_types import CommitSummary, DriftChange, DriftDetected, Event
from reconciler.model import AppProject

MAX_COMMITS_PER_APP: Final = 20
_REVISION_PATHS: Final = (
    ("status", "operationState", "syncResult", "revision"),
    ("status", "operationState", "operation", "sync", "revision"),
    ("status", "sync", "revision"),
)


def dig(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...`` or None where a step is missing."""
    for part in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def reconciled(app: Mapping[str, Any]) -> bool:
    """Whether the controller has compared the app at least once (it has a sync status or a
    ``reconciledAt``); before that, triggers would only see blanks."""
    return bool(dig(app, "status", "sync", "status") or dig(app, "status", "reconciledAt"))


def revisions(app: Mapping[str, Any]) -> list[str]:
    """The commits the app dict mentions, the synced one first."""
    found = [dig(app, *path) for path in _REVISION_PATHS]
    return [str(rev) for rev in dict.fromkeys(found) if isinstance(rev, str) and rev]


def project_dict(project: AppProject | Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``appProject`` variable: an Argo-shaped AppProject dict ({} when unknown)."""
    if project is None:
        return {}
    if isinstance(project, AppProject):
        return {
            "metadata": {"name": project.name, "annotations": dict(project.annotations)},
            "spec": {
                "description": project.description,
                "sourceRepos": list(project.source_repos),
            },
        }
    return copy.deepcopy(dict(project))


def deleted_view(last: Mapping[str, Any] | None, app: str, event: Event) -> dict[str, Any]:
    """The app as ``on-deleted`` sees it after its removal: the last dict seen (or a minimal
    one) with ``metadata.deletionTimestamp`` set to the event's time."""
    view: dict[str, Any] = copy.deepcopy(dict(last)) if last else {}
    metadata = view.setdefault("metadata", {})
    metadata.setdefault("name", app)
    metadata["deletionTimestamp"] = _stamp(event.time)
    spec = view.setdefault("spec", {})
    spec.setdefault("project", event.project)
    return view


def with_creation_time(data: Mapping[str, Any], now: datetime) -> Mapping[str, Any]:
    """``data`` with ``metadata.creationTimestamp`` set to ``now`` when the controller gave
    none (the triggers tell a new app by it)."""
    if dig(data, "metadata", "creationTimestamp"):
        return data
    view = copy.deepcopy(dict(data))
    metadata = view.get("metadata")
    view["metadata"] = {**(metadata if isinstance(metadata, Mapping) else {})}
    view["metadata"]["creationTimestamp"] = _stamp(now)
    return view


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class AppMemory:
    """Per app: the commits seen in events by sha, the latest drift report, the last app
    dict. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commits: dict[str, OrderedDict[str, CommitSummary]] = {}
        self._drift: dict[str, tuple[DriftChange, ...]] = {}
        self._apps: dict[str, dict[str, Any]] = {}

    def observe(self, event: Event) -> None:
        """Keep what ``event`` tells beyond the app dict."""
        with self._lock:
            commit = getattr(event, "commit", None)
            if isinstance(commit, CommitSummary) and commit.sha:
                commits: OrderedDict[str, CommitSummary] = self._commits.setdefault(
                    event.app, OrderedDict()
                )
                commits[commit.sha] = commit
                commits.move_to_end(commit.sha)
                while len(commits) > MAX_COMMITS_PER_APP:
                    commits.popitem(last=False)
            if isinstance(event, DriftDetected):
                self._drift[event.app] = event.changes

    def remember_app(self, app: str, data: Mapping[str, Any]) -> None:
        with self._lock:
            self._apps[app] = copy.deepcopy(dict(data))
            if dig(data, "status", "sync", "status") == "Synced":
                self._drift.pop(app, None)

    def last_app(self, app: str) -> dict[str, Any] | None:
        with self._lock:
            data = self._apps.get(app)
            return copy.deepcopy(data) if data is not None else None

    def commit_for(
        self, app: str, data: Mapping[str, Any], event: Event | None
    ) -> CommitSummary | None:
        """The commit to show: the event's own, else the one seen for the app's revision."""
        own = getattr(event, "commit", None)
        if isinstance(own, CommitSummary) and own.sha:
            return own
        with self._lock:
            commits = self._commits.get(app)
            for revision in revisions(data) if commits else []:
                if commits is not None and revision in commits:
                    return commits[revision]
        return None

    def drift_for(self, app: str, data: Mapping[str, Any]) -> tuple[DriftChange, ...] | None:
        """The latest drift report while the app is OutOfSync (None: read it from the
        app's ``status.resources``)."""
        if dig(data, "status", "sync", "status") != "OutOfSync":
            return None
        with self._lock:
            return self._drift.get(app)

    def forget(self, app: str) -> None:
        with self._lock:
            self._commits.pop(app, None)
            self._drift.pop(app, None)
            self._apps.pop(app, None)
