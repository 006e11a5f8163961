"""Label and field selectors as the list and watch verbs take them.

Label selectors support equality (``a=b``, ``a==b``, ``a!=b``) and set-based requirements
(``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``). Field selectors support ``=``, ``==`` and
``!=`` on dotted field paths (``metadata.name``, ``metadata.namespace``, ``status.phase``, ...).
Both compile to a predicate over an object; a malformed selector raises ``StoreError`` 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.kube.errors import bad_request

Predicate = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9._/-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)\s*$")


def _split_requirements(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise bad_request(f"unable to parse requirement: unbalanced ')' in {selector!r}")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise bad_request(f"unable to parse requirement: unbalanced '(' in {selector!r}")
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _labels(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return labels if isinstance(labels, dict) else {}


def _label_requirement(text: str) -> Predicate:
    eq = _EQ_RE.match(text)
    if eq:
        key, op, value = eq.group(1), eq.group(2), eq.group(3)
        if op == "!=":
            return lambda obj: _labels(obj).get(key) != value
        return lambda obj: _labels(obj).get(key) == value
    match = _SET_RE.match(text)
    if not match:
        raise bad_request(f"unable to parse requirement: invalid label selector {text.strip()!r}")
    negate, key, op, values_text = match.groups()
    if op is None:
        if negate:
            return lambda obj: key not in _labels(obj)
        return lambda obj: key in _labels(obj)
    if negate:
        raise bad_request(f"unable to parse requirement: invalid label selector {text.strip()!r}")
    values = frozenset(v.strip() for v in values_text.split(",") if v.strip())
    if op == "in":
        return lambda obj: _labels(obj).get(key) in values
    return lambda obj: _labels(obj).get(key) not in values


def parse_label_selector(selector: str | None) -> Predicate | None:
    """A predicate for a label selector string; None when it selects everything."""
    if not selector or not selector.strip():
        return None
    checks = [_label_requirement(part) for part in _split_requirements(selector)]
    if len(checks) == 1:
        return checks[0]
    return lambda obj: all(check(obj) for check in checks)


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string value of a dotted field path ("" when absent), as field selectors see it."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def _field_check(path: str, value: str, negate: bool) -> Predicate:
    if negate:
        return lambda obj: field_value(obj, path) != value
    return lambda obj: field_value(obj, path) == value


def parse_field_selector(selector: str | None) -> Predicate | None:
    """A predicate for a field selector string; None when it selects everything."""
    if not selector or not selector.strip():
        return None
    checks: list[Predicate] = []
    for part in selector.split(","):
        if not part.strip():
            continue
        match = re.match(r"^\s*([A-Za-z0-9._-]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not match:
            raise bad_request(f"invalid field selector: {part.strip()!r}")
        path, op, value = match.groups()
        checks.append(_field_check(path, value, op == "!="))
    if not checks:
        return None
    return lambda obj: all(check(obj) for check in checks)


def exact_field(selector: str | None, path: str) -> str | None:
    """The value a field selector pins ``path`` to with ``=``/``==`` (lets lookups skip
    scans), or None."""
    if not selector:
        return None
    for part in selector.split(","):
        match = re.match(r"^\s*([A-Za-z0-9._-]+)\s*(==|=)\s*(.*?)\s*$", part)
        if match and match.group(1) == path:
            return match.group(3)
    return None
