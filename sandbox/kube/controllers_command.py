"""Pure guess of how long a container runs and how it exits, from its command and args.

The emulator runs no containers. A simulated Job or Pod instead reads its first container's
`command` + `args` and plays them out: `sleep N` takes N (simulated) seconds, `false`,
`/bin/false` and `exit N` (N > 0) fail, and `sh -c "..."` scripts are evaluated with the
shell's sequencing rules (`;`, newlines, `&&`, `||`, `|`, a trailing `&`, `!`, `set -e`,
`exit`, `exec`). Every other program counts as a success taking no time. Commands inside
compound constructs (if/for/while/case) are not evaluated as control flow: only their
`sleep`s count, once. No I/O, no clock.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox-sh"})
_OPENERS = frozenset({"if", "for", "while", "until", "case", "select"})
_CLOSERS = frozenset({"fi", "done", "esac"})
_KEYWORDS = frozenset({"then", "elif", "else", "do", "in", "{", "}", "(", ")"})
_PUNCTUATION = frozenset(";&|()<>\n")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class RunOutcome:
    """How a simulated container ends: after `seconds` (None = never), with `exit_code`."""

    seconds: float | None
    exit_code: int

    @property
    def succeeded(self) -> bool:
        """True when the container exits 0."""
        return self.exit_code == 0


@dataclass
class _State:
    seconds: float = 0.0
    slept: bool = False
    status: int = 0
    errexit: bool = False
    exited: bool = False


def simulate(
    command: list[str] | None, args: list[str] | None, default_seconds: float
) -> RunOutcome:
    """Play out a container's command + args; `default_seconds` is the run time when no
    `sleep` is executed at all."""
    argv = [str(word) for word in (command or [])] + [str(word) for word in (args or [])]
    state = _State()
    if argv:
        _run_words(argv, state, background=False)
    if math.isinf(state.seconds):
        return RunOutcome(None, state.status)
    seconds = state.seconds if state.slept else default_seconds
    return RunOutcome(seconds, state.status & 255)


def parse_duration(text: str) -> float | None:
    """`sleep`'s operand in seconds: 5, 0.5, 2s, 3m, 1h, 1d, infinity; None if invalid."""
    text = text.strip()
    if text.lower() in ("inf", "infinity"):
        return math.inf
    unit = 1.0
    if text and text[-1] in _UNITS:
        unit = _UNITS[text[-1]]
        text = text[:-1]
    try:
        value = float(text)
    except ValueError:
        return None
    if value < 0 or math.isnan(value):
        return None
    return value * unit


def _run_words(words: list[str], state: _State, background: bool) -> None:
    """Run one simple command (already split into words), updating state."""
    negate = False
    while words and (words[0] == "!" or _is_assignment(words[0])):
        if words[0] == "!":
            negate = not negate
        words = words[1:]
    if not words:
        state.status = 0
        return
    program = words[0].rsplit("/", 1)[-1]
    rest = words[1:]
    if program in SHELLS:
        _run_shell(rest, state, background)
    elif program == "sleep":
        _run_sleep(rest, state, background)
    elif program == "false":
        state.status = 1
    elif program in ("true", ":"):
        state.status = 0
    elif program == "exit":
        if rest:
            try:
                state.status = int(rest[0]) & 255
            except ValueError:
                state.status = 2
        state.exited = True
    elif program == "exec":
        _run_words(rest, state, background)
        state.exited = True
    elif program == "set":
        _run_set(rest, state)
    elif program in ("timeout", "nice", "nohup", "env", "time"):
        _run_wrapped(program, rest, state, background)
    else:
        state.status = 0
    if negate:
        state.status = 0 if state.status else 1


def _is_assignment(word: str) -> bool:
    name, sep, _ = word.partition("=")
    return bool(sep) and name.isidentifier()


def _run_sleep(operands: list[str], state: _State, background: bool) -> None:
    total = 0.0
    for operand in operands:
        seconds = parse_duration(operand)
        if seconds is None:
            state.status = 1
            return
        total += seconds
    if not operands:
        state.status = 1
        return
    if not background:
        state.seconds += total
        state.slept = True
    state.status = 0


def _run_set(options: list[str], state: _State) -> None:
    for option in options:
        if option.startswith("-") and "e" in option[1:] and not option.startswith("--"):
            state.errexit = True
        elif option.startswith("+") and "e" in option[1:]:
            state.errexit = False
    state.status = 0


