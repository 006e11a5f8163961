"""Removing what an applier stopped applying (server-side apply's prune step).

When a manager applies again, every field it owned from its previous apply that is absent
from the new configuration is removed from the object, unless another manager (applier or
updater) owns it. Ownership of anything below a field keeps the field and those parts;
a map-list item kept that way keeps its key fields. A container object or list that the
prune empties, and that nobody still claims, goes as well. Fields the applier never owned
(defaults, other writers' untracked fields) are left alone.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.fieldpath import (
    NOTHING,
    FieldSet,
    is_member,
    key_element,
    untracked,
    value_element,
)
from sandbox.kube.schema import list_type

_EMPTY: FieldSet = {}


def prune(obj: dict[str, Any], old: FieldSet, new: FieldSet, others: list[FieldSet]) -> bool:
    """Remove from ``obj`` (in place) the fields in ``old`` but not in ``new`` nor ``others``;
    returns whether anything was removed."""
    if not old or old == new:
        return False
    counter = _Counter()
    _prune_dict(obj, old, new, [o for o in others if o], (), untracked(()), counter)
    return counter.removed > 0


class _Counter:
    """How many fields and items one prune removed."""

    __slots__ = ("removed",)

    def __init__(self) -> None:
        self.removed = 0


def _sub(others: list[FieldSet], element: str) -> list[FieldSet]:
    return [o[element] for o in others if element in o] if others else others


def _still_claimed(new_child: FieldSet | None, others: list[FieldSet]) -> bool:
    return new_child is not None or any(is_member(o) for o in others)


def _prune_dict(
    obj: dict[str, Any],
    old: FieldSet,
    new: FieldSet,
    others: list[FieldSet],
    path: tuple[str, ...],
    protected: frozenset[str],
    counter: _Counter,
) -> None:
    for element, old_child in old.items():
        if not element.startswith("f:"):
            continue
        name = element[2:]
        if name in protected or name not in obj:
            continue
        new_child = new.get(element)
        if new_child == old_child:
            continue  # nothing under here was dropped
        sub = _sub(others, element)
        value = obj[name]
        if not path and name == "metadata":  # never removed, only pruned inside
            if isinstance(value, dict) and old_child:
                meta = (name,)
                _prune_dict(
                    value, old_child, new_child or _EMPTY, sub, meta, untracked(meta), counter
                )
            continue
        if new_child is None and not sub and is_member(old_child):
            del obj[name]
            counter.removed += 1
            continue
        if not old_child:
            continue
        before = len(value) if isinstance(value, dict | list) else 0
        if isinstance(value, dict):
            _prune_dict(value, old_child, new_child or _EMPTY, sub, (*path, name), NOTHING, counter)
        elif isinstance(value, list):
            _prune_list(value, old_child, new_child or _EMPTY, sub, (*path, name), counter)
        if before and not value and not _still_claimed(new_child, sub):
            del obj[name]
            counter.removed += 1


def _position(items: list[Any], element: str, keys: tuple[str, ...]) -> int | None:
    """Where the item or value ``element`` names is in ``items``."""
    kind = element[:2]
    if kind == "k:":
        for position, item in enumerate(items):
            if isinstance(item, dict) and key_element(item, keys) == element:
                return position
    elif kind == "v:":
        for position, item in enumerate(items):
            if not isinstance(item, dict | list) and value_element(item) == element:
                return position
    return None


def _prune_list(
    items: list[Any],
    old: FieldSet,
    new: FieldSet,
    others: list[FieldSet],
    path: tuple[str, ...],
    counter: _Counter,
) -> None:
    keys = list_type(path)[1]
    doomed: list[int] = []
    for element, old_child in old.items():
        new_child = new.get(element)
        if new_child == old_child:
            continue
        position = _position(items, element, keys)
        if position is None:
            continue
        sub = _sub(others, element)
        if new_child is None and not sub and is_member(old_child):
            doomed.append(position)
            continue
        item = items[position]
        if old_child and isinstance(item, dict):
            _prune_dict(item, old_child, new_child or _EMPTY, sub, path, frozenset(keys), counter)
    for position in sorted(doomed, reverse=True):
        del items[position]
    counter.removed += len(doomed)
