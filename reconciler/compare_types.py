"""The result of comparing an app's desired objects with the cluster, and the dry-run cache.

Kept apart from ``reconciler.compare`` so readers of a Comparison (the sync planner, the
controller, notifications, the bot) need not import the comparison machinery.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from reconciler.health import Health
from reconciler.jsoncopy import json_copy
from reconciler.model import ResourceKey

COMPARISON_ERROR: Final = "ComparisonError"
SHARED_RESOURCE_WARNING: Final = "SharedResourceWarning"
REPEATED_RESOURCE_WARNING: Final = "RepeatedResourceWarning"


@dataclass(frozen=True)
class Condition:
    """An app condition as Argo CD reports them: ``type`` (ComparisonError,
    SharedResourceWarning, RepeatedResourceWarning, ...) and a message for people."""

    type: str
    message: str


@dataclass
class ResourceStatus:
    """One resource of an app.

    ``status`` is Synced, OutOfSync or Unknown, and None for hooks (which are not compared).
    ``desired`` is the object as kajitori would apply it (namespace filled in, tracking
    annotation set) and ``live`` the cluster's copy; both hold real values, Secret data
    included, and must never be shown to people: ``diff`` is the masked unified diff for that
    ("" when Synced). ``requires_pruning`` marks a live object this app tracks that is no
    longer desired; ``ignore_extraneous`` marks such an object whose compare-options say
    IgnoreExtraneous (it does not make the app OutOfSync). ``message`` explains anything
    unusual (a missing namespace, a failed dry-run)."""

    key: ResourceKey
    status: str | None
    health: Health | None
    desired: dict[str, Any] | None
    live: dict[str, Any] | None
    diff: str = ""
    requires_pruning: bool = False
    hook: bool = False
    ignore_extraneous: bool = False
    message: str = ""


@dataclass
class Comparison:
    """An app's comparison: per-resource results, the app's sync status (Synced, OutOfSync,
    Unknown) and health (worst of its non-hook resources), and conditions."""

    revision: str
    resources: list[ResourceStatus] = field(default_factory=list)
    sync_status: str = "Unknown"
    health_status: str = "Unknown"
    conditions: list[Condition] = field(default_factory=list)

    @property
    def out_of_sync(self) -> list[ResourceStatus]:
        """The resources that differ (hooks never do)."""
        return [r for r in self.resources if r.status == "OutOfSync"]

    def resource(self, key: ResourceKey) -> ResourceStatus | None:
        return next((r for r in self.resources if r.key == key), None)


class DryRunCache:
    """Server-side-apply dry-run results keyed on (resource, sha256 of the object sent, live
    resourceVersion), least recently used first out. A poll where neither Git nor the live
    object changed then costs no dry-run request. Thread-safe; share one per controller."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._entries: OrderedDict[tuple[ResourceKey, str, str], dict[str, Any]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(
        resource: ResourceKey, sent: Mapping[str, Any], live_version: str
    ) -> tuple[ResourceKey, str, str]:
        encoded = json.dumps(sent, sort_keys=True, separators=(",", ":"), default=str)
        return resource, hashlib.sha256(encoded.encode("utf-8")).hexdigest(), live_version

    def get(self, key: tuple[ResourceKey, str, str]) -> dict[str, Any] | None:
        """The cached prediction for ``key`` as a copy the caller may change; None (a miss)
        when absent."""
        found = self.get_shared(key)
        return json_copy(found) if found is not None else None

    def get_shared(self, key: tuple[ResourceKey, str, str]) -> dict[str, Any] | None:
        """Like ``get`` but without the copy: the cached object itself, which the caller must
        treat as read-only (a comparison only reads it: ``diff`` never changes its arguments).
        The cache never changes a stored object, it only replaces or drops it, so the object
        stays valid after later puts."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: tuple[ResourceKey, str, str], predicted: Mapping[str, Any]) -> None:
        """Remember ``predicted`` (a copy of it: the caller keeps its object) under ``key``."""
        stored = json_copy(dict(predicted))
        with self._lock:
            self._entries[key] = stored
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
