"""Which fields a non-apply write (create, update, patch) changed, as field sets.

:func:`compare` walks the old and the new object together and returns two sets: *changed*
(fields added or given a new value; the writer takes them over) and *removed* (fields that
disappeared, with everything below them; nobody owns them any more). Map lists compare item by
item on their key fields and set lists value by value; a map list whose items lack keys or
repeat one is compared whole, like an atomic list.

A container field that did not exist before is itself a member of *changed* (``"."``), as the
API server records an added map or list item, except for the structural fields every object
of its kind has anyway (``spec``, ``metadata``, ``template``, ...), which the server never
records as added.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.fieldpath import SELF, FieldSet, key_element, make_node, untracked, value_element
from sandbox.kube.jsonvalue import json_equal
from sandbox.kube.schema import list_type

#: Objects a typed Kubernetes object always contains, so they are never "added".
STRUCTURAL_FIELDS = frozenset(
    {"metadata", "spec", "status", "template", "jobTemplate", "strategy", "updateStrategy"}
)


def compare(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[FieldSet, FieldSet]:
    """The (changed, removed) field sets from ``old`` (None for a create) to ``new``."""
    changed: FieldSet = {}
    removed: FieldSet = {}
    _compare_dict(old or {}, new, (), changed, removed)
    return changed, removed


def _keyed(items: list[Any], keys: tuple[str, ...]) -> dict[str, dict[str, Any]] | None:
    """Items by their ``k:`` element, or None when some item has no usable, unique key."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict):
            return None
        element = key_element(item, keys)
        if element is None or element in out:
            return None
        out[element] = item
    return out


def added(value: Any, path: tuple[str, ...]) -> FieldSet | None:
    """The field set of a value that did not exist before (None: nothing in it is tracked)."""
    if isinstance(value, dict):
        if not value:
            return {}
        skip = untracked(path)
        children: FieldSet = {}
        for key, child in value.items():
            if child is None or key in skip:
                continue
            sub = added(child, (*path, key))
            if sub is not None:
                children["f:" + key] = sub
        if not children:
            return None if skip else {}
        return make_node(path[-1] not in STRUCTURAL_FIELDS, children)
    if isinstance(value, list) and value:
        kind, keys = list_type(path)
        if kind == "set" and all(not isinstance(v, dict | list) for v in value):
            values: FieldSet = {SELF: {}}
            for item in value:
                values[value_element(item)] = {}
            return values
        if kind == "map":
            by_key = _keyed(value, keys)
            if by_key is not None:
                items: FieldSet = {SELF: {}}
                for element, item in by_key.items():
                    items[element] = _added_item(item, path)
                return items
    return {}


def _added_item(item: dict[str, Any], path: tuple[str, ...]) -> FieldSet:
    node: FieldSet = {SELF: {}}
    for key, child in item.items():
        if child is not None:
            sub = added(child, (*path, key))
            if sub is not None:
                node["f:" + key] = sub
    return node


def _compare_dict(
    old: dict[str, Any],
    new: dict[str, Any],
    path: tuple[str, ...],
    changed: FieldSet,
    removed: FieldSet,
) -> None:
    skip = untracked(path)
    for key, value in new.items():
        if key in skip:
            continue
        element = "f:" + key
        before = old.get(key)
        if before is None:
            if value is not None:
                node = added(value, (*path, key))
                if node is not None:
                    changed[element] = node
            continue
        if value is None:
            removed[element] = {}
            continue
        _compare_value(before, value, (*path, key), element, changed, removed)
    for key, value in old.items():
        if key not in new and key not in skip and value is not None:
            removed["f:" + key] = {}


def _compare_value(
    before: Any,
    after: Any,
    path: tuple[str, ...],
    element: str,
    changed: FieldSet,
    removed: FieldSet,
) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        sub_changed: FieldSet = {}
        sub_removed: FieldSet = {}
        _compare_dict(before, after, path, sub_changed, sub_removed)
        if sub_changed:
            changed[element] = sub_changed
        if sub_removed:
            removed[element] = sub_removed
        return
    if isinstance(before, list) and isinstance(after, list):
        kind, keys = list_type(path)
        if kind == "map":
            old_items = _keyed(before, keys)
            new_items = _keyed(after, keys)
            if old_items is not None and new_items is not None:
                _compare_items(old_items, new_items, path, element, changed, removed)
                return
        elif kind == "set" and not any(isinstance(v, dict | list) for v in before + after):
            old_values = {value_element(v) for v in before}
            new_values = {value_element(v) for v in after}
            if new_values - old_values:
                changed[element] = {v: {} for v in new_values - old_values}
            if old_values - new_values:
                removed[element] = {v: {} for v in old_values - new_values}
            return
    if not json_equal(before, after):
        node = added(after, path)
        changed[element] = node if node is not None else {}


def _compare_items(
    old_items: dict[str, dict[str, Any]],
    new_items: dict[str, dict[str, Any]],
    path: tuple[str, ...],
    element: str,
    changed: FieldSet,
    removed: FieldSet,
) -> None:
    sub_changed: FieldSet = {}
    sub_removed: FieldSet = {}
    for key, item in new_items.items():
        old_item = old_items.get(key)
        if old_item is None:
            sub_changed[key] = _added_item(item, path)
            continue
        item_changed: FieldSet = {}
        item_removed: FieldSet = {}
        _compare_dict(old_item, item, path, item_changed, item_removed)
        if item_changed:
            sub_changed[key] = item_changed
        if item_removed:
            sub_removed[key] = item_removed
    for key in old_items:
        if key not in new_items:
            sub_removed[key] = {}
    if sub_changed:
        changed[element] = sub_changed
    if sub_removed:
        removed[element] = sub_removed
