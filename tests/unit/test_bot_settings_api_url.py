"""``slack.apiUrl``: the Web API base the bot and its notifications talk to (a stand-in's in
``kajitori demo``); Slack's own when absent."""

from __future__ import annotations

from typing import Any

import pytest

from bot.settings import parse_bot_settings
from reconciler.errors import ConfigError
from reconciler.settings import build_settings

BOT = "xoxb-1234-abcdefSECRET"
SIGNING = "8f3c0e5cSECRETsign"


def slack(**extra: Any) -> dict[str, Any]:
    return {"slack": {"mode": "http", "botToken": BOT, "signingSecret": SIGNING, **extra}}


def test_absent_means_slacks_own_api() -> None:
    parsed = parse_bot_settings(build_settings(slack()))
    assert parsed.slack.api_url == ""


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("http://127.0.0.1:8123/api/", "http://127.0.0.1:8123/api/"),
        ("http://127.0.0.1:8123/api", "http://127.0.0.1:8123/api/"),
        ("  https://slack.example.com/api/  ", "https://slack.example.com/api/"),
    ],
)
def test_a_url_is_kept_ending_in_a_slash(given: str, kept: str) -> None:
    parsed = parse_bot_settings(build_settings(slack(apiUrl=given)))
    assert parsed.slack.api_url == kept
    assert kept in repr(parsed.slack) and BOT not in repr(parsed.slack)


@pytest.mark.parametrize(
    "bad", ["slack.com/api/", "ftp://slack.example.com/", "https://user:pw@slack.example.com/"]
)
def test_a_bad_url_names_the_field(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_bot_settings(build_settings(slack(apiUrl=bad)), source="kajitori.yaml")
    assert info.value.problems == [
        "kajitori.yaml: slack.apiUrl: expected an http(s) URL without credentials, such as "
        "https://slack.com/api/"
    ]
    assert "pw" not in str(info.value)


def test_a_non_string_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_bot_settings(build_settings(slack(apiUrl=8123)), source="kajitori.yaml")
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("kajitori.yaml: slack.apiUrl: expected a string")
