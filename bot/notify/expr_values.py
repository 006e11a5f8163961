"""Run-time values of the trigger expression language besides JSON data: Go-like times and
durations, callable functions and namespaces (``time``, ``strings``), and the equality,
ordering and formatting rules shared by the evaluator and the built-ins.

Only :class:`Function` values can be called, and only :class:`Namespace` members and the
methods listed here can be reached with ``.``: no Python attribute is ever looked up, so an
expression cannot reach ``__class__``, ``__import__`` or anything else of the interpreter.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bot.notify.expr_errors import EvalFailure

NS_PER: Final = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


@dataclass(frozen=True, order=True)
class GoDuration:
    """A Go ``time.Duration``: whole nanoseconds. ``1 * time.Minute`` and
    ``t1.Sub(t2)`` give one; ``.Minutes()`` and friends read it."""

    ns: int

    def seconds(self) -> float:
        return self.ns / 1e9


@dataclass(frozen=True)
class GoTime:
    """A Go ``time.Time``: an aware datetime (kept in UTC), with microsecond precision."""

    dt: datetime

    def __post_init__(self) -> None:
        if self.dt.tzinfo is None:
            raise ValueError("GoTime needs an aware datetime")


@dataclass(frozen=True)
class Function:
    """A callable value: a built-in, a namespace function such as ``time.Parse`` or a method
    bound to a value such as ``t.Add``. ``impl`` receives the evaluated arguments."""

    name: str
    impl: Callable[..., Any] = field(repr=False)

    def call(self, args: Sequence[Any]) -> Any:
        try:
            return self.impl(*args)
        except EvalFailure:
            raise
        except TypeError:
            raise EvalFailure(f"wrong number or types of arguments for {self.name}()") from None
        except (ValueError, ArithmeticError) as exc:
            raise EvalFailure(f"{self.name}() failed: {type(exc).__name__}") from None


@dataclass(frozen=True)
class Namespace:
    """A named set of functions and constants reached with ``.`` (``time.Now()``,
    ``time.Minute``). Plain callables given as members are wrapped in :class:`Function`, so a
    caller can add its own (the template side adds ``repo.GetCommitMetadata``)."""

    name: str
    members: Mapping[str, Any]

    def member(self, key: str) -> Any:
        if key not in self.members:
            raise EvalFailure(f"{self.name} has no member '{key}'")
        value = self.members[key]
        if callable(value) and not isinstance(value, Function):
            return Function(f"{self.name}.{key}", value)
        return value


def type_name(value: Any) -> str:
    """The expression-language name of a value's type, for messages and ``type()``."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, Sequence):
        return "array"
    if isinstance(value, GoTime):
        return "time.Time"
    if isinstance(value, GoDuration):
        return "time.Duration"
    if isinstance(value, Function | Namespace):
        return "func"
    return "unknown"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_array(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def equal(a: Any, b: Any) -> bool:
    """expr's ``==``: numbers by value (1 == 1.0), arrays and maps deeply, booleans only
    equal to booleans, times by instant; values of different types are never equal."""
    if a is None or b is None:
        return a is None and b is None
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if is_array(a) and is_array(b):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, GoTime) and isinstance(b, GoTime):
        return a.dt == b.dt
    if isinstance(a, GoDuration) and isinstance(b, GoDuration):
        return a.ns == b.ns
    return False


def ordering_key(value: Any) -> tuple[str, Any]:
    """The class and key used by ``<``/``>``: numbers, strings, times and durations order
    among themselves; a duration compares with a plain number as nanoseconds (as in Go)."""
    if is_number(value):
        return ("number", value)
    if isinstance(value, GoDuration):
        return ("number", value.ns)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, GoTime):
        return ("time", value.dt)
    raise EvalFailure(f"cannot order a value of type {type_name(value)}")


