"""Kubernetes strategic merge patch over plain JSON values.

Like a JSON merge patch (objects merge, ``null`` deletes), except that lists follow
:func:`sandbox.kube.schema.list_type`: map lists merge item by item on their key fields, set
lists are unioned, atomic lists are replaced. The directives ``kubectl`` and ``kubectl apply``
(client-side) send are understood:

- ``$patch: replace`` in an object replaces it; ``{"$patch": "replace"}`` as a list item
  replaces the list with the other items; ``$patch: delete`` in a map-list item deletes the
  item with that key, in an object deletes the object; ``$patch: merge`` is the default.
- ``$retainKeys: [...]`` drops every key of the target object not listed (union types such as
  a Deployment's ``strategy`` or a volume's source).
- ``$setElementOrder/<list>: [...]`` gives the final order of the named items (server-only
  items keep their place relative to them).
- ``$deleteFromPrimitiveList/<list>: [...]`` removes those values from a set list.

Directive keys never reach the result; ``null`` values inside new content are dropped.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.jsonvalue import PatchError, copy_json, json_equal, type_name
from sandbox.kube.schema import KEY_DEFAULTS, list_type

_PATCH = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"
_DELETE = object()  # returned by _merge_map for "$patch: delete"


def _where(path: tuple[str, ...]) -> str:
    return "." + ".".join(path) if path else "the object"


def strategic_merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a strategic merge patch to ``target``; neither argument is modified."""
    if not isinstance(target, dict):
        raise PatchError(f"strategic merge patch target must be an object, not {type_name(target)}")
    if not isinstance(patch, dict):
        raise PatchError(f"strategic merge patch must be an object, not {type_name(patch)}")
    result = _merge_map(target, patch, ())
    return {} if result is _DELETE else dict(result)


def _merge_map(
    original: dict[str, Any] | None, patch: dict[str, Any], path: tuple[str, ...]
) -> Any:
    """Merge ``patch`` into (a copy of) ``original``; returns the new object or ``_DELETE``."""
    directive = patch.get(_PATCH)
    if directive is not None:
        if directive == "delete":
            return _DELETE
        if directive == "replace":
            original = None
        elif directive != "merge":
            raise PatchError(f"{_where(path)}: unknown $patch directive {directive!r}")
    result: dict[str, Any] = {}
    if original:
        retain = patch.get(_RETAIN)
        keep = _retained_keys(retain, patch, path) if retain is not None else None
        for key, value in original.items():
            if keep is None or key in keep:
                result[key] = value  # shared for now; every value kept is copied below
    list_fields: dict[str, None] = {}
    for key, change in patch.items():
        if key.startswith("$"):
            if key.startswith(_ORDER):
                list_fields[key[len(_ORDER) :]] = None
            elif key.startswith(_DELETE_FROM):
                list_fields[key[len(_DELETE_FROM) :]] = None
            elif key not in (_PATCH, _RETAIN):
                _merge_field(result, key, change, path)
            continue
        if isinstance(change, list):
            list_fields[key] = None
        else:
            _merge_field(result, key, change, path)
    for key in list_fields:
        _merge_list_field(result, key, patch, (*path, key))
    if original:
        for key, value in result.items():
            if value is original.get(key, _DELETE):
                result[key] = copy_json(value)  # kept from the target: copy, never share
    return result


def _retained_keys(retain: Any, patch: dict[str, Any], path: tuple[str, ...]) -> set[str]:
    if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
        raise PatchError(f"{_where(path)}: $retainKeys must be a list of field names")
    keep = set(retain)
    for key, change in patch.items():
        if change is not None and not key.startswith("$") and key not in keep:
            raise PatchError(f"{_where(path)}: field {key!r} is set but not in $retainKeys")
    return keep


def _merge_field(result: dict[str, Any], key: str, change: Any, path: tuple[str, ...]) -> None:
    """Merge one non-list patch value into ``result[key]``."""
    if change is None:
        result.pop(key, None)
        return
    if isinstance(change, dict):
        current = result.get(key)
        merged = _merge_map(current if isinstance(current, dict) else None, change, (*path, key))
        if merged is _DELETE:
            result.pop(key, None)
        else:
            result[key] = merged
        return
    result[key] = copy_json(change)


def _directive_list(patch: dict[str, Any], name: str, path: tuple[str, ...]) -> list[Any] | None:
    value = patch.get(name)
    if value is None:
        return None
    if not isinstance(value, list):
        raise PatchError(f"{_where(path)}: {name.split('/')[0]} must be a list")
    return value


def _merge_list_field(
    result: dict[str, Any], key: str, patch: dict[str, Any], path: tuple[str, ...]
) -> None:
    """Merge the patch list, order and deletions for one list field into ``result``."""
    change = patch.get(key)
    order = _directive_list(patch, _ORDER + key, path)
    deletions = _directive_list(patch, _DELETE_FROM + key, path)
    if change is not None and not isinstance(change, list):
        return  # a scalar or object patch for this field was merged already
    current = result.get(key)
    if not isinstance(current, list):
        if change is None:
            return  # nothing to order or delete from
        current = None
    kind, keys = list_type(path)
    if kind == "atomic":
        merged = copy_json(change) if change is not None else copy_json(current)
        if deletions:
            merged = [v for v in merged if not any(json_equal(v, d) for d in deletions)]
    elif kind == "set":
        merged = _merge_set(current or [], change or [], deletions or [], order, path)
    else:
        merged = _merge_keyed(current or [], change or [], keys, order, path)
    result[key] = merged


