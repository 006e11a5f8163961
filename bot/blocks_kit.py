"""Block Kit primitives that cannot break Slack's limits, and the message shape builders return.

Each constructor cuts what it is given to the documented limit of its field
(docs.slack.dev/reference/block-kit): section text 3000, fields 10 × 2000, header 150, context
10 elements, button text 75 and value 2000, action_id 255, confirm dialog title 100 / text 300 /
buttons 30, 50 blocks a message. Besides those per-field limits, Slack refuses a message whose
blocks carry much more than about 12,000 characters of text in total (``msg_blocks_too_long``,
undocumented: slackapi/bolt-js#2509 and #2867), far below the 40,000 characters it documents
for message text; builders that can grow (diffs, listings) keep under
:data:`BLOCKS_TEXT_BUDGET`.

Text given to :func:`section`, :func:`context` and :func:`fields_section` must already be
escaped mrkdwn (see :mod:`bot.mrkdwn`); plain-text fields (headers, buttons, confirm dialogs) are
shown literally by Slack and are only cut. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypedDict

from bot.mrkdwn import ELLIPSIS, cut_escaped

MAX_BLOCKS: Final = 50
SECTION_TEXT_MAX: Final = 3000
FIELD_TEXT_MAX: Final = 2000
FIELDS_MAX: Final = 10
HEADER_TEXT_MAX: Final = 150
CONTEXT_ELEMENTS_MAX: Final = 10
BUTTON_TEXT_MAX: Final = 75
BUTTON_VALUE_MAX: Final = 2000
ID_MAX: Final = 255
CONFIRM_TITLE_MAX: Final = 100
CONFIRM_TEXT_MAX: Final = 300
CONFIRM_BUTTON_MAX: Final = 30
MESSAGE_TEXT_MAX: Final = 40_000
BLOCKS_TEXT_BUDGET: Final = 12_000
FALLBACK_TEXT_MAX: Final = 3000

Block = dict[str, Any]


class SlackMessage(TypedDict):
    """What a builder returns: ``text`` (the notification and screen-reader fallback, escaped
    mrkdwn) and ``blocks``. Pass it as keyword arguments to chat.postMessage, chat.update,
    chat.postEphemeral or a response_url."""

    text: str
    blocks: list[Block]


def _cut_plain(text: str, limit: int) -> str:
    text = " ".join(text.split()) or "-"
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def plain_text(text: str, limit: int) -> Block:
    """A plain_text object cut to ``limit`` characters (whitespace runs collapsed)."""
    return {"type": "plain_text", "text": _cut_plain(text, limit), "emoji": True}


def mrkdwn_text(text: str, limit: int = SECTION_TEXT_MAX) -> Block:
    """A mrkdwn text object from already escaped text, cut to ``limit``."""
    return {"type": "mrkdwn", "text": cut_escaped(text, limit) or " "}


def section(text: str, *, accessory: Block | None = None, block_id: str = "") -> Block:
    """A section block showing escaped mrkdwn ``text``."""
    block: Block = {"type": "section", "text": mrkdwn_text(text)}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id:
        block["block_id"] = block_id[:ID_MAX]
    return block


def fields_section(fields: Sequence[str]) -> Block:
    """A section of up to 10 two-column fields (escaped mrkdwn, each cut to 2000)."""
    return {
        "type": "section",
        "fields": [mrkdwn_text(f, FIELD_TEXT_MAX) for f in list(fields)[:FIELDS_MAX]],
    }


def header(text: str) -> Block:
    return {"type": "header", "text": plain_text(text, HEADER_TEXT_MAX)}


def context(*texts: str) -> Block:
    """A context block (small grey text) of up to 10 escaped mrkdwn elements."""
    elements = [mrkdwn_text(t) for t in texts if t][:CONTEXT_ELEMENTS_MAX]
    return {"type": "context", "elements": elements or [mrkdwn_text(" ")]}


def divider() -> Block:
    return {"type": "divider"}


def confirm_dialog(
    title: str,
    text: str,
    confirm: str,
    deny: str = "Cancel",
    style: Literal["primary", "danger"] = "primary",
) -> Block:
    """A confirmation dialog (all plain text), each part cut to its limit."""
    return {
        "title": plain_text(title, CONFIRM_TITLE_MAX),
        "text": plain_text(text, CONFIRM_TEXT_MAX),
        "confirm": plain_text(confirm, CONFIRM_BUTTON_MAX),
        "deny": plain_text(deny, CONFIRM_BUTTON_MAX),
        "style": style,
    }


def button(
    text: str,
    action_id: str,
    value: str = "",
    *,
    style: Literal["primary", "danger"] | None = None,
    confirm: Block | None = None,
) -> Block:
    """A button. ``action_id`` and ``value`` are the bot's own and must fit (ValueError
    otherwise: cutting them would break the click handler)."""
    if not action_id or len(action_id) > ID_MAX:
        raise ValueError(f"action_id must be 1 to {ID_MAX} characters")
    if len(value) > BUTTON_VALUE_MAX:
        raise ValueError(f"button value must be at most {BUTTON_VALUE_MAX} characters")
    element: Block = {
        "type": "button",
        "text": plain_text(text, BUTTON_TEXT_MAX),
        "action_id": action_id,
    }
    if value:
        element["value"] = value
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def actions(elements: Sequence[Block], block_id: str = "") -> Block:
    block: Block = {"type": "actions", "elements": list(elements)[:25]}
    if block_id:
        block["block_id"] = block_id[:ID_MAX]
    return block


def text_size(value: Any) -> int:
    """Characters of text carried by blocks (every ``text`` string, recursively): what
    Slack's cumulative block limit counts."""
    if isinstance(value, Mapping):
        return sum(
            len(item) if key == "text" and isinstance(item, str) else text_size(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return sum(text_size(item) for item in value)
    return 0


def message(fallback: str, blocks: Sequence[Block]) -> SlackMessage:
    """A message from escaped ``fallback`` text and at most 50 blocks."""
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"{len(blocks)} blocks: a message holds at most {MAX_BLOCKS}")
    return {"text": cut_escaped(fallback, FALLBACK_TEXT_MAX), "blocks": list(blocks)}


def pack_lines(lines: Sequence[str], *, max_blocks: int, budget: int) -> tuple[list[Block], int]:
    """Escaped mrkdwn ``lines`` packed into as few sections as fit (each ≤ 3000 characters),
    using at most ``max_blocks`` blocks and ``budget`` characters. Returns the sections and
    how many lines they show (the first ones)."""
    blocks: list[Block] = []
    if max_blocks <= 0:
        return blocks, 0
    current: list[str] = []
    size = 0
    used = 0
    shown = 0
    for line in lines:
        line = cut_escaped(line, SECTION_TEXT_MAX)
        fits_section = size + len(line) + (1 if current else 0) <= SECTION_TEXT_MAX
        if not fits_section:
            if len(blocks) + 1 >= max_blocks:
                break
            blocks.append(section("\n".join(current)))
            current, size = [], 0
        if used + len(line) + 1 > budget:
            break
        current.append(line)
        size += len(line) + (1 if len(current) > 1 else 0)
        used += len(line) + 1
        shown += 1
    if current:  # flushing above stops one block short of max_blocks, so this one fits
        blocks.append(section("\n".join(current)))
    return blocks, shown
