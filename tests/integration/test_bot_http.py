"""The bot's HTTP edge: Slack's signature and timestamp checks, the ack deadline while syncs
run, start-up configuration errors, and Socket Mode's connection errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.app import create_app
from bot.settings import BotSettings, SlackSettings
from bot.socket import SlackConnectionError, start_socket_mode
from reconciler.errors import ConfigError
from reconciler.settings import Secret
from sandbox.slack import SlackSandbox
from tests.integration.bot_fakes import (
    FakeController,
    make_app,
)
from tests.integration.bot_harness import (
    SECRET,
    BotUnderTest,
    bot_settings,
    rendered,
)

APPS = [make_app(f"app{i}") for i in range(6)]


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox(signing_secret=SECRET) as sandbox:
        yield sandbox


@pytest.fixture
def controller() -> FakeController:
    return FakeController(APPS)


@pytest.fixture
def bot(slack: SlackSandbox, controller: FakeController) -> Iterator[BotUnderTest]:
    with BotUnderTest(slack, controller) as running:
        yield running


@pytest.mark.parametrize("signature", ["bad", "stale", "missing"])
def test_unsigned_or_stale_requests_get_401_and_do_nothing(
    bot: BotUnderTest, controller: FakeController, slack: SlackSandbox, signature: str
) -> None:
    reply = slack.send_slash_command(
        bot.url,
        "/sync",
        "app0",
        user_id="U0BOB",
        signature=signature,  # type: ignore[arg-type]
    )
    assert reply.status == 401
    assert controller.calls == [] and controller.audit == []
    assert slack.responses() == []


def test_a_signed_click_with_a_bad_signature_is_refused_too(
    bot: BotUnderTest, controller: FakeController, slack: SlackSandbox
) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ALICE"},
        "container": {"channel_id": "C0DEPLOYS", "message_ts": "1.1"},
        "actions": [{"action_id": "kajitori_rollback_confirm", "value": "{}"}],
    }
    assert slack.send_block_action(bot.url, payload, signature="stale").status == 401
    assert controller.calls == []


def test_acks_stay_fast_while_five_syncs_block(
    bot: BotUnderTest, controller: FakeController
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
            reply = bot.slack.send_slash_command(bot.url, command, text, user_id="U0BOB")
            assert reply.status == 200
            elapsed.append(reply.elapsed)
        assert max(elapsed) < 1.0, elapsed
        assert all("Syncing" in rendered(m) for m in bot.messages()[:5])
    finally:
        gate.set()
    controller.wait_idle()
    bot.slack.wait_until(
        lambda: sum("synced to" in rendered(m) for m in bot.messages()) == 6,
        timeout=20,
        what="every sync's final message",
    )


def test_a_full_pool_answers_busy_at_once(slack: SlackSandbox) -> None:
    controller = FakeController(APPS)
    started = threading.Event()
    release = threading.Event()

    def slow_names() -> list[str]:
        started.set()
        release.wait(10)
        return [a.name for a in APPS]

    controller.app_names = slow_names  # type: ignore[method-assign]
    with BotUnderTest(slack, controller, workers=1, max_pending=1) as bot:
        try:
            first = bot.command("/gitops", "apps", user_id="U0BOB")
            assert started.wait(5)
            second = bot.command("/gitops", "apps", user_id="U0BOB")
            assert "busy" in rendered(slack.responses(second.response_url)[0]["body"])
        finally:
            release.set()
        assert "apps" in bot.answers(first)[0]


def test_create_app_refuses_http_mode_without_a_signing_secret() -> None:
    settings = BotSettings(slack=SlackSettings(mode="http", bot_token=Secret("xoxb-x")))
    with pytest.raises(ConfigError, match="signingSecret"):
        create_app(settings, FakeController(APPS), verify_token=False)


def test_create_app_refuses_to_start_without_a_bot_token() -> None:
    with pytest.raises(ConfigError, match="botToken"):
        create_app(BotSettings(), FakeController(APPS), verify_token=False)


def test_token_verification_uses_the_sandbox(slack: SlackSandbox) -> None:
    create_app(bot_settings(), FakeController(APPS), api_url=slack.url)
    assert len(slack.calls("auth.test")) == 1


def test_the_web_api_url_can_come_from_the_settings(slack: SlackSandbox) -> None:
    settings = bot_settings()
    settings = replace(settings, slack=replace(settings.slack, api_url=slack.url))
    create_app(settings, FakeController(APPS))
    assert len(slack.calls("auth.test")) == 1


def test_socket_mode_needs_an_app_token(slack: SlackSandbox) -> None:
    settings = BotSettings(slack=SlackSettings(mode="socket", bot_token=Secret("xoxb-sandbox")))
    app = create_app(settings, FakeController(APPS), api_url=slack.url)
    with pytest.raises(ConfigError, match="appToken"):
        start_socket_mode(app, settings)


def test_socket_mode_refused_by_slack_is_a_clear_error(slack: SlackSandbox) -> None:
    token = "xapp-1-A0KAJITORI-secret-value"
    settings = BotSettings(
        slack=SlackSettings(
            mode="socket", bot_token=Secret("xoxb-sandbox"), app_token=Secret(token)
        )
    )
    app = create_app(settings, FakeController(APPS), api_url=slack.url)
    with pytest.raises(SlackConnectionError) as caught:
        start_socket_mode(app, settings)
    assert "refused the Socket Mode connection: invalid_auth" in str(caught.value)
    assert token not in str(caught.value)
