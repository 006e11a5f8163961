"""Slack's Block Kit and text limits as the Slack stand-in enforces them, seen through the real
slack_sdk WebClient: Slack's error codes, JSON pointers to the offending field, nothing
recorded for a rejected call, and values exactly at the limits accepted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack import SlackSandbox


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def client(slack: SlackSandbox) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.url)


def api_error(call: Any, *args: Any, **kwargs: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, **extra}


def top_level(slack: SlackSandbox) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = slack.messages("C0DEPLOYS")["messages"]
    return messages


LIMIT_CASES = [
    ("51 blocks", {"blocks": [section("x")] * 51}, "invalid_blocks", "/blocks"),
    ("section 3001", {"blocks": [section("x" * 3001)]}, "invalid_blocks", "/blocks/0/text/text"),
    (
        "header 151",
        {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
        "invalid_blocks",
        "/blocks/0/text/text",
    ),
    (
        "11 fields",
        {"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}]},
        "invalid_blocks",
        "/blocks/0/fields",
    ),
    (
        "field 2001",
        {"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}]},
        "invalid_blocks",
        "/blocks/0/fields/0/text",
    ),
    (
        "button text 76",
        {"blocks": [{"type": "actions", "elements": [button("b" * 76)]}]},
        "invalid_blocks",
        "/blocks/0/elements/0/text/text",
    ),
    (
        "action_id 256",
        {"blocks": [{"type": "actions", "elements": [button(action_id="a" * 256)]}]},
        "invalid_blocks",
        "/blocks/0/elements/0/action_id",
    ),
    (
        "value 2001",
        {"blocks": [{"type": "actions", "elements": [button(value="v" * 2001)]}]},
        "invalid_blocks",
        "/blocks/0/elements/0/value",
    ),
    (
        "block_id 256",
        {"blocks": [{**section("x"), "block_id": "b" * 256}]},
        "invalid_blocks",
        "/blocks/0/block_id",
    ),
    (
        "duplicate block_id",
        {"blocks": [{**section("x"), "block_id": "same"}, {**section("y"), "block_id": "same"}]},
        "invalid_blocks",
        "/blocks/1/block_id",
    ),
    ("text 40001", {"text": "t" * 40_001}, "msg_too_long", None),
    ("blocks not JSON", {"blocks": "[{not json"}, "invalid_blocks_format", None),
    ("blocks not objects", {"blocks": '["section"]'}, "invalid_blocks_format", None),
    ("nothing to show", {"text": ""}, "no_text", None),
]


@pytest.mark.parametrize(
    ("args", "code", "pointer"),
    [case[1:] for case in LIMIT_CASES],
    ids=[case[0] for case in LIMIT_CASES],
)
def test_limits_answer_slacks_error_codes_and_record_nothing(
    slack: SlackSandbox,
    client: WebClient,
    args: dict[str, Any],
    code: str,
    pointer: str | None,
) -> None:
    err = api_error(client.api_call, "chat.postMessage", json={"channel": "C0DEPLOYS", **args})
    assert err.response["error"] == code
    if pointer is not None:
        messages = err.response["response_metadata"]["messages"]
        assert any(m.endswith(f"[json-pointer:{pointer}]") for m in messages), messages
    assert top_level(slack) == []
    assert slack.calls("chat.postMessage")[-1]["error"] == code


def test_values_at_the_limits_are_accepted(slack: SlackSandbox, client: WebClient) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        section("s" * 3000),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2000}] * 10},
        {
            "type": "actions",
            "elements": [button("b" * 75, action_id="a" * 255, value="v" * 2000)],
        },
        *[{"type": "divider"}] * 46,
    ]
    assert len(blocks) == 50
    client.chat_postMessage(channel="C0DEPLOYS", text="t" * 40_000, blocks=blocks)
    assert len(top_level(slack)[0]["blocks"]) == 50


def test_missing_or_unknown_channel_is_channel_not_found(client: WebClient) -> None:
    missing = api_error(client.api_call, "chat.postMessage", json={"text": "x"})
    assert missing.response["error"] == "channel_not_found"
    unknown = api_error(client.chat_postMessage, channel="C0NOPE", text="x")
    assert unknown.response["error"] == "channel_not_found"


def test_update_is_checked_like_a_post(slack: SlackSandbox, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0DEPLOYS", text="before")
    err = api_error(
        client.chat_update,
        channel="C0DEPLOYS",
        ts=posted["ts"],
        text="t",
        blocks=[section("x" * 3001)],
    )
    assert err.response["error"] == "invalid_blocks"
    [shown] = top_level(slack)
    assert (shown["text"], shown["edited"]) == ("before", False)
