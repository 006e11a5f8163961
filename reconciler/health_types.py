"""The vocabulary of resource health: the six status codes, their order and one result.

Kept apart from ``reconciler.health`` so that the per-kind check modules can build results
without importing the dispatcher that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class HealthStatus(StrEnum):
    """Argo CD's health codes. Members are strings, so ``HealthStatus.HEALTHY == "Healthy"``.

    Declared from best to worst; that declaration order is the worst-of order (``ORDER``).
    """

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"


ORDER: Final[tuple[HealthStatus, ...]] = tuple(HealthStatus)
"""Health codes from best to worst, as Argo CD ranks them when it aggregates an app."""

_RANK: Final[dict[str, int]] = {status.value: index for index, status in enumerate(ORDER)}


def rank(status: str) -> int:
    """Position of ``status`` in ``ORDER`` (0 is Healthy); ValueError for a foreign string."""
    try:
        return _RANK[status]
    except KeyError:
        raise ValueError(
            f"unknown health status {status!r}; expected one of {', '.join(ORDER)}"
        ) from None


@dataclass(frozen=True)
class Health:
    """The health of one object: a status code and a message for people (possibly empty).

    ``status`` is stored as a ``HealthStatus`` member, so it compares equal to the plain string
    and prints as it; anything but the six codes is refused at construction.
    """

    status: str
    message: str = ""

    def __post_init__(self) -> None:
        rank(self.status)
        object.__setattr__(self, "status", HealthStatus(self.status))
