"""Service extensions: ``attach_extensions`` imports them by name, ``on_start``/``on_stop``
join them to the service's lifecycle, and ``bot.extension`` plugs Slack (HTTP mode mounted on
the service's port or Socket Mode connected while the service runs, notifications on the bus)
and GitHub commit statuses into a service built against the Kubernetes emulator, with the
Slack stand-in as Slack."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.extension import attach_github, attach_slack
from bot.socket import SlackConnectionError
from reconciler.config import Config, parse_config
from reconciler.errors import ConfigError
from reconciler.service import Service, build_service
from reconciler.service_extensions import SERVICE_EXTENSIONS, attach_extensions, load_extension
from sandbox.slack import SlackSandbox

SIGNING = "extension-test-signing-secret"
TOKEN = "xoxb-extension-test"
APP_TOKEN = "xapp-1-extension-test"
ENV = {"T_SLACK_TOKEN": TOKEN, "T_SLACK_SIGNING": SIGNING, "T_GH_TOKEN": "ghp-ext-test"}
HERE = "tests.integration.test_service_extensions"

# What the test extensions below saw, in order.
JOURNAL: list[str] = []


def settings_yaml(tmp_path: Path, extra: str = "") -> str:
    return (
        "apiVersion: kajitori.dev/v1alpha1\nkind: Settings\n"
        f"controller: {{statePath: {tmp_path / 'state.db'}, cacheDir: {tmp_path / 'cache'}}}\n"
        "server: {host: 127.0.0.1, port: 0}\n" + extra
    )


def slack_yaml(slack: SlackSandbox, mode: str = "http", app_token: str = APP_TOKEN) -> str:
    return (
        "slack:\n"
        f"  mode: {mode}\n"
        "  botToken: {env: T_SLACK_TOKEN}\n"
        "  signingSecret: {env: T_SLACK_SIGNING}\n"
        f"  appToken: {app_token}\n"
        f"  apiUrl: {slack.url}\n"
    )


def config_of(tmp_path: Path, extra: str = "") -> Config:
    return parse_config(settings_yaml(tmp_path, extra), tmp_path / "kajitori.yaml", env=ENV)


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox(signing_secret=SIGNING, bot_token=TOKEN, app_token=APP_TOKEN) as sandbox:
        yield sandbox


@pytest.fixture
def built(tmp_path: Path, kubeconfig: Path) -> Iterator[Any]:
    """A factory of services that are stopped at the end of the test."""
    services: list[Service] = []

    def build(config: Config) -> Service:
        service = build_service(config, env={}, kubeconfig=kubeconfig)
        services.append(service)
        return service

    yield build
    for service in services:
        service.stop()


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


# -- extensions used by the tests (imported by name, like the real ones) --------------------


def record(service: Service, config: Config, *, env: Mapping[str, str]) -> None:
    JOURNAL.append(f"attach:{env.get('WHO', '')}")
    service.on_start(lambda: JOURNAL.append("start:1"), "first")
    service.on_start(lambda: JOURNAL.append(f"start:2 ready={service.started}"), "second")

    def first_stop() -> None:
        # The HTTP port still answers, and readiness already says "going away".
        JOURNAL.append(f"stop:1 readyz={status_of(service.url + '/readyz')}")

    service.on_stop(first_stop, "first")
    service.on_stop(lambda: JOURNAL.append("stop:2"), "second")


def failing_start(service: Service, config: Config, *, env: Mapping[str, str]) -> None:
    service.on_stop(lambda: JOURNAL.append("stopped"), "cleanup")

    def boom() -> None:
        JOURNAL.append(service.url)
        raise SlackConnectionError("could not reach Slack for Socket Mode: URLError")

    service.on_start(boom, "boom")


NOT_CALLABLE = 42


# -- the hook ---------------------------------------------------------------------------------


def test_the_default_extensions_are_the_bots() -> None:
    assert SERVICE_EXTENSIONS == ("bot.extension:attach_github", "bot.extension:attach_slack")
    assert [load_extension(spec) for spec in SERVICE_EXTENSIONS] == [attach_github, attach_slack]


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("bot.extension.attach_slack", ValueError),
        (":attach_slack", ValueError),
        ("bot.extension:", ValueError),
        ("bot.no_such_module:attach", ImportError),
        ("bot.extension:no_such_function", AttributeError),
        (f"{HERE}:NOT_CALLABLE", TypeError),
    ],
)
def test_a_bad_extension_name_is_an_error(spec: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        load_extension(spec)


def test_extensions_join_the_lifecycle_in_order(tmp_path: Path, built: Any) -> None:
    JOURNAL.clear()
    service = built(config_of(tmp_path))
    attach_extensions(
        service, config_of(tmp_path), env={"WHO": "me"}, extensions=[f"{HERE}:record"]
    )
    assert JOURNAL == ["attach:me"]
    service.start()
    assert JOURNAL == ["attach:me", "start:1", "start:2 ready=True"]
    service.stop()
    service.stop()  # idempotent: the hooks ran once
    assert JOURNAL[3:] == ["stop:2", "stop:1 readyz=503"]


def test_a_failing_start_hook_stops_the_service(tmp_path: Path, built: Any) -> None:
    JOURNAL.clear()
    service = built(config_of(tmp_path))
    attach_extensions(service, config_of(tmp_path), env={}, extensions=[f"{HERE}:failing_start"])
    with pytest.raises(SlackConnectionError):
        service.start()
    url, stopped = JOURNAL
    assert stopped == "stopped" and not service.started
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/healthz", timeout=2)


# -- bot.extension ----------------------------------------------------------------------------


def test_without_slack_the_service_stays_headless(tmp_path: Path, built: Any) -> None:
    config = config_of(tmp_path)
    service = built(config)
    attach_extensions(service, config, env={})
    service.start()
    assert service.notifiers == [] and service.headless is not None
    assert status_of(service.url + "/slack/events") == 404
    assert [s.name for s in service.events.subscriptions] == ["headless-notifications"]


def test_slack_in_http_mode_answers_on_the_services_port(
    tmp_path: Path, built: Any, slack: SlackSandbox
) -> None:
    config = config_of(tmp_path, slack_yaml(slack))
    service = built(config)
    attach_extensions(service, config, env={})
    service.start()
    assert service.headless is None
    assert [s.name for s in service.events.subscriptions] == [
        "slack-approvals",
        "slack-rollbacks",
        "notifier:slack",
    ]
    assert (tmp_path / "state.notifications.db").is_file()
    url = service.url + "/slack/events"
    assert slack.send_slash_command(url, "/gitops", "help", signature="bad").status == 401
    reply = slack.send_slash_command(url, "/gitops", "help")
    assert reply.status == 200
    slack.wait_until(lambda: bool(slack.responses(reply.response_url)), what="the help text")
    answer = json.dumps(slack.responses(reply.response_url)[0]["body"])
    assert "/sync" in answer and "/rollback" in answer
    assert [c["method"] for c in slack.calls()][:1] == ["auth.test"]


def test_a_token_slack_refuses_stops_start_up(
    tmp_path: Path, built: Any, slack: SlackSandbox
) -> None:
    config = parse_config(
        settings_yaml(tmp_path, slack_yaml(slack)),
        tmp_path / "kajitori.yaml",
        env={**ENV, "T_SLACK_TOKEN": "xoxb-wrong-token"},
    )
    service = built(config)
    with pytest.raises(SlackConnectionError) as info:
        attach_slack(service, config, env={})
    assert str(info.value) == "Slack refused the bot token (slack.botToken): invalid_auth"
    assert "xoxb-wrong-token" not in str(info.value)


def test_slack_in_socket_mode_connects_at_start_and_answers(
    tmp_path: Path, built: Any, slack: SlackSandbox
) -> None:
    config = config_of(tmp_path, slack_yaml(slack, mode="socket"))
    service = built(config)
    attach_extensions(service, config, env={})
    assert slack.socket.connections() == []  # nothing connects before the service starts
    service.start()
    link = slack.socket.wait_connected(timeout=1)  # connected by the time start() returned
    assert status_of(service.url + "/slack/events") == 404  # no inbound endpoint
    reply = slack.socket.send_slash_command("/gitops", "help")
    assert reply.on_time
    slack.wait_until(lambda: bool(slack.responses(reply.response_url)), what="the help text")
    answer = json.dumps(slack.responses(reply.response_url)[0]["body"])
    assert "/sync" in answer and "/rollback" in answer
    assert [c["method"] for c in slack.calls()][:2] == ["auth.test", "apps.connections.open"]
    service.stop()
    slack.wait_until(
        lambda: slack.socket.connections()[0]["state"] == "closed", what="the bot to hang up"
    )
    assert slack.socket.connections()[0]["id"] == link


def test_socket_mode_that_cannot_connect_fails_start(
    tmp_path: Path, built: Any, slack: SlackSandbox
) -> None:
    wrong = "xapp-1-not-the-app-token"
    config = config_of(tmp_path, slack_yaml(slack, mode="socket", app_token=wrong))
    service = built(config)
    attach_extensions(service, config, env={})
    with pytest.raises(SlackConnectionError, match="Socket Mode") as info:
        service.start()
    assert not service.started
    assert str(info.value).endswith("invalid_auth") and wrong not in str(info.value)
    assert slack.socket.connections() == []


def test_bad_notification_settings_name_the_field(
    tmp_path: Path, built: Any, slack: SlackSandbox
) -> None:
    extra = slack_yaml(slack) + "notifications:\n  defaultTriggers: [on-deploy]\n"
    config = config_of(tmp_path, extra)
    service = built(config)
    with pytest.raises(ConfigError) as info:
        attach_slack(service, config, env={})
    assert any("notifications.defaultTriggers" in p for p in info.value.problems)
    assert slack.calls() == []  # nothing was sent before the settings were checked


def test_github_statuses_subscribe_only_with_a_token(tmp_path: Path, built: Any) -> None:
    with_token = config_of(tmp_path, "github: {token: {env: T_GH_TOKEN}}\n")
    service = built(with_token)
    attach_github(service, with_token, env={})
    assert [s.name for s in service.events.subscriptions] == ["commit-status"]
    off = config_of(tmp_path, "github: {token: {env: T_GH_TOKEN}, statuses: false}\n")
    quiet = built(off)
    attach_github(quiet, off, env={})
    assert quiet.events.subscriptions == []
