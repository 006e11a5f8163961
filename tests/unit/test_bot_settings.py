"""The bot's typed settings: the slack and rbac sections of the Settings document."""

from __future__ import annotations

from typing import Any

import pytest

from bot.settings import (
    DEFAULT_APPROVAL_TIMEOUT,
    HTTP_MODE,
    SOCKET_MODE,
    BotSettings,
    ChannelRoutes,
    CommandNames,
    parse_bot_settings,
)
from reconciler.errors import ConfigError
from reconciler.settings import Secret, build_settings

BOT = "xoxb-1234-abcdefSECRET"
APP = "xapp-1-A0-SECRETAPP"
SIGNING = "8f3c0e5cSECRETsign"


def bot_settings(
    data: dict[str, Any],
    env: dict[str, str] | None = None,
    **known: Any,
) -> BotSettings:
    settings = build_settings(data, env=env or {})
    return parse_bot_settings(settings, source="kajitori.yaml", **known)


def problems(data: dict[str, Any], env: dict[str, str] | None = None, **known: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        bot_settings(data, env, **known)
    return info.value.problems


def test_no_sections_means_slack_not_connected_and_no_rbac() -> None:
    settings = bot_settings({})
    assert not settings.slack.connected
    assert settings.slack.mode == SOCKET_MODE
    assert settings.slack.commands == CommandNames()
    assert settings.slack.approval_timeout == DEFAULT_APPROVAL_TIMEOUT == 3600.0
    assert not settings.rbac.configured


def test_socket_mode_with_tokens_from_the_environment() -> None:
    settings = bot_settings(
        {
            "slack": {
                "botToken": {"env": "SLACK_BOT_TOKEN"},
                "appToken": {"env": "SLACK_APP_TOKEN"},
                "approvalTimeout": "30m",
            }
        },
        env={"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP},
    )
    slack = settings.slack
    assert slack.connected and slack.mode == SOCKET_MODE
    assert slack.bot_token == Secret(BOT, "environment variable SLACK_BOT_TOKEN")
    assert slack.app_token is not None and slack.app_token.reveal() == APP
    assert slack.approval_timeout == 1800.0
    assert "SECRET" not in repr(settings) and "SECRET" not in str(slack)


def test_http_mode_needs_the_signing_secret_and_literal_tokens_become_secrets() -> None:
    settings = bot_settings({"slack": {"mode": "http", "botToken": BOT, "signingSecret": SIGNING}})
    assert settings.slack.mode == HTTP_MODE
    assert isinstance(settings.slack.signing_secret, Secret)
    assert settings.slack.signing_secret.reveal() == SIGNING
    assert problems({"slack": {"mode": "http", "botToken": BOT}}) == [
        "kajitori.yaml: slack.signingSecret: required in http mode (to verify requests come "
        "from Slack)"
    ]


def test_socket_mode_needs_the_app_token_and_a_mode_needs_the_bot_token() -> None:
    assert problems({"slack": {"botToken": BOT}}) == [
        "kajitori.yaml: slack.appToken: required in socket mode (an app-level token xapp-... "
        "with connections:write)"
    ]
    found = problems({"slack": {"mode": "socket", "appToken": APP}})
    assert found == [
        "kajitori.yaml: slack.botToken: required to connect to Slack (the xoxb-... bot token)"
    ]
    assert problems({"slack": {"signingSecret": SIGNING}}) == [
        "kajitori.yaml: slack.botToken: required when appToken or signingSecret is set"
    ]


def test_swapped_tokens_are_caught_without_quoting_them() -> None:
    found = problems(
        {"slack": {"botToken": {"env": "B"}, "appToken": BOT}},
        env={"B": APP},
    )
    assert found == [
        "kajitori.yaml: slack.botToken: the value from the environment variable B is not a "
        "bot token (xoxb-...)",
        "kajitori.yaml: slack.appToken: the value from the settings file is not an app-level "
        "token (xapp-...)",
    ]
    assert "SECRET" not in "\n".join(found)


@pytest.mark.parametrize(
    "slack",
    [
        {"botToken": ["xoxb-SECRET"], "appToken": APP},
        {"botToken": 12345, "appToken": APP},
        {"botToken": BOT, "appToken": APP, "signingSecret": {"value": "SECRET"}},
        {"botToken": BOT, "appToken": APP, "mode": "SECRET"},
        {"botToken": BOT, "appToken": APP, "bottoken": "xoxb-SECRET"},
        {"botToken": BOT, "appToken": APP, "commands": {"sync": "xoxb-SECRET"}},
        {"botToken": BOT, "appToken": APP, "channels": {"default": "xoxb-SECRET"}},
        {"botToken": BOT, "appToken": APP, "approvalTimeout": "SECRET"},
    ],
)
def test_no_secret_value_appears_in_any_problem(slack: dict[str, Any]) -> None:
    found = problems({"slack": slack})
    assert found
    assert "SECRET" not in "\n".join(found)


def test_unknown_fields_and_a_bad_mode_are_named() -> None:
    found = problems(
        {"slack": {"mode": "events", "botToken": BOT, "approvalTimout": "1h"}, "rbac": {"x": 1}}
    )
    assert found == [
        "kajitori.yaml: slack.approvalTimout: unknown field (did you mean 'approvalTimeout'?)",
        "kajitori.yaml: slack.mode: must be 'socket' or 'http', got a string",
        "kajitori.yaml: slack.appToken: required in socket mode (an app-level token xapp-... "
        "with connections:write)",
        "kajitori.yaml: rbac.x: unknown field",
    ]


def test_approval_timeout_must_be_a_positive_duration() -> None:
    assert problems({"slack": {"approvalTimeout": "0s"}}) == [
        "kajitori.yaml: slack.approvalTimeout: must be greater than zero, got a string"
    ]
    assert problems({"slack": {"approvalTimeout": "soon"}}) == [
        "kajitori.yaml: slack.approvalTimeout: expected a duration such as '30s', '3m' or '1h', "
        "got a string"
    ]


def test_command_names_are_configurable_and_checked() -> None:
    settings = bot_settings({"slack": {"commands": {"sync": "/deploy", "gitops": "/kj"}}})
    commands = settings.slack.commands
    assert commands == CommandNames(sync="/deploy", gitops="/kj")
    assert commands.all() == ("/deploy", "/diff", "/rollback", "/toggle-selfheal", "/kj")
    found = problems(
        {
            "slack": {
                "commands": {
                    "sync": "deploy",
                    "diff": "/Diff Me",
                    "rollback": "/diff2",
                    "gitops": "/diff2",
                    "toggle": "/t",
                }
            }
        }
    )
    assert found == [
        "kajitori.yaml: slack.commands.toggle: unknown field (did you mean 'toggleSelfHeal'?)",
        "kajitori.yaml: slack.commands.sync: must be a slash command: '/' then up to 32 "
        "lowercase letters, digits, '-', '_' or '.'",
        "kajitori.yaml: slack.commands.diff: must be a slash command: '/' then up to 32 "
        "lowercase letters, digits, '-', '_' or '.'",
        "kajitori.yaml: slack.commands.gitops: /diff2 is already the rollback command",
    ]


def test_channel_routes_prefer_app_then_project_then_origin_then_default() -> None:
    settings = bot_settings(
        {
            "slack": {
                "channels": {
                    "default": "#deploys",
                    "apps": {"guestbook": "C0GUEST"},
                    "projects": {"payments": "payments-deploys"},
                }
            }
        },
        apps={"guestbook", "billing", "web"},
        projects={"default", "payments"},
    )
    routes = settings.slack.channels
    assert routes.channel_for("guestbook", "payments", "C0ORIGIN") == "C0GUEST"
    assert routes.channel_for("billing", "payments", "C0ORIGIN") == "payments-deploys"
    assert routes.channel_for("web", "default", "C0ORIGIN") == "C0ORIGIN"
    assert routes.channel_for("web", "default") == "#deploys"
    assert ChannelRoutes().channel_for("web", "default") == ""


def test_channel_routes_for_unknown_apps_and_bad_channels_are_problems() -> None:
    found = problems(
        {
            "slack": {
                "channels": {
                    "default": "Deploys Channel",
                    "apps": {"gestbook": "#guestbook", "web": 5},
                    "projects": {"default": "#ok"},
                }
            }
        },
        apps={"guestbook", "web"},
        projects={"default"},
    )
    assert found == [
        "kajitori.yaml: slack.channels.default: is neither a channel ID (C0123ABC) nor a "
        "channel name (lowercase, no spaces, at most 80 characters)",
        "kajitori.yaml: slack.channels.apps.gestbook: no app named 'gestbook' (did you mean "
        "'guestbook'?)",
        "kajitori.yaml: slack.channels.apps.web: expected a channel ID or #name, got a number",
    ]


def test_rbac_roles_per_project() -> None:
    settings = bot_settings(
        {
            "rbac": {
                "projects": {
                    "*": {"viewers": ["*"]},
                    "payments": {"deployers": ["U0BOB", "W0GRID"], "admins": ["S0PLATFORM"]},
                }
            }
        },
        projects={"default", "payments"},
    )
    rbac = settings.rbac
    assert rbac.configured
    payments = rbac.projects["payments"]
    assert payments.deployers == {"U0BOB", "W0GRID"}
    assert payments.admins == {"S0PLATFORM"} and payments.viewers == frozenset()
    assert rbac.entries_for("payments") == (payments, rbac.projects["*"])
    assert rbac.entries_for("default") == (rbac.projects["*"],)


def test_rbac_problems_are_named() -> None:
    found = problems(
        {
            "rbac": {
                "projects": {
                    "paymnets": {"admins": ["U0ALICE"]},
                    "default": {"deployer": ["U0BOB"], "admins": ["alice@example.com", 7]},
                    "other": ["U0BOB"],
                }
            }
        },
        projects={"default", "payments", "other"},
    )
    assert found == [
        "kajitori.yaml: rbac.projects.paymnets: no project named 'paymnets' (did you mean "
        "'payments'?) (use '*' for every project)",
        "kajitori.yaml: rbac.projects.default.deployer: unknown field (did you mean 'deployers'?)",
        "kajitori.yaml: rbac.projects.default.admins[0]: 'alice@example.com' is not a Slack "
        "user ID (U…/W…), a user group ID (S…) or '*'; find IDs in a profile's or group's "
        "'Copy member ID' menu",
        "kajitori.yaml: rbac.projects.default.admins[1]: expected a string, got a number",
        "kajitori.yaml: rbac.projects.other: expected a mapping of viewers, deployers, admins",
    ]


def test_empty_projects_mapping_means_rbac_not_configured() -> None:
    assert not bot_settings({"rbac": {"projects": {}}}).rbac.configured
    assert not bot_settings({"rbac": {}}).rbac.configured
