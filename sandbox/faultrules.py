"""Fault rules the stand-ins share: a queue of rules tried in the order added, each match
using up one of the rule's ``count``, and the checks on a rule's numbers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Generic, Protocol, TypeVar


class CountedRule(Protocol):
    """A dataclass rule with a remaining ``count``."""

    count: int


R = TypeVar("R", bound=CountedRule)


def numbers_problem(count: Any, status: Any, latency_ms: Any) -> str | None:
    """What is wrong with a rule's count, status and latency, or None."""
    if not isinstance(count, int) or count < 1:
        return "fault field 'count' must be a positive integer"
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        return "fault field 'status' must be an HTTP error code (400-599)"
    if not isinstance(latency_ms, int) or latency_ms < 0:
        return "fault field 'latency_ms' must be a non-negative integer"
    if status is None and not latency_ms:
        return "a fault needs 'status' or 'latency_ms'"
    return None


class FaultRules(Generic[R]):
    """The pending fault rules, tried in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[R] = []

    def add(self, fault: R) -> None:
        """Queue a rule."""
        with self._lock:
            self._rules.append(fault)

    def clear(self) -> None:
        """Drop every rule."""
        with self._lock:
            self._rules = []

    def pending(self) -> list[dict[str, Any]]:
        """The rules still waiting, as JSON."""
        with self._lock:
            return [asdict(f) for f in self._rules]  # type: ignore[call-overload]

    def take_first(self, matches: Callable[[R], bool]) -> R | None:
        """The first rule ``matches`` accepts (its count decremented), or None."""
        if not self._rules:
            return None
        with self._lock:
            for fault in self._rules:
                if matches(fault):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._rules.remove(fault)
                    return fault
        return None