def _run_wrapped(program: str, rest: list[str], state: _State, background: bool) -> None:
    """`timeout 5 cmd`, `env A=1 cmd`, `nice cmd`, ...: run the wrapped command."""
    while rest and (rest[0].startswith("-") or _is_assignment(rest[0])):
        rest = rest[1:]
    if program == "timeout" and rest:
        rest = rest[1:]
    if rest:
        _run_words(rest, state, background)
    else:
        state.status = 0


def _run_shell(rest: list[str], state: _State, background: bool) -> None:
    """`sh [-eux] -c SCRIPT ...` evaluates SCRIPT; a shell without -c reads a file we do not
    have, which counts as a success."""
    errexit = False
    has_c = False
    script: str | None = None
    index = 0
    while index < len(rest):
        word = rest[index]
        if word in ("-o", "+o"):
            index += 2
            continue
        if word.startswith("-") and len(word) > 1 and word != "--":
            errexit = errexit or "e" in word[1:]
            has_c = has_c or "c" in word[1:]
            index += 1
            continue
        if word == "--":
            index += 1
        if has_c and index < len(rest):
            script = rest[index]
        break
    if script is None:
        state.status = 0
        return
    inner = _State(errexit=errexit)
    _run_script(script, inner)
    if not background:
        state.seconds += inner.seconds
        state.slept = state.slept or inner.slept
    state.status = inner.status & 255


def _strip_comments(script: str) -> str:
    """Remove `# ...` comments (a # starting a word, outside quotes), keeping the newline."""
    out: list[str] = []
    quote = ""
    index = 0
    while index < len(script):
        char = script[index]
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"' and index + 1 < len(script):
                out.append(char)
                index += 1
                char = script[index]
        elif char in "'\"":
            quote = char
        elif char == "\\" and index + 1 < len(script):
            out.append(char)
            index += 1
            char = script[index]
        elif char == "#" and (not out or out[-1] in " \t\n;&|("):
            end = script.find("\n", index)
            index = len(script) if end < 0 else end
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _tokens(script: str) -> list[str]:
    lexer = shlex.shlex(_strip_comments(script), posix=True, punctuation_chars=";&|()<>\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        # Unbalanced quotes: fall back to plain splitting so a typo still gets a guess.
        return script.replace(";", " ; ").split()


def _commands(tokens: list[str]) -> list[tuple[list[str], str]]:
    """Split tokens into (words, operator after them); subshell parentheses and
    redirections (with their targets) are dropped."""
    result: list[tuple[list[str], str]] = []
    words: list[str] = []
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
            continue
        if not token or not set(token) <= _PUNCTUATION:
            words.append(token)
            continue
        if "<" in token or ">" in token:
            skip_next = True  # the file name or descriptor the redirection names
            continue
        operator = token.replace("(", "").replace(")", "").replace("\n", "")
        if operator or "\n" in token:
            result.append((words, "\n" if operator in ("", ";", ";;") else operator))
            words = []
    result.append((words, "\n"))
    return result


def _run_script(script: str, state: _State) -> None:
    depth = 0
    skip = False
    for words, operator in _commands(_tokens(script)):
        if state.exited:
            return
        background = operator == "&"
        while words and (words[0] in _KEYWORDS or words[0] in _OPENERS or words[0] in _CLOSERS):
            head = words[0]
            depth += 1 if head in _OPENERS else -1 if head in _CLOSERS else 0
            depth = max(depth, 0)
            words = words[1:]
            if head in ("for", "case", "select"):
                words = []
        if not words:
            continue
        if depth > 0:
            if words[0].rsplit("/", 1)[-1] == "sleep":
                sleeper = _State()
                _run_sleep(words[1:], sleeper, background)
                state.seconds += sleeper.seconds
                state.slept = state.slept or sleeper.slept
            continue
        if skip:
            skip = _skips_next(operator, state.status)
            continue
        _run_words(words, state, background)
        if background:
            state.status = 0
        if state.exited:
            return
        if state.errexit and state.status != 0 and operator not in ("&&", "||", "|"):
            state.exited = True
            return
        skip = _skips_next(operator, state.status)


def _skips_next(operator: str, status: int) -> bool:
    """`a && b` skips b when a failed; `a || b` skips b when a succeeded."""
    if operator == "&&":
        return status != 0
    if operator == "||":
        return status == 0
    return False
