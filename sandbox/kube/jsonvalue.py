"""Small helpers over JSON-like values (dict, list, str, int, float, bool, None).

Shared by the patch and field-manager modules: a fast deep copy (so results never share
mutable structure with their inputs), JSON equality (``true`` is not ``1``), and
:class:`PatchError`, the one error type for input a client got wrong.
"""

from __future__ import annotations

from typing import Any


class PatchError(ValueError):
    """A patch or applied configuration that cannot be used.

    The message names the problem and the place (operation index, field path) and never
    contains a field's value, so the server may show it to the client as is (400/422).
    """


def copy_json(value: Any) -> Any:
    """Deep copy of a JSON-like value; much faster than :func:`copy.deepcopy` for this shape."""
    kind = type(value)
    if kind is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if kind is list:
        return [copy_json(v) for v in value]
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [copy_json(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON defines it: numbers by value, but booleans are not numbers."""
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(key in b and json_equal(value, b[key]) for key, value in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float):
        return isinstance(b, int | float) and a == b
    return type(a) is type(b) and bool(a == b)


def type_name(value: Any) -> str:
    """The JSON name of a value's type, for error messages that must not show the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
