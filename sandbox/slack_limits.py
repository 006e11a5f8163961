"""Message content as chat.postMessage / chat.update / response_url receive it, checked the way
Slack checks it, with Slack's error codes.

Pure. ``blocks`` and ``attachments`` arrive either as JSON strings (form-encoded calls) or as
arrays (JSON calls); both are accepted. The codes (from the chat.* method references):

- ``invalid_blocks_format``: blocks are not valid JSON or not an array of typed objects;
- ``invalid_blocks``: valid JSON that breaks Block Kit's rules (limits, missing fields), with
  pointers in ``response_metadata.messages``;
- ``invalid_attachments`` / ``too_many_attachments`` (more than 100);
- ``no_text``: neither text nor blocks nor attachments;
- ``msg_too_long``: text over 40,000 characters;
- ``markdown_text_conflict``: ``markdown_text`` together with ``text`` or ``blocks``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.slack_blocks import block_errors
from sandbox.slack_errors import SlackAPIError

MESSAGE_TEXT_MAX = 40_000
MARKDOWN_TEXT_MAX = 12_000
ATTACHMENTS_MAX = 100


@dataclass(frozen=True)
class MessageContent:
    """What a message shows: any of text, blocks and attachments (None when not given)."""

    text: str | None
    blocks: list[dict[str, Any]] | None
    attachments: list[dict[str, Any]] | None

    def is_empty(self) -> bool:
        return not self.text and not self.blocks and not self.attachments


def _json_array(value: Any) -> tuple[bool, list[Any] | None]:
    """(well-formed, array) for a blocks/attachments argument; ("", None) mean 'not given'."""
    if value is None or value == "":
        return True, None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return False, None
    if not isinstance(value, list):
        return False, None
    return True, value


def parse_blocks(value: Any) -> list[dict[str, Any]] | None:
    """The blocks argument as a list of block objects, or None when absent.

    Raises ``invalid_blocks_format`` when it is not JSON or not an array of typed objects.
    """
    ok, blocks = _json_array(value)
    if not ok or (
        blocks is not None
        and not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
    ):
        raise SlackAPIError(
            "invalid_blocks_format",
            ["[ERROR] blocks must be a JSON array of objects that each have a string type"],
        )
    return blocks


def parse_attachments(value: Any) -> list[dict[str, Any]] | None:
    """The attachments argument as a list of objects, or None when absent."""
    ok, attachments = _json_array(value)
    if not ok or (attachments is not None and not all(isinstance(a, dict) for a in attachments)):
        raise SlackAPIError("invalid_attachments")
    if attachments is not None and len(attachments) > ATTACHMENTS_MAX:
        raise SlackAPIError("too_many_attachments")
    return attachments


def _text_arg(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def message_content(args: Mapping[str, Any], *, require_content: bool = True) -> MessageContent:
    """Parse and check the content arguments of a message; raise :class:`SlackAPIError`."""
    blocks = parse_blocks(args.get("blocks"))
    attachments = parse_attachments(args.get("attachments"))
    text = _text_arg(args.get("text"))
    markdown = _text_arg(args.get("markdown_text"))
    if markdown is not None:
        if text or blocks:
            raise SlackAPIError("markdown_text_conflict")
        if len(markdown) > MARKDOWN_TEXT_MAX:
            raise SlackAPIError("msg_too_long")
        text = markdown
    content = MessageContent(text=text, blocks=blocks, attachments=attachments)
    if require_content and content.is_empty():
        raise SlackAPIError("no_text")
    if text is not None and len(text) > MESSAGE_TEXT_MAX:
        raise SlackAPIError("msg_too_long")
    if blocks:
        errors = block_errors(blocks)
        if errors:
            raise SlackAPIError("invalid_blocks", errors)
    return content
