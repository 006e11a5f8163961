"""spec.ignoreDifferences: which rules apply to an object, and what each rule does to it.

Three kinds of rule, as in Argo CD:

- ``jsonPointers`` (RFC 6901) and ``jqPathExpressions`` remove fields from both sides before
  they are compared, so a field some other actor changes never counts as drift. A pointer or
  expression naming a path the object does not have is skipped silently.
- ``managedFieldsManagers`` copy every field that those field managers own in the live object
  (per its ``metadata.managedFields``) into the desired object, so the desired state agrees
  with whatever, say, an HPA or a mutating controller wrote there.

Pure functions over plain dicts; inputs are never mutated, except by ``strip_ignored``, which
exists to edit a copy its caller already owns.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from reconciler.diff_jq import compile_path_expression
from reconciler.errors import ComparisonError
from reconciler.jsoncopy import json_copy
from reconciler.model import IgnoreDifferences, ResourceKey


def rules_for(rules: Iterable[IgnoreDifferences], key: ResourceKey) -> list[IgnoreDifferences]:
    """The rules whose group and kind (globs), name and namespace (exact, empty = any) match."""
    return [
        rule
        for rule in rules
        if fnmatchcase(key.group, rule.group)
        and fnmatchcase(key.kind, rule.kind)
        and (not rule.name or rule.name == key.name)
        and (not rule.namespace or rule.namespace == key.namespace)
    ]


def remove_ignored(obj: Mapping[str, Any], rules: Sequence[IgnoreDifferences]) -> dict[str, Any]:
    """``obj`` without the fields the rules' jsonPointers and jqPathExpressions name (a copy;
    ``obj`` is not changed)."""
    result = json_copy(dict(obj))
    strip_ignored(result, rules)
    return result


def strip_ignored(obj: dict[str, Any], rules: Sequence[IgnoreDifferences]) -> None:
    """``remove_ignored`` in place, for a caller that already holds a private copy (``diff``
    copies each side once and works on that copy)."""
    for rule in rules:
        for pointer in rule.json_pointers:
            _remove_pointer(obj, pointer)
        for expression in rule.jq_path_expressions:
            compile_path_expression(expression).delete_from(obj)


def managers_of(rules: Sequence[IgnoreDifferences]) -> frozenset[str]:
    return frozenset(manager for rule in rules for manager in rule.managed_fields_managers)


def copy_managed_fields(
    desired: Mapping[str, Any], live: Mapping[str, Any], managers: Collection[str]
) -> dict[str, Any]:
    """``desired`` with every field owned by one of ``managers`` in ``live`` taken from
    ``live`` (and dropped when live no longer has it). A new tree sharing nothing with the
    arguments, which are not changed."""
    return json_copy(merge_managed_fields(desired, live, managers))


def merge_managed_fields(
    desired: Mapping[str, Any], live: Mapping[str, Any], managers: Collection[str]
) -> dict[str, Any]:
    """What ``copy_managed_fields`` returns, without the final copy: the result is a new
    top-level dict but may share unchanged parts with ``desired`` and ``live``, so it must be
    copied before anything changes it (``diff`` normalises it, which copies). The arguments are
    not changed."""
    owned: dict[str, Any] = {}
    entries = (live.get("metadata") or {}).get("managedFields") or []
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("manager") in managers:
            fields = entry.get("fieldsV1")
            if isinstance(fields, Mapping):
                _union(owned, fields)
    result = dict(desired)
    if not owned:
        return result
    merged = _take_owned(owned, live, result)
    return merged if isinstance(merged, dict) else result


def parse_pointer(pointer: str) -> list[str]:
    """The reference tokens of an RFC 6901 pointer; ComparisonError if it is malformed."""
    if not pointer.startswith("/"):
        raise ComparisonError(
            f"ignoreDifferences jsonPointer {pointer!r} must start with '/' (RFC 6901)"
        )
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _remove_pointer(document: Any, pointer: str) -> None:
    tokens = parse_pointer(pointer)
    parent = document
    for token in tokens[:-1]:
        parent = _child(parent, token)
        if parent is None:
            return
    last = tokens[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]


def _child(value: Any, token: str) -> Any:
    if isinstance(value, dict):
        return value.get(token)
    if isinstance(value, list) and token.isdigit() and int(token) < len(value):
        return value[int(token)]
    return None


def _union(into: dict[str, Any], fields: Mapping[str, Any]) -> None:
    for name, sub in fields.items():
        existing = into.setdefault(name, {})
        if isinstance(sub, Mapping) and isinstance(existing, dict):
            _union(existing, sub)


def _children(fields: Any) -> dict[str, Any]:
    if not isinstance(fields, Mapping):
        return {}
    return {name: sub for name, sub in fields.items() if name != "."}


def _take_owned(fields: Mapping[str, Any], live: Any, desired: Any) -> Any:
    """The new desired value at one node: owned fields from live, the rest from desired."""
    if isinstance(live, dict):
        return _take_owned_map(fields, live, desired)
    if isinstance(live, list):
        return _take_owned_list(fields, live, desired)
    return live


def _take_owned_map(fields: Mapping[str, Any], live: dict[str, Any], desired: Any) -> Any:
    result = dict(desired) if isinstance(desired, dict) else {}
    for name, sub in fields.items():
        if not name.startswith("f:"):
            continue
        field = name[2:]
        if field not in live:
            result.pop(field, None)
            continue
        children = _children(sub)
        if children:
            result[field] = _take_owned(children, live[field], result.get(field))
        else:
            result[field] = live[field]
    return result


def _take_owned_list(fields: Mapping[str, Any], live: list[Any], desired: Any) -> list[Any]:
    result = list(desired) if isinstance(desired, list) else []
    for name, sub in fields.items():
        prefix, _, raw = name.partition(":")
        if prefix == "k":
            _take_keyed_item(json.loads(raw), _children(sub), live, result)
        elif prefix == "v":
            value = json.loads(raw)
            if value in live and value not in result:
                result.append(value)
        elif prefix == "i" and raw.isdigit() and int(raw) < len(live):
            index = int(raw)
            item = _take_owned(_children(sub), live[index], None) if _children(sub) else live[index]
            if index < len(result):
                result[index] = item
            else:
                result.append(item)
    return result


def _take_keyed_item(
    keys: Mapping[str, Any], children: Mapping[str, Any], live: list[Any], result: list[Any]
) -> None:
    live_item = _find_keyed(live, keys)
    position = _index_keyed(result, keys)
    if live_item is None:
        if position is not None:
            del result[position]
        return
    current = result[position] if position is not None else dict(keys)
    item = _take_owned(children, live_item, current) if children else live_item
    if position is None:
        result.append(item)
    else:
        result[position] = item


def _find_keyed(items: list[Any], keys: Mapping[str, Any]) -> Any:
    position = _index_keyed(items, keys)
    return None if position is None else items[position]


def _index_keyed(items: list[Any], keys: Mapping[str, Any]) -> int | None:
    for position, item in enumerate(items):
        if isinstance(item, Mapping) and all(item.get(k) == v for k, v in keys.items()):
            return position
    return None
