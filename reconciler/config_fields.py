"""Typed field access over YAML mappings that records problems instead of raising.

Validation must report every problem in a file at once, so reading a field never throws: a
:class:`Fields` view reads one mapping at a known path (``spec.source``), returns a default
when a value is missing or wrong, and adds a message to the shared :class:`Problems` naming
the field and, where known, its line. Callers build model objects from what comes back and
discard them if any problem was recorded.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar

from reconciler.config_yaml import LineDict

T = TypeVar("T")

# Go's time.ParseDuration units (Argo CD's durations), in seconds.
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NUMBER = re.compile(r"^\d+(?:\.\d*)?$|^\.\d+$")


def parse_duration(text: str) -> float:
    """Seconds in an Argo CD duration: Go syntax ("5s", "3m", "1h30m", "500ms") or a bare
    number of seconds ("30"). Raises ValueError for anything else, including negatives."""
    text = text.strip()
    if _NUMBER.match(text):
        return float(text)
    position, total = 0, 0.0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None:
            raise ValueError(f"not a duration: {text!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not text:
        raise ValueError("empty duration")
    return total


def describe(value: Any) -> str:
    """A short description of a YAML value for "got ..." messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def redact_url(url: str) -> str:
    """``url`` fit for a message: the password of a ``user:password@`` part is masked, and so
    is a lone HTTP(S) user part (``https://TOKEN@host`` is a common way to pass a token)."""
    url = re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@", r"\1:***@", url)
    return re.sub(r"^(https?://)[^/@:]+@", r"\1***@", url, flags=re.IGNORECASE)