def _replace_requested(items: list[Any]) -> bool:
    return any(isinstance(i, dict) and i.get(_PATCH) == "replace" and len(i) == 1 for i in items)


def _merge_set(
    current: list[Any],
    change: list[Any],
    deletions: list[Any],
    order: list[Any] | None,
    path: tuple[str, ...],
) -> list[Any]:
    """Union of a set list with the patch values, minus deletions, in the requested order."""
    if _replace_requested(change):
        merged = [copy_json(v) for v in change if not isinstance(v, dict)]
        origin: list[int | None] = [None] * len(merged)
    else:
        merged = [copy_json(v) for v in current]
        origin = list(range(len(merged)))
        for value in change:
            if isinstance(value, dict | list):
                raise PatchError(f"{_where(path)}: set list items must be scalars")
            if not any(json_equal(value, v) for v in merged):
                merged.append(value)
                origin.append(None)
    if deletions:
        kept = [
            (v, o)
            for v, o in zip(merged, origin, strict=True)
            if not any(json_equal(v, d) for d in deletions)
        ]
        merged, origin = [v for v, _ in kept], [o for _, o in kept]
    if order is None:
        return merged
    wanted = order

    def position(value: Any) -> int | None:
        for index, item in enumerate(wanted):
            if json_equal(item, value):
                return index
        return None

    return _reorder(merged, origin, [position(v) for v in merged])


def _matches(item: dict[str, Any], probe: dict[str, Any], keys: tuple[str, ...]) -> bool:
    """Whether ``item`` is the one ``probe`` names: equal primary key, and equal on every other
    key field the probe states (absent fields take their server default)."""
    primary = keys[0]
    if item.get(primary) != probe.get(primary):
        return False
    for name in keys[1:]:
        if name in probe:
            default = KEY_DEFAULTS.get(name)
            if item.get(name, default) != probe.get(name, default):
                return False
    return True


def _find(items: list[Any], probe: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    for index, item in enumerate(items):
        if isinstance(item, dict) and _matches(item, probe, keys):
            return index
    return None


def _merge_keyed(
    current: list[Any],
    change: list[Any],
    keys: tuple[str, ...],
    order: list[Any] | None,
    path: tuple[str, ...],
) -> list[Any]:
    """Merge a map list item by item on its key fields."""
    primary = keys[0]
    if _replace_requested(change):
        merged: list[Any] = []
        origin: list[int | None] = []
    else:
        merged = list(current)  # items are copied or merged below
        origin = list(range(len(merged)))
    touched: set[int] = set()
    for item in change:
        if not isinstance(item, dict):
            raise PatchError(f"{_where(path)}: list items must be objects, not {type_name(item)}")
        if item.get(_PATCH) == "replace" and len(item) == 1:
            continue
        if primary not in item:
            raise PatchError(f"{_where(path)}: list item does not contain merge key {primary!r}")
        index = _find(merged, item, keys)
        if item.get(_PATCH) == "delete":
            if index is not None:
                del merged[index]
                del origin[index]
                touched = {i if i < index else i - 1 for i in touched if i != index}
            continue
        if index is None:
            merged.append(_merge_map(None, item, path))
            origin.append(None)
            touched.add(len(merged) - 1)
        else:
            merged[index] = _merge_map(merged[index], item, path)
            touched.add(index)
    for index, item in enumerate(merged):
        if index not in touched:
            merged[index] = copy_json(item)
    if order is None:
        return merged
    for probe in order:
        if not isinstance(probe, dict) or primary not in probe:
            raise PatchError(f"{_where(path)}: $setElementOrder items must name {primary!r}")

    def position(item: Any) -> int | None:
        if isinstance(item, dict):
            for index, probe in enumerate(order):
                if _matches(item, probe, keys):
                    return index
        return None

    return _reorder(merged, origin, [position(item) for item in merged])


def _reorder(items: list[Any], origin: list[int | None], wanted: list[int | None]) -> list[Any]:
    """Put the items the patch names (``wanted[i]`` is their rank) in the patch's order and
    slot the items only the server has (rank None) back in by their original position.

    Two queues are merged: the patch's items by rank and the server-only items in list
    order. A server-only item goes first when both it and the next patch item were in the
    original list and it came earlier there; otherwise the patch item goes first.
    """
    if not any(rank is not None for rank in wanted):
        return items
    patch_items = sorted(
        (i for i in range(len(items)) if wanted[i] is not None),
        key=lambda i: wanted[i],  # type: ignore[arg-type,return-value]
    )
    server_items = [i for i in range(len(items)) if wanted[i] is None]
    out: list[Any] = []
    p = s = 0
    while p < len(patch_items) or s < len(server_items):
        if p == len(patch_items):
            out.append(items[server_items[s]])
            s += 1
            continue
        if s == len(server_items):
            out.append(items[patch_items[p]])
            p += 1
            continue
        server_pos, patch_pos = origin[server_items[s]], origin[patch_items[p]]
        if server_pos is not None and patch_pos is not None and server_pos < patch_pos:
            out.append(items[server_items[s]])
            s += 1
        else:
            out.append(items[patch_items[p]])
            p += 1
    return out
