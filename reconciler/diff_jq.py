"""The subset of jq that ignoreDifferences ``jqPathExpressions`` use, evaluated as Argo CD
evaluates them: the expression names paths, and ``del(<expression>)`` removes them.

Argo CD hands each expression to a full jq implementation. kajitori instead parses the small
language that real Application manifests use, so the reconciler needs no compiled jq library
and an expression can never run away (every form here is linear in the document size):

- paths: ``.a.b``, ``."key.with.dots"``, ``.["key.with.dots"]``, ``.a[]``, ``.a[2]``, and
  ``?`` after any step (``.webhooks[]?.clientConfig.caBundle``);
- pipes: ``path | path``;
- ``select(condition)`` where a condition compares a path with a literal (``==``, ``!=``),
  tests a string (``path | startswith("x")``, ``endswith``, ``contains``, ``test("regex")``),
  checks ``has("key")``, or combines conditions with ``and``, ``or``, ``not`` and parentheses.

Anything else (``..``, functions, arithmetic, slices) is refused with a ComparisonError that
quotes the expression, so a user learns at once that an ignore rule is not understood instead
of seeing drift that will not go away. A step that does not fit the document (a missing key,
iterating over null, a field of a string) produces no path, which matches Argo CD skipping a
patch that fails to apply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from reconciler.errors import ComparisonError

Path = tuple[str | int, ...]
# A step maps (value, path) to the values and paths it reaches.
Step = Callable[[Any, Path], Iterator[tuple[Any, Path]]]
Condition = Callable[[Any], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|\.\.|[.\[\]()|?,])
    )""",
    re.VERBOSE,
)
_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "startswith": str.startswith,
    "endswith": str.endswith,
    "contains": lambda value, arg: arg in value,
    "test": lambda value, arg: re.search(arg, value) is not None,
}


@dataclass(frozen=True)
class _Token:
    kind: str  # "string", "number", "ident", "op", "end"
    text: str


class JqPathExpression:
    """A compiled expression; ``paths(doc)`` lists the paths it names in ``doc``."""

    def __init__(self, source: str, steps: tuple[Step, ...]) -> None:
        self.source = source
        self._steps = steps

    def paths(self, document: Any) -> list[Path]:
        current: list[tuple[Any, Path]] = [(document, ())]
        for step in self._steps:
            current = [out for value, path in current for out in step(value, path)]
        return [path for _, path in current]

    def delete_from(self, document: Any) -> Any:
        """``del(expression)``: ``document`` with every named path removed (in place)."""
        unique = sorted(set(self.paths(document)), key=_path_sort_key, reverse=True)
        for path in unique:
            if path:
                _delete_path(document, path)
        return document


@lru_cache(maxsize=512)
def compile_path_expression(source: str) -> JqPathExpression:
    """Parse ``source``; ComparisonError naming the expression when it is outside the subset."""
    try:
        parser = _Parser(source)
        steps = parser.pipeline()
        parser.expect_end()
    except _Unsupported as exc:
        raise ComparisonError(
            f"ignoreDifferences jqPathExpression {source!r}: {exc} (kajitori supports paths "
            'like .a.b, .a[], .a[]?, .["key"], pipes and select(...) with ==, !=, and, or, '
            "not, has, startswith, endswith, contains, test)"
        ) from None
    return JqPathExpression(source, tuple(steps))


