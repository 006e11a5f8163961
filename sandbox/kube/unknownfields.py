"""Finding and dropping the fields a schema does not declare, and duplicate keys in a body.

Pure functions over decoded JSON and the schema nodes of :mod:`sandbox.kube.typeschema`.
Paths come in the two forms the API server prints:

- the JSON decoder's (``spec.template.spec.containers[0].imagePullPolicy``), used by strict
  decoding errors and warnings;
- structured-merge-diff's (``.spec.template.spec.containers[name="web"].foo``), used when a
  server-side apply configuration names a field the schema lacks.

:class:`Pairs` keeps every key of a JSON object in document order, duplicates included, so
the decoder's errors can be listed in the order the real decoder meets them.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.kube.fieldpath import key_element, path_string
from sandbox.kube.schema import list_type
from sandbox.kube.typeschema import OPAQUE, FieldsStruct, ListOf, MapOf, Node, Struct


class Pairs(list[tuple[str, Any]]):
    """A JSON object as the (key, value) pairs of its text, duplicates kept."""


def parse_pairs(text: bytes | str) -> Any:
    """JSON with every object as :class:`Pairs` (raises ValueError when malformed)."""
    return json.loads(text, object_pairs_hook=Pairs)


def _child(node: Node, key: str) -> Node | None:
    """The schema of ``key`` inside ``node``; None when ``node`` does not declare it."""
    if isinstance(node, Struct):
        found = node.field(key)
        if found is None and node.preserve:
            return OPAQUE
        return found
    if isinstance(node, MapOf):
        return node.value
    return OPAQUE


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def decode_errors(tree: Any, node: Node | None, unknown: bool = True) -> list[str]:
    """What the API server's strict JSON decoder reports for a body, in document order:
    ``unknown field "p"`` (once, even when the key repeats) and ``duplicate field "p"``.
    ``node`` None, or ``unknown`` False, reports duplicates only (an unstructured decode)."""
    errors: list[str] = []
    _decode(tree, node if (node is not None and unknown) else OPAQUE, "", errors)
    return errors


def _decode(value: Any, node: Node, path: str, errors: list[str]) -> None:
    if isinstance(value, Pairs):
        seen: set[str] = set()
        reported: set[str] = set()
        for key, child in value:
            where = _join(path, key)
            target = _child(node, key)
            if target is None:
                if key not in reported:
                    reported.add(key)
                    errors.append(f'unknown field "{where}"')
                continue
            if key in seen:
                errors.append(f'duplicate field "{where}"')
            seen.add(key)
            _decode(child, target, where, errors)
    elif isinstance(value, list):
        item = node.item if isinstance(node, ListOf) else OPAQUE
        for index, child in enumerate(value):
            _decode(child, item, f"{path}[{index}]", errors)


def unknown_fields(
    value: Any, node: Node | None, metadata_first: bool = False
) -> list[tuple[str, str]]:
    """Every undeclared field of ``value`` as (decoder path, structured-merge-diff path),
    keys visited in sorted order. With ``metadata_first`` (custom resources, whose
    metadata is checked apart) the root's metadata comes first; fields inside embedded
    objects' metadata always come last, as the API server's pruning reports them."""
    if node is None:
        return []
    found: list[tuple[str, str]] = []
    later: list[tuple[str, str]] = []
    _walk(value, node, "", "", (), found, later, metadata_first)
    return found + later


def _walk(
    value: Any,
    node: Node,
    path: str,
    smd: str,
    names: tuple[str, ...],
    found: list[tuple[str, str]],
    later: list[tuple[str, str]],
    metadata_first: bool = False,
) -> None:
    if isinstance(value, dict) and isinstance(node, Struct | MapOf):
        keys = sorted(value)
        if metadata_first and "metadata" in value:
            keys.remove("metadata")
            keys.insert(0, "metadata")
        for key in keys:
            target = _child(node, key)
            if target is None:
                into = later if isinstance(node, Struct) and node.embedded_meta else found
                into.append((_join(path, key), f"{smd}.{key}"))
                continue
            _walk(value[key], target, _join(path, key), f"{smd}.{key}", (*names, key), found, later)
    elif isinstance(value, list) and isinstance(node, ListOf):
        for index, item in enumerate(value):
            element = _item_element(node, names, item, index)
            _walk(item, node.item, f"{path}[{index}]", smd + element, names, found, later)


def _item_element(node: ListOf, names: tuple[str, ...], item: Any, index: int) -> str:
    """How structured-merge-diff names a list item: by its keys in a map list, else by
    position."""
    kind: str
    if node.list_type is None:
        kind, keys = list_type(names)
    else:
        kind, keys = node.list_type, node.keys
    if kind == "map" and keys and isinstance(item, dict):
        element = key_element(item, keys)
        if element is not None:
            return path_string((element,))
    return f"[{index}]"


def prune(value: Any, node: Node | None) -> Any:
    """``value`` without the fields ``node`` does not declare (new containers where
    something was dropped; everything else shared)."""
    if node is None:
        return value
    if isinstance(value, dict) and isinstance(node, Struct | MapOf):
        result: dict[str, Any] = {}
        for key, child in value.items():
            target = _child(node, key)
            if target is not None:
                result[key] = prune(child, target)
        return result
    if isinstance(value, list) and isinstance(node, ListOf):
        return [prune(item, node.item) for item in value]
    return value


def json_patch_errors(tree: Any) -> list[str]:
    """Strict errors of a JSON patch's operations themselves: fields other than op, path,
    from and value, and repeated keys (``json patch unknown field "[0].foo"``)."""
    if not isinstance(tree, list):
        return []
    errors: list[str] = []
    operation = FieldsStruct({"op": OPAQUE, "path": OPAQUE, "from": OPAQUE, "value": OPAQUE})
    for index, op in enumerate(tree):
        found: list[str] = []
        _decode(op, operation, f"[{index}]", found)
        errors.extend(f"json patch {e}" for e in found)
    return errors
