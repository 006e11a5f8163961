"""The three patch formats the Kubernetes API accepts, as pure functions over JSON values.

- :func:`merge_patch` — JSON merge patch, RFC 7386 (``application/merge-patch+json``).
- :func:`json_patch` — JSON patch, RFC 6902 (``application/json-patch+json``).
- :func:`strategic_merge_patch` — Kubernetes' strategic merge patch
  (``application/strategic-merge-patch+json``), implemented in :mod:`sandbox.kube.strategic`.

None of them mutates its arguments, and results share no mutable structure with them. Bad
input raises :class:`PatchError`, whose message is safe to return to the client.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.kube.jsonvalue import PatchError, copy_json, json_equal, type_name
from sandbox.kube.strategic import strategic_merge_patch

__all__ = ["PatchError", "json_patch", "merge_patch", "strategic_merge_patch"]


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch: objects merge key by key, ``null`` deletes a key,
    anything else (arrays included) replaces the target value."""
    if type(patch) is not dict and not isinstance(patch, dict):
        return copy_json(patch)
    result: dict[str, Any] = {}
    if isinstance(target, dict):
        for key, value in target.items():
            if key in patch:
                change = patch[key]
                if change is not None:
                    result[key] = merge_patch(value, change)
            else:
                result[key] = copy_json(value)
        for key, change in patch.items():
            if key not in target and change is not None:
                result[key] = merge_patch(None, change)
    else:
        for key, change in patch.items():
            if change is not None:
                result[key] = merge_patch(None, change)
    return result


# --- RFC 6902 ----------------------------------------------------------------------------

_OPS = ("add", "remove", "replace", "move", "copy", "test")
_BAD_ESCAPE = re.compile(r"~(?![01])")
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_MISSING = object()


def _parse_pointer(pointer: Any, where: str) -> list[str]:
    """Split an RFC 6901 JSON pointer into unescaped reference tokens."""
    if not isinstance(pointer, str):
        raise PatchError(f"{where}: must be a string JSON pointer, not {type_name(pointer)}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"{where}: JSON pointer {pointer!r} must start with '/'")
    if _BAD_ESCAPE.search(pointer):
        raise PatchError(f"{where}: JSON pointer {pointer!r} has '~' not followed by 0 or 1")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _index(token: str, length: int, where: str, *, allow_end: bool) -> int:
    """The array position ``token`` names; ``allow_end`` permits ``-`` and ``length`` (add)."""
    if token == "-":
        if allow_end:
            return length
        raise PatchError(f"{where}: '-' names no existing array element")
    if not _ARRAY_INDEX.fullmatch(token):
        raise PatchError(f"{where}: {token!r} is not a valid array index")
    position = int(token)
    limit = length if allow_end else length - 1
    if position > limit:
        raise PatchError(f"{where}: array index {position} is out of bounds (length {length})")
    return position


def _child(container: Any, token: str, where: str) -> Any:
    if isinstance(container, dict):
        if token not in container:
            raise PatchError(f"{where}: path does not exist (no member {token!r})")
        return container[token]
    if isinstance(container, list):
        return container[_index(token, len(container), where, allow_end=False)]
    raise PatchError(f"{where}: cannot descend into a {type_name(container)} with {token!r}")


def _resolve(doc: Any, tokens: list[str], where: str) -> Any:
    node = doc
    for token in tokens:
        node = _child(node, token, where)
    return node


class _JsonPatcher:
    """Applies operations one by one to a private copy of the document."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc

    def add(self, tokens: list[str], value: Any, where: str) -> None:
        if not tokens:
            self.doc = value
            return
        parent = _resolve(self.doc, tokens[:-1], where)
        last = tokens[-1]
        if isinstance(parent, dict):
            parent[last] = value
        elif isinstance(parent, list):
            parent.insert(_index(last, len(parent), where, allow_end=True), value)
        else:
            raise PatchError(f"{where}: cannot add a member to a {type_name(parent)}")

    def remove(self, tokens: list[str], where: str) -> Any:
        if not tokens:
            raise PatchError(f"{where}: cannot remove the whole document")
        parent = _resolve(self.doc, tokens[:-1], where)
        last = tokens[-1]
        if isinstance(parent, dict):
            if last not in parent:
                raise PatchError(f"{where}: path does not exist (no member {last!r})")
            return parent.pop(last)
        if isinstance(parent, list):
            return parent.pop(_index(last, len(parent), where, allow_end=False))
        raise PatchError(f"{where}: cannot remove from a {type_name(parent)}")

    def replace(self, tokens: list[str], value: Any, where: str) -> None:
        if not tokens:
            self.doc = value
            return
        parent = _resolve(self.doc, tokens[:-1], where)
        last = tokens[-1]
        if isinstance(parent, dict):
            if last not in parent:
                raise PatchError(f"{where}: path does not exist (no member {last!r})")
            parent[last] = value
        elif isinstance(parent, list):
            parent[_index(last, len(parent), where, allow_end=False)] = value
        else:
            raise PatchError(f"{where}: cannot replace inside a {type_name(parent)}")

    def apply(self, number: int, operation: Any) -> None:
        where = f"operation {number}"
        if not isinstance(operation, dict):
            raise PatchError(f"{where}: must be an object, not {type_name(operation)}")
        op = operation.get("op")
        if op not in _OPS:
            raise PatchError(f"{where}: 'op' must be one of {', '.join(_OPS)}")
        where = f"operation {number} ({op})"
        if "path" not in operation:
            raise PatchError(f"{where}: missing 'path'")
        path = _parse_pointer(operation["path"], f"{where} path")
        where = f"{where} path {operation['path']!r}"
        value = operation.get("value", _MISSING)
        if op in ("add", "replace", "test") and value is _MISSING:
            raise PatchError(f"{where}: missing 'value'")
        if op == "add":
            self.add(path, copy_json(value), where)
        elif op == "remove":
            self.remove(path, where)
        elif op == "replace":
            self.replace(path, copy_json(value), where)
        elif op == "test":
            if not json_equal(_resolve(self.doc, path, where), value):
                raise PatchError(f"{where}: test failed, the value differs")
        else:
            if "from" not in operation:
                raise PatchError(f"{where}: missing 'from'")
            source = _parse_pointer(operation["from"], f"{where} from")
            if op == "move":
                if source == path:
                    _resolve(self.doc, source, where)
                    return
                if len(source) < len(path) and path[: len(source)] == source:
                    raise PatchError(f"{where}: cannot move a value into one of its children")
                self.add(path, self.remove(source, where), where)
            else:
                self.add(path, copy_json(_resolve(self.doc, source, where)), where)


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch (add, remove, replace, move, copy, test).

    The operations apply in order to a copy of ``target``; the first failing one (including a
    failed ``test``) aborts the whole patch with :class:`PatchError`.
    """
    if not isinstance(operations, list):
        raise PatchError(
            f"a JSON patch must be an array of operations, not {type_name(operations)}"
        )
    patcher = _JsonPatcher(copy_json(target))
    for number, operation in enumerate(operations):
        patcher.apply(number, operation)
    return patcher.doc
