"""Evaluator of compiled trigger expressions: walks the ``expr_ast`` tree over plain data.

Semantics follow expr-lang/expr over Go maps, as argocd-notifications sees them:

* a missing map key is nil; reading a field of nil is an error unless the chain has ``?.``
  (``a?.b.c`` is nil when ``a`` is nil) or the read sits left of ``??``;
* ``==``/``!=`` never fail (different types are simply unequal); ``<``-style comparisons
  with nil are false; ``in``, ``contains``, ``startsWith`` ... with nil are false;
* nil counts as false for ``!``, ``and``, ``or`` and ``?:``; any other non-bool there is an
  error;
* predicates (``any(list, .x == 1)``) treat a nil list as empty.

Every evaluation has a step budget, so even large data cannot keep it busy for long.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from bot.notify import expr_ast as ast
from bot.notify.expr_builtins import (
    PLAIN_BUILTINS,
    PREDICATE_BUILTINS,
    STRINGS,
    method_of,
    time_namespace,
)
from bot.notify.expr_errors import EvalFailure, NilAccess
from bot.notify.expr_regex import regex_search
from bot.notify.expr_values import (
    Function,
    GoDuration,
    GoTime,
    Namespace,
    add_time,
    compare,
    equal,
    is_array,
    is_number,
    sub_times,
    type_name,
)

DEFAULT_MAX_STEPS: Final = 100_000
_MAX_POWER_RESULT: Final = 1e300


class _ShortCircuit(Exception):
    """A ``?.`` met nil: the enclosing :class:`ast.Chain` evaluates to nil."""


class Evaluator:
    """One evaluation of one expression: the variables, the injected ``now``, the stack of
    predicate elements (``#``) and the remaining step budget."""

    def __init__(
        self,
        source: str,
        variables: Mapping[str, Any],
        now: datetime | None,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self.source = source
        self.variables = variables
        self.now = now
        self.steps_left = max_steps
        self.pointers: list[tuple[Any, int]] = []
        self._time: Namespace | None = None
        self._dispatch: dict[type[ast.Node], Callable[[Any], Any]] = {
            ast.Literal: self._literal,
            ast.ArrayLit: self._array,
            ast.MapLit: self._map,
            ast.Name: self._name,
            ast.Pointer: self._pointer,
            ast.Member: self._member,
            ast.Slice: self._slice,
            ast.Call: self._call,
            ast.Unary: self._unary,
            ast.Binary: self._binary,
            ast.Conditional: self._conditional,
            ast.Chain: self._chain,
        }

    def text(self, node: ast.Node) -> str:
        """The source text of ``node``, for messages."""
        snippet = self.source[node.pos : node.end].strip() or "#"
        return snippet if len(snippet) <= 60 else snippet[:57] + "..."

    def eval(self, node: ast.Node) -> Any:
        self.steps_left -= 1
        if self.steps_left < 0:
            raise EvalFailure("evaluation took too many steps (budget exhausted)", node.pos)
        try:
            return self._dispatch[type(node)](node)
        except EvalFailure as failure:
            if failure.pos is None:
                failure.pos = node.pos
            raise
        except RecursionError:
            raise EvalFailure("expression nested too deeply to evaluate", node.pos) from None

    # -- leaves ----------------------------------------------------------------------------
    def _literal(self, node: ast.Literal) -> Any:
        return node.value

    def _array(self, node: ast.ArrayLit) -> list[Any]:
        return [self.eval(item) for item in node.items]

    def _map(self, node: ast.MapLit) -> dict[Any, Any]:
        return {key: self.eval(value) for key, value in node.entries}

    def _name(self, node: ast.Name) -> Any:
        name = node.name
        if name in self.variables:
            return self.variables[name]
        if name == "time":
            if self._time is None:
                self._time = time_namespace(self.now)
            return self._time
        if name == "strings":
            return STRINGS
        if name == "$env":
            return dict(self.variables)
        return None

    def _pointer(self, node: ast.Pointer) -> Any:
        element, index = self.pointers[-1]
        return index if node.name == "index" else element

    # -- access ----------------------------------------------------------------------------
    def _member(self, node: ast.Member) -> Any:
        obj = self.eval(node.obj)
        if obj is None:
            if node.optional:
                raise _ShortCircuit
            what = self.text(node.obj)
            raise NilAccess(f"'{what}' is nil, so '{self.text(node)}' cannot be read", node.key.pos)
        key = self.eval(node.key)
        return self.read(obj, key, node)

    def read(self, obj: Any, key: Any, node: ast.Member) -> Any:
        if isinstance(obj, Mapping):
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise EvalFailure(f"a map key must be a string, not {type_name(key)}")
            return obj.get(key)
        if is_array(obj) or isinstance(obj, str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise EvalFailure(
                    f"cannot read '{self.text(node)}': {type_name(obj)} has no fields"
                )
            size = len(obj)
            index = key + size if key < 0 else key
            if not 0 <= index < size:
                raise EvalFailure(f"index out of range (length {size}) in '{self.text(node)}'")
            return obj[index]
        if isinstance(key, str):
            if isinstance(obj, Namespace):
                return obj.member(key)
            if isinstance(obj, GoTime | GoDuration):
                return method_of(obj, key)
        raise EvalFailure(f"cannot read '{self.text(node)}': {type_name(obj)} has no fields")

    def _slice(self, node: ast.Slice) -> Any:
        obj = self.eval(node.obj)
        if obj is None:
            raise NilAccess(f"'{self.text(node.obj)}' is nil, so it cannot be sliced", node.pos)
        if not (is_array(obj) or isinstance(obj, str)):
            raise EvalFailure(f"cannot slice {type_name(obj)}")
        bounds = []
        for bound in (node.start, node.stop):
            value = None if bound is None else self.eval(bound)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise EvalFailure(f"slice bounds must be integers, not {type_name(value)}")
            bounds.append(value)
        return obj[bounds[0] : bounds[1]]

    def _chain(self, node: ast.Chain) -> Any:
        try:
            return self.eval(node.inner)
        except _ShortCircuit:
            return None

    # -- calls -----------------------------------------------------------------------------
    def _call(self, node: ast.Call) -> Any:
        callee = node.callee
        if isinstance(callee, ast.Name) and callee.name in PREDICATE_BUILTINS:
            subject = self.eval(node.args[0])
            closure = node.args[1]
            assert isinstance(closure, ast.Closure)
            return PREDICATE_BUILTINS[callee.name](subject, self._predicate(closure))
        if isinstance(callee, ast.Name) and callee.name not in self.variables:
            args = [self.eval(arg) for arg in node.args]
            if callee.name == "now" and not args:
                return time_namespace(self.now).member("Now").call(())
            builtin = PLAIN_BUILTINS.get(callee.name)
            if builtin is None:
                raise EvalFailure(f"unknown function '{callee.name}'")
            return Function(callee.name, builtin).call(args)
        function = self.eval(callee)
        if not isinstance(function, Function):
            raise EvalFailure(f"'{self.text(callee)}' is not a function ({type_name(function)})")
        return function.call([self.eval(arg) for arg in node.args])

    def _predicate(self, closure: ast.Closure) -> Callable[[Any, int], Any]:
        def run(element: Any, index: int) -> Any:
            self.pointers.append((element, index))
            try:
                return self.eval(closure.body)
            finally:
                self.pointers.pop()

        return run

    # -- operators -------------------------------------------------------------------------
    def truth(self, value: Any, node: ast.Node, role: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise EvalFailure(
                f"{role} must be a bool, but '{self.text(node)}' is {type_name(value)}"
            )
        return value

    def _unary(self, node: ast.Unary) -> Any:
        value = self.eval(node.operand)
        if node.op == "!":
            return not self.truth(value, node.operand, "the operand of '!'")
        if isinstance(value, GoDuration):
            return GoDuration(-value.ns) if node.op == "-" else value
        if not is_number(value):
            raise EvalFailure(f"unary '{node.op}' needs a number, not {type_name(value)}")
        return -value if node.op == "-" else value

    def _conditional(self, node: ast.Conditional) -> Any:
        if self.truth(self.eval(node.cond), node.cond, "the condition of '?:'"):
            return self.eval(node.then)
        return self.eval(node.otherwise)

    def _binary(self, node: ast.Binary) -> Any:
        op = node.op
        if op in ("and", "or"):
            first = self.truth(self.eval(node.left), node.left, f"the left side of '{op}'")
            if first == (op == "or"):
                return first
            return self.truth(self.eval(node.right), node.right, f"the right side of '{op}'")
        if op == "??":
            try:
                value = self.eval(node.left)
            except NilAccess:
                value = None
            return self.eval(node.right) if value is None else value
        left, right = self.eval(node.left), self.eval(node.right)
        if op.startswith("not "):
            return not self._word(op[4:], left, right)
        if op in ("==", "!="):
            return equal(left, right) == (op == "==")
        if op in ("<", "<=", ">", ">="):
            return compare(op, left, right)
        if op in ("in", "matches", "contains", "startsWith", "endsWith"):
            return self._word(op, left, right)
        return _arithmetic(op, left, right)

    def _word(self, op: str, left: Any, right: Any) -> bool:
        if op == "in":
            if right is None:
                return False
            if isinstance(right, Mapping):
                return isinstance(left, str | int) and not isinstance(left, bool) and left in right
            if is_array(right):
                return any(equal(left, item) for item in right)
            raise EvalFailure(f"'in' needs an array or a map on its right, not {type_name(right)}")
        if left is None or right is None:
            return False
        if not isinstance(left, str) or not isinstance(right, str):
            raise EvalFailure(f"'{op}' needs strings, not {type_name(left)} and {type_name(right)}")
        if op == "matches":
            return regex_search(right, left)
        if op == "contains":
            return right in left
        if op == "startsWith":
            return left.startswith(right)
        return left.endswith(right)


def _arithmetic(op: str, a: Any, b: Any) -> Any:
    """``+ - * / % **`` over numbers, strings (``+``), times and durations."""
    if is_number(a) and is_number(b):
        return _numbers(op, a, b)
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if op == "+" and is_array(a) and is_array(b):
        return [*a, *b]
    duration_result = _durations(op, a, b)
    if duration_result is not None:
        return duration_result
    raise EvalFailure(f"cannot apply '{op}' to {type_name(a)} and {type_name(b)}")


def _numbers(op: str, a: int | float, b: int | float) -> int | float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            raise EvalFailure("division by zero")
        return a / b
    if op == "%":
        if not isinstance(a, int) or not isinstance(b, int):
            raise EvalFailure("'%' needs integers")
        if b == 0:
            raise EvalFailure("integer divide by zero")
        return int(math.fmod(a, b))
    try:
        result = math.pow(a, b)
    except (OverflowError, ValueError):
        raise EvalFailure("'**' result out of range") from None
    if abs(result) > _MAX_POWER_RESULT:
        raise EvalFailure("'**' result out of range")
    return result


def _durations(op: str, a: Any, b: Any) -> Any:
    """Time and duration arithmetic, as Go allows it through expr (durations are ints)."""
    if isinstance(a, GoTime):
        if op == "+" and isinstance(b, GoDuration):
            return add_time(a, b)
        if op == "-" and isinstance(b, GoDuration):
            return add_time(a, GoDuration(-b.ns))
        if op == "-" and isinstance(b, GoTime):
            return sub_times(a, b)
        return None
    if isinstance(b, GoTime):
        return add_time(b, a) if op == "+" and isinstance(a, GoDuration) else None
    if not isinstance(a, GoDuration) and not isinstance(b, GoDuration):
        return None
    ns_a = a.ns if isinstance(a, GoDuration) else a
    ns_b = b.ns if isinstance(b, GoDuration) else b
    if not is_number(ns_a) or not is_number(ns_b):
        return None
    if op == "/" and isinstance(a, GoDuration) and isinstance(b, GoDuration):
        return _numbers("/", ns_a, ns_b)
    if op in ("+", "-", "*", "/", "%"):
        return GoDuration(int(_numbers(op, ns_a, ns_b)))
    return None


def evaluate(
    source: str,
    root: ast.Node,
    variables: Mapping[str, Any],
    now: datetime | None,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> Any:
    """Evaluate ``root`` (parsed from ``source``); failures come out as ``EvalFailure`` with
    the position of the failing node."""
    return Evaluator(source, variables, now, max_steps).eval(root)
