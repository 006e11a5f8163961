"""Parser of the trigger expression language: tokens to a tree of ``expr_ast`` nodes.

A precedence-climbing parser with expr-lang/expr's table, so expressions written for
argocd-notifications group the same way: ``or`` < ``and`` < comparisons and word operators
(``in``, ``matches``, ``contains`` ...) < ``+ -`` < ``* / %`` < ``**`` < ``??``; prefix
``!``/``not`` binds tighter than comparisons, and ``?:`` is the loosest. Nesting and size are
bounded so a hostile expression cannot exhaust the stack.
"""

from __future__ import annotations

from typing import Final

from bot.notify import expr_ast as ast
from bot.notify.expr_errors import ExprSyntaxError
from bot.notify.expr_lexer import EOF, NAME, NUMBER, OPERATOR, POINTER, STRING, Token, tokenize
from bot.notify.expr_regex import check_pattern

MAX_SOURCE_LENGTH: Final = 8192
MAX_NESTING: Final = 64
MAX_TREE_DEPTH: Final = 128

BINARY_PRECEDENCE: Final = {
    "or": 10,
    "||": 10,
    "and": 15,
    "&&": 15,
    "==": 20,
    "!=": 20,
    "<": 20,
    ">": 20,
    "<=": 20,
    ">=": 20,
    "in": 20,
    "matches": 20,
    "contains": 20,
    "startsWith": 20,
    "endsWith": 20,
    "+": 30,
    "-": 30,
    "*": 60,
    "/": 60,
    "%": 60,
    "**": 100,
    "^": 100,
    "??": 500,
}
_RIGHT_ASSOCIATIVE: Final = frozenset({"**", "^"})
_NEGATABLE: Final = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})
_WORD_OPERATORS: Final = frozenset({"or", "and", *_NEGATABLE})
_NORMALISED: Final = {"||": "or", "&&": "and", "^": "**"}
_UNARY_PRECEDENCE: Final = {"!": 50, "not": 50, "-": 90, "+": 90}
_LITERAL_WORDS: Final = {"true": True, "false": False, "nil": None}

# Built-ins whose second argument is a predicate (a closure over '#').
PREDICATE_FUNCTIONS: Final = frozenset(
    {"all", "any", "none", "one", "filter", "map", "count", "find", "findIndex", "findLast"}
)


