"""/rollback through the real bot: the preview behind a confirm button, clicks re-authorized
against the clicking user, one rollback however often the button is clicked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.blocks import ROLLBACK_CANCEL_ACTION, ROLLBACK_CONFIRM_ACTION
from reconciler.compare_types import Comparison
from reconciler.event_types import CommitSummary
from sandbox.slack import SlackSandbox
from tests.integration.bot_fakes import (
    REV_HEAD,
    REV_MID,
    REV_OLD,
    FakeController,
    audit_of,
    history_of,
    make_app,
)
from tests.integration.bot_harness import (
    SECRET,
    BotUnderTest,
    rendered,
)
from tests.integration.test_bot_commands import changed, configmap

APPS = [make_app("guestbook"), make_app("shop", automated=True)]


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox(signing_secret=SECRET) as sandbox:
        yield sandbox


@pytest.fixture
def controller() -> FakeController:
    fake = FakeController(APPS)
    for app in ("guestbook", "shop"):
        fake.histories[app] = history_of(REV_OLD, REV_MID)
    return fake


@pytest.fixture
def bot(slack: SlackSandbox, controller: FakeController) -> Iterator[BotUnderTest]:
    with BotUnderTest(slack, controller) as running:
        yield running


def preview(bot: BotUnderTest, app: str = "guestbook", user: str = "U0ALICE") -> dict[str, Any]:
    bot.command("/rollback", app, user_id=user)
    bot.wait_messages("C0DEPLOYS", 1)
    return bot.messages()[0]


def action_ids(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]


def click(bot: BotUnderTest, ts: str, action: str, user: str) -> list[str]:
    """Click and return what the clicking user was told privately (waits for one answer)."""
    reply = bot.slack.click_button(bot.url, "C0DEPLOYS", ts, action, user_id=user)
    assert reply.status == 200
    return bot.answers(reply)


def test_preview_then_confirm_by_an_admin_rolls_back_once(
    bot: BotUnderTest, controller: FakeController
) -> None:
    shown = preview(bot)
    text = rendered(shown)
    assert "Roll back guestbook" in text and "#0" in text and REV_OLD[:7] in text
    assert REV_MID[:7] in text  # deployed now
    assert "cannot preview the difference" in text and "no changes" not in text
    assert "Auto-sync is off" in text and "Requested by <@U0ALICE>" in text
    assert action_ids(shown) == [ROLLBACK_CONFIRM_ACTION, ROLLBACK_CANCEL_ACTION]
    reply = bot.slack.click_button(bot.url, "C0DEPLOYS", shown["ts"], ROLLBACK_CONFIRM_ACTION)
    assert reply.status == 200
    bot.slack.wait_until(
        lambda: len(bot.messages()) == 2 and len(bot.messages()[1]["replies"]) >= 3,
        timeout=10,
        what="the rollback's progress message",
    )
    closed = bot.messages()[0]
    assert action_ids(closed) == []
    assert "Confirmed by <@U0ALICE>" in rendered(closed)
    assert controller.calls_of("rollback") == [
        {"app": "guestbook", "actor": "U0ALICE", "history_id": 0}
    ]
    progress = rendered(bot.messages()[1])
    assert REV_OLD[:7] in progress and "<@U0ALICE>" in progress
    assert audit_of(controller, actor="U0ALICE", action="rollback", allowed=True)


def test_a_deployer_may_not_ask_for_a_rollback(
    bot: BotUnderTest, controller: FakeController
) -> None:
    reply = bot.command("/rollback", "guestbook", user_id="U0BOB")
    answer = bot.answers(reply)[0]
    assert "Not allowed" in answer and "admin" in answer
    assert bot.messages() == []
    assert controller.calls_of("history") == []


def test_a_click_by_someone_else_without_admin_is_denied_privately(
    bot: BotUnderTest, controller: FakeController
) -> None:
    shown = preview(bot)
    answer = click(bot, shown["ts"], ROLLBACK_CONFIRM_ACTION, "U0BOB")[0]
    assert "Not allowed" in answer and "admin" in answer
    assert action_ids(bot.messages()[0]) == [ROLLBACK_CONFIRM_ACTION, ROLLBACK_CANCEL_ACTION]
    assert not bot.messages()[0]["edited"]
    assert controller.calls_of("rollback") == []
    assert audit_of(controller, actor="U0BOB", action="rollback-confirm", allowed=False)
    cancel = click(bot, shown["ts"], ROLLBACK_CANCEL_ACTION, "U0DAVE")[0]
    assert "Not allowed" in cancel
    assert action_ids(bot.messages()[0]) == [ROLLBACK_CONFIRM_ACTION, ROLLBACK_CANCEL_ACTION]


def test_another_admin_may_confirm(bot: BotUnderTest, controller: FakeController) -> None:
    shown = preview(bot)
    bot.slack.click_button(
        bot.url, "C0DEPLOYS", shown["ts"], ROLLBACK_CONFIRM_ACTION, user_id="U0CAROL"
    )
    bot.slack.wait_until(lambda: bool(controller.calls_of("rollback")), what="the rollback")
    assert controller.calls_of("rollback")[0]["actor"] == "U0CAROL"


def stale_click(
    bot: BotUnderTest, message: dict[str, Any], user: str, shown: dict[str, Any] | None = None
) -> list[str]:
    """A click on the confirm button of ``message`` (by default as it was, buttons and all:
    a second click in flight); the payload carries ``shown`` as the message when given."""
    element = next(
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ROLLBACK_CONFIRM_ACTION
    )
    block_id = next(b["block_id"] for b in message["blocks"] if b["type"] == "actions")
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "team": {"id": "T0SANDBOX"},
        "channel": {"id": "C0DEPLOYS"},
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": "C0DEPLOYS",
            "is_ephemeral": False,
        },
        "message": {k: (shown or message)[k] for k in ("ts", "text", "blocks")},
        "actions": [
            {
                "type": "button",
                "action_id": ROLLBACK_CONFIRM_ACTION,
                "block_id": block_id,
                "value": element["value"],
                "action_ts": "1.2",
            }
        ],
    }
    reply = bot.slack.send_block_action(bot.url, payload)
    assert reply.status == 200
    return bot.answers(reply)


def test_a_double_click_rolls_back_once(bot: BotUnderTest, controller: FakeController) -> None:
    shown = preview(bot)
    bot.slack.click_button(bot.url, "C0DEPLOYS", shown["ts"], ROLLBACK_CONFIRM_ACTION)
    bot.slack.wait_until(lambda: bool(controller.calls_of("rollback")), what="the rollback")
    again = stale_click(bot, shown, "U0CAROL")[0]
    assert "already handled by <@U0ALICE>" in again
    controller.wait_idle()
    assert len(controller.calls_of("rollback")) == 1
    # After a restart the claims are gone, but the message has no buttons any more.
    with BotUnderTest(bot.slack, controller) as restarted:
        late = stale_click(restarted, shown, "U0CAROL", shown=bot.messages()[0])[0]
    assert "already handled" in late
    assert len(controller.calls_of("rollback")) == 1


def test_cancel_by_the_requester_closes_the_preview(
    bot: BotUnderTest, controller: FakeController
) -> None:
    shown = preview(bot)
    bot.slack.click_button(bot.url, "C0DEPLOYS", shown["ts"], ROLLBACK_CANCEL_ACTION)
    bot.slack.wait_until(lambda: bot.messages()[0]["edited"], what="the closed preview")
    closed = bot.messages()[0]
    assert "Cancelled by <@U0ALICE>" in rendered(closed) and action_ids(closed) == []
    assert controller.calls_of("rollback") == []


def test_an_unknown_history_id_lists_the_known_ones(bot: BotUnderTest) -> None:
    reply = bot.command("/rollback", "guestbook 7", user_id="U0ALICE")
    answer = bot.answers(reply)[0]
    assert "no entry with ID 7" in answer and "0, 1" in answer
    assert bot.messages() == []


def test_an_automated_app_is_told_auto_sync_pauses_and_how_to_resume(
    bot: BotUnderTest, controller: FakeController
) -> None:
    shown = preview(bot, "shop")
    text = rendered(shown)
    assert "Auto-sync will be paused" in text and "/sync shop" in text
    bot.slack.click_button(bot.url, "C0DEPLOYS", shown["ts"], ROLLBACK_CONFIRM_ACTION)
    bot.slack.wait_until(lambda: bool(controller.calls_of("rollback")), what="the rollback")
    assert controller.auto_sync["shop"] is False


def test_a_preview_older_than_the_history_is_not_rolled_back(
    bot: BotUnderTest, controller: FakeController
) -> None:
    shown = preview(bot)
    controller.histories["guestbook"] = history_of(REV_HEAD, REV_MID)  # entry 0 changed
    answer = click(bot, shown["ts"], ROLLBACK_CONFIRM_ACTION, "U0ALICE")[0]
    assert "Not rolled back" in answer
    assert "Not rolled back" in rendered(bot.messages()[0])
    assert controller.calls_of("rollback") == []


class InsightfulController(FakeController):
    """A controller that can describe a commit and compare with an older revision."""

    def commit(self, app: str, revision: str) -> CommitSummary:
        return CommitSummary(revision, "Erin <erin@example.com>", "Pin redis to 7.2\n\nWhy")

    def diff_at(self, app: str, revision: str) -> Comparison:
        return Comparison(revision, [changed(configmap("settings", 2), configmap("settings", 1))])


def test_a_controller_that_knows_commits_gets_them_shown(slack: SlackSandbox) -> None:
    controller = InsightfulController(APPS)
    controller.histories["guestbook"] = history_of(REV_OLD, REV_MID)
    with BotUnderTest(slack, controller) as bot:
        text = rendered(preview(bot))
    assert "Erin" in text and "Pin redis to 7.2" in text
    assert "1 changed" in text and "ConfigMap/demo/settings" in text
