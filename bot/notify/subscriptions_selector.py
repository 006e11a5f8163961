"""Kubernetes label selectors, as global notification subscriptions use them to pick apps.

Two forms are read:

* the string form of ``kubectl -l`` and argocd-notifications' ``selector:``: comma-separated
  requirements ``key=value`` (or ``==``), ``key!=value``, ``key in (a,b)``,
  ``key notin (a,b)``, ``key`` (exists) and ``!key`` (does not exist);
* the structured form ``{matchLabels: {k: v}, matchExpressions: [{key, operator: In |
  NotIn | Exists | DoesNotExist, values}]}``.

Semantics are Kubernetes': ``!=`` and ``notin`` also match when the label is absent; every
requirement must hold; an empty selector matches every app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

Operator = Literal["=", "!=", "in", "notin", "exists", "!"]

_KEY: Final = re.compile(
    r"(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
_VALUE: Final = re.compile(r"(?:[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_SET: Final = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")
_EQUALITY: Final = re.compile(r"^\s*([^=!\s]+)\s*(==|=|!=)\s*(\S*)\s*$")
_EXISTS: Final = re.compile(r"^\s*(!?)\s*(\S+)\s*$")
_MATCH_OPERATORS: Final[Mapping[str, Operator]] = {
    "In": "in",
    "NotIn": "notin",
    "Exists": "exists",
    "DoesNotExist": "!",
}


class SelectorError(ValueError):
    """A selector that cannot be parsed; the message names the requirement."""


@dataclass(frozen=True)
class Requirement:
    """One requirement: ``key`` ``operator`` ``values``."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        if self.operator in ("=", "!="):
            return f"{self.key}{self.operator}{self.values[0]}"
        return f"{self.key} {self.operator} ({','.join(self.values)})"


@dataclass(frozen=True)
class LabelSelector:
    """A parsed selector; :meth:`matches` tests an app's labels."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(req.matches(labels) for req in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(req) for req in self.requirements)


def _check_key(key: str, part: str) -> str:
    if not _KEY.fullmatch(key) or len(key.rpartition("/")[2]) > 63:
        raise SelectorError(f"{part!r}: {key!r} is not a valid label key")
    return key


def _check_value(value: str, part: str) -> str:
    if not _VALUE.fullmatch(value) or len(value) > 63:
        raise SelectorError(f"{part!r}: {value!r} is not a valid label value")
    return value


def _split(text: str) -> list[str]:
    """Requirements split on commas outside parentheses."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced ')' in {text!r}")
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth:
        raise SelectorError(f"unbalanced '(' in {text!r}")
    parts.append(text[start:])
    return parts


def _requirement(part: str) -> Requirement:
    match = _SET.match(part)
    if match:
        key = _check_key(match.group(1), part)
        values = tuple(v.strip() for v in match.group(3).split(","))
        if values == ("",):
            raise SelectorError(f"{part!r}: the set of values is empty")
        op: Operator = "in" if match.group(2) == "in" else "notin"
        return Requirement(key, op, tuple(_check_value(v, part) for v in values))
    match = _EQUALITY.match(part)
    if match:
        key = _check_key(match.group(1), part)
        op = "!=" if match.group(2) == "!=" else "="
        return Requirement(key, op, (_check_value(match.group(3), part),))
    match = _EXISTS.match(part)
    if match:
        key = _check_key(match.group(2), part)
        return Requirement(key, "!" if match.group(1) else "exists")
    raise SelectorError(
        f"{part!r} is not a label requirement (key=value, key!=value, key in "
        "(a,b), key notin (a,b), key or !key)"
    )


def parse_selector(text: str) -> LabelSelector:
    """A selector from its string form; "" selects everything. Raises
    :class:`SelectorError` naming the requirement that is wrong."""
    if not text.strip():
        return LabelSelector()
    parts = _split(text)
    if any(not part.strip() for part in parts):
        raise SelectorError(f"empty requirement in {text!r} (a stray comma?)")
    return LabelSelector(tuple(_requirement(part) for part in parts))


def _structured(data: Mapping[str, Any]) -> LabelSelector:
    unknown = set(data) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"unknown field(s) {sorted(unknown)} (matchLabels, matchExpressions)")
    requirements: list[Requirement] = []
    labels = data.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise SelectorError("matchLabels must be a mapping of label to value")
    for key, value in labels.items():
        part = f"{key}={value}"
        if not isinstance(value, str):
            raise SelectorError(f"matchLabels.{key}: the value must be a string (quote it)")
        requirements.append(
            Requirement(_check_key(str(key), part), "=", (_check_value(value, part),))
        )
    expressions = data.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise SelectorError("matchExpressions must be a list")
    for index, expr in enumerate(expressions):
        where = f"matchExpressions[{index}]"
        if not isinstance(expr, Mapping):
            raise SelectorError(f"{where} must be a mapping with key and operator")
        op = _MATCH_OPERATORS.get(str(expr.get("operator")))
        if op is None:
            raise SelectorError(f"{where}.operator must be one of {', '.join(_MATCH_OPERATORS)}")
        key = _check_key(str(expr.get("key") or ""), where)
        values = expr.get("values") or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SelectorError(f"{where}.values must be a list of strings")
        if op in ("in", "notin") and not values:
            raise SelectorError(f"{where}.values must not be empty for {expr.get('operator')}")
        if op in ("exists", "!") and values:
            raise SelectorError(f"{where}.values must be empty for {expr.get('operator')}")
        requirements.append(Requirement(key, op, tuple(_check_value(v, where) for v in values)))
    return LabelSelector(tuple(requirements))


def selector_from(value: Any) -> LabelSelector:
    """A selector from settings: None, a string, or the structured mapping."""
    if value is None:
        return LabelSelector()
    if isinstance(value, str):
        return parse_selector(value)
    if isinstance(value, Mapping):
        return _structured(value)
    raise SelectorError("must be a label selector string or {matchLabels, matchExpressions}")
