"""The bot in Socket Mode: ``bot.socket.start_socket_mode`` (slack_bolt's SocketModeHandler
over slack_sdk's websocket-client adapter) connected to the Slack stand-in's WebSocket.
Commands and clicks arrive as envelopes and are acknowledged on the socket; the work they
start posts to the channel through the Web API as in HTTP mode. Refreshes, closes and
dropped streams are followed by a new connection, and stopping hangs up and ends the
client's threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.app import create_app, shutdown
from bot.blocks import ROLLBACK_CANCEL_ACTION, ROLLBACK_CONFIRM_ACTION
from bot.socket import SlackConnectionError, start_socket_mode, stop_socket_mode
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


def client_threads() -> set[threading.Thread]:
    """The live threads of slack_sdk's websocket-client adapter: its interval runners (the
    reader, the monitor, the message processor), websocket-client's ping threads and the
    listener pool."""
    return {
        thread
        for thread in threading.enumerate()
        if thread.name.endswith(("(_run)", "(_send_ping)"))
        or thread.name.startswith("ThreadPoolExecutor")
    }


def test_the_bot_connects_with_the_app_token_and_is_greeted(
    bot: SocketBotUnderTest, slack: SlackSandbox
) -> None:
    opened = slack.calls("apps.connections.open")
    # slack_sdk's monitor may fetch a second URL before the first is used; one link opens.
    assert opened and all((c["ok"], c["error"]) == (True, None) for c in opened)
    (link,) = slack.socket.connections()
    assert link["state"] == "open" and link["id"] == bot.connection
    (round_trip,) = slack.socket.ping().values()
    assert round_trip is not None  # the client answers the stand-in's pings


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
    # The client fetched a new URL and hung up the old connection itself, with a close frame,
    # well before the stand-in would have closed it (5 s).
    old = slack.socket.connections()[0]
    assert old["state"] == "closed" and old["disconnect_reason"] == "refresh_requested"
    assert (old["closed_by"], old["close_code"]) == ("app", 1000)
    opened = slack.calls("apps.connections.open")
    assert len(opened) >= 2 and all(c["ok"] for c in opened)
    reply = bot.command("/gitops", "help", user_id="U0BOB")
    assert "/sync" in bot.answers(reply)[0]
    assert slack.socket.envelopes()[-1]["link"] == second


def test_a_command_right_after_a_refresh_is_acked_at_once(
    bot: SocketBotUnderTest, slack: SlackSandbox
) -> None:
    # Slack keeps the old connection open for a while after asking for a refresh; an
    # envelope on the new connection must not wait for the old one to end (3 s deadline).
    first = bot.connection
    slack.socket.disconnect("refresh_requested", close_after=5.0)
    second = slack.socket.wait_connected(newer_than=first)
    reply = slack.socket.send_slash_command("/gitops", "help", user_id="U0BOB")
    assert reply.status == "acked" and reply.elapsed is not None
    assert reply.elapsed < 1.0, reply
    assert slack.socket.envelopes()[-1]["link"] == second
    assert "/sync" in bot.answers(reply)[0]


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


@pytest.mark.parametrize("abrupt", [False, True], ids=["close-frame", "dropped-stream"])
def test_the_bot_reconnects_when_slack_closes_the_socket(
    bot: SocketBotUnderTest, slack: SlackSandbox, abrupt: bool
) -> None:
    # No disconnect message first: the client notices the close (or the end of the TCP
    # stream) and connects again, instead of waiting for a health check.
    assert slack.socket.close_connections(abrupt=abrupt) == 1
    second = slack.socket.wait_connected(timeout=3, newer_than=bot.connection)
    reply = bot.command("/gitops", "apps", user_id="U0BOB")
    assert "app0" in bot.answers(reply)[0]
    assert slack.socket.envelopes()[-1]["link"] == second


def test_stopping_right_after_a_refresh_hangs_up_and_ends_the_client_threads(
    slack: SlackSandbox,
) -> None:
    before = client_threads()
    settings = socket_settings()
    app = create_app(settings, FakeController(APPS), api_url=slack.url)
    try:
        handler = start_socket_mode(app, settings)
        first = slack.socket.wait_connected(timeout=1)
        assert client_threads() - before  # the client reads and processes on threads
        slack.socket.disconnect("refresh_requested", close_after=5.0)
        second = slack.socket.wait_connected(newer_than=first)
        started = time.monotonic()
        stop_socket_mode(handler)
        took = time.monotonic() - started
    finally:
        shutdown(app)
    # Within the service's stop budget (20 s) with room to spare: no 10 s wait for a reader.
    assert took < 5, took
    link = next(c for c in slack.socket.connections() if c["id"] == second)
    assert (link["state"], link["closed_by"], link["close_code"]) == ("closed", "app", 1000)
    assert client_threads() - before == set()
    assert len(slack.socket.connections()) == 2  # no reconnect after the stop


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
    before = client_threads()
    settings = socket_settings()
    app = create_app(settings, FakeController(APPS), api_url=slack.url)
    try:
        with pytest.raises(SlackConnectionError, match=r"WebSocket.*HTTP 503") as caught:
            start_socket_mode(app, settings)
    finally:
        shutdown(app)
    assert "xapp-" not in str(caught.value) and "/link/" not in str(caught.value)
    # Slack handed out URLs (the client's own monitor may have fetched another before the
    # handler was closed), but no WebSocket was ever opened, and nothing keeps retrying.
    opened = slack.calls("apps.connections.open")
    assert opened and all(c["ok"] for c in opened)
    assert slack.socket.connections() == []
    assert client_threads() - before == set()
    calls = len(opened)
    time.sleep(1.0)  # the client's reconnect loop would fetch a URL every 0.5 s
    assert len(slack.calls("apps.connections.open")) == calls


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