def type_name(value: Any) -> str:
    """The kind of a value without showing it: used for fields whose values are secret."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a " + type(value).__name__


def is_empty(value: Any) -> bool:
    """Whether a value is absent in effect (null, false, "", {} or [])."""
    return value is None or value is False or value in ("", {}, [])


def suggestion(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Problems:
    """The problems found in one document; each message starts with ``prefix`` (the file,
    the document number and the object) and ends with the line when known. ``messages``
    lists them in line order, so they read top to bottom like the file."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._entries: list[tuple[int, str]] = []

    def add(self, path: str, message: str, line: int = 0) -> None:
        where = f"{path}: " if path else ""
        suffix = f" (line {line})" if line else ""
        self._entries.append((line, f"{self.prefix}: {where}{message}{suffix}"))

    @property
    def messages(self) -> list[str]:
        return [message for _, message in sorted(self._entries, key=lambda entry: entry[0])]


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Fields:
    """Reads the fields of one mapping at ``path``, recording problems in ``problems``."""

    def __init__(
        self, data: Mapping[Any, Any], path: str, problems: Problems, *, redact: bool = False
    ) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self.redact = redact

    def redacted(self) -> Fields:
        """This view, and every view taken from it, never quotes a value in a message (only
        its type): for sections that may hold secrets."""
        return Fields(self.data, self.path, self.problems, redact=True)

    def child(self, data: Mapping[Any, Any], path: str) -> Fields:
        """A view of a nested mapping, inheriting ``redact``."""
        return Fields(data, path, self.problems, redact=self.redact)

    def got(self, value: Any) -> str:
        """``value`` described for a "got ..." message, or only its type when redacting."""
        return type_name(value) if self.redact else describe(value)

    # -- bookkeeping ---------------------------------------------------------------------

    def line(self, key: str | None = None) -> int:
        if isinstance(self.data, LineDict):
            return self.data.line if key is None else self.data.line_of(key)
        return 0

    def problem(self, key: str | None, message: str) -> None:
        path = self.path if key is None else join(self.path, key)
        self.problems.add(path, message, self.line(key))

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def check_keys(
        self,
        known: Collection[str],
        unsupported: Mapping[str, str] | None = None,
        ignored: Collection[str] = (),
    ) -> None:
        """Report keys that are neither ``known`` nor ``ignored``. Keys in ``unsupported``
        (an Argo CD field kajitori does not implement yet → the reason) are refused with that
        reason unless their value is empty."""
        unsupported = unsupported or {}
        for key, value in self.data.items():
            if not isinstance(key, str):
                self.problems.add(self.path, f"key {describe(key)} is not a string", self.line())
            elif key in known or key in ignored:
                continue
            elif key in unsupported:
                if not is_empty(value):
                    self.problem(key, f"not supported yet: {unsupported[key]}")
            else:
                hint = suggestion(key, [*known, *unsupported])
                self.problem(key, f"unknown field{hint}")

    # -- scalars -------------------------------------------------------------------------

    def _typed(
        self,
        key: str,
        default: T,
        accept: Callable[[Any], bool],
        expected: str,
        required: bool,
        secret: bool = False,
    ) -> T:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, "required")
            return default
        if not accept(value):
            got = type_name(value) if secret else self.got(value)
            self.problem(key, f"expected {expected}, got {got}")
            return default
        result: T = value
        return result

    def string(
        self, key: str, default: str = "", *, required: bool = False, nonempty: bool = False
    ) -> str:
        """A string field. ``nonempty`` also refuses ""."""
        hint = " (quote it)" if isinstance(self.data.get(key), int | float | bool) else ""
        value = self._typed(key, default, lambda v: isinstance(v, str), "a string" + hint, required)
        if (required or nonempty) and self.data.get(key) == "":
            self.problem(key, "must not be empty")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        return self._typed(key, default, lambda v: isinstance(v, bool), "a boolean", False)

    def integer(self, key: str, default: int, *, minimum: int | None = None) -> int:
        value = self._typed(
            key,
            default,
            lambda v: isinstance(v, int) and not isinstance(v, bool),
            "an integer",
            False,
        )
        if minimum is not None and value < minimum:
            self.problem(key, f"must be at least {minimum}, got {value}")
            return default
        return value

    def number(self, key: str, default: float, *, minimum: float | None = None) -> float:
        value = self._typed(
            key,
            default,
            lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
            "a number",
            False,
        )
        if minimum is not None and value < minimum:
            self.problem(key, f"must be at least {minimum:g}, got {self.got(value)}")
            return default
        return float(value)

    def duration(self, key: str, default: float, *, positive: bool = False) -> float:
        """A duration in seconds: a Go duration string ("5s", "3m", "1h") or a number of
        seconds."""
        value = self.data.get(key)
        if value is None:
            return default
        seconds: float
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str):
            try:
                seconds = parse_duration(value)
            except ValueError:
                self.problem(
                    key, f"expected a duration such as '30s', '3m' or '1h', got {self.got(value)}"
                )
                return default
        else:
            self.problem(
                key, f"expected a duration such as '30s', '3m' or '1h', got {self.got(value)}"
            )
            return default
        if seconds < 0 or not math.isfinite(seconds) or (positive and seconds == 0):
            self.problem(
                key,
                f"must be {'greater than zero' if positive else 'positive'}, got {self.got(value)}",
            )
            return default
        return seconds

    # -- collections ---------------------------------------------------------------------

    def mapping(self, key: str, *, required: bool = False) -> Fields | None:
        """The nested mapping at ``key`` as a Fields view, or None when absent or wrong."""
        value = self._typed(key, None, lambda v: isinstance(v, dict), "a mapping", required)
        return None if value is None else self.child(value, join(self.path, key))

    def items(self, key: str) -> list[Fields]:
        """The list of mappings at ``key``, one Fields view per well-formed entry."""
        values: list[Any] = self._typed(key, [], lambda v: isinstance(v, list), "a list", False)
        views: list[Fields] = []
        for index, item in enumerate(values):
            path = f"{join(self.path, key)}[{index}]"
            if isinstance(item, dict):
                views.append(self.child(item, path))
            else:
                self.problems.add(path, f"expected a mapping, got {self.got(item)}", self.line(key))
        return views

    def strings(self, key: str) -> tuple[str, ...]:
        values: list[Any] = self._typed(
            key, [], lambda v: isinstance(v, list), "a list of strings", False
        )
        result: list[str] = []
        for index, item in enumerate(values):
            if isinstance(item, str):
                result.append(item)
            else:
                self.problems.add(
                    f"{join(self.path, key)}[{index}]",
                    f"expected a string, got {self.got(item)}",
                    self.line(key),
                )
        return tuple(result)

    def string_map(self, key: str) -> dict[str, str]:
        values: dict[Any, Any] = self._typed(
            key, {}, lambda v: isinstance(v, dict), "a mapping of strings", False
        )
        result: dict[str, str] = {}
        for name, item in values.items():
            if isinstance(name, str) and isinstance(item, str):
                result[name] = item
            else:
                self.problems.add(
                    join(join(self.path, key), str(name)),
                    f"expected a string, got {self.got(item)}"
                    + (" (quote it)" if isinstance(item, int | float | bool) else ""),
                    values.line_of(name) if isinstance(values, LineDict) else self.line(key),
                )
        return result
