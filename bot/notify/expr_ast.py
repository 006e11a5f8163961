"""The syntax tree of a compiled trigger expression: small frozen dataclasses.

Every node carries ``pos`` and ``end``, offsets into the source, so errors can point at a
column and quote the part of the expression they are about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Node:
    """Base of all nodes: ``pos``/``end`` delimit the node's text in the source."""

    pos: int
    end: int


@dataclass(frozen=True)
class Literal(Node):
    """A string, number, boolean or nil written in the expression."""

    value: Any


@dataclass(frozen=True)
class ArrayLit(Node):
    """``[a, b, c]``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class MapLit(Node):
    """``{key: value, ...}``; keys are names, strings or numbers written in place."""

    entries: tuple[tuple[Any, Node], ...]


@dataclass(frozen=True)
class Name(Node):
    """A variable (``app``, ``context``, ``time`` ...). Unknown names evaluate to nil."""

    name: str


@dataclass(frozen=True)
class Pointer(Node):
    """``#`` (the current element inside a predicate) or ``#index``."""

    name: str


@dataclass(frozen=True)
class Member(Node):
    """``obj.name``, ``obj[key]`` and their optional forms ``obj?.name`` / ``obj?.[key]``."""

    obj: Node
    key: Node
    optional: bool = False


@dataclass(frozen=True)
class Slice(Node):
    """``obj[start:end]`` with either bound optional."""

    obj: Node
    start: Node | None
    stop: Node | None


@dataclass(frozen=True)
class Call(Node):
    """A call of a built-in function (``callee`` is a :class:`Name`) or of a method or
    namespace function (``callee`` is a :class:`Member`, e.g. ``time.Now()``)."""

    callee: Node
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Closure(Node):
    """A predicate argument: ``{# > 1}``, ``.name == 'x'`` or ``# > 1`` without braces."""

    body: Node


@dataclass(frozen=True)
class Unary(Node):
    """``!x`` / ``not x`` (op ``!``), ``-x``, ``+x``."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    """Any two-operand operator, including ``not in`` and ``not matches`` as one op."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Conditional(Node):
    """``cond ? then : otherwise``."""

    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Chain(Node):
    """A member chain with at least one ``?.``: a nil before any ``?.`` ends the whole chain
    with nil (``a?.b.c`` is nil when ``a`` is nil)."""

    inner: Node


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of ``node``, for walks that must not recurse (depth checks)."""
    match node:
        case ArrayLit(items=items):
            return items
        case MapLit(entries=entries):
            return tuple(value for _, value in entries)
        case Member(obj=obj, key=key):
            return (obj, key)
        case Slice(obj=obj, start=start, stop=stop):
            return tuple(n for n in (obj, start, stop) if n is not None)
        case Call(callee=callee, args=args):
            return (callee, *args)
        case Closure(body=body):
            return (body,)
        case Unary(operand=operand):
            return (operand,)
        case Binary(left=left, right=right):
            return (left, right)
        case Conditional(cond=cond, then=then, otherwise=otherwise):
            return (cond, then, otherwise)
        case Chain(inner=inner):
            return (inner,)
    return ()
