"""Slash command text → a typed command, strictly.

Slack sends a command's arguments as one string, with ``&``, ``<`` and ``>`` escaped as HTML
entities and, from phones and Macs, ``--`` often turned into a dash (``—prune``). Parsing
undoes both, then accepts exactly the documented form of each command: an unknown flag, a flag
without its value, a value given to a switch, a repeated flag or an extra argument is a
:class:`UsageError` carrying the command's usage line, and an app name that is not configured
is an :class:`UnknownAppError` with the closest names. Pure: the configured app names come in.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from bot.settings import DEFAULT_COMMANDS, CommandNames
from reconciler.errors import KajitoriError

GitopsSub = Literal["apps", "status", "history", "help"]
GITOPS_SUBCOMMANDS: Final[tuple[GitopsSub, ...]] = ("apps", "status", "history", "help")
_HELP_FLAGS: Final = ("--help", "-h")
# Branch, tag or commit names: what `git check-ref-format` allows, minus rarely used forms.
_REVISION: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/@+\-]{0,254}$")
_DASHES: Final = ("\u2014", "\u2013", "\u2012", "\u2212")  # em, en, figure dash, minus


class UsageError(KajitoriError):
    """A command the bot cannot run as typed. ``problem`` says what is wrong ("" when the
    user asked for help), ``usage`` is the command's usage line."""

    def __init__(self, problem: str, usage: str) -> None:
        self.problem = problem
        self.usage = usage
        super().__init__(f"{problem}\nUsage: {usage}" if problem else f"Usage: {usage}")


class HelpRequested(UsageError):
    """``--help`` was given: show the usage, which is not an error."""

    def __init__(self, usage: str) -> None:
        super().__init__("", usage)


class UnknownAppError(UsageError):
    """The app is not in the configuration; ``suggestions`` are the closest configured
    names, best first."""

    def __init__(self, app: str, suggestions: Sequence[str], usage: str) -> None:
        self.app = app
        self.suggestions = tuple(suggestions)
        if suggestions:
            hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?"
        else:
            hint = "; list the apps with the apps command"
        super().__init__(f"unknown app {app!r}{hint}", usage)


@dataclass(frozen=True)
class SyncCommand:
    """``/sync APP [--revision R] [--prune] [--dry-run]``; ``revision`` None means the app's
    targetRevision."""

    app: str
    revision: str | None = None
    prune: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class DiffCommand:
    """``/diff APP``."""

    app: str


@dataclass(frozen=True)
class RollbackCommand:
    """``/rollback APP [HISTORY_ID]``; ``history_id`` None means the deployment before the
    current one."""

    app: str
    history_id: int | None = None


@dataclass(frozen=True)
class ToggleSelfHealCommand:
    """``/toggle-selfheal APP``."""

    app: str


@dataclass(frozen=True)
class GitopsCommand:
    """``/gitops apps | status [APP] | history APP | help``."""

    sub: GitopsSub
    app: str | None = None


Command = SyncCommand | DiffCommand | RollbackCommand | ToggleSelfHealCommand | GitopsCommand


def usage_lines(names: CommandNames = DEFAULT_COMMANDS) -> dict[str, str]:
    """The usage line of every command, keyed by its configured name."""
    return {
        names.sync: f"{names.sync} APP [--revision REV] [--prune] [--dry-run]",
        names.diff: f"{names.diff} APP",
        names.rollback: f"{names.rollback} APP [HISTORY_ID]",
        names.toggle_selfheal: f"{names.toggle_selfheal} APP",
        names.gitops: f"{names.gitops} apps | status [APP] | history APP | help",
    }


