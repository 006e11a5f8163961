"""RespectIgnoreDifferences: keep the live value of every field an ignoreDifferences rule names
when a sync writes an object (Argo CD's ``RespectIgnoreDifferences=true`` sync option).

Argo CD patches the target so that ignored fields hold their live values before applying it.
kajitori does the same, and it matters more with server-side apply than it seems: leaving an
ignored field out of the applied object is not enough, because a field kajitori applied before
and no longer sends is *removed* by the API server when kajitori was its only manager. Sending
the live value keeps the field as it is in every case (an HPA's ``spec.replicas``, a webhook's
``caBundle``).

The rules are the app's ``spec.ignoreDifferences`` already matched to the object
(``reconciler.diff_ignore.rules_for``): jsonPointers and jqPathExpressions name fields, and
managedFieldsManagers name the managers whose fields are taken from live. ``status`` is never
touched. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.diff_ignore import copy_managed_fields, managers_of, parse_pointer
from reconciler.diff_jq import compile_path_expression
from reconciler.model import IgnoreDifferences

Path = tuple[str | int, ...]
_MISSING = object()


def respect_ignore_differences(
    target: Mapping[str, Any], live: Mapping[str, Any], rules: Sequence[IgnoreDifferences]
) -> dict[str, Any]:
    """A copy of ``target`` in which every field the rules name has its ``live`` value
    (and is absent where live does not have it). Raises ComparisonError for a malformed
    pointer or an unsupported jq expression, naming it."""
    result = copy.deepcopy(dict(target))
    for rule in rules:
        paths: set[Path] = set()
        for pointer in rule.json_pointers:
            paths.add(tuple(parse_pointer(pointer)))
        for expression in rule.jq_path_expressions:
            compiled = compile_path_expression(expression)
            paths.update(compiled.paths(live))
            paths.update(compiled.paths(result))
        for path in sorted(paths, key=_sort_key, reverse=True):
            if path and path[0] != "status":
                _carry(result, live, path)
    managers = managers_of(rules)
    if managers:
        result = copy_managed_fields(result, live, managers)
    return result


def _sort_key(path: Path) -> tuple[tuple[int, int, str], ...]:
    """Order paths so that, reversed, later list items are handled before earlier ones."""
    return tuple((1, part, "") if isinstance(part, int) else (0, 0, part) for part in path)


def _carry(target: dict[str, Any], live: Mapping[str, Any], path: Path) -> None:
    value = _lookup(live, path)
    if value is _MISSING:
        _delete(target, path)
    else:
        _assign(target, path, copy.deepcopy(value))


def _step(value: Any, part: str | int) -> Any:
    if isinstance(value, Mapping):
        key = str(part)
        return value.get(key, _MISSING)
    if isinstance(value, list):
        index = _index(part)
        return value[index] if index is not None and index < len(value) else _MISSING
    return _MISSING


def _index(part: str | int) -> int | None:
    if isinstance(part, int):
        return part if part >= 0 else None
    return int(part) if part.isdigit() else None


def _lookup(document: Any, path: Path) -> Any:
    current = document
    for part in path:
        current = _step(current, part)
        if current is _MISSING:
            return _MISSING
    return current


def _assign(document: dict[str, Any], path: Path, value: Any) -> None:
    """Set ``path`` to ``value``, creating missing mappings on the way; a missing list item
    cannot be created and is left alone (the field keeps the target's value)."""
    current: Any = document
    for position, part in enumerate(path[:-1]):
        following = _step(current, part)
        if following is _MISSING or following is None:
            if not isinstance(current, dict) or isinstance(path[position + 1], int):
                return
            following = {}
            current[str(part)] = following
        current = following
    last = path[-1]
    if isinstance(current, dict):
        current[str(last)] = value
    elif isinstance(current, list):
        index = _index(last)
        if index is not None and index < len(current):
            current[index] = value


def _delete(document: dict[str, Any], path: Path) -> None:
    parent = _lookup(document, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent.pop(str(last), None)
    elif isinstance(parent, list):
        index = _index(last)
        if index is not None and index < len(parent):
            del parent[index]
