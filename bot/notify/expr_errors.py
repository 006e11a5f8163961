"""Errors of the trigger expression language.

Messages name the expression and, where known, the 1-based column. They never quote values
read from the data (an app or the secrets may hold something private), only the expression's
own text and type names.
"""

from __future__ import annotations

from typing import Final

from reconciler.errors import KajitoriError

# Longer expressions are shortened in messages so one bad trigger does not flood a log.
_QUOTE_LIMIT: Final = 160


def quote_source(source: str) -> str:
    """The expression as it appears in messages: repr-quoted, shortened past 160 chars."""
    if len(source) > _QUOTE_LIMIT:
        source = source[: _QUOTE_LIMIT - 3] + "..."
    return repr(source)


class ExprError(KajitoriError):
    """Base of the expression errors. ``expression`` is the source, ``column`` is 1-based
    (0 when unknown) and ``reason`` is the message without the location."""

    def __init__(self, expression: str, reason: str, column: int = 0) -> None:
        self.expression = expression
        self.reason = reason
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where = f" at column {self.column}" if self.column else ""
        return f"{self._verb()} {quote_source(self.expression)}{where}: {self.reason}"

    def _verb(self) -> str:
        return "expression"


class ExprSyntaxError(ExprError):
    """The expression cannot be compiled: bad token, bad grammar, too long or too deep."""

    def _verb(self) -> str:
        return "invalid expression"


class ExprEvalError(ExprError):
    """The expression compiled but failed on this data (nil access, wrong types, ...)."""

    def _verb(self) -> str:
        return "cannot evaluate"


class EvalFailure(Exception):
    """Internal: raised inside evaluation and by built-ins; the evaluator turns it into an
    :class:`ExprEvalError` with the expression and the column of the failing node."""

    def __init__(self, reason: str, pos: int | None = None) -> None:
        self.reason = reason
        self.pos = pos
        super().__init__(reason)


class NilAccess(EvalFailure):
    """Internal: a field or index of nil was read without ``?.``. ``??`` treats it as nil."""
