"""Helpers shared by the Block Kit builder tests: Slack's acceptance of a message (checked by
the Slack stand-in's own validator) and the check that no control sequence slipped through."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.blocks_kit import BLOCKS_TEXT_BUDGET, FALLBACK_TEXT_MAX, SlackMessage, text_size
from reconciler.event_types import CommitSummary
from reconciler.model import ResourceKey
from sandbox.slack_errors import SlackAPIError
from sandbox.slack_limits import message_content

SHA_OLD = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
SHA_NEW = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
EVIL = "Fix <!channel> & <@U0EVIL> <https://evil.example|click me> <!subteam^S0ALL>"
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
COMMIT = CommitSummary(SHA_NEW, "Eve <eve@example.com>", f"{EVIL}\n\nlonger body & more")
DEPLOY = ResourceKey("apps", "Deployment", "web", "guestbook-ui")
SERVICE = ResourceKey("", "Service", "web", "guestbook-ui")
# The control sequences builders may write themselves: mentions of valid IDs, dates, links.
_QUOTE = re.compile(r"^>( |$)", re.MULTILINE)  # a block quote the builder started
_OWN = re.compile(r"<(@[UW][A-Z0-9]+|!date\^\d+\^[^|>]*\|[^>]*|https?://[^|>\s]+\|[^>]*)>")


def accepted(msg: SlackMessage) -> SlackMessage:
    """``msg`` as the Slack stand-in's validator sees it: Slack's limits and shapes, plus the
    cumulative block text Slack enforces (msg_blocks_too_long) and JSON-serialisability."""
    try:
        message_content({"text": msg["text"], "blocks": msg["blocks"]})
    except SlackAPIError as error:  # pragma: no cover - the assertion message is the point
        pytest.fail(f"Slack would refuse this message: {error}")
    assert text_size(msg["blocks"]) <= BLOCKS_TEXT_BUDGET
    assert len(msg["text"]) <= FALLBACK_TEXT_MAX
    json.dumps(msg)
    return msg


def strings_of(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_of(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_of(item)]
    return [value] if isinstance(value, str) else []


def mrkdwn_strings(msg: SlackMessage) -> list[str]:
    """The fallback text and every mrkdwn text object of a message."""
    found = [msg["text"]]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") == "mrkdwn":
                found.append(value["text"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(msg["blocks"])
    return found


def assert_no_injection(msg: SlackMessage) -> None:
    for text in mrkdwn_strings(msg):
        leftover = _QUOTE.sub("", _OWN.sub("", text))
        assert "<" not in leftover and ">" not in leftover, text
        assert "<@U0EVIL>" not in text and "<!channel>" not in text


def blocks_of(msg: SlackMessage, kind: str) -> list[dict[str, Any]]:
    return [block for block in msg["blocks"] if block["type"] == kind]


def all_text(msg: SlackMessage) -> str:
    return "\n".join(strings_of(msg))
