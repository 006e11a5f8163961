"""Typed, forgiving reads of fields from a Kubernetes object held as plain dicts.

Health checks run on whatever the cluster (or a user's file) hands over, so every read goes
through these helpers: a missing or null field gives the caller's default, exactly as an
omitted field decodes in Kubernetes' own Go types, while a field of the wrong type raises
``MalformedObject`` naming its path. ``reconciler.health.assess`` turns that error into an
Unknown health instead of letting it escape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

Obj = Mapping[str, Any]


class MalformedObject(ValueError):
    """A field of the object being assessed has a type or form its kind does not allow."""


class Located(Mapping[str, Any]):
    """A read-only view of a nested mapping that remembers where it sits in the object
    ("status.conditions[1]"), so that an error about one of its fields names the full path."""

    __slots__ = ("_data", "path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self._data = data
        self.path = path

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _where(obj: Obj, path: Sequence[str]) -> str:
    """The full dotted path of ``path`` below ``obj`` for messages."""
    parts = [obj.path] if isinstance(obj, Located) and obj.path else []
    parts.extend(path)
    return ".".join(parts) or "object"


def _walk(obj: Obj, path: Sequence[str]) -> Any:
    """The value at ``path`` (None when any step is absent); mappings are required on the way."""
    current: Any = obj
    for depth, key in enumerate(path):
        if current is None:
            return None
        if not isinstance(current, Mapping):
            where = _where(obj, path[:depth])
            raise MalformedObject(f"{where} should be a mapping, not {_type_name(current)}")
        current = current.get(key)
    return current


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def mapping(obj: Obj, *path: str) -> Obj:
    """The mapping at ``path``; an empty one when absent."""
    value = _walk(obj, path)
    where = _where(obj, path)
    if value is None:
        return Located({}, where)
    if not isinstance(value, Mapping):
        raise MalformedObject(f"{where} should be a mapping, not {_type_name(value)}")
    return Located(value, where)


def sequence(obj: Obj, *path: str) -> list[Any]:
    """The list at ``path``; an empty one when absent."""
    value = _walk(obj, path)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise MalformedObject(f"{_where(obj, path)} should be a list, not {_type_name(value)}")
    return list(value)


def mappings(obj: Obj, *path: str) -> list[Obj]:
    """The list of mappings at ``path`` (conditions, container statuses, ...)."""
    where = _where(obj, path)
    located: list[Obj] = []
    for index, item in enumerate(sequence(obj, *path)):
        if not isinstance(item, Mapping):
            raise MalformedObject(f"{where}[{index}] should be a mapping, not {_type_name(item)}")
        located.append(Located(item, f"{where}[{index}]"))
    return located


def string(obj: Obj, *path: str, default: str = "") -> str:
    """The string at ``path``; ``default`` when absent."""
    value = _walk(obj, path)
    if value is None:
        return default
    if not isinstance(value, str):
        raise MalformedObject(f"{_where(obj, path)} should be a string, not {_type_name(value)}")
    return value


def integer(obj: Obj, *path: str, default: int = 0) -> int:
    """The integer at ``path``; ``default`` when absent. Whole floats are accepted."""
    value = _walk(obj, path)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise MalformedObject(f"{_where(obj, path)} should be an integer, not {_type_name(value)}")


def optional_integer(obj: Obj, *path: str) -> int | None:
    """The integer at ``path``, or None when absent (for fields whose absence means 'unset')."""
    if _walk(obj, path) is None:
        return None
    return integer(obj, *path)


def boolean(obj: Obj, *path: str, default: bool = False) -> bool:
    """The boolean at ``path``; ``default`` when absent."""
    value = _walk(obj, path)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise MalformedObject(
            f"{_where(obj, path)} should be true or false, not {_type_name(value)}"
        )
    return value


def timestamp(obj: Obj, *path: str) -> datetime | None:
    """The RFC 3339 time at ``path`` as an aware datetime, or None when absent.

    YAML loaders turn unquoted times into datetimes, the API server sends strings; both are
    accepted. A datetime without a zone is taken as UTC, which is what Kubernetes writes.
    """
    value = _walk(obj, path)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise MalformedObject(
                f"{_where(obj, path)} should be an RFC 3339 time such as 2024-05-01T03:00:00Z"
            ) from None
    if not isinstance(value, datetime):
        raise MalformedObject(f"{_where(obj, path)} should be a time, not {_type_name(value)}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def find_condition(conditions: Sequence[Obj], condition_type: str) -> Obj | None:
    """The first condition of ``condition_type`` in a status.conditions list, if any."""
    for condition in conditions:
        if condition.get("type") == condition_type:
            return condition
    return None
