"""Reading and writing the fields of a stored sync operation state: times, durations, and the
checks that name the field a stored state gets wrong.

Split from ``reconciler.sync_types`` so that the parts of the state kept in their own modules
(``reconciler.sync_approval``, ``reconciler.sync_hook_run``) read and write their fields the
same way without an import cycle. ``reconciler.sync_types`` re-exports the public names.

Pure: no I/O, no clock (times are passed in as unix seconds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from reconciler.errors import KajitoriError


class StateError(KajitoriError, ValueError):
    """A stored operation state that cannot be read back; the message names the field."""


def rfc3339(seconds: float) -> str:
    """Unix seconds as Argo CD writes times: ``2024-05-01T10:00:00Z`` (whole seconds)."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str, where: str = "time") -> float:
    """Unix seconds from an RFC 3339 time; StateError naming ``where`` when unreadable."""
    try:
        parsed = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise StateError(f"{where}: {text!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def format_duration(seconds: float) -> str:
    """Seconds as an Argo CD duration string (``5s``, ``3m``, ``1.5s``)."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def parse_duration(value: Any, where: str) -> float:
    """Seconds from ``5``, ``"5"``, ``"5s"``, ``"3m"``, ``"1h"`` or ``"500ms"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if match is None:
        raise StateError(f"{where}: {value!r} is not a duration such as 5s or 3m")
    return float(match.group(1)) * _UNITS[match.group(2)]


def as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` when it is a JSON object; StateError naming ``where`` otherwise."""
    if not isinstance(value, Mapping):
        raise StateError(f"{where} must be an object, not {type(value).__name__}")
    return value


def list_field(data: Mapping[str, Any], name: str) -> Sequence[Any]:
    """The list in ``data[name]`` ([] when absent); StateError when it is not a list."""
    value = data.get(name) or []
    if not isinstance(value, list | tuple):
        raise StateError(f"{name} must be a list, not {type(value).__name__}")
    return value
