"""Safe mrkdwn: escaping, cutting and the few control sequences the bot writes itself.

Slack reads ``&``, ``<`` and ``>`` in mrkdwn as the start of entities and control sequences
(``<@U123>`` mentions, ``<!channel>``, ``<url|label>`` links). Every string that comes from a
person or a repository (commit messages, author names, revisions, resource names, diffs) goes
through :func:`escape` so it shows as typed and cannot mention, notify or link. Control
sequences are only ever built here, from validated parts (:func:`user_ref`, :func:`link`,
:func:`slack_date`).

Cutting works on escaped text and never splits an entity, so a cut string stays valid and
within the limit it was cut to. Pure.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final, NamedTuple

from bot.settings import USER_ID

ELLIPSIS: Final = "…"
_ENTITIES: Final = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HEX_SHA: Final = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_SAFE_URL: Final = re.compile(r"^https?://[^\s<>|]+$")
# Three backticks would end a code block early; a zero-width space keeps them apart.
_FENCE: Final = "```"
_BROKEN_FENCE: Final = "`\u200b`\u200b`"
AUTOMATED_NAMES: Final = frozenset({"", "automated", "auto-sync"})


def escape(text: str) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped as Slack requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` escaped and, if longer than ``limit`` escaped characters, cut to fit with an
    ellipsis; no entity is split."""
    return cut_escaped(escape(text), limit)


def cut_escaped(text: str, limit: int) -> str:
    """Already escaped ``text`` cut to at most ``limit`` characters (ellipsis included)
    without splitting an entity."""
    if len(text) <= limit:
        return text
    if limit < len(ELLIPSIS):
        return ""
    end = limit - len(ELLIPSIS)
    amp = text.rfind("&", max(0, end - 4), end)
    if amp != -1 and text.find(";", amp) >= end:
        end = amp
    return text[:end] + ELLIPSIS


def first_line(text: str) -> str:
    """The first non-empty line of ``text`` (a commit title), stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def short_revision(revision: str) -> str:
    """A commit SHA shortened to 7 characters; a branch or tag name as is (escaped, cut)."""
    if _HEX_SHA.match(revision):
        return revision[:7]
    return clip(revision, 60) if revision else "?"


def code(text: str, limit: int = 200) -> str:
    """``text`` as inline code, escaped and cut; backticks inside become a look-alike."""
    return f"`{clip(text.replace('`', 'ˋ'), limit)}`" if text else "`-`"


def bold(escaped: str) -> str:
    """Bold already escaped text; asterisks inside would end the bold early, so they go."""
    return f"*{escaped.replace('*', '∗')}*" if escaped else ""


def user_ref(user: str) -> str:
    """A Slack user ID as a mention; anything else (a name, "automated") escaped."""
    if USER_ID.match(user):
        return f"<@{user}>"
    if user in AUTOMATED_NAMES:
        return "auto-sync"
    return clip(user, 80)


def link(url: str, label_escaped: str) -> str:
    """A link to an http(s) ``url`` labelled with already escaped text; just the label when
    the URL is not a plain http(s) URL (nothing from a repository can smuggle markup in)."""
    if not _SAFE_URL.match(url) or len(url) > 2000:
        return label_escaped
    return f"<{escape(url)}|{label_escaped.replace('|', '¦')}>"


def utc_text(when: datetime) -> str:
    """A time as plain text in UTC, e.g. ``2024-05-01 10:00 UTC``."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def slack_date(when: datetime) -> str:
    """A time Slack shows in each reader's own time zone, falling back to UTC text."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{utc_text(when)}>"


def duration_text(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``1h 02m``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


class CodeBlock(NamedTuple):
    """A fenced code block: its mrkdwn ``text``, how many lines were left out, and whether
    anything (lines or the end of an overlong line) was cut."""

    text: str
    omitted_lines: int
    truncated: bool


def code_block(text: str, limit: int) -> CodeBlock:
    """``text`` as a fenced code block of at most ``limit`` characters, escaped, cut at a line
    boundary when too long (an overlong first line is cut with an ellipsis)."""
    lines = text.rstrip("\n").split("\n") if text else []
    budget = limit - 2 * len(_FENCE) - 2 - len("\n… 9999999 more lines")
    kept: list[str] = []
    used = 0
    cut_line = False
    for line in lines:
        piece = escape(line).replace(_FENCE, _BROKEN_FENCE)
        if used + len(piece) + 1 > budget:
            if not kept and budget > 1:
                kept.append(cut_escaped(piece, budget - 1))
                cut_line = True
            break
        kept.append(piece)
        used += len(piece) + 1
    omitted = len(lines) - len(kept)
    if omitted:
        kept.append(f"… {omitted} more line{'s' if omitted != 1 else ''}")
    body = "\n".join(kept) if kept else " "
    return CodeBlock(f"{_FENCE}\n{body}\n{_FENCE}", omitted, bool(omitted) or cut_line)
