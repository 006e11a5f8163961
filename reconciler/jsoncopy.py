"""A fast deep copy for JSON-shaped trees: plain dicts, lists and scalars.

Kubernetes objects as the reconciler holds them (parsed YAML or JSON) are exactly such trees,
and the comparison path copies thousands of them per poll. ``copy.deepcopy`` handles any
Python object, so it keeps a memo of everything it copied and dispatches through several calls
per node; for these trees it is several times slower than a walk that only knows dicts and
lists. Anything else found inside (a tuple, a dict subclass, an arbitrary object) is still
handed to ``copy.deepcopy``, so the result always equals what ``copy.deepcopy`` would give and
shares nothing mutable with the original. Pure.
"""

from __future__ import annotations

import copy
from typing import Any, Final, TypeVar

__all__ = ["json_copy"]

T = TypeVar("T")

# Immutable leaves returned as they are (what deepcopy does for them too).
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def json_copy(value: T) -> T:
    """A deep copy of ``value``: new dicts and lists all the way down, scalars shared."""
    kind = type(value)
    if kind is dict:
        return _copy_dict(value)  # type: ignore[arg-type, return-value]
    if kind is list:
        return _copy_list(value)  # type: ignore[arg-type, return-value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


def _copy_dict(source: dict[Any, Any]) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key, item in source.items():
        kind = type(item)
        if kind is dict:
            result[key] = _copy_dict(item)
        elif kind is list:
            result[key] = _copy_list(item)
        elif kind in _SCALARS:
            result[key] = item
        else:
            result[key] = copy.deepcopy(item)
    return result


def _copy_list(source: list[Any]) -> list[Any]:
    result: list[Any] = []
    append = result.append
    for item in source:
        kind = type(item)
        if kind is dict:
            append(_copy_dict(item))
        elif kind is list:
            append(_copy_list(item))
        elif kind in _SCALARS:
            append(item)
        else:
            append(copy.deepcopy(item))
    return result
