"""The data of triggers: conditions, triggers, firings and evaluation results.

Separate from ``bot.notify.triggers`` (the evaluation) and ``bot.notify.triggers_config``
(parsing settings) so both can share them without importing each other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from bot.notify.expr import Expression, compile_expr


@dataclass(frozen=True)
class Condition:
    """One condition of a trigger: ``when`` (a bool expression), the templates to ``send``,
    and optional ``once_per`` and ``debounce`` expressions. Expressions are compiled here,
    once; a bad one raises :class:`ExprSyntaxError`."""

    when: str
    send: tuple[str, ...] = ()
    once_per: str | None = None
    description: str = ""
    debounce: str | None = None
    when_expr: Expression = field(init=False, repr=False, compare=False)
    once_per_expr: Expression | None = field(init=False, repr=False, compare=False)
    debounce_expr: Expression | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "send", tuple(self.send))
        object.__setattr__(self, "when_expr", compile_expr(self.when))
        for name, source in (("once_per_expr", self.once_per), ("debounce_expr", self.debounce)):
            object.__setattr__(self, name, None if source is None else compile_expr(source))

    def reads(self, variable: str) -> bool:
        """Whether any of the condition's expressions reads the top-level ``variable``."""
        exprs = (self.when_expr, self.once_per_expr, self.debounce_expr)
        return any(e is not None and variable in e.names() for e in exprs)


@dataclass(frozen=True)
class Trigger:
    """A named list of conditions (``trigger.<name>`` in argocd-notifications' settings)."""

    name: str
    conditions: tuple[Condition, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", tuple(self.conditions))


@dataclass(frozen=True)
class Firing:
    """A condition that fired: which trigger and condition, the templates to send, the
    ``oncePer`` value (None without ``oncePer``) and a ``key`` unique to this firing, which
    delivery can use to send each notification exactly once."""

    trigger: str
    condition: int
    send: tuple[str, ...]
    description: str
    once_per: str | None
    key: str


@dataclass(frozen=True)
class TriggerEvaluation:
    """The outcome of evaluating triggers for one app: firings in trigger and condition
    order, the new state to persist, and the evaluation errors (each names the trigger, the
    condition and the field), which the caller logs."""

    firings: tuple[Firing, ...]
    state: dict[str, Any]
    errors: tuple[str, ...] = ()


def condition_key(index: int, condition: Condition) -> str:
    """The condition's dedup key: its index and a short hash of its ``when``."""
    digest = hashlib.sha1(condition.when.encode(), usedforsecurity=False).hexdigest()[:12]
    return f"[{index}].{digest}"
