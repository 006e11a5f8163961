"""Functions of the trigger expression language: expr-lang's built-ins that triggers use
(``len``, ``any``, ``filter`` ...), Argo CD's ``time`` and ``strings`` namespaces, and the
methods of times and durations (``Add``, ``Sub``, ``Before``, ``Minutes`` ...).

The current time is never read here: ``time.Now()`` and ``now()`` return the ``now`` the
caller passed to the evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from bot.notify.expr_errors import EvalFailure
from bot.notify.expr_values import (
    NS_PER,
    Function,
    GoDuration,
    GoTime,
    Namespace,
    add_time,
    format_duration,
    format_rfc3339,
    format_value,
    is_array,
    is_number,
    parse_duration,
    parse_rfc3339,
    sub_times,
    type_name,
)

Predicate = Callable[[Any, int], Any]

RFC3339: Final = "2006-01-02T15:04:05Z07:00"
RFC3339_NANO: Final = "2006-01-02T15:04:05.999999999Z07:00"
_LAYOUTS: Final = {
    "Layout": "01/02 03:04:05PM '06 -0700",
    "ANSIC": "Mon Jan _2 15:04:05 2006",
    "RFC822": "02 Jan 06 15:04 MST",
    "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST",
    "RFC3339": RFC3339,
    "RFC3339Nano": RFC3339_NANO,
    "Kitchen": "3:04PM",
    "DateTime": "2006-01-02 15:04:05",
    "DateOnly": "2006-01-02",
    "TimeOnly": "15:04:05",
}


def _items(value: Any, fn: str) -> Sequence[Any]:
    """The elements a predicate function walks; nil is an empty array (nil-safe)."""
    if value is None:
        return ()
    if not is_array(value):
        raise EvalFailure(f"{fn}() needs an array, not {type_name(value)}")
    return value  # type: ignore[no-any-return]


def _truth(value: Any, fn: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise EvalFailure(f"the predicate of {fn}() must give a bool, not {type_name(value)}")
    return value


def _all(items: Any, pred: Predicate) -> bool:
    return all(_truth(pred(x, i), "all") for i, x in enumerate(_items(items, "all")))


def _any(items: Any, pred: Predicate) -> bool:
    return any(_truth(pred(x, i), "any") for i, x in enumerate(_items(items, "any")))


def _none(items: Any, pred: Predicate) -> bool:
    return not any(_truth(pred(x, i), "none") for i, x in enumerate(_items(items, "none")))


def _one(items: Any, pred: Predicate) -> bool:
    return sum(_truth(pred(x, i), "one") for i, x in enumerate(_items(items, "one"))) == 1


def _filter(items: Any, pred: Predicate) -> list[Any]:
    return [x for i, x in enumerate(_items(items, "filter")) if _truth(pred(x, i), "filter")]


def _map(items: Any, pred: Predicate) -> list[Any]:
    return [pred(x, i) for i, x in enumerate(_items(items, "map"))]


def _count(items: Any, pred: Predicate) -> int:
    return sum(_truth(pred(x, i), "count") for i, x in enumerate(_items(items, "count")))


def _find(items: Any, pred: Predicate) -> Any:
    return next(
        (x for i, x in enumerate(_items(items, "find")) if _truth(pred(x, i), "find")), None
    )


def _find_index(items: Any, pred: Predicate) -> int:
    found = (i for i, x in enumerate(_items(items, "findIndex")) if _truth(pred(x, i), "findIndex"))
    return next(found, -1)


def _find_last(items: Any, pred: Predicate) -> Any:
    elements = list(enumerate(_items(items, "findLast")))
    return next((x for i, x in reversed(elements) if _truth(pred(x, i), "findLast")), None)


def _len(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | Mapping) or is_array(value):
        return len(value)
    raise EvalFailure(f"len() needs a string, array or map, not {type_name(value)}")


def _string(value: Any, fn: str) -> str:
    if not isinstance(value, str):
        raise EvalFailure(f"{fn}() needs a string, not {type_name(value)}")
    return value


def _int(value: Any) -> int:
    if is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise EvalFailure("int() of a non-finite number")
        return int(value)
    if isinstance(value, GoDuration):
        return value.ns
    if isinstance(value, str):
        try:
            return int(value.strip(), 10)
        except ValueError:
            raise EvalFailure("int() of a string that is not an integer") from None
    raise EvalFailure(f"int() of {type_name(value)}")


def _float(value: Any) -> float:
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise EvalFailure("float() of a string that is not a number") from None
    raise EvalFailure(f"float() of {type_name(value)}")


def _number(value: Any, fn: str) -> int | float:
    if not is_number(value):
        raise EvalFailure(f"{fn}() needs numbers, not {type_name(value)}")
    return value  # type: ignore[no-any-return]


def _keys(value: Any) -> list[Any]:
    if not isinstance(value, Mapping):
        raise EvalFailure(f"keys() needs a map, not {type_name(value)}")
    return list(value.keys())


def _values(value: Any) -> list[Any]:
    if not isinstance(value, Mapping):
        raise EvalFailure(f"values() needs a map, not {type_name(value)}")
    return list(value.values())


def _join(items: Any, sep: Any = "") -> str:
    parts = [_string(x, "join") for x in _items(items, "join")]
    return _string(sep, "join").join(parts)


def _split(text: Any, sep: Any) -> list[str]:
    return _string(text, "split").split(_string(sep, "split"))


PREDICATE_BUILTINS: Final[Mapping[str, Callable[[Any, Predicate], Any]]] = {
    "all": _all,
    "any": _any,
    "none": _none,
    "one": _one,
    "filter": _filter,
    "map": _map,
    "count": _count,
    "find": _find,
    "findIndex": _find_index,
    "findLast": _find_last,
}

PLAIN_BUILTINS: Final[Mapping[str, Callable[..., Any]]] = {
    "len": _len,
    "type": type_name,
    "string": format_value,
    "int": _int,
    "float": _float,
    "abs": lambda n: abs(_number(n, "abs")),
    "max": lambda *ns: max(_number(n, "max") for n in ns),
    "min": lambda *ns: min(_number(n, "min") for n in ns),
    "first": lambda a: next(iter(_items(a, "first")), None),
    "last": lambda a: _items(a, "last")[-1] if _items(a, "last") else None,
    "keys": _keys,
    "values": _values,
    "lower": lambda s: _string(s, "lower").lower(),
    "upper": lambda s: _string(s, "upper").upper(),
    "trim": lambda s: _string(s, "trim").strip(),
    "trimPrefix": lambda s, p: _string(s, "trimPrefix").removeprefix(_string(p, "trimPrefix")),
    "trimSuffix": lambda s, p: _string(s, "trimSuffix").removesuffix(_string(p, "trimSuffix")),
    "hasPrefix": lambda s, p: _string(s, "hasPrefix").startswith(_string(p, "hasPrefix")),
    "hasSuffix": lambda s, p: _string(s, "hasSuffix").endswith(_string(p, "hasSuffix")),
    "indexOf": lambda s, p: _string(s, "indexOf").find(_string(p, "indexOf")),
    "replace": lambda s, a, b: _string(s, "replace").replace(
        _string(a, "replace"), _string(b, "replace")
    ),
    "split": _split,
    "join": _join,
    "duration": parse_duration,
    "date": parse_rfc3339,
}


def _time_method(t: GoTime, name: str) -> Function | None:
    def other(value: Any) -> GoTime:
        if not isinstance(value, GoTime):
            raise EvalFailure(f"Time.{name}() needs a time, not {type_name(value)}")
        return value

    def duration(value: Any) -> GoDuration:
        if isinstance(value, GoDuration):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return GoDuration(value)
        raise EvalFailure(f"Time.{name}() needs a duration, not {type_name(value)}")

    utc = t.dt
    methods: dict[str, Callable[..., Any]] = {
        "Add": lambda d: add_time(t, duration(d)),
        "Sub": lambda u: sub_times(t, other(u)),
        "Before": lambda u: utc < other(u).dt,
        "After": lambda u: utc > other(u).dt,
        "Equal": lambda u: utc == other(u).dt,
        "Unix": lambda: math.floor(utc.timestamp()),
        "UnixMilli": lambda: math.floor(utc.timestamp() * 1000),
        "IsZero": lambda: utc.year == 1 and utc.month == 1 and utc.day == 1,
        "UTC": lambda: t,
        "Year": lambda: utc.year,
        "Month": lambda: utc.month,
        "Day": lambda: utc.day,
        "Hour": lambda: utc.hour,
        "Minute": lambda: utc.minute,
        "Second": lambda: utc.second,
        "Weekday": lambda: utc.isoweekday() % 7,
        "String": lambda: format_rfc3339(t),
        "Format": lambda layout: _format_time(t, layout),
    }
    impl = methods.get(name)
    return Function(f"Time.{name}", impl) if impl else None


def _format_time(t: GoTime, layout: Any) -> str:
    if layout in (RFC3339, RFC3339_NANO):
        return format_rfc3339(t)
    raise EvalFailure("Time.Format() supports only time.RFC3339 and time.RFC3339Nano")


def _duration_method(d: GoDuration, name: str) -> Function | None:
    methods: dict[str, Callable[..., Any]] = {
        "Hours": lambda: d.ns / NS_PER["h"],
        "Minutes": lambda: d.ns / NS_PER["m"],
        "Seconds": lambda: d.ns / NS_PER["s"],
        "Milliseconds": lambda: int(d.ns / NS_PER["ms"]),
        "Microseconds": lambda: int(d.ns / NS_PER["us"]),
        "Nanoseconds": lambda: d.ns,
        "Abs": lambda: GoDuration(abs(d.ns)),
        "String": lambda: format_duration(d),
    }
    impl = methods.get(name)
    return Function(f"Duration.{name}", impl) if impl else None


def method_of(value: GoTime | GoDuration, name: str) -> Function:
    """The method ``name`` of a time or duration, bound to it."""
    found = (
        _time_method(value, name) if isinstance(value, GoTime) else _duration_method(value, name)
    )
    if found is None:
        raise EvalFailure(f"{type_name(value)} has no method '{name}'")
    return found


def time_namespace(now: datetime | None) -> Namespace:
    """Argo CD's ``time``: ``Now()`` (the injected ``now``), ``Parse(s)`` (RFC 3339; the
    two-argument Go form with an RFC 3339 layout too), duration constants and layout names."""

    def current() -> GoTime:
        if now is None:
            raise EvalFailure("time.Now() has no current time (the caller passed no 'now')")
        return GoTime(now)

    def parse(first: Any, second: Any = None) -> GoTime:
        if second is None:
            return parse_rfc3339(first)
        if first not in (RFC3339, RFC3339_NANO):
            raise EvalFailure("time.Parse() supports only the RFC 3339 layouts")
        return parse_rfc3339(second)

    members: dict[str, Any] = {
        "Now": Function("time.Now", current),
        "Parse": Function("time.Parse", parse),
        "ParseDuration": Function("time.ParseDuration", parse_duration),
        "Nanosecond": GoDuration(NS_PER["ns"]),
        "Microsecond": GoDuration(NS_PER["us"]),
        "Millisecond": GoDuration(NS_PER["ms"]),
        "Second": GoDuration(NS_PER["s"]),
        "Minute": GoDuration(NS_PER["m"]),
        "Hour": GoDuration(NS_PER["h"]),
        **_LAYOUTS,
    }
    return Namespace("time", members)


STRINGS: Final = Namespace(
    "strings",
    {
        "ReplaceAll": Function(
            "strings.ReplaceAll",
            lambda s, a, b: _string(s, "ReplaceAll").replace(
                _string(a, "ReplaceAll"), _string(b, "ReplaceAll")
            ),
        ),
        "ToUpper": Function("strings.ToUpper", lambda s: _string(s, "ToUpper").upper()),
        "ToLower": Function("strings.ToLower", lambda s: _string(s, "ToLower").lower()),
        "Contains": Function(
            "strings.Contains", lambda s, p: _string(p, "Contains") in _string(s, "Contains")
        ),
        "HasPrefix": PLAIN_BUILTINS["hasPrefix"],
        "HasSuffix": PLAIN_BUILTINS["hasSuffix"],
    },
)
