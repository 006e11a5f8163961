"""What drifted: the fields of live objects that no longer match Git, and who changed them.

When an app is OutOfSync at the revision it was last synced to, its live objects were changed
outside Git (``kubectl edit``, a controller, a person in a dashboard). People want to know what
and by whom, so a ``DriftChange`` per resource carries:

- ``fields``: the paths Git sets whose live value differs (``spec.replicas``,
  ``spec.template.spec.containers[name=web].image``). Only fields present in the desired
  object count: kajitori compares with server-side apply, so a field Git does not set is
  another manager's business and never drift;
- ``managers``: the field managers (from ``metadata.managedFields``) that own those paths
  now, other than kajitori; when none owns them (a field was removed) the manager of the most
  recent update is named instead;
- ``diff``: the comparison's masked unified diff (Secret values never appear).

Pure functions over plain dicts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from reconciler.compare_types import Comparison, ResourceStatus
from reconciler.diff import normalize
from reconciler.event_types import DriftChange
from reconciler.model import OUT_OF_SYNC

FIELD_MANAGER: Final = "kajitori"
MAX_FIELDS: Final = 20

Segment = str | tuple[str, str]  # a map key, or (key field, value) selecting a list item
Path = tuple[Segment, ...]


def _named_items(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and "name" in item for item in value)
    )


def _walk(desired: Any, live: Any, path: Path, out: list[Path]) -> None:
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            out.append(path)
            return
        for key in sorted(desired):
            if key not in live:
                out.append((*path, key))
            else:
                _walk(desired[key], live[key], (*path, key), out)
        return
    if _named_items(desired) and _named_items(live):
        by_name = {str(item["name"]): item for item in live}
        for item in desired:
            name = str(item["name"])
            selector: Segment = ("name", name)
            if name not in by_name:
                out.append((*path, selector))
            else:
                _walk(item, by_name[name], (*path, selector), out)
        return
    if desired != live:
        out.append(path)


def changed_paths(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[Path]:
    """Paths set in ``desired`` whose value in ``live`` differs (both normalised: no status,
    no server bookkeeping, no tracking annotation)."""
    out: list[Path] = []
    _walk(normalize(desired), normalize(live), (), out)
    return out


def format_path(path: Path) -> str:
    """``spec.template.spec.containers[name=web].image``."""
    text = ""
    for segment in path:
        if isinstance(segment, tuple):
            text += f"[{segment[0]}={segment[1]}]"
        else:
            text += ("." if text else "") + segment
    return text or "(object)"


def _child(node: Mapping[str, Any], segment: Segment) -> Mapping[str, Any] | None:
    if isinstance(segment, str):
        found = node.get(f"f:{segment}")
        return found if isinstance(found, Mapping) else None
    field, value = segment
    for key, child in node.items():
        if not key.startswith("k:") or not isinstance(child, Mapping):
            continue
        try:
            selector = json.loads(key[2:])
        except ValueError:
            continue
        if isinstance(selector, dict) and str(selector.get(field)) == value:
            return child
    return None


def _owns(fields: Mapping[str, Any], path: Path) -> bool:
    """Whether a managedFields ``fieldsV1`` set covers ``path`` (or a field below it, or a
    field above it that is owned as a whole)."""
    node: Mapping[str, Any] = fields
    for segment in path:
        child = _child(node, segment)
        if child is None:
            return False
        if not child:  # a leaf: the whole value at this path is owned
            return True
        node = child
    return True


def field_managers(
    live: Mapping[str, Any], paths: Iterable[Path], exclude: Sequence[str] = (FIELD_MANAGER,)
) -> tuple[str, ...]:
    """The managers (other than ``exclude``) owning any of ``paths`` in ``live``; when none
    does, the manager of the newest Update that is not excluded; () when unknown."""
    entries = [
        entry
        for entry in ((live.get("metadata") or {}).get("managedFields") or [])
        if isinstance(entry, Mapping) and str(entry.get("manager", "")) not in exclude
    ]
    wanted = list(paths)
    owners = sorted(
        {
            str(entry.get("manager"))
            for entry in entries
            if isinstance(entry.get("fieldsV1"), Mapping)
            and any(_owns(entry["fieldsV1"], path) for path in wanted)
        }
    )
    if owners:
        return tuple(owners)
    updates = [
        entry
        for entry in entries
        if entry.get("operation") == "Update" and entry.get("subresource", "") != "status"
    ]
    if not updates:
        return ()
    newest = max(updates, key=lambda entry: str(entry.get("time", "")))
    return (str(newest.get("manager")),)


def drift_change(resource: ResourceStatus) -> DriftChange:
    """What drifted in one OutOfSync resource (an object deleted outside Git has no fields
    and no managers, only its diff)."""
    if resource.desired is None or resource.live is None:
        return DriftChange(key=resource.key, diff=resource.diff)
    paths = changed_paths(resource.desired, resource.live)
    fields = tuple(format_path(path) for path in paths[:MAX_FIELDS])
    managers = field_managers(resource.live, paths)
    return DriftChange(key=resource.key, fields=fields, managers=managers, diff=resource.diff)


def drift_changes(comparison: Comparison) -> tuple[DriftChange, ...]:
    """The drift of every OutOfSync resource that Git still wants (objects to prune are
    not drift: they left Git)."""
    return tuple(
        drift_change(resource)
        for resource in comparison.resources
        if resource.status == OUT_OF_SYNC and not resource.requires_pruning and not resource.hook
    )


def drift_signature(changes: Sequence[DriftChange]) -> str:
    """A stable digest of the drift (resources and their diffs), so the same drift is
    reported once, and changed drift again."""
    text = json.dumps(sorted([str(change.key), change.diff] for change in changes))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


__all__ = [
    "FIELD_MANAGER",
    "changed_paths",
    "drift_change",
    "drift_changes",
    "drift_signature",
    "field_managers",
    "format_path",
]
