"""The ``matches`` operator's regular expressions, with bounds.

expr-lang uses Go's RE2, which runs in linear time; Python's ``re`` backtracks and can take
exponential time on patterns like ``(a+)+$``. Instead of a second regex engine this module
refuses what makes backtracking blow up or what RE2 does not have anyway:

* patterns longer than 256 characters and repeat counts above 1000;
* backreferences, lookahead/lookbehind and conditionals (RE2 has none of them);
* a repeated group that itself contains a repetition or an alternation
  (``(a+)+``, ``(a|aa)*``, ``(-[a-z]+)*``): write ``[a-z-]+`` instead;

and it matches against at most 16 KiB of text. This is a bound, not a proof: a pattern with
many adjacent ``.*`` can still be slow, polynomially, on long text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Final

from bot.notify.expr_errors import EvalFailure

MAX_PATTERN_LENGTH: Final = 256
MAX_REPEAT: Final = 1000
MAX_SUBJECT_LENGTH: Final = 16 * 1024

_FORBIDDEN_GROUPS: Final = {
    "(?=": "lookahead",
    "(?!": "negative lookahead",
    "(?<=": "lookbehind",
    "(?<!": "negative lookbehind",
    "(?P=": "a backreference",
    "(?(": "a conditional group",
}
_REPEAT_BRACES: Final = re.compile(r"\{(\d*)(?:,(\d*))?\}")


@dataclass
class _Group:
    repeats_inside: bool = False
    children: list[_Group] = field(default_factory=list)


def _quantifier_at(pattern: str, i: int) -> int:
    """Length of the quantifier starting at ``i`` (0 when there is none)."""
    ch = pattern[i : i + 1]
    if ch in ("*", "+", "?"):
        return 1
    if ch == "{":
        found = _REPEAT_BRACES.match(pattern, i)
        if found and (found.group(1) or found.group(2)):
            return found.end() - i
    return 0


def _scan(pattern: str) -> str | None:
    """The first structural problem of ``pattern``, or None."""
    for prefix, what in _FORBIDDEN_GROUPS.items():
        if prefix in pattern:
            return f"regular expression uses {what}, which is not supported"
    for found in _REPEAT_BRACES.finditer(pattern):
        counts = [int(n) for n in found.groups() if n]
        if any(n > MAX_REPEAT for n in counts):
            return f"regular expression repeat count above {MAX_REPEAT}"
    stack: list[_Group] = [_Group()]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if pattern[i + 1 : i + 2].isdigit() and pattern[i + 1] != "0":
                return "regular expression uses a backreference, which is not supported"
            i += 2
            continue
        if ch == "[":
            i = _skip_class(pattern, i)
            continue
        if ch == "(":
            stack.append(_Group())
            i += 1
            if pattern.startswith("?", i):
                i += 1  # group flags such as (?:, (?i), (?P<name>: not a quantifier
            continue
        if ch == ")" and len(stack) > 1:
            group = stack.pop()
            quantified = _quantifier_at(pattern, i + 1) > 0
            if quantified and group.repeats_inside:
                return (
                    "regular expression repeats a group that itself repeats or alternates "
                    "(it can backtrack for a very long time)"
                )
            if quantified or group.repeats_inside:
                stack[-1].repeats_inside = True
            i += 1
            continue
        if ch == "|" or _quantifier_at(pattern, i):
            stack[-1].repeats_inside = True
        i += 1
    return None


def _skip_class(pattern: str, i: int) -> int:
    """Index just after the character class that starts at ``i``."""
    j = i + 1
    if pattern[j : j + 1] == "^":
        j += 1
    if pattern[j : j + 1] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def check_pattern(pattern: str) -> str | None:
    """Why ``pattern`` is refused (too long, unsupported, catastrophic or invalid), or None
    when it may be used."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"regular expression longer than {MAX_PATTERN_LENGTH} characters"
    problem = _scan(pattern)
    if problem:
        return problem
    try:
        _compiled(pattern)
    except re.error as exc:
        return f"invalid regular expression: {exc.msg}"
    return None


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def regex_search(pattern: str, subject: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``subject`` (Go's ``MatchString``), within the
    bounds above; a refused pattern or an oversized subject is an evaluation failure."""
    problem = check_pattern(pattern)
    if problem:
        raise EvalFailure(problem)
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise EvalFailure(f"'matches' refuses text longer than {MAX_SUBJECT_LENGTH} characters")
    return _compiled(pattern).search(subject) is not None