class _Unsupported(Exception):
    pass


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.pos = 0

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.pos += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token.kind in ("op", "ident") and token.text == text:
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise _Unsupported(f"expected {text!r} but found {self.peek().text or 'the end'!r}")

    def expect_end(self) -> None:
        if self.peek().kind != "end":
            raise _Unsupported(f"unexpected {self.peek().text!r}")

    def pipeline(self) -> list[Step]:
        steps = self.term()
        while self.accept("|"):
            steps.extend(self.term())
        return steps

    def term(self) -> list[Step]:
        token = self.peek()
        if token.kind == "ident" and token.text == "select":
            self.take()
            self.expect("(")
            condition = self.condition()
            self.expect(")")
            return [_select(condition)]
        if token.kind == "ident":
            raise _Unsupported(f"function {token.text!r} is not supported")
        return self.path()

    def path(self) -> list[Step]:
        steps: list[Step] = []
        if self.peek().text == "..":
            raise _Unsupported("recursive descent '..' is not supported")
        if not self.accept("."):
            raise _Unsupported(
                f"a path must start with '.', found {self.peek().text or 'the end'!r}"
            )
        token = self.peek()
        if token.kind in ("ident", "string"):
            self.take()
            steps.append(_field(_field_name(token)))
        while True:
            if self.peek().text == "?":
                self.take()
                continue  # missing or mistyped steps already yield nothing
            if self.peek().text == "." and self.peek(1).kind in ("ident", "string"):
                self.take()
                steps.append(_field(_field_name(self.take())))
            elif self.peek().text == "." and self.peek(1).text == "[":
                self.take()
            elif self.peek().text == "[":
                self.take()
                steps.append(self.bracket())
            elif self.peek().text in ("..", "."):
                raise _Unsupported(f"unexpected {self.peek().text!r} in a path")
            else:
                return steps

    def bracket(self) -> Step:
        token = self.take()
        if token.text == "]":
            return _iterate
        self.expect("]")
        if token.kind == "string":
            return _field(_field_name(token))
        if token.kind == "number" and token.text.lstrip("-").isdigit():
            return _index(int(token.text))
        raise _Unsupported(f"unsupported subscript {token.text!r} (use a string or an index)")

    def condition(self) -> Condition:
        left = self.conjunction()
        while self.accept("or"):
            right = self.conjunction()
            left = _either(left, right)
        return left

    def conjunction(self) -> Condition:
        left = self.negation()
        while self.accept("and"):
            right = self.negation()
            left = _both(left, right)
        return left

    def negation(self) -> Condition:
        inner = self.comparison()
        while self.peek().text == "|" and self.peek(1).text == "not":
            self.take()
            self.take()
            inner = _negate(inner)
        return inner

    def comparison(self) -> Condition:
        if self.accept("("):
            inner = self.condition()
            self.expect(")")
            return inner
        if self.peek().kind == "ident" and self.peek().text == "has":
            self.take()
            return _has_key(self.call_argument())
        steps = self.path()
        if self.accept("=="):
            return _compare(steps, self.literal(), equal=True)
        if self.accept("!="):
            return _compare(steps, self.literal(), equal=False)
        if self.peek().text == "|" and self.peek(1).text in _STRING_TESTS:
            self.take()
            name = self.take().text
            return _string_test(steps, name, self.call_argument())
        return _truthy(steps)

    def call_argument(self) -> str:
        self.expect("(")
        token = self.take()
        if token.kind != "string":
            raise _Unsupported(f"expected a string argument, found {token.text!r}")
        self.expect(")")
        return str(json.loads(token.text))

    def literal(self) -> Any:
        token = self.take()
        if token.kind in ("string", "number"):
            return json.loads(token.text)
        if token.kind == "ident" and token.text in ("true", "false", "null"):
            return json.loads(token.text)
        raise _Unsupported(f"expected a literal after the comparison, found {token.text!r}")


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise _Unsupported(f"cannot read {source[pos:].strip()[:20]!r}")
        kind = match.lastgroup or "op"
        tokens.append(_Token(kind, match.group(kind)))
        pos = match.end()
    tokens.append(_Token("end", ""))
    return tokens


def _field_name(token: _Token) -> str:
    return str(json.loads(token.text)) if token.kind == "string" else token.text


def _field(name: str) -> Step:
    def step(value: Any, path: Path) -> Iterator[tuple[Any, Path]]:
        if isinstance(value, dict) and name in value:
            yield value[name], (*path, name)

    return step


def _index(index: int) -> Step:
    def step(value: Any, path: Path) -> Iterator[tuple[Any, Path]]:
        if isinstance(value, list) and -len(value) <= index < len(value):
            position = index % len(value)
            yield value[position], (*path, position)

    return step


def _iterate(value: Any, path: Path) -> Iterator[tuple[Any, Path]]:
    if isinstance(value, list):
        for position, item in enumerate(value):
            yield item, (*path, position)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield item, (*path, key)


def _select(condition: Condition) -> Step:
    def step(value: Any, path: Path) -> Iterator[tuple[Any, Path]]:
        if condition(value):
            yield value, path

    return step


def _values(steps: list[Step], value: Any) -> list[Any]:
    current: list[tuple[Any, Path]] = [(value, ())]
    for step in steps:
        current = [out for item, path in current for out in step(item, path)]
    return [item for item, _ in current]


def _compare(steps: list[Step], literal: Any, *, equal: bool) -> Condition:
    def condition(value: Any) -> bool:
        found = _values(steps, value) or [None]  # jq: a missing field reads as null
        return any((item == literal) == equal for item in found)

    return condition


def _string_test(steps: list[Step], name: str, argument: str) -> Condition:
    test = _STRING_TESTS[name]
    try:
        re.compile(argument)
    except re.error as exc:
        raise _Unsupported(f"invalid regular expression {argument!r}: {exc}") from None

    def condition(value: Any) -> bool:
        return any(isinstance(item, str) and test(item, argument) for item in _values(steps, value))

    return condition


def _has_key(key: str) -> Condition:
    return lambda value: isinstance(value, dict) and key in value


def _truthy(steps: list[Step]) -> Condition:
    return lambda value: any(item not in (None, False) for item in _values(steps, value))


def _either(left: Condition, right: Condition) -> Condition:
    return lambda value: left(value) or right(value)


def _both(left: Condition, right: Condition) -> Condition:
    return lambda value: left(value) and right(value)


def _negate(inner: Condition) -> Condition:
    return lambda value: not inner(value)


def _path_sort_key(path: Path) -> tuple[tuple[int, int, str], ...]:
    return tuple((1, item, "") if isinstance(item, int) else (0, 0, item) for item in path)


def _delete_path(document: Any, path: Path) -> None:
    parent = document
    for item in path[:-1]:
        parent = parent[item]
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        parent.pop(last, None)
    elif isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
        del parent[last]
