"""Slash command parsing: strict flags, usage on error, app names with suggestions."""

from __future__ import annotations

import pytest

from bot.parse import (
    DiffCommand,
    GitopsCommand,
    HelpRequested,
    RollbackCommand,
    SyncCommand,
    ToggleSelfHealCommand,
    UnknownAppError,
    UsageError,
    closest,
    parse_command,
    tokenize,
    usage_lines,
)
from bot.settings import CommandNames

APPS = {"guestbook", "guestbook-ui", "billing", "helm-guestbook", "payments-api"}
SYNC_USAGE = "/sync APP [--revision REV] [--prune] [--dry-run]"


def parse(command: str, text: str) -> object:
    return parse_command(command, text, APPS)


def usage_error(command: str, text: str) -> UsageError:
    with pytest.raises(UsageError) as info:
        parse(command, text)
    return info.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("guestbook", SyncCommand("guestbook")),
        ("  guestbook  ", SyncCommand("guestbook")),
        ("guestbook --prune", SyncCommand("guestbook", prune=True)),
        ("--dry-run guestbook", SyncCommand("guestbook", dry_run=True)),
        ("guestbook --revision v1.2.0", SyncCommand("guestbook", revision="v1.2.0")),
        ("guestbook --revision=feature/x", SyncCommand("guestbook", revision="feature/x")),
        (
            "guestbook --revision 0123456789abcdef0123456789abcdef01234567 --prune --dry-run",
            SyncCommand(
                "guestbook",
                revision="0123456789abcdef0123456789abcdef01234567",
                prune=True,
                dry_run=True,
            ),
        ),
        # Phones and Macs turn "--" into a dash.
        ("guestbook \u2014prune \u2013dry-run", SyncCommand("guestbook", prune=True, dry_run=True)),
        ("guestbook \u2014revision main", SyncCommand("guestbook", revision="main")),
    ],
)
def test_sync_forms(text: str, expected: SyncCommand) -> None:
    assert parse("/sync", text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "missing APP"),
        ("--prune", "missing APP"),
        ("guestbook --force", "unknown flag --force"),
        ("guestbook --prnue", "unknown flag --prnue (did you mean --prune?)"),
        ("guestbook --revision", "--revision needs a value"),
        ("guestbook --revision --prune", "--revision needs a value"),
        ("guestbook --revision=", "--revision needs a value"),
        ("guestbook --prune=yes", "--prune takes no value"),
        ("guestbook --prune --prune", "--prune is given twice"),
        ("guestbook --revision a --revision b", "--revision is given twice"),
        ("guestbook billing", "unexpected argument 'billing'"),
        ("guestbook now please", "unexpected arguments 'now please'"),
        ("guestbook --revision a..b", "--revision: 'a..b' is not a branch, tag or commit name"),
        ("guestbook --revision x;rm", "--revision: 'x;rm' is not a branch, tag or commit name"),
        (
            "guestbook --revision main.lock",
            "--revision: 'main.lock' is not a branch, tag or commit name",
        ),
    ],
)
def test_sync_usage_errors(text: str, problem: str) -> None:
    error = usage_error("/sync", text)
    assert error.problem == problem
    assert error.usage == SYNC_USAGE
    assert str(error) == f"{problem}\nUsage: {SYNC_USAGE}"


def test_unknown_app_suggests_the_closest_names() -> None:
    error = usage_error("/sync", "gestbook --prune")
    assert isinstance(error, UnknownAppError)
    assert error.app == "gestbook"
    assert error.suggestions == ("guestbook", "guestbook-ui", "helm-guestbook")
    assert error.problem == (
        "unknown app 'gestbook'; did you mean 'guestbook' or 'guestbook-ui' or 'helm-guestbook'?"
    )
    assert error.usage == SYNC_USAGE


def test_unknown_app_matching_is_case_insensitive_and_knows_prefixes() -> None:
    assert closest("Billing", APPS) == ["billing"]
    assert closest("payments", APPS) == ["payments-api"]
    error = usage_error("/diff", "zzz")
    assert isinstance(error, UnknownAppError) and error.suggestions == ()
    assert error.problem == "unknown app 'zzz'; list the apps with the apps command"


def test_help_flag_is_not_an_error() -> None:
    with pytest.raises(HelpRequested) as info:
        parse("/sync", "guestbook --help")
    assert info.value.problem == ""
    assert str(info.value) == f"Usage: {SYNC_USAGE}"


def test_diff_and_toggle_take_exactly_one_app() -> None:
    assert parse("/diff", "billing") == DiffCommand("billing")
    assert parse("/toggle-selfheal", "billing") == ToggleSelfHealCommand("billing")
    assert usage_error("/diff", "").problem == "missing APP"
    assert usage_error("/diff", "billing --prune").problem == "--prune: takes no flags"
    assert usage_error("/toggle-selfheal", "billing on").problem == "unexpected argument 'on'"
    assert usage_error("/toggle-selfheal", "").usage == "/toggle-selfheal APP"


def test_rollback_with_and_without_history_id() -> None:
    assert parse("/rollback", "billing") == RollbackCommand("billing")
    assert parse("/rollback", "billing 0") == RollbackCommand("billing", 0)
    assert parse("/rollback", "billing 12") == RollbackCommand("billing", 12)
    for bad in ("-1", "1.5", "abc"):
        error = usage_error("/rollback", f"billing {bad}")
        assert error.problem == f"HISTORY_ID must be a whole number (0 or more), got {bad!r}"
        assert error.usage == "/rollback APP [HISTORY_ID]"
    assert usage_error("/rollback", "billing 1 2").problem == "unexpected argument '2'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", GitopsCommand("help")),
        ("help", GitopsCommand("help")),
        ("apps", GitopsCommand("apps")),
        ("APPS", GitopsCommand("apps")),
        ("status", GitopsCommand("status")),
        ("status billing", GitopsCommand("status", "billing")),
        ("history billing", GitopsCommand("history", "billing")),
    ],
)
def test_gitops_subcommands(text: str, expected: GitopsCommand) -> None:
    assert parse("/gitops", text) == expected


def test_gitops_errors() -> None:
    assert usage_error("/gitops", "histroy billing").problem == (
        "unknown subcommand 'histroy' (did you mean 'history'?)"
    )
    assert usage_error("/gitops", "history").problem == "missing APP"
    assert usage_error("/gitops", "apps billing").problem == "unexpected argument 'billing'"
    assert isinstance(usage_error("/gitops", "status biling"), UnknownAppError)


def test_slack_entities_are_unescaped_before_parsing() -> None:
    assert tokenize("a &amp;&lt;b&gt;  c") == ["a", "&<b>", "c"]
    error = usage_error("/diff", "&lt;@U0ALICE&gt;")
    assert isinstance(error, UnknownAppError) and error.app == "<@U0ALICE>"


def test_configured_command_names_are_used() -> None:
    names = CommandNames(sync="/deploy", gitops="/kj")
    assert parse_command("/deploy", "billing --prune", APPS, names) == SyncCommand(
        "billing", prune=True
    )
    assert parse_command("/kj", "apps", APPS, names) == GitopsCommand("apps")
    with pytest.raises(UsageError) as info:
        parse_command("/sync", "billing", APPS, names)
    assert info.value.problem == "unknown command /sync"
    assert usage_lines(names)["/deploy"] == "/deploy APP [--revision REV] [--prune] [--dry-run]"
