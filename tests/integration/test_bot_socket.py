"""The bot in Socket Mode: ``bot.socket.start_socket_mode`` (slack_bolt's SocketModeHandler
over slack_sdk's built-in client) connected to the Slack stand-in's WebSocket. Commands and
clicks arrive as envelopes and are acknowledged on the socket; the work they start posts to
the channel through the Web API as in HTTP mode."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bot.app import create_app, shutdown
from bot.blocks import ROLLBACK_CANCEL_ACTION, ROLLBACK_CONFIRM_ACTION
from bot.socket import SlackConnectionError, start_socket_mode
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
    APP_TOKEN,
    SECRET,
    SocketBotUnderTest,
    rendered,
    socket_settings,
)
from tests.integration.test_bot_rollback import action_ids

APPS = [make_app(f"app{i}") for i in range(6)] + [make_app("guestbook")]


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox(signing_secret=SECRET, app_token=APP_TOKEN) as sandbox:
        yield sandbox


@pytest.fixture
def controller() -> FakeController:
    fake = FakeController(APPS)
    fake.histories["guestbook"] = history_of(REV_OLD, REV_MID)
    return fake


@pytest.fixture
def bot(slack: SlackSandbox, controller: FakeController) -> Iterator[SocketBotUnderTest]:
    with SocketBotUnderTest(slack, controller) as running:
        yield running


def synced(bot: SocketBotUnderTest) -> int:
    return sum("synced to" in rendered(m) for m in bot.messages())


def test_the_bot_connects_with_the_app_token_and_is_greeted(
    bot: SocketBotUnderTest, slack: SlackSandbox
) -> None:
    opened = slack.calls("apps.connections.open")
    assert [(c["ok"], c["error"]) for c in opened] == [(True, None)]
    (link,) = slack.socket.connections()
    assert link["state"] == "open" and link["id"] == bot.connection
    slack.wait_until(lambda: slack.socket.connections()[0]["pings_received"] >= 1, what="a ping")
    (round_trip,) = slack.socket.ping().values()
    assert round_trip is not None  # the client answers the stand-in's pings too


def test_help_is_acked_on_the_socket_and_answered_on_the_response_url(
    bot: SocketBotUnderTest, slack: SlackSandbox
) -> None:
    reply = bot.command("/gitops", "help", user_id="U0BOB")
    assert reply.elapsed is not None and reply.elapsed < 3
    answer = bot.answers(reply)[0]
    assert "/sync" in answer and "/rollback" in answer
    (envelope,) = slack.socket.envelopes()
    assert envelope["status"] == "acked" and envelope["payload_type"] == "/gitops"
    assert slack.socket.missed() == [] and slack.socket.stray() == []


def test_sync_is_acked_then_posts_its_progress_to_the_channel(
    bot: SocketBotUnderTest, controller: FakeController
) -> None:
    reply = bot.command("/sync", "app0", user_id="U0BOB")
    assert reply.payload is None  # a bare ack: the bot answers in the channel
    bot.slack.wait_until(lambda: synced(bot) == 1, timeout=10, what="the final message")
    (message,) = bot.messages()
    text = rendered(message)
    assert "app0" in text and REV_HEAD[:7] in text and "<@U0BOB>" in text
    assert "Syncing" in message["edits"][0]["text"]
    assert len(message["replies"]) >= 3  # a reply per wave, then the result
    assert controller.calls_of("sync")[0]["actor"] == "U0BOB"
    assert audit_of(controller, actor="U0BOB", action="sync", allowed=True)


def test_a_denied_command_is_answered_privately(
    bot: SocketBotUnderTest, controller: FakeController
) -> None:
    reply = bot.command("/sync", "app0", user_id="U0DAVE")  # a viewer only
    assert "Not allowed" in bot.answers(reply)[0]
    assert controller.calls_of("sync") == [] and bot.messages() == []


def test_a_rollback_is_confirmed_with_a_click_over_the_socket(
    bot: SocketBotUnderTest, controller: FakeController, slack: SlackSandbox
) -> None:
    bot.command("/rollback", "guestbook", user_id="U0ALICE")
    bot.wait_messages("C0DEPLOYS", 1)
    shown = bot.messages()[0]
    assert action_ids(shown) == [ROLLBACK_CONFIRM_ACTION, ROLLBACK_CANCEL_ACTION]
    click = bot.click("C0DEPLOYS", shown["ts"], ROLLBACK_CONFIRM_ACTION, user_id="U0ALICE")
    assert click.type == "interactive" and click.payload is None
    slack.wait_until(
        lambda: len(bot.messages()) == 2 and len(bot.messages()[1]["replies"]) >= 3,
        timeout=10,
        what="the rollback's progress message",
    )
    assert action_ids(bot.messages()[0]) == []
    assert "Confirmed by <@U0ALICE>" in rendered(bot.messages()[0])
    assert controller.calls_of("rollback") == [
        {"app": "guestbook", "actor": "U0ALICE", "history_id": 0}
    ]
    kinds = [(e["type"], e["status"]) for e in slack.socket.envelopes()]
    assert kinds == [("slash_commands", "acked"), ("interactive", "acked")]


def test_after_a_refresh_the_bot_reconnects_and_keeps_working(
    bot: SocketBotUnderTest, slack: SlackSandbox
) -> None:
    first = bot.connection
    assert slack.socket.disconnect("refresh_requested", close_after=5.0) == [first]
    second = slack.socket.wait_connected(newer_than=first)
    # The client opened a new connection with a new ticket, then dropped the old one itself.
    slack.wait_until(
        lambda: slack.socket.connections()[0]["state"] == "closed", timeout=5, what="old link"
    )
    old = slack.socket.connections()[0]
    assert old["disconnect_reason"] == "refresh_requested" and old["closed_by"] == "network"
    assert [c["ok"] for c in slack.calls("apps.connections.open")] == [True, True]
    reply = bot.command("/gitops", "help", user_id="U0BOB")
    assert "/sync" in bot.answers(reply)[0]
    assert slack.socket.envelopes()[-1]["link"] == second


@pytest.mark.parametrize("reason", ["warning", "link_disabled"])
def test_other_disconnect_reasons_reconnect_too(
    bot: SocketBotUnderTest, slack: SlackSandbox, reason: str
) -> None:
    slack.socket.disconnect(reason, close_after=0.5)
    slack.socket.wait_connected(newer_than=bot.connection)
    slack.wait_until(
        lambda: slack.socket.connections()[0]["state"] == "closed", timeout=5, what="old link"
    )
    reply = bot.command("/gitops", "apps", user_id="U0BOB")
    assert "app0" in bot.answers(reply)[0]


def test_acks_stay_far_under_three_seconds_while_syncs_block(
    bot: SocketBotUnderTest, controller: FakeController
) -> None:
    controller.gate = gate = threading.Event()
    try:
        for i in range(5):
            bot.command("/sync", f"app{i}", user_id="U0BOB")
        bot.slack.wait_until(
            lambda: len(bot.messages()) == 5, timeout=10, what="five sync messages"
        )
        elapsed = []
        for command, text in [("/sync", "app5"), ("/diff", "app1"), ("/gitops", "apps")] * 3:
            reply = bot.slack.socket.send_slash_command(command, text, user_id="U0BOB")
            assert reply.acked
            assert reply.elapsed is not None
            elapsed.append(reply.elapsed)
        assert max(elapsed) < 3.0, elapsed
        assert all("Syncing" in rendered(m) for m in bot.messages()[:5])
    finally:
        gate.set()
    controller.wait_idle()
    bot.slack.wait_until(lambda: synced(bot) == 6, timeout=20, what="every final message")
    assert bot.slack.socket.missed() == []


def test_a_websocket_that_cannot_be_opened_fails_the_start(slack: SlackSandbox) -> None:
    slack.socket.refuse_connections(503)
    settings = socket_settings()
    app = create_app(settings, FakeController(APPS), api_url=slack.url)
    try:
        with pytest.raises(SlackConnectionError, match="WebSocket"):
            start_socket_mode(app, settings)
    finally:
        shutdown(app)
    # Slack handed out URLs (the client's own monitor may have retried once before the
    # handler was closed), but no WebSocket was ever opened.
    opened = slack.calls("apps.connections.open")
    assert opened and all(c["ok"] for c in opened)
    assert slack.socket.connections() == []


def test_a_bot_token_given_as_the_app_token_is_refused(slack: SlackSandbox) -> None:
    settings = socket_settings(app_token="xoxb-sandbox")
    app = create_app(settings, FakeController(APPS), api_url=slack.url)
    try:
        with pytest.raises(SlackConnectionError) as caught:
            start_socket_mode(app, settings)
    finally:
        shutdown(app)
    assert str(caught.value).endswith("not_allowed_token_type")
    assert "xoxb-sandbox" not in str(caught.value)