def compare(op: str, a: Any, b: Any) -> bool:
    """``<``, ``<=``, ``>``, ``>=``; nil on either side is false rather than an error."""
    if a is None or b is None:
        return False
    (kind_a, key_a), (kind_b, key_b) = ordering_key(a), ordering_key(b)
    if kind_a != kind_b:
        raise EvalFailure(f"cannot compare {type_name(a)} {op} {type_name(b)}")
    if op == "<":
        return bool(key_a < key_b)
    if op == "<=":
        return bool(key_a <= key_b)
    if op == ">":
        return bool(key_a > key_b)
    return bool(key_a >= key_b)


def format_value(value: Any) -> str:
    """A value as text, like Go's ``%v`` where it matters for ``oncePer`` keys: nil is
    ``<nil>``, booleans are ``true``/``false``; arrays and maps become JSON."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, GoTime):
        return format_rfc3339(value)
    if isinstance(value, GoDuration):
        return format_duration(value)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=format_value, ensure_ascii=False)
    return f"<{type_name(value)}>"


def format_rfc3339(value: GoTime) -> str:
    """RFC 3339 in UTC with a ``Z``; fractional seconds only when there are any."""
    dt = value.dt.astimezone(UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def format_duration(value: GoDuration) -> str:
    """Go's ``Duration.String()``: ``1h2m3s``, ``1.5s``, ``250ms``, ``0s``."""
    ns = value.ns
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns / size) + unit
    hours, rest = divmod(ns, NS_PER["h"])
    minutes, rest = divmod(rest, NS_PER["m"])
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    return sign + text + _trim(rest / 1e9) + "s"


def _trim(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


def parse_duration(text: Any) -> GoDuration:
    """Go's ``time.ParseDuration``: ``"300ms"``, ``"-1.5h"``, ``"2h45m"``."""
    if not isinstance(text, str) or not text:
        raise EvalFailure(f"a duration must be a non-empty string, not {type_name(text)}")
    body, sign = text, 1
    if body[0] in "+-":
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    if body == "0":
        return GoDuration(0)
    total, pos = 0.0, 0
    for part in _DURATION_PART.finditer(body):
        if part.start() != pos:
            break
        total += float(part.group(1)) * NS_PER[part.group(2)]
        pos = part.end()
    if pos != len(body) or pos == 0:
        raise EvalFailure("invalid duration string (expected e.g. '90s', '5m', '1h30m')")
    return GoDuration(sign * round(total))


def parse_rfc3339(text: Any) -> GoTime:
    """Go's ``time.Parse(time.RFC3339, s)``: an offset (or ``Z``) is required."""
    if not isinstance(text, str):
        raise EvalFailure(f"time.Parse needs a string, not {type_name(text)}")
    candidate = text.strip()
    if len(candidate) < 20 or candidate[10] not in "Tt":
        raise EvalFailure("time.Parse: the text is not an RFC 3339 time")
    try:
        dt = datetime.fromisoformat(candidate.replace("z", "Z"))
    except ValueError:
        raise EvalFailure("time.Parse: the text is not an RFC 3339 time") from None
    if dt.tzinfo is None:
        raise EvalFailure("time.Parse: the RFC 3339 time has no offset")
    return GoTime(dt.astimezone(UTC))


def seconds_of(value: Any) -> float:
    """A number of seconds from a number, a numeric string or a duration (or its text)."""
    if isinstance(value, GoDuration):
        return value.seconds()
    if is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise EvalFailure("a number of seconds must be finite")
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return parse_duration(value).seconds()
    raise EvalFailure(f"expected seconds or a duration, not {type_name(value)}")


def add_time(t: GoTime, d: GoDuration) -> GoTime:
    try:
        return GoTime(t.dt + timedelta(microseconds=d.ns // 1000))
    except OverflowError:
        raise EvalFailure("time out of range") from None


def sub_times(a: GoTime, b: GoTime) -> GoDuration:
    delta = a.dt - b.dt
    return GoDuration(
        (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    )
