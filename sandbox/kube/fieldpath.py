"""Field sets in the API server's ``FieldsV1`` encoding, and the operations SSA needs on them.

A field set is a trie written exactly as ``managedFields[].fieldsV1`` is: each key is one
path element and each value the subtree below it.

- ``f:<name>``  an object field;
- ``k:<json>``  a map-list item, by its key fields as a compact JSON object with sorted keys
  (``k:{"containerPort":80,"protocol":"TCP"}``);
- ``v:<json>``  a set-list value (``v:"foregroundDeletion"``);
- ``i:<n>``     a list position (only in sets written by others; never produced here).

A node is *a member* of the set when it is a leaf (``{}``) or holds the key ``"."``; a node
with children and no ``"."`` only leads to members. Working on this encoding directly keeps
reading and writing ``managedFields`` free. Functions here never mutate their arguments.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from sandbox.kube.schema import KEY_DEFAULTS

FieldSet = dict[str, Any]
SELF = "."

#: Fields the API server sets itself: never owned by a manager, never removed by an apply.
ROOT_BOOKKEEPING = frozenset({"apiVersion", "kind"})
METADATA_BOOKKEEPING = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "deletionTimestamp",
        "selfLink",
    }
)
NOTHING: frozenset[str] = frozenset()


def untracked(path: tuple[str, ...]) -> frozenset[str]:
    """The bookkeeping field names of the object at ``path`` (the root or its metadata)."""
    if not path:
        return ROOT_BOOKKEEPING
    if path == ("metadata",):
        return METADATA_BOOKKEEPING
    return NOTHING


def is_member(node: FieldSet) -> bool:
    """Whether the path leading to ``node`` is itself in the set."""
    return not node or SELF in node


def make_node(member: bool, children: FieldSet) -> FieldSet | None:
    """The node for a path with the given membership and children; None when it holds nothing."""
    if not children:
        return {} if member else None
    if member:
        node: FieldSet = {SELF: {}}
        node.update(children)
        return node
    return children


@lru_cache(maxsize=8192)
def _encode_key(names: tuple[str, ...], values: tuple[Any, ...]) -> str:
    pairs = sorted(zip(names, values, strict=True))
    return "k:" + json.dumps(dict(pairs), separators=(",", ":"), ensure_ascii=False)


def key_element(item: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The ``k:`` element for a map-list item, or None when a key field without a default is
    missing (or holds an object or list)."""
    values = []
    for name in keys:
        value = item.get(name, KEY_DEFAULTS.get(name))
        if value is None or isinstance(value, dict | list):
            return None
        values.append(value)
    return _encode_key(keys, tuple(values))


def value_element(value: Any) -> str:
    """The ``v:`` element for a set-list value."""
    return "v:" + json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _format_element(element: str) -> str:
    kind, body = element[:2], element[2:]
    if kind == "f:":
        return "." + body
    if kind == "k:":
        try:
            fields = json.loads(body)
        except ValueError:
            return "[" + body + "]"
        if isinstance(fields, dict):
            parts = (f"{name}={json.dumps(value)}" for name, value in fields.items())
            return "[" + ",".join(parts) + "]"
        return "[" + body + "]"
    if kind == "v:":
        return "[=" + body + "]"
    if kind == "i:":
        return "[" + body + "]"
    return "." + element


def path_string(elements: tuple[str, ...]) -> str:
    """A path as the API server prints it in conflicts:
    ``.spec.template.spec.containers[name="web"].image``."""
    return "".join(_format_element(e) for e in elements)


def union(a: FieldSet, b: FieldSet) -> FieldSet:
    """Every path in ``a`` or ``b``."""
    if not b:
        return a if a else b
    if not a:
        return b
    children: FieldSet = {}
    for key, child in a.items():
        if key != SELF:
            other = b.get(key)
            children[key] = child if other is None else union(child, other)
    for key, child in b.items():
        if key != SELF and key not in a:
            children[key] = child
    node = make_node(is_member(a) or is_member(b), children)
    return node if node is not None else {}


def _difference(a: FieldSet, b: FieldSet, top: bool) -> FieldSet | None:
    member = (not top) and is_member(a) and not is_member(b)
    children: FieldSet = {}
    for key, child in a.items():
        if key == SELF:
            continue
        other = b.get(key)
        if other is None:
            children[key] = child
        else:
            rest = _difference(child, other, False)
            if rest is not None:
                children[key] = rest
    return make_node(member, children)


def difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """The paths of set ``a`` (a root node) that are not in set ``b``."""
    if not b:
        return a
    return _difference(a, b, True) or {}


def _without_subtrees(a: FieldSet, removed: FieldSet) -> FieldSet | None:
    children: FieldSet = {}
    for key, child in a.items():
        if key == SELF:
            continue
        gone = removed.get(key)
        if gone is None:
            children[key] = child
        elif gone:  # an inner node of `removed`: look deeper
            rest = _without_subtrees(child, gone)
            if rest is not None:
                children[key] = rest
        # a leaf of `removed`: the field and everything below it are gone
    return make_node(SELF in a or not a, children)


def without_subtrees(a: FieldSet, removed: FieldSet) -> FieldSet:
    """Set ``a`` minus every path at or below a leaf of ``removed`` (fields that disappeared
    from the object, with everything they contained)."""
    if not removed:
        return a
    children: FieldSet = {}
    for key, child in a.items():
        gone = removed.get(key)
        if gone is None:
            children[key] = child
        elif gone:
            rest = _without_subtrees(child, gone)
            if rest is not None:
                children[key] = rest
    return children


def insert(root: FieldSet, elements: tuple[str, ...]) -> None:
    """Add one path to ``root`` in place (for a set the caller is building)."""
    node = root
    last = len(elements) - 1
    for depth, element in enumerate(elements):
        child = node.get(element)
        if child is None:
            child = {}
            node[element] = child
        elif (depth == last) == bool(child):
            # the path itself becomes a member, or a member leaf is about to get children
            child[SELF] = {}
        node = child
