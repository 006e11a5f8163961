"""The object half of server-side apply: merge an applied configuration into the live object.

One walk over the configuration does three jobs at once, because apply must be fast:

1. builds the merged object (configuration values win; map lists merge item by item on their
   key fields, set lists are unioned, atomic lists and scalars are replaced, ``null`` removes);
2. builds the configuration's field set (what the applier will own);
3. finds every field the walk changes that another manager owns (the conflicts).

:func:`prune` then removes what the applier owned before and no longer applies, unless
another manager owns it. Results share no mutable structure with the inputs.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.fieldpath import (
    METADATA_BOOKKEEPING,
    SELF,
    FieldSet,
    is_member,
    key_element,
    path_string,
    untracked,
    value_element,
)
from sandbox.kube.jsonvalue import PatchError, copy_json, json_equal, type_name
from sandbox.kube.schema import list_type

Owners = list[tuple[int, FieldSet]]
Conflict = tuple[int, tuple[str, ...]]
_MISSING: Any = object()


def _where(path: tuple[str, ...]) -> str:
    return "." + ".".join(path) if path else "the object"


def _same(a: Any, b: Any) -> bool:
    """JSON equality with a fast path for two scalars of one type (most leaves)."""
    kind = type(a)
    if kind is type(b) and kind is not dict and kind is not list:
        return bool(a == b)
    return json_equal(a, b)


def _all_keyed(items: list[Any], keys: tuple[str, ...]) -> bool:
    """Whether every item is an object with all key fields (else the list is merged whole)."""
    return all(isinstance(i, dict) and key_element(i, keys) is not None for i in items)


class _MergeWalk:
    """State of one merge: whether it changed anything, and the conflicts found so far
    (owner index, path elements)."""

    __slots__ = ("conflicts", "dirty")

    def __init__(self) -> None:
        self.conflicts: list[Conflict] = []
        self.dirty = False

    def changed(self, owners: Owners, elements: tuple[str, ...]) -> None:
        """The walk changes the value at ``elements``: a conflict for each owner of it."""
        self.dirty = True
        for index, node in owners:
            if is_member(node):
                self.conflicts.append((index, elements))

    def merge_dict(
        self,
        live: dict[str, Any],
        config: dict[str, Any],
        path: tuple[str, ...],
        elements: tuple[str, ...],
        owners: Owners,
        fields: FieldSet,
    ) -> dict[str, Any]:
        skip = untracked(path)
        in_metadata = skip is METADATA_BOOKKEEPING
        result: dict[str, Any] = {}
        for key, value in live.items():
            if key in config and key not in skip:
                self.merge_field(result, key, value, config[key], path, elements, owners, fields)
            elif not (in_metadata and key == "managedFields"):
                result[key] = copy_json(value)
        for key, change in config.items():
            if key in live:
                continue
            if key in skip:
                if key != "managedFields" and change is not None:
                    result[key] = copy_json(change)
                continue
            self.merge_field(result, key, _MISSING, change, path, elements, owners, fields)
        return result

    def merge_field(
        self,
        result: dict[str, Any],
        key: str,
        live: Any,
        change: Any,
        path: tuple[str, ...],
        elements: tuple[str, ...],
        owners: Owners,
        fields: FieldSet,
    ) -> None:
        element = "f:" + key
        sub_owners = [(i, n[element]) for i, n in owners if element in n] if owners else owners
        here = (*elements, element)
        if change is None:
            fields[element] = {}
            if live is not _MISSING:
                self.changed(sub_owners, here)
            return
        if isinstance(change, dict):
            if not change:
                fields[element] = {}
                if isinstance(live, dict):
                    result[key] = copy_json(live)
                else:
                    result[key] = {}
                    self.changed(sub_owners, here)
                return
            if not isinstance(live, dict):
                if live is not _MISSING:
                    self.changed(sub_owners, here)
                live = {}
            child: FieldSet = {}
            result[key] = self.merge_dict(live, change, (*path, key), here, sub_owners, child)
            if child:
                fields[element] = child
            return
        if isinstance(change, list):
            result[key] = self.merge_list(live, change, (*path, key), here, sub_owners, fields)
            return
        fields[element] = {}
        result[key] = change
        if live is _MISSING or not _same(live, change):
            self.changed(sub_owners, here)

    def merge_list(
        self,
        live: Any,
        change: list[Any],
        path: tuple[str, ...],
        elements: tuple[str, ...],
        owners: Owners,
        fields: FieldSet,
    ) -> list[Any]:
        element = elements[-1]
        kind, keys = list_type(path)
        if kind == "map" and not _all_keyed(change, keys):
            kind = "atomic"  # e.g. a custom resource's "spec.ports" that is not a Service's
        if kind == "atomic" or not change:
            fields[element] = {}
            if kind != "atomic" and isinstance(live, list):
                return [copy_json(v) for v in live]  # merging no items keeps the live ones
            if live is _MISSING or not _same(live, change):
                self.changed(owners, elements)
            return [copy_json(v) for v in change]
        if live is not _MISSING and not isinstance(live, list):
            self.changed(owners, elements)
            live = _MISSING
        items: list[Any] = live if live is not _MISSING else []
        child: FieldSet = {}
        fields[element] = child
        if kind == "set":
            return self.merge_set(items, change, path, elements, owners, child)
        return self.merge_keyed(items, change, keys, path, elements, owners, child)

    def merge_set(
        self,
        items: list[Any],
        change: list[Any],
        path: tuple[str, ...],
        elements: tuple[str, ...],
        owners: Owners,
        fields: FieldSet,
    ) -> list[Any]:
        merged = [copy_json(v) for v in items]
        seen = {value_element(v) for v in items}
        for value in change:
            if isinstance(value, dict | list) or value is None:
                raise PatchError(
                    f"{_where(path)}: set items must be scalars, not {type_name(value)}"
                )
            element = value_element(value)
            fields[element] = {}
            if element not in seen:
                seen.add(element)
                merged.append(value)
                value_owners = [(i, n[element]) for i, n in owners if element in n]
                self.changed(value_owners, (*elements, element))
        return merged

    def merge_keyed(
        self,
        items: list[Any],
        change: list[Any],
        keys: tuple[str, ...],
        path: tuple[str, ...],
        elements: tuple[str, ...],
        owners: Owners,
        fields: FieldSet,
    ) -> list[Any]:
        positions: dict[str, int] = {}
        for position, item in enumerate(items):
            if isinstance(item, dict):
                element = key_element(item, keys)
                if element is not None and element not in positions:
                    positions[element] = position
        replaced: dict[int, dict[str, Any]] = {}
        added: list[dict[str, Any]] = []
        for item in change:
            if not isinstance(item, dict):
                raise PatchError(
                    f"{_where(path)}: list items must be objects, not {type_name(item)}"
                )
            element = key_element(item, keys)
            if element is None:
                names = ", ".join(repr(k) for k in keys)
                raise PatchError(f"{_where(path)}: list item omits key field(s) {names}")
            if element in fields:
                raise PatchError(
                    f"{_where(path)}: duplicate entries for key {path_string((element,))}"
                )
            item_fields: FieldSet = {SELF: {}}
            fields[element] = item_fields
            here = (*elements, element)
            item_owners = [(i, n[element]) for i, n in owners if element in n] if owners else owners
            found = positions.get(element)
            if found is None:
                self.changed(item_owners, here)
                added.append(self.merge_dict({}, item, path, here, item_owners, item_fields))
            else:
                live_item = items[found]
                replaced[found] = self.merge_dict(
                    live_item, item, path, here, item_owners, item_fields
                )
        merged = [replaced[p] if p in replaced else copy_json(item) for p, item in enumerate(items)]
        merged.extend(added)
        return merged


def merge(
    live: dict[str, Any], config: dict[str, Any], others: list[FieldSet]
) -> tuple[dict[str, Any], FieldSet, list[Conflict], bool]:
    """Merge ``config`` into ``live``.

    Returns the merged object (without ``metadata.managedFields``), the configuration's field
    set, the conflicts: (index into ``others``, path elements) for every field the merge
    changes that ``others[index]`` owns, and whether the merge changed any value.
    """
    walk = _MergeWalk()
    fields: FieldSet = {}
    owners = [(i, s) for i, s in enumerate(others) if s]
    merged = walk.merge_dict(live, config, (), (), owners, fields)
    return merged, fields, walk.conflicts, walk.dirty
