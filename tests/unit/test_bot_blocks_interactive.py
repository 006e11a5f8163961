"""Block Kit builders with buttons, listings and ephemeral answers: rollback preview, self-heal
toggle, migration approval, apps/status/history/help, denials and errors."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot import blocks as b
from bot.authz import Action, authorize
from bot.blocks_kit import SlackMessage
from bot.parse import HelpRequested, UnknownAppError, UsageError, parse_command
from bot.settings import CommandNames, RbacSettings
from bot.views import (
    ApprovalDecision,
    ApprovalView,
    AppRow,
    DiffEntry,
    HookView,
    ResourceRow,
    RollbackView,
    StatusView,
)
from reconciler.event_types import CommitSummary
from reconciler.history import HistoryEntry
from reconciler.model import ResourceKey
from tests.unit.bot_blocks_helpers import (
    COMMIT,
    DEPLOY,
    EVIL,
    SERVICE,
    SHA_NEW,
    SHA_OLD,
    T0,
    accepted,
    all_text,
    assert_no_injection,
    blocks_of,
)

ROLLBACK = RollbackView(
    app="guestbook",
    history_id=3,
    revision=SHA_OLD,
    current_revision=SHA_NEW,
    project="web",
    commit=CommitSummary(SHA_OLD, "Eve", EVIL + "\nsecond line"),
    deployed_at=T0,
    changes=[DiffEntry(DEPLOY, "-a\n+b\n"), DiffEntry(SERVICE, "+s\n", "new")],
    auto_sync=True,
    requested_by="U0ALICE",
)


def the_buttons(msg: SlackMessage) -> list[dict[str, Any]]:
    return [el for block in blocks_of(msg, "actions") for el in block["elements"]]


def test_rollback_preview_shows_the_target_and_a_danger_button_behind_a_confirm() -> None:
    msg = accepted(b.rollback_preview(ROLLBACK))
    text = all_text(msg)
    assert "*Roll back guestbook* to deployment #3 (`1111111`)" in text
    assert "*Deployed now*\n`2222222`" in text and "*Author*\nEve" in text
    assert "> Fix &lt;!channel&gt;" in text and "> second line" in text
    assert "*What will change:* 1 changed, 1 new" in text
    assert "`Deployment.apps/web/guestbook-ui` — changed" in text
    assert "*Auto-sync will be paused*" in text
    assert "To resume, run `/sync guestbook`" in text
    confirm, cancel = the_buttons(msg)
    assert confirm["style"] == "danger" and confirm["action_id"] == b.ROLLBACK_CONFIRM_ACTION
    assert confirm["confirm"]["style"] == "danger"
    assert "Auto-sync will be paused." in confirm["confirm"]["text"]["text"]
    assert cancel["action_id"] == b.ROLLBACK_CANCEL_ACTION
    assert b.parse_rollback_value(confirm["value"]) == b.RollbackChoice("guestbook", 3, SHA_OLD)
    assert_no_injection(msg)


def test_rollback_without_auto_sync_and_with_a_custom_resume_hint() -> None:
    manual = RollbackView(app="guestbook", history_id=0, revision="v1.0.0")
    text = all_text(accepted(b.rollback_preview(manual)))
    assert "Auto-sync is off for this app" in text and "paused" not in text
    hinted = RollbackView(app="a", history_id=1, revision="v1", auto_sync=True, resume_hint="X!")
    assert "straight back. X!" in all_text(accepted(b.rollback_preview(hinted)))


def test_rollback_preview_with_many_changes_and_a_long_name_stays_within_limits() -> None:
    changes = [DiffEntry(ResourceKey("", "ConfigMap", "web", f"c{i}"), "x") for i in range(500)]
    view = RollbackView(app="g" * 253, history_id=9, revision=SHA_OLD, changes=changes)
    msg = accepted(b.rollback_preview(view))
    assert "… and 485 more; see the full diff with /diff." in all_text(msg)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "nope",
        "[]",
        '{"app":"a"}',
        '{"app":"a","historyId":-1,"revision":"r"}',
        '{"app":"a","historyId":true,"revision":"r"}',
    ],
)
def test_foreign_rollback_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="rollback button value"):
        b.parse_rollback_value(value)


def test_selfheal_toggle_announcement() -> None:
    on = accepted(b.selfheal_toggled("guestbook", True, "U0BOB", project="web", auto_sync=False))
    text = all_text(on)
    assert "<@U0BOB> turned self-heal *on* for *guestbook*" in text
    assert "reverted automatically" in text and "Auto-sync is off" in text
    off = accepted(b.selfheal_toggled("guestbook", False, "U0BOB"))
    assert off["text"] == "<@U0BOB> turned self-heal off for guestbook"
    assert "left as they are" in all_text(off)


APPROVAL = ApprovalView(
    approval_id="apr-7f3a",
    app="guestbook",
    hook=HookView(
        "db-migrate",
        namespace="web",
        image="ghcr.io/acme/migrate:1.4",
        command=["/bin/migrate"],
        args=["--to", "latest", "--note", "it's <fine> & ```done```"],
    ),
    revision=SHA_NEW,
    project="web",
    commit=COMMIT,
    changes=[DiffEntry(DEPLOY, "d")],
    requested_by="U0BOB",
    expires_at=T0 + timedelta(hours=1),
    commit_url="https://github.com/acme/app/commit/" + SHA_NEW,
)


def test_approval_request_shows_what_will_run_and_two_confirmed_buttons() -> None:
    msg = accepted(b.approval_request(APPROVAL))
    text = all_text(msg)
    assert "*Approval needed*: `db-migrate` of *guestbook*" in text
    assert f"<https://github.com/acme/app/commit/{SHA_NEW}|`2222222`>" in text
    assert "*Author*\nEve &lt;eve@example.com&gt;" in text
    assert "*Sync started by*\n<@U0BOB>" in text
    assert "<!date^1714561200^" in text  # expires one hour after T0
    assert "*Hook* `Job/web/db-migrate`" in text and "*Image* `ghcr.io/acme/migrate:1.4`" in text
    assert "/bin/migrate --to latest --note 'it'\"'\"'s &lt;fine&gt; &amp;" in text
    hook_section = next(
        s for s in blocks_of(msg, "section") if "*Hook*" in s.get("text", {}).get("text", "")
    )
    assert hook_section["text"]["text"].count("```") == 2
    assert "*Changes:* 1 changed" in text
    approve, reject = the_buttons(msg)
    assert (approve["action_id"], approve["value"], approve["style"]) == (
        b.APPROVE_ACTION,
        "apr-7f3a",
        "primary",
    )
    assert (reject["action_id"], reject["value"], reject["style"]) == (
        b.REJECT_ACTION,
        "apr-7f3a",
        "danger",
    )
    assert approve["confirm"]["title"]["text"] == "Approve this migration?"
    assert reject["confirm"]["style"] == "danger"
    assert blocks_of(msg, "actions")[0]["block_id"] == b.APPROVAL_BLOCK_ID
    assert_no_injection(msg)


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (ApprovalDecision(True, T0, "U0ALICE"), ":white_check_mark: *Approved* by <@U0ALICE> "),
        (ApprovalDecision(False, T0, "U0CAROL", "sync stopped"), ":no_entry: *Rejected* by "),
        (ApprovalDecision(None, T0), ":hourglass: *Expired* unanswered "),
    ],
)
def test_decided_approval_has_no_buttons_and_says_who_and_when(
    decision: ApprovalDecision, expected: str
) -> None:
    msg = accepted(b.approval_decided(APPROVAL, decision))
    text = all_text(msg)
    assert not blocks_of(msg, "actions")
    assert expected in text and "<!date^1714557600^" in text
    assert "Approval needed" not in text and "`db-migrate`" in text
    if decision.note:
        assert decision.note in text
    assert_no_injection(msg)


def test_an_approval_id_too_long_for_a_button_is_refused() -> None:
    view = ApprovalView(approval_id="x" * 2001, app="a", hook=HookView("h"))
    with pytest.raises(ValueError, match="button value"):
        b.approval_request(view)


def rows(count: int) -> list[AppRow]:
    return [
        AppRow(
            name=f"app-{i:03d}",
            project="web" if i % 2 else "default",
            sync_status="OutOfSync" if i % 7 == 0 else "Synced",
            health_status="Degraded" if i % 11 == 0 else "Healthy",
            revision=SHA_NEW,
            auto_sync=i % 3 == 0,
            self_heal=i % 6 == 0,
        )
        for i in range(count)
    ]


def test_apps_list_and_status_overview() -> None:
    msg = accepted(b.apps_list(rows(3)))
    text = all_text(msg)
    assert "*3 apps*" in text
    assert (
        ":large_yellow_circle::broken_heart: OutOfSync · Degraded *app-000* · default · "
        "`2222222` · auto-sync + self-heal" in text
    )
    assert "*app-001* · web · `2222222` · manual sync" in text
    overview = accepted(b.status_overview(rows(30)))
    first = blocks_of(overview, "section")[1]["text"]["text"].splitlines()[0]
    assert "Degraded" in first
    assert "*30 apps*: 5 OutOfSync, 25 Synced; 3 Degraded, 27 Healthy" in all_text(overview)
    assert "No apps are configured yet." in accepted(b.apps_list([]))["text"]


def test_hundreds_of_apps_are_counted_not_cut_silently() -> None:
    msg = accepted(b.apps_list(rows(600)))
    shown = all_text(msg).count("*app-")
    assert 0 < shown < 600
    assert f"… and {600 - shown} more apps not shown here." in all_text(msg)


def test_app_status() -> None:
    view = StatusView(
        app=AppRow(
            "guestbook",
            "web",
            "OutOfSync",
            "Degraded",
            SHA_NEW,
            True,
            False,
            "Failed",
            "one or more objects failed",
        ),
        resources=[ResourceRow(DEPLOY, "OutOfSync", "Degraded", "Deadline <exceeded>")],
        conditions=["ComparisonError: boom & bust"],
        last_synced_at=T0,
        commit=COMMIT,
    )
    msg = accepted(b.app_status(view))
    text = all_text(msg)
    assert ":large_yellow_circle::broken_heart: OutOfSync · Degraded *guestbook*" in text
    assert "*Sync policy*\nauto-sync" in text and "*Last operation*\nFailed" in text
    assert ":warning: ComparisonError: boom &amp; bust" in text
    assert (
        "• `Deployment.apps/web/guestbook-ui` OutOfSync · Degraded: Deadline &lt;exceeded&gt;"
        in text
    )
    assert_no_injection(msg)


def test_history_newest_first_with_current_marked() -> None:
    entries = [
        HistoryEntry(1, SHA_OLD, "2024-05-01T10:00:00Z", "2024-05-01T09:59:00Z", "U0BOB"),
        HistoryEntry(2, SHA_NEW, "2024-05-02T10:00:00Z", "2024-05-02T09:59:00Z", automated=True),
    ]
    msg = accepted(
        b.history_list("guestbook", entries, current_revision=SHA_NEW, commits={SHA_OLD: COMMIT})
    )
    lines = all_text(msg).splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("*#2*"))
    assert lines[first].startswith("*#2* `2222222` · <!date^1714644000^")
    assert lines[first].endswith("by auto-sync · _current_")
    assert lines[first + 1].startswith("*#1* `1111111`")
    assert "by <@U0BOB> · Fix &lt;!channel&gt;" in lines[first + 1]
    assert "Roll back with `/rollback guestbook ID`." in all_text(msg)
    assert "no deployment history yet" in accepted(b.history_list("x", []))["text"]


def test_help_uses_the_configured_command_names() -> None:
    msg = accepted(b.help_message(CommandNames(sync="/deploy")))
    text = all_text(msg)
    assert "`/deploy APP [--revision REV] [--prune] [--dry-run]`" in text
    assert "`/gitops apps | status [APP] | history APP | help`" in text
    assert "rollback and approving migrations need admin" in text


def test_denials_errors_and_usage_are_short_and_escaped() -> None:
    decision = authorize("U0BOB", set(), "web", Action.SYNC, RbacSettings())
    denied = accepted(b.denied_message(decision, app="guestbook"))
    assert denied["text"].startswith(":no_entry: Not allowed (*guestbook*): sync needs a role.")
    error = accepted(b.error_message("app <x> & y is not ready", usage="/sync APP"))
    assert "app &lt;x&gt; &amp; y is not ready" in error["text"]
    assert "Usage: `/sync APP`" in all_text(error)
    apps = {"guestbook"}
    for text, expected in [
        ("gestbook", "Unknown app `gestbook`. Did you mean `guestbook`?"),
        ("guestbook --force", ":warning: unknown flag --force"),
        ("guestbook --help", ":information_source: Usage: `/sync APP [--revision REV]"),
        ("<@U0EVIL>", ":warning: unknown app '&lt;@U0EVIL&gt;'"),
    ]:
        with pytest.raises(UsageError) as info:
            parse_command("/sync", text, apps)
        assert isinstance(info.value, UsageError | HelpRequested | UnknownAppError)
        msg = accepted(b.usage_message(info.value))
        assert expected in all_text(msg), all_text(msg)
        assert_no_injection(msg)


def test_every_builder_escapes_hostile_input() -> None:
    evil_key = ResourceKey("", "ConfigMap", "web", EVIL)
    messages = [
        b.apps_list([AppRow(EVIL, EVIL, EVIL, EVIL, EVIL, message=EVIL)]),
        b.status_overview([AppRow(EVIL, EVIL)]),
        b.app_status(
            StatusView(
                AppRow(EVIL, message=EVIL), [ResourceRow(evil_key, EVIL, EVIL, EVIL)], [EVIL]
            )
        ),
        b.history_list(EVIL, [HistoryEntry(0, EVIL, EVIL, EVIL, EVIL)], commits={EVIL: COMMIT}),
        b.selfheal_toggled(EVIL, True, EVIL, project=EVIL),
        b.rollback_preview(
            RollbackView(
                EVIL,
                1,
                EVIL,
                EVIL,
                EVIL,
                COMMIT,
                changes=[DiffEntry(evil_key, EVIL)],
                requested_by=EVIL,
                resume_hint="",
            )
        ),
        b.approval_request(
            ApprovalView(
                "id",
                EVIL,
                HookView(EVIL, EVIL, EVIL, EVIL, [EVIL], [EVIL]),
                EVIL,
                EVIL,
                COMMIT,
                requested_by=EVIL,
                commit_url=EVIL,
            )
        ),
        b.diff_message(EVIL, EVIL, [DiffEntry(evil_key, EVIL)]),
        b.diff_file_message(EVIL, EVIL, [DiffEntry(evil_key, EVIL)]),
        b.error_message(EVIL, usage=EVIL),
    ]
    for msg in messages:
        accepted(msg)
        assert_no_injection(msg)
    assert json.dumps(messages)
