"""/sync through the real bot: one channel message kept current, a thread reply per (phase,
wave) and the final result; flags, refusals, denials, routing and Slack rate limits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.settings import RbacSettings
from sandbox.slack import SlackSandbox
from tests.integration.bot_fakes import (
    REV_HEAD,
    FakeController,
    audit_of,
    default_plan,
    make_app,
)
from tests.integration.bot_harness import (
    SECRET,
    BotUnderTest,
    bot_settings,
    rendered,
    thread_of,
)

APPS = [make_app("guestbook"), make_app("payments", "payments"), make_app("shop", automated=True)]


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox(signing_secret=SECRET) as sandbox:
        yield sandbox


@pytest.fixture
def controller() -> FakeController:
    return FakeController(APPS)


@pytest.fixture
def bot(slack: SlackSandbox, controller: FakeController) -> Iterator[BotUnderTest]:
    settings = bot_settings(app_channels={"payments": "C0GENERAL"})
    with BotUnderTest(slack, controller, settings) as running:
        yield running


def wait_final(bot: BotUnderTest, channel: str = "C0DEPLOYS", replies: int = 4) -> dict[str, Any]:
    bot.slack.wait_until(
        lambda: bool(bot.messages(channel)) and len(bot.messages(channel)[0]["replies"]) >= replies,
        timeout=10,
        what="the sync's thread replies",
    )
    return bot.messages(channel)[0]


def test_sync_posts_one_message_kept_current_with_a_reply_per_wave(
    bot: BotUnderTest, controller: FakeController
) -> None:
    bot.command("/sync", "guestbook", user_id="U0BOB")
    message = wait_final(bot)
    assert len(bot.messages()) == 1
    final = rendered(message)
    assert "guestbook" in final and "synced to" in final and REV_HEAD[:7] in final
    assert "<@U0BOB>" in final
    assert message["edited"] and message["edits"]  # started, then updated in place
    assert "Syncing" in message["edits"][0]["text"]
    replies = thread_of(message)
    assert "PreSync" in replies[0] and "wave 0" in replies[0] and "migrate" in replies[0]
    assert "Sync" in replies[1] and "wave 0" in replies[1]
    assert "settings" in replies[1] and "web" in replies[1]
    assert "wave 1" in replies[2] and "Deployment" in replies[2]
    assert "synced to" in replies[3]  # the final result
    assert controller.calls_of("sync") == [
        {"app": "guestbook", "actor": "U0BOB", "revision": None, "prune": False, "dry_run": False}
    ]
    assert audit_of(controller, actor="U0BOB", action="sync", allowed=True)


def test_sync_flags_reach_the_controller_and_the_message(
    bot: BotUnderTest, controller: FakeController
) -> None:
    bot.command("/sync", "guestbook --revision v1.2 --prune —dry-run", user_id="U0BOB")
    message = wait_final(bot)
    assert controller.calls_of("sync")[0] == {
        "app": "guestbook",
        "actor": "U0BOB",
        "revision": "v1.2",
        "prune": True,
        "dry_run": True,
    }
    text = rendered(message)
    assert "dry run" in text and "prune" in text and "v1.2" in text


def test_failed_sync_names_the_failing_object_and_why(
    slack: SlackSandbox,
) -> None:
    controller = FakeController(APPS, plan=lambda: default_plan(fail=True))
    with BotUnderTest(slack, controller) as bot:
        bot.command("/sync", "guestbook", user_id="U0BOB")
        message = wait_final(bot)
    text = rendered(message)
    assert "Failed" in text
    assert "Deployment" in text and "no :latest" in text


def test_a_second_sync_while_one_runs_is_refused_privately(
    bot: BotUnderTest, controller: FakeController
) -> None:
    controller.gate = gate = threading.Event()
    bot.command("/sync", "guestbook", user_id="U0BOB")
    bot.slack.wait_until(lambda: bool(bot.messages()), what="the first sync's message")
    second = bot.command("/sync", "guestbook", user_id="U0BOB")
    answer = bot.answers(second)[0]
    assert "already running" in answer
    assert bot.slack.responses(second.response_url)[0]["effect"]["response_type"] == "ephemeral"
    gate.set()
    wait_final(bot)
    assert len(bot.messages()) == 1
    assert audit_of(
        controller,
        action="sync",
        allowed=True,
        detail=("refused: another operation is already running on guestbook"),
    )


def test_a_viewer_is_denied_and_the_denial_is_audited(
    bot: BotUnderTest, controller: FakeController
) -> None:
    reply = bot.command("/sync", "guestbook", user_id="U0DAVE")
    answer = bot.answers(reply)[0]
    assert "Not allowed" in answer and "deployer" in answer and "viewer" in answer
    assert controller.calls_of("sync") == []
    assert audit_of(controller, actor="U0DAVE", action="sync", allowed=False)
    assert bot.messages() == []


def test_without_rbac_a_sync_is_refused_with_how_to_configure_it(
    slack: SlackSandbox, controller: FakeController
) -> None:
    with BotUnderTest(slack, controller, bot_settings(RbacSettings())) as bot:
        reply = bot.command("/sync", "guestbook", user_id="U0ALICE")
        answer = bot.answers(reply)[0]
    assert "rbac" in answer and "deployers" in answer
    assert controller.calls_of("sync") == []


def test_an_admin_by_user_group_may_sync(bot: BotUnderTest, controller: FakeController) -> None:
    bot.command("/sync", "guestbook", user_id="U0CAROL")  # admin through @platform
    wait_final(bot)
    assert controller.calls_of("sync")[0]["actor"] == "U0CAROL"
    assert [c["args"]["usergroup"] for c in bot.slack.calls("usergroups.users.list")] == [
        "S0PLATFORM"
    ]


def test_the_app_channel_gets_the_message_and_the_requester_a_pointer(
    bot: BotUnderTest,
) -> None:
    reply = bot.command("/sync", "payments", user_id="U0BOB")
    wait_final(bot, "C0GENERAL")
    assert bot.messages("C0DEPLOYS") == []
    assert "<#C0GENERAL>" in bot.answers(reply)[0]


def test_unknown_app_and_bad_flags_get_usage_privately(
    bot: BotUnderTest, controller: FakeController
) -> None:
    typo = bot.command("/sync", "gestbook", user_id="U0BOB")
    assert "guestbook" in bot.answers(typo)[0]
    flag = bot.command("/sync", "guestbook --force", user_id="U0BOB")
    answer = bot.answers(flag)[0]
    assert "unknown flag --force" in answer and "/sync APP [--revision REV]" in answer
    assert controller.calls_of("sync") == []
    assert len(audit_of(controller, actor="U0BOB", allowed=False)) == 2


def test_syncing_git_resumes_auto_sync_paused_by_a_rollback(
    bot: BotUnderTest, controller: FakeController
) -> None:
    controller.auto_sync["shop"] = False
    reply = bot.command("/sync", "shop", user_id="U0BOB")
    assert "resumed" in bot.answers(reply)[0]
    assert controller.calls_of("set_auto_sync") == [
        {"app": "shop", "enabled": True, "actor": "U0BOB"}
    ]
    wait_final(bot)


def test_rate_limits_during_a_sync_leave_no_duplicate_message(
    bot: BotUnderTest, slack: SlackSandbox
) -> None:
    slack.fail_next("chat.postMessage", times=1, retry_after=1)
    slack.fail_next("chat.update", times=1, retry_after=1)
    bot.command("/sync", "guestbook", user_id="U0BOB")
    wait_final(bot, replies=4)
    slack.wait_until(
        lambda: "synced to" in rendered(bot.messages()[0]), timeout=10, what="the final update"
    )
    assert len(bot.messages()) == 1
    replies = thread_of(bot.messages()[0])
    assert len(replies) == 4 and len(set(replies)) == 4
    # The bot got the 429s and sent the very same call again after Retry-After.
    posts = slack.calls("chat.postMessage")
    assert [c["http_status"] for c in posts[:2]] == [429, 200]
    assert posts[0]["args"] == posts[1]["args"]
    updates = [c["http_status"] for c in slack.calls("chat.update")]
    assert updates[0] == 429 and updates.count(429) == 1


def test_server_errors_during_a_sync_are_retried_until_the_result_is_shown(
    bot: BotUnderTest, slack: SlackSandbox
) -> None:
    slack.fail_next("chat.postMessage", times=1, status=500)
    slack.fail_next("chat.update", times=2, status=503)
    bot.command("/sync", "guestbook", user_id="U0BOB")
    slack.wait_until(
        lambda: bool(bot.messages()) and "synced to" in rendered(bot.messages()[0]),
        timeout=15,
        what="the final result after the retries",
    )
    wait_final(bot)
    assert len(bot.messages()) == 1
    replies = thread_of(bot.messages()[0])
    assert len(replies) == 4 and len(set(replies)) == 4
