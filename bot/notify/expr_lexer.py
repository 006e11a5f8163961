"""Tokenizer of the trigger expression language (a subset of expr-lang/expr, the language of
argocd-notifications' ``when`` and ``oncePer``).

Words (``and``, ``in``, ``contains``, ``true`` ...) come out as ``name`` tokens; the parser
decides from their position whether they are operators, literals or field names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from bot.notify.expr_errors import ExprSyntaxError

NAME: Final = "name"
NUMBER: Final = "number"
STRING: Final = "string"
OPERATOR: Final = "operator"
POINTER: Final = "pointer"
EOF: Final = "eof"

# Longest first, so "==" wins over "=" and "?." / "??" over "?".
_OPERATORS: Final = (
    "?.",
    "??",
    "==",
    "!=",
    "<=",
    ">=",
    "&&",
    "||",
    "**",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "!",
    "?",
    ":",
    ".",
    ",",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
)
_UNSUPPORTED: Final = {
    "..": "ranges ('..') are not supported",
    "|": "the pipe operator '|' is not supported",
    "=": "'=' is not an operator; compare with '=='",
    "&": "use '&&' or 'and'",
}
_ESCAPES: Final = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}
# Tokens after which "." starts a member access, so ".5" is a number only elsewhere.
_VALUE_END: Final = frozenset({")", "]", "}"})


@dataclass(frozen=True)
class Token:
    """One token: its kind, its value (text, or the number / string it denotes) and where it
    starts and ends in the source."""

    kind: str
    value: Any
    pos: int
    end: int


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch in "_$"


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.i = 0
        self.tokens: list[Token] = []

    def fail(self, reason: str, pos: int) -> ExprSyntaxError:
        return ExprSyntaxError(self.src, reason, pos + 1)

    def run(self) -> list[Token]:
        src = self.src
        while True:
            self.skip_space()
            if self.i >= len(src):
                self.tokens.append(Token(EOF, None, len(src), len(src)))
                return self.tokens
            ch = src[self.i]
            if ch.isdigit() or (ch == "." and self.dot_starts_number()):
                self.number()
            elif _is_name_start(ch):
                self.name()
            elif ch in "'\"":
                self.quoted(ch)
            elif ch == "`":
                self.raw()
            elif ch == "#":
                self.pointer()
            else:
                self.operator()

    def skip_space(self) -> None:
        src = self.src
        while self.i < len(src):
            if src[self.i].isspace():
                self.i += 1
            elif src.startswith("//", self.i):
                newline = src.find("\n", self.i)
                self.i = len(src) if newline < 0 else newline + 1
            elif src.startswith("/*", self.i):
                close = src.find("*/", self.i + 2)
                if close < 0:
                    raise self.fail("unterminated comment", self.i)
                self.i = close + 2
            else:
                return

    def dot_starts_number(self) -> bool:
        nxt = self.src[self.i + 1 : self.i + 2]
        if not nxt.isdigit():
            return False
        if not self.tokens:
            return True
        last = self.tokens[-1]
        return last.kind == OPERATOR and last.value not in _VALUE_END

    def number(self) -> None:
        src, start = self.src, self.i
        if src.startswith(("0x", "0X", "0o", "0O", "0b", "0B"), start):
            self.i += 2
            while self.i < len(src) and (src[self.i].isalnum() or src[self.i] == "_"):
                self.i += 1
            text = src[start : self.i].replace("_", "")
            try:
                value: int | float = int(text, 0)
            except ValueError:
                raise self.fail(f"invalid number {src[start : self.i]!r}", start) from None
            self.tokens.append(Token(NUMBER, value, start, self.i))
            return
        is_float = False
        while self.i < len(src) and (src[self.i].isdigit() or src[self.i] == "_"):
            self.i += 1
        if src[self.i : self.i + 1] == "." and src[self.i + 1 : self.i + 2].isdigit():
            is_float = True
            self.i += 1
            while self.i < len(src) and (src[self.i].isdigit() or src[self.i] == "_"):
                self.i += 1
        if src[self.i : self.i + 1] in ("e", "E"):
            j = self.i + 1
            if src[j : j + 1] in ("+", "-"):
                j += 1
            if src[j : j + 1].isdigit():
                is_float = True
                self.i = j
                while self.i < len(src) and src[self.i].isdigit():
                    self.i += 1
        text = src[start : self.i]
        if (
            text.endswith("_")
            or "__" in text
            or (self.i < len(src) and _is_name_start(src[self.i]))
        ):
            raise self.fail(f"invalid number {src[start : self.i + 1]!r}", start)
        clean = text.replace("_", "")
        value = float(clean) if is_float else int(clean)
        self.tokens.append(Token(NUMBER, value, start, self.i))

    def name(self) -> None:
        src, start = self.src, self.i
        self.i += 1
        while self.i < len(src) and _is_name_char(src[self.i]):
            self.i += 1
        self.tokens.append(Token(NAME, src[start : self.i], start, self.i))

    def pointer(self) -> None:
        start = self.i
        self.i += 1
        while self.i < len(self.src) and _is_name_char(self.src[self.i]):
            self.i += 1
        name = self.src[start + 1 : self.i]
        if name not in ("", "index"):
            raise self.fail(f"unknown pointer '#{name}' (use '#' or '#index')", start)
        self.tokens.append(Token(POINTER, name, start, self.i))

    def quoted(self, quote: str) -> None:
        src, start = self.src, self.i
        self.i += 1
        out: list[str] = []
        while True:
            if self.i >= len(src):
                raise self.fail("unterminated string", start)
            ch = src[self.i]
            if ch == quote:
                self.i += 1
                break
            if ch == "\\":
                out.append(self.escape())
                continue
            out.append(ch)
            self.i += 1
        self.tokens.append(Token(STRING, "".join(out), start, self.i))

    def escape(self) -> str:
        src, start = self.src, self.i
        code = src[start + 1 : start + 2]
        if code in _ESCAPES:
            self.i += 2
            return _ESCAPES[code]
        width = {"x": 2, "u": 4, "U": 8}.get(code)
        if width is not None:
            digits = src[start + 2 : start + 2 + width]
            if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                self.i = start + 2 + width
                codepoint = int(digits, 16)
                if codepoint <= 0x10FFFF:
                    return chr(codepoint)
        raise self.fail(f"invalid escape {src[start : start + 2]!r} in string", start)

    def raw(self) -> None:
        start = self.i
        close = self.src.find("`", start + 1)
        if close < 0:
            raise self.fail("unterminated string", start)
        self.i = close + 1
        self.tokens.append(Token(STRING, self.src[start + 1 : close], start, self.i))

    def operator(self) -> None:
        src, start = self.src, self.i
        for text, reason in _UNSUPPORTED.items():
            if src.startswith(text, start) and not any(
                src.startswith(op, start) and len(op) >= len(text) for op in _OPERATORS
            ):
                raise self.fail(reason, start)
        for op in _OPERATORS:
            if src.startswith(op, start):
                if op == "?." and not self.optional_dot_follows(start + 2):
                    continue
                self.i += len(op)
                self.tokens.append(Token(OPERATOR, op, start, self.i))
                return
        raise self.fail(f"unexpected character {src[start]!r}", start)

    def optional_dot_follows(self, after: int) -> bool:
        """'?.' is optional chaining only before a name or '['; in ``a ? .5 : 1`` it is not."""
        nxt = self.src[after : after + 1]
        return nxt == "[" or (nxt != "" and _is_name_start(nxt))


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``, ending with an ``eof`` token. Raises
    :class:`ExprSyntaxError` with the column of the first bad character."""
    return _Lexer(source).run()