class _Parser:
    def __init__(self, source: str) -> None:
        self.src = source
        self.tokens = tokenize(source)
        self.i = 0
        self.nesting = 0
        self.closures = 0

    # -- token helpers -------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            self.i += 1
        return tok

    def is_op(self, value: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind == OPERATOR and tok.value == value

    def fail(self, reason: str, tok: Token | None = None) -> ExprSyntaxError:
        tok = tok or self.tok
        if tok.kind == EOF and not reason.startswith("unexpected end"):
            reason = f"unexpected end of expression ({reason})"
        return ExprSyntaxError(self.src, reason, tok.pos + 1)

    def expect(self, value: str) -> Token:
        if not self.is_op(value):
            raise self.fail(f"expected '{value}', found {describe(self.tok)}")
        return self.advance()

    # -- grammar -------------------------------------------------------------------------
    def parse(self) -> ast.Node:
        if self.tok.kind == EOF:
            raise self.fail("unexpected end of expression (it is empty)")
        node = self.expression(0)
        if self.tok.kind != EOF:
            raise self.fail(f"unexpected {describe(self.tok)}")
        return node

    def expression(self, min_prec: int) -> ast.Node:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.fail(f"expression nested deeper than {MAX_NESTING} levels")
        try:
            left = self.unary()
            while True:
                op = self.binary_operator()
                if op is None:
                    break
                prec = BINARY_PRECEDENCE[op.split()[-1]]
                if prec < min_prec:
                    break
                self.advance()
                if op.startswith("not "):
                    self.advance()
                right = self.expression(prec if op in _RIGHT_ASSOCIATIVE else prec + 1)
                op = _NORMALISED.get(op, op)
                self.check_regex(op, right)
                left = ast.Binary(op, left, right, pos=left.pos, end=right.end)
            if min_prec == 0 and self.is_op("?"):
                self.advance()
                then = self.expression(0)
                self.expect(":")
                otherwise = self.expression(0)
                left = ast.Conditional(left, then, otherwise, pos=left.pos, end=otherwise.end)
            return left
        finally:
            self.nesting -= 1

    def binary_operator(self) -> str | None:
        tok = self.tok
        if tok.kind == OPERATOR and tok.value in BINARY_PRECEDENCE:
            return str(tok.value)
        if tok.kind == NAME and tok.value in _WORD_OPERATORS:
            return str(tok.value)
        if tok.kind == NAME and tok.value == "not":
            nxt = self.peek()
            if nxt.kind == NAME and nxt.value in _NEGATABLE:
                return f"not {nxt.value}"
        return None

    def check_regex(self, op: str, right: ast.Node) -> None:
        """A literal ``matches`` pattern is checked now, so a bad one fails at load time."""
        if op.endswith("matches") and isinstance(right, ast.Literal):
            if not isinstance(right.value, str):
                raise ExprSyntaxError(self.src, "'matches' needs a string pattern", right.pos + 1)
            problem = check_pattern(right.value)
            if problem:
                raise ExprSyntaxError(self.src, problem, right.pos + 1)

    def unary(self) -> ast.Node:
        tok = self.tok
        op = None
        if tok.kind == OPERATOR and tok.value in ("!", "-", "+"):
            op = str(tok.value)
        elif tok.kind == NAME and tok.value == "not":
            op = "!"
        if op is None:
            return self.postfix(self.primary())
        self.advance()
        operand = self.expression(_UNARY_PRECEDENCE[op])
        return ast.Unary(op, operand, pos=tok.pos, end=operand.end)

    def primary(self) -> ast.Node:
        tok = self.tok
        if tok.kind in (NUMBER, STRING):
            self.advance()
            return ast.Literal(tok.value, pos=tok.pos, end=tok.end)
        if tok.kind == POINTER:
            if not self.closures:
                raise self.fail("'#' is only allowed inside a predicate")
            self.advance()
            return ast.Pointer(str(tok.value), pos=tok.pos, end=tok.end)
        if tok.kind == NAME:
            return self.name_or_call()
        if self.is_op("("):
            self.advance()
            inner = self.expression(0)
            self.expect(")")
            return inner
        if self.is_op("["):
            return self.array()
        if self.is_op("{"):
            return self.map_literal()
        if self.is_op("."):
            return self.implicit_member()
        raise self.fail(f"unexpected {describe(tok)}")

    def name_or_call(self) -> ast.Node:
        tok = self.advance()
        name = str(tok.value)
        if name in _LITERAL_WORDS:
            return ast.Literal(_LITERAL_WORDS[name], pos=tok.pos, end=tok.end)
        if name in _WORD_OPERATORS or name == "not":
            raise self.fail(f"unexpected operator '{name}'", tok)
        node = ast.Name(name, pos=tok.pos, end=tok.end)
        if not self.is_op("("):
            return node
        if name in PREDICATE_FUNCTIONS:
            return self.predicate_call(node)
        return self.call(node)

    def call(self, callee: ast.Node) -> ast.Call:
        self.expect("(")
        args: list[ast.Node] = []
        while not self.is_op(")"):
            args.append(self.expression(0))
            if not self.is_op(")"):
                self.expect(",")
        close = self.advance()
        return ast.Call(callee, tuple(args), pos=callee.pos, end=close.end)

    def predicate_call(self, callee: ast.Name) -> ast.Call:
        self.expect("(")
        subject = self.expression(0)
        self.expect(",")
        start = self.tok
        self.closures += 1
        try:
            if self.is_op("{"):
                self.advance()
                body = self.expression(0)
                self.expect("}")
            else:
                body = self.expression(0)
        finally:
            self.closures -= 1
        closure = ast.Closure(body, pos=start.pos, end=self.tokens[self.i - 1].end)
        close = self.expect(")")
        return ast.Call(callee, (subject, closure), pos=callee.pos, end=close.end)

    def implicit_member(self) -> ast.Node:
        """``.field`` inside a predicate means ``#.field``."""
        dot = self.advance()
        if not self.closures:
            raise self.fail("'.field' without an object is only allowed inside a predicate", dot)
        target = ast.Pointer("", pos=dot.pos, end=dot.pos)
        return self.member_name(target, dot, optional=False)

    def array(self) -> ast.Node:
        start = self.advance()
        items: list[ast.Node] = []
        while not self.is_op("]"):
            items.append(self.expression(0))
            if not self.is_op("]"):
                self.expect(",")
        close = self.advance()
        return ast.ArrayLit(tuple(items), pos=start.pos, end=close.end)

    def map_literal(self) -> ast.Node:
        start = self.advance()
        entries: list[tuple[object, ast.Node]] = []
        while not self.is_op("}"):
            key_tok = self.advance()
            if key_tok.kind not in (NAME, STRING, NUMBER):
                raise self.fail(f"expected a map key, found {describe(key_tok)}", key_tok)
            self.expect(":")
            entries.append((key_tok.value, self.expression(0)))
            if not self.is_op("}"):
                self.expect(",")
        close = self.advance()
        return ast.MapLit(tuple(entries), pos=start.pos, end=close.end)

    def postfix(self, node: ast.Node) -> ast.Node:
        optional_seen = False
        while True:
            tok = self.tok
            if self.is_op("."):
                self.advance()
                node = self.member_name(node, tok, optional=False)
            elif self.is_op("?."):
                self.advance()
                optional_seen = True
                if self.is_op("["):
                    node = self.index(node, optional=True)
                else:
                    node = self.member_name(node, tok, optional=True)
            elif self.is_op("["):
                node = self.index(node, optional=False)
            elif self.is_op("(") and isinstance(node, ast.Member):
                node = self.call(node)
            else:
                break
        if optional_seen:
            return ast.Chain(node, pos=node.pos, end=node.end)
        return node

    def member_name(self, obj: ast.Node, dot: Token, *, optional: bool) -> ast.Node:
        tok = self.tok
        if tok.kind != NAME:
            raise self.fail(f"expected a field name after '{dot.value}', found {describe(tok)}")
        self.advance()
        key = ast.Literal(tok.value, pos=tok.pos, end=tok.end)
        return ast.Member(obj, key, optional, pos=obj.pos, end=tok.end)

    def index(self, obj: ast.Node, *, optional: bool) -> ast.Node:
        self.expect("[")
        start: ast.Node | None = None
        if not self.is_op(":"):
            start = self.expression(0)
            if self.is_op("]"):
                close = self.advance()
                return ast.Member(obj, start, optional, pos=obj.pos, end=close.end)
        self.expect(":")
        stop = None if self.is_op("]") else self.expression(0)
        close = self.expect("]")
        return ast.Slice(obj, start, stop, pos=obj.pos, end=close.end)


def describe(tok: Token) -> str:
    """A token as named in messages: "end of expression", "name 'foo'", "')'"."""
    if tok.kind == EOF:
        return "end of expression"
    if tok.kind == STRING:
        return "a string"
    if tok.kind == NUMBER:
        return "a number"
    if tok.kind == NAME:
        return f"name '{tok.value}'"
    return f"'{tok.value}'"


def _check_depth(source: str, root: ast.Node) -> None:
    """Long operator chains (``a + a + a ...``) parse in a loop but make a deep tree; the
    evaluator recurses, so the tree depth is bounded here, without recursing."""
    stack: list[tuple[ast.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise ExprSyntaxError(
                source, f"expression is nested deeper than {MAX_TREE_DEPTH} levels", node.pos + 1
            )
        stack.extend((child, depth + 1) for child in ast.children(node))


def parse(source: str) -> ast.Node:
    """The syntax tree of ``source``. Raises :class:`ExprSyntaxError` naming the expression
    and the 1-based column of the problem."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExprSyntaxError(source, f"expression longer than {MAX_SOURCE_LENGTH} characters")
    root = _Parser(source).parse()
    _check_depth(source, root)
    return root
