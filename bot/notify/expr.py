"""The trigger expression language: compile once, evaluate many times, never ``eval``.

argocd-notifications writes trigger conditions (``when``) and dedup keys (``oncePer``) in
expr-lang/expr over ``app`` (the Application as a map), ``context`` and ``time``. This package
implements the part of that language triggers use, with its own tokenizer, parser and tree
evaluator; Python's ``eval``/``exec``/``ast`` are never involved and no Python attribute is
reachable, so a name like ``__import__`` is just an unknown (nil) variable.

Supported: literals (``'..'``, ``".."``, `````..`````, numbers, ``true``/``false``/``nil``,
``[..]``, ``{k: v}``); ``a.b``, ``a?.b``, ``a[i]``, ``a?.[i]``, ``a[i:j]``; ``== != < <= > >=``;
``in``/``not in``; ``and or not && || !``; ``?:``; ``??``; ``contains startsWith endsWith
matches`` (and ``not``-forms); ``+ - * / % **``; built-ins ``len all any none one filter map
count find findIndex findLast first last keys values lower upper trim trimPrefix trimSuffix
hasPrefix hasSuffix indexOf replace split join string int float abs min max type now duration
date`` with the ``#``/``#index``/``.field`` predicate forms; ``time.Now()``, ``time.Parse(s)``,
``time.Minute``..., time methods (``Add Sub Before After Equal Unix ...``) and duration methods
(``Hours Minutes Seconds ...``); ``strings.ReplaceAll/ToUpper/ToLower``.

Not supported: ``let``, pipes ``|``, ranges ``..``, ``$env`` writes, Go struct methods
other than those above. ``time.Now()`` returns the ``now`` passed to :meth:`Expression.evaluate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.notify import expr_ast as ast
from bot.notify.expr_errors import (
    EvalFailure,
    ExprError,
    ExprEvalError,
    ExprSyntaxError,
)
from bot.notify.expr_eval import DEFAULT_MAX_STEPS, evaluate
from bot.notify.expr_parser import parse
from bot.notify.expr_values import Function, GoDuration, GoTime, Namespace, format_value

__all__ = [
    "ExprError",
    "ExprEvalError",
    "ExprSyntaxError",
    "Expression",
    "Function",
    "GoDuration",
    "GoTime",
    "Namespace",
    "compile_expr",
    "format_value",
]


@dataclass(frozen=True)
class Expression:
    """A compiled expression: its source and syntax tree. Immutable and safe to share
    between threads; :meth:`evaluate` keeps its state in a fresh evaluator per call."""

    source: str
    root: ast.Node = field(repr=False, compare=False)
    variables: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def evaluate(
        self,
        variables: Mapping[str, Any],
        *,
        now: datetime | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> Any:
        """The value of the expression over ``variables`` (``app``, ``context`` ...).

        ``time`` and ``strings`` are provided unless ``variables`` overrides them;
        ``time.Now()`` is ``now`` (an aware datetime; without one, ``time.Now()`` fails).
        Raises :class:`ExprEvalError` naming the expression and the column."""
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be an aware datetime (with a timezone)")
        try:
            return evaluate(self.source, self.root, variables, now, max_steps)
        except EvalFailure as failure:
            column = (failure.pos + 1) if failure.pos is not None else 0
            raise ExprEvalError(self.source, failure.reason, column) from None

    def names(self) -> frozenset[str]:
        """The top-level variables the expression reads (``app``, ``previous`` ...), without
        built-in function names."""
        return self.variables


def _variables(root: ast.Node) -> frozenset[str]:
    found: set[str] = set()
    stack: list[ast.Node] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            found.add(node.name)
        if isinstance(node, ast.Call) and isinstance(node.callee, ast.Name):
            stack.extend(node.args)
            continue
        stack.extend(ast.children(node))
    return frozenset(found)


def compile_expr(source: str) -> Expression:
    """Parse ``source`` once. Raises :class:`ExprSyntaxError` with the column of the problem."""
    if not isinstance(source, str):
        raise ExprSyntaxError(
            repr(source), f"an expression must be a string, not {type(source).__name__}"
        )
    root = parse(source)
    return Expression(source, root, _variables(root))
