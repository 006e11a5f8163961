"""The end of a rollback in Slack, through the real bot: confirming a rollback remembers the
preview message and hands its link to the controller; a ``RollbackCompleted`` on the event
bus then puts "Git and the cluster agree again" in that message's thread (or in the app's
channel when no rollback was confirmed in Slack)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import approval_messages, runtime_of
from bot.blocks import ROLLBACK_CONFIRM_ACTION
from bot.rollback_completion import RollbackCompletionMessenger
from bot.rollback_threads import RollbackThread, RollbackThreads, archive_url
from reconciler.event_types import RollbackCompleted
from reconciler.events import EventBus
from reconciler.state_runtime import SQLiteRuntimeStore
from sandbox.slack import SlackSandbox
from tests.integration.bot_fakes import REV_MID, REV_OLD, FakeController, history_of, make_app
from tests.integration.bot_harness import SECRET, BotUnderTest, bot_settings, rendered

MERGE = "4d3c2b1a" + "0" * 32
PR_URL = "https://github.example/acme/guestbook-config/pull/12"


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox(signing_secret=SECRET) as sandbox:
        yield sandbox


@pytest.fixture
def controller() -> FakeController:
    fake = FakeController([make_app("guestbook"), make_app("shop", automated=True)])
    for app in ("guestbook", "shop"):
        fake.histories[app] = history_of(REV_OLD, REV_MID)
    return fake


@pytest.fixture
def bot(slack: SlackSandbox, controller: FakeController) -> Iterator[BotUnderTest]:
    with BotUnderTest(slack, controller) as running:
        yield running


@pytest.fixture
def bus(bot: BotUnderTest) -> Iterator[EventBus]:
    """The event bus with the completion messenger on it, over the bot's own record table
    (the one its confirm button writes to), as ``bot.extension`` wires it."""
    events = EventBus()
    threads = RollbackThreads(approval_messages(bot.app).table)
    messenger = RollbackCompletionMessenger(runtime_of(bot.app), threads)
    events.subscribe(messenger.handle, "slack-rollbacks", types=messenger.types)
    yield events
    events.close()


def completed(app: str = "guestbook", *, auto_sync: bool = True) -> RollbackCompleted:
    return RollbackCompleted(
        app=app,
        time=datetime(2024, 5, 2, 9, 0, tzinfo=UTC),
        revision=MERGE,
        target=REV_OLD,
        pull_request_url=PR_URL,
        auto_sync=auto_sync,
    )


def confirm_rollback(bot: BotUnderTest, controller: FakeController, app: str) -> dict[str, Any]:
    """/rollback APP, an admin confirms; the preview message once the rollback was called."""
    bot.command("/rollback", app, user_id="U0ALICE")
    bot.wait_messages("C0DEPLOYS", 1)
    shown = bot.messages()[0]
    reply = bot.slack.click_button(bot.url, "C0DEPLOYS", shown["ts"], ROLLBACK_CONFIRM_ACTION)
    assert reply.status == 200
    bot.slack.wait_until(
        lambda: bool(controller.calls_of("rollback")), timeout=10, what="the rollback"
    )
    # The bot records the thread right after the controller accepted the rollback; a
    # completion published before that would have no thread to answer in.
    threads = RollbackThreads(approval_messages(bot.app).table)
    bot.slack.wait_until(
        lambda: threads.get(app) is not None, timeout=10, what="the rollback thread record"
    )
    return shown


def thread_replies(bot: BotUnderTest, ts: str) -> list[dict[str, Any]]:
    found = next((m for m in bot.messages() if m["ts"] == ts), {})
    replies: list[dict[str, Any]] = found.get("replies") or []
    return replies


def wait_reply(bot: BotUnderTest, ts: str, needle: str) -> str:
    def shown() -> bool:
        return any(needle in rendered(r) for r in thread_replies(bot, ts))

    bot.slack.wait_until(shown, timeout=10, what=f"a reply saying {needle!r} in thread {ts}")
    return next(rendered(r) for r in thread_replies(bot, ts) if needle in rendered(r))


def test_a_merged_revert_is_announced_in_the_confirmed_rollbacks_thread(
    bot: BotUnderTest, controller: FakeController, bus: EventBus
) -> None:
    preview = confirm_rollback(bot, controller, "guestbook")
    assert controller.thread_urls["guestbook"] == archive_url("C0DEPLOYS", preview["ts"])
    assert "/archives/C0DEPLOYS/p" in controller.thread_urls["guestbook"]
    assert "." not in controller.thread_urls["guestbook"].rsplit("/", 1)[1]

    bus.publish(completed("guestbook"))
    text = wait_reply(bot, preview["ts"], "Git and the cluster agree again")
    assert "guestbook is Synced at" in text and MERGE[:7] in text
    assert PR_URL in text and "auto-sync resumed" in text
    top_level = [rendered(m) for m in bot.messages()]
    assert not any("agree again" in t for t in top_level)  # in the thread, not the channel


def test_auto_sync_that_was_off_before_the_rollback_stays_off(
    bot: BotUnderTest, controller: FakeController, bus: EventBus
) -> None:
    preview = confirm_rollback(bot, controller, "guestbook")
    bus.publish(completed("guestbook", auto_sync=False))
    text = wait_reply(bot, preview["ts"], "agree again")
    assert "auto-sync stays off" in text and "resumed" not in text


def test_the_thread_is_found_again_after_a_restart(bot: BotUnderTest, tmp_path: Path) -> None:
    """A record written to the runtime store's file is read back by a new process's store."""
    path = tmp_path / "state.db"
    posted = runtime_of(bot.app).client.chat_postMessage(channel="C0DEPLOYS", text="rolled back")
    before = SQLiteRuntimeStore(path)
    RollbackThreads(before).put(RollbackThread("shop", "C0DEPLOYS", str(posted["ts"]), "U0ALICE"))
    before.close()

    after = SQLiteRuntimeStore(path)
    try:
        messenger = RollbackCompletionMessenger(runtime_of(bot.app), RollbackThreads(after))
        reply = messenger.announce(completed("shop"))
    finally:
        after.close()
    assert reply is not None
    text = wait_reply(bot, str(posted["ts"]), "agree again")
    assert "shop is Synced at" in text


def test_without_a_recorded_thread_the_news_goes_to_the_apps_channel(
    slack: SlackSandbox, controller: FakeController
) -> None:
    settings = bot_settings(app_channels={"shop": "C0DEPLOYS"})
    with BotUnderTest(slack, controller, settings) as routed:
        messenger = RollbackCompletionMessenger(runtime_of(routed.app), RollbackThreads())
        assert messenger.announce(completed("shop")) is not None
        routed.wait_messages("C0DEPLOYS", 1)
        text = rendered(routed.messages()[0])
    assert "Git and the cluster agree again: shop is Synced at" in text
    assert "auto-sync resumed" in text
