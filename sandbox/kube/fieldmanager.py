"""Server-side apply and ``metadata.managedFields``, as the real API server keeps them.

Every write records who owns which fields. :func:`apply` serves
``application/apply-patch+yaml`` requests: it merges the configuration into the live object,
refuses (:class:`ApplyConflict`) to change a field another manager owns unless forced, gives
the applier exactly the fields of its configuration, and removes fields it applied before
and dropped since when nobody else owns them. :func:`record_update` serves every other write:
the writer takes over the fields it changed.

Entries have the real server's shape::

    {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
     "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1",
     "fieldsV1": {"f:spec": {"f:replicas": {}}}}

plus ``"subresource": "status"`` for writes to /status. A manager is identified by its name,
operation and subresource (and, for updates, the apiVersion it wrote with). Entries are kept
sorted as the server sorts them (operation, time, manager, subresource), and an entry whose
fields did not change keeps its time, so re-applying the same configuration is a no-op.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube import applymerge, applyprune, fieldpath, updatediff
from sandbox.kube.fieldpath import FieldSet
from sandbox.kube.jsonvalue import PatchError, copy_json, json_equal, type_name

__all__ = ["ApplyConflict", "apply", "manager_label", "record_update"]


class ApplyConflict(Exception):
    """An apply would change fields other managers own.

    ``conflicts`` lists (other manager's name, field path like ``.spec.replicas``) and
    ``labels`` how the API server names each of those managers: ``"m"`` for an applier,
    ``"m" using apps/v1`` for an updater, with ``with subresource "scale"`` where the
    manager wrote through a subresource. The message is the server's ("Apply failed with 1
    conflict: conflict with "m" using apps/v1: .spec.replicas").
    """

    def __init__(self, conflicts: list[tuple[str, str]], labels: list[str] | None = None) -> None:
        self.conflicts = conflicts
        self.labels = labels or [f'"{manager}"' for manager, _ in conflicts]
        super().__init__(_conflict_message(conflicts, self.labels))


def manager_label(entry: dict[str, Any]) -> str:
    """A managedFields entry's manager as the API server prints it in a conflict."""
    label = f'"{entry.get("manager", "")}"'
    if entry.get("subresource"):
        label += f' with subresource "{entry["subresource"]}"'
    if entry.get("operation") == "Update":
        label += f" using {entry.get('apiVersion', '')}"
    return label


def _conflict_message(conflicts: list[tuple[str, str]], labels: list[str]) -> str:
    by_manager: dict[str, list[str]] = {}
    order: dict[str, str] = {}
    for (manager, path), label in zip(conflicts, labels, strict=True):
        by_manager.setdefault(label, []).append(path)
        order.setdefault(label, manager)
    count = len(conflicts)
    if count == 1:
        return f"Apply failed with 1 conflict: conflict with {labels[0]}: {conflicts[0][1]}"
    blocks = []
    for label in sorted(by_manager, key=lambda lab: (order[lab], lab)):
        listed = "".join(f"\n- {p}" for p in by_manager[label])
        blocks.append(f"conflicts with {label}:{listed}")
    return f"Apply failed with {count} conflicts: " + "\n".join(blocks)


def _identity(entry: dict[str, Any]) -> tuple[str, str, str, str]:
    operation = entry.get("operation", "")
    api_version = entry.get("apiVersion", "") if operation != "Apply" else ""
    return (entry.get("manager", ""), operation, api_version, entry.get("subresource", ""))


def _fields(entry: dict[str, Any]) -> FieldSet:
    fields = entry.get("fieldsV1")
    return fields if isinstance(fields, dict) else {}


def _sort_key(entry: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(entry.get("operation", "")),
        str(entry.get("time", "")),
        str(entry.get("manager", "")),
        str(entry.get("subresource", "")),
    )


def _validated_entries(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PatchError(f"{where}: must be a list, not {type_name(value)}")
    for number, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise PatchError(f"{where}[{number}]: must be an object, not {type_name(entry)}")
        if entry.get("operation") not in ("Apply", "Update"):
            raise PatchError(f"{where}[{number}].operation: must be Apply or Update")
        if not isinstance(entry.get("manager", ""), str):
            raise PatchError(f"{where}[{number}].manager: must be a string")
        if entry.get("fieldsType", "FieldsV1") != "FieldsV1":
            raise PatchError(f"{where}[{number}].fieldsType: must be FieldsV1")
        if not isinstance(entry.get("fieldsV1", {}), dict):
            raise PatchError(f"{where}[{number}].fieldsV1: must be an object")
    return value


def _stored_entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not obj:
        return []
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return []
    entries = metadata.get("managedFields")
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict)]