def tokenize(text: str) -> list[str]:
    """The words of a command's text: entities unescaped, whitespace-separated, a leading
    typographic dash turned back into ``--``."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    words = []
    for word in text.split():
        if word[0] in _DASHES:
            word = "--" + word.lstrip("".join(_DASHES) + "-")
        words.append(word)
    return words


def closest(name: str, choices: Collection[str], limit: int = 3) -> list[str]:
    """Up to ``limit`` configured names closest to ``name`` (case-insensitive), best first."""
    by_lower: dict[str, str] = {}
    for choice in sorted(choices):
        by_lower.setdefault(choice.lower(), choice)
    found = difflib.get_close_matches(name.lower(), list(by_lower), n=limit, cutoff=0.6)
    prefixed = [c for c in by_lower if c.startswith(name.lower()) and c not in found]
    return [by_lower[c] for c in (found + prefixed)[:limit]]


def _check_app(app: str, apps: Collection[str], usage: str) -> str:
    if app in apps:
        return app
    raise UnknownAppError(app, closest(app, apps), usage)


class _Words:
    """The words of one command split into positional arguments and flags, checked against
    the flags the command knows: ``switches`` take no value, ``valued`` flags take one,
    written ``--flag VALUE`` or ``--flag=VALUE``."""

    def __init__(
        self,
        text: str,
        usage: str,
        switches: Collection[str] = (),
        valued: Collection[str] = (),
    ) -> None:
        self.usage = usage
        self.positional: list[str] = []
        self.flags: dict[str, str | None] = {}
        words = tokenize(text)
        while words:
            word = words.pop(0)
            if word in _HELP_FLAGS:
                raise HelpRequested(usage)
            if not word.startswith("-") or re.fullmatch(r"-\d+", word):
                self.positional.append(word)
                continue
            name, sep, value = word.partition("=")
            self._check_flag(name, switches, valued)
            if name in switches and sep:
                raise self.fail(f"{name} takes no value")
            if name in valued and not sep:
                if not words or words[0].startswith("-"):
                    raise self.fail(f"{name} needs a value")
                value = words.pop(0)
            if name in valued and not value:
                raise self.fail(f"{name} needs a value")
            self.flags[name] = value if name in valued else None

    def _check_flag(self, name: str, switches: Collection[str], valued: Collection[str]) -> None:
        known = [*switches, *valued]
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise self.fail(f"unknown flag {name}{hint}" if known else f"{name}: takes no flags")
        if name in self.flags:
            raise self.fail(f"{name} is given twice")

    def fail(self, problem: str) -> UsageError:
        return UsageError(problem, self.usage)

    def app(self, apps: Collection[str]) -> str:
        if not self.positional:
            raise self.fail("missing APP")
        return _check_app(self.positional.pop(0), apps, self.usage)

    def no_more(self) -> None:
        if self.positional:
            plural = "s" if len(self.positional) > 1 else ""
            raise self.fail(f"unexpected argument{plural} {' '.join(self.positional)!r}")


def _valid_revision(revision: str) -> bool:
    return bool(
        _REVISION.match(revision)
        and ".." not in revision
        and "@{" not in revision
        and not revision.endswith((".lock", "/", "."))
    )


def _parse_sync(text: str, apps: Collection[str], usage: str) -> SyncCommand:
    words = _Words(text, usage, switches=("--prune", "--dry-run"), valued=("--revision",))
    revision = words.flags.get("--revision")
    if revision is not None and not _valid_revision(revision):
        raise words.fail(f"--revision: {revision!r} is not a branch, tag or commit name")
    app = words.app(apps)
    words.no_more()
    return SyncCommand(
        app=app,
        revision=revision,
        prune="--prune" in words.flags,
        dry_run="--dry-run" in words.flags,
    )


def _parse_single_app(text: str, apps: Collection[str], usage: str) -> str:
    words = _Words(text, usage)
    app = words.app(apps)
    words.no_more()
    return app


def _parse_rollback(text: str, apps: Collection[str], usage: str) -> RollbackCommand:
    words = _Words(text, usage)
    app = words.app(apps)
    history_id = None
    if words.positional:
        raw = words.positional.pop(0)
        if not raw.isdigit():
            raise words.fail(f"HISTORY_ID must be a whole number (0 or more), got {raw!r}")
        history_id = int(raw)
    words.no_more()
    return RollbackCommand(app=app, history_id=history_id)


def _parse_gitops(text: str, apps: Collection[str], usage: str) -> GitopsCommand:
    words = _Words(text, usage)
    if not words.positional:
        return GitopsCommand("help")
    word = words.positional.pop(0).lower()
    sub = next((known for known in GITOPS_SUBCOMMANDS if known == word), None)
    if sub is None:
        close = difflib.get_close_matches(word, GITOPS_SUBCOMMANDS, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise words.fail(f"unknown subcommand {word!r}{hint}")
    app = None
    if sub == "history" or (sub == "status" and words.positional):
        app = words.app(apps)
    words.no_more()
    return GitopsCommand(sub, app)


def parse_command(
    command: str, text: str, apps: Collection[str], names: CommandNames = DEFAULT_COMMANDS
) -> Command:
    """The typed command for slash command ``command`` (its configured name) with argument
    text ``text``; ``apps`` are the configured app names. Raises UsageError (HelpRequested
    for ``--help``, UnknownAppError for an app that is not configured)."""
    usages = usage_lines(names)
    if command not in usages:
        raise UsageError(f"unknown command {command}", " | ".join(usages))
    usage = usages[command]
    if command == names.sync:
        return _parse_sync(text, apps, usage)
    if command == names.diff:
        return DiffCommand(_parse_single_app(text, apps, usage))
    if command == names.rollback:
        return _parse_rollback(text, apps, usage)
    if command == names.toggle_selfheal:
        return ToggleSelfHealCommand(_parse_single_app(text, apps, usage))
    return _parse_gitops(text, apps, usage)