def _entry(
    manager: str,
    operation: str,
    api_version: str,
    time: str,
    fields: FieldSet,
    subresource: str | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _with_fields(entry: dict[str, Any], fields: FieldSet) -> dict[str, Any]:
    updated = {k: copy_json(v) for k, v in entry.items() if k != "fieldsV1"}
    updated["fieldsV1"] = copy_json(fields)
    return updated


def _write_entries(obj: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    metadata = obj.setdefault("metadata", {})
    if entries:
        entries.sort(key=_sort_key)
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    force: bool,
    now: str,
    subresource: str | None = None,
) -> dict[str, Any]:
    """Server-side apply ``config`` as ``manager`` to ``live`` (None: create); returns the new
    object with its managedFields. Raises :class:`ApplyConflict` (without ``force``) or
    :class:`PatchError` (a configuration that cannot be merged). ``subresource`` ("status")
    records an apply to /status under its own entry."""
    if not isinstance(config, dict):
        raise PatchError(f"an applied configuration must be an object, not {type_name(config)}")
    if live is not None and not isinstance(live, dict):
        raise PatchError(f"the live object must be an object, not {type_name(live)}")
    if live is not None and not isinstance(live.get("metadata", {}), dict):
        raise PatchError("the live object's metadata must be an object")
    metadata = config.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise PatchError(f"metadata: must be an object, not {type_name(metadata)}")
    if metadata and metadata.get("managedFields"):
        raise PatchError("metadata.managedFields must be nil in an applied configuration")
    entries = _stored_entries(live)
    mine: dict[str, Any] | None = None
    others: list[dict[str, Any]] = []
    for entry in entries:
        if mine is None and _identity(entry) == (manager, "Apply", "", subresource or ""):
            mine = entry
        else:
            others.append(entry)
    other_sets = [_fields(e) for e in others]
    merged, applied, conflicts, changed = applymerge.merge(live or {}, config, other_sets)
    changed_others: dict[int, FieldSet] = {}
    if conflicts:
        if not force:
            raise ApplyConflict(*_describe(conflicts, others))
        taken: dict[int, FieldSet] = {}
        for index, elements in conflicts:
            fieldpath.insert(taken.setdefault(index, {}), elements)
        for index, lost in taken.items():
            changed_others[index] = fieldpath.difference(other_sets[index], lost)
            other_sets[index] = changed_others[index]
    previous = _fields(mine) if mine is not None else {}
    if previous and applyprune.prune(merged, previous, applied, other_sets):
        changed = True
    api_version = str(merged.get("apiVersion", ""))
    result_entries: list[dict[str, Any]] = []
    for index, entry in enumerate(others):
        if index not in changed_others:
            result_entries.append(copy_json(entry))
        elif changed_others[index]:
            result_entries.append(_with_fields(entry, changed_others[index]))
    if applied:
        time = now  # kept only when this apply changed neither the object nor the entry
        if (
            not changed
            and mine is not None
            and mine.get("apiVersion") == api_version
            and previous == applied  # field sets hold only str keys and dicts
            and isinstance(mine.get("time"), str)
        ):
            time = mine["time"]
        result_entries.append(_entry(manager, "Apply", api_version, time, applied, subresource))
    _write_entries(merged, result_entries)
    return merged


def _describe(
    conflicts: list[tuple[int, tuple[str, ...]]], others: list[dict[str, Any]]
) -> tuple[list[tuple[str, str]], list[str]]:
    described = []
    labels = []
    for index, elements in conflicts:
        described.append((str(others[index].get("manager", "")), fieldpath.path_string(elements)))
        labels.append(manager_label(others[index]))
    return described, labels


def _base_entries(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """The managedFields to start from: the stored ones, unless the writer sent its own.

    As on the real server, a write that sends managedFields different from the stored ones
    replaces them; an empty list means "unchanged"; a list with one empty entry clears them.
    """
    stored = _stored_entries(old)
    metadata = new.get("metadata")
    sent = metadata.get("managedFields") if isinstance(metadata, dict) else None
    if not sent or json_equal(sent, stored):
        return stored
    if sent == [{}]:
        return []
    return _validated_entries(sent, "metadata.managedFields")


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    now: str,
    subresource: str | None = None,
) -> dict[str, Any]:
    """Record a create (``old`` None), update or patch by ``manager`` in ``new``'s
    managedFields; returns a copy of ``new``. The writer (operation Update) takes over every
    field whose value changed; fields that disappeared are owned by nobody any more."""
    if not isinstance(new, dict):
        raise PatchError(f"the object must be an object, not {type_name(new)}")
    if "metadata" in new and not isinstance(new["metadata"], dict):
        raise PatchError(f"metadata: must be an object, not {type_name(new['metadata'])}")
    entries = _base_entries(old, new)
    changed, removed = updatediff.compare(old, new)
    api_version = str(new.get("apiVersion", ""))
    identity = (manager, "Update", api_version, subresource or "")
    mine: dict[str, Any] | None = None
    result_entries: list[dict[str, Any]] = []
    for entry in entries:
        if mine is None and _identity(entry) == identity:
            mine = entry
            continue
        fields = _fields(entry)
        kept = fieldpath.difference(fieldpath.without_subtrees(fields, removed), changed)
        if kept is fields:
            result_entries.append(copy_json(entry))
        elif kept:
            result_entries.append(_with_fields(entry, kept))
    previous = _fields(mine) if mine is not None else {}
    owned = fieldpath.union(fieldpath.without_subtrees(previous, removed), changed)
    if owned:
        if mine is not None and not changed and not removed:
            result_entries.append(copy_json(mine))
        else:
            entry = _entry(manager, "Update", api_version, now, copy_json(owned), subresource)
            result_entries.append(entry)
    result = {k: copy_json(v) for k, v in new.items() if k != "metadata"}
    metadata = new.get("metadata")
    if isinstance(metadata, dict):
        result["metadata"] = {k: copy_json(v) for k, v in metadata.items() if k != "managedFields"}
        # keep the key order of the original object
        result = {k: result[k] for k in new}
    _write_entries(result, result_entries)
    return result
