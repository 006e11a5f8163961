"""The answer to ``/diff``: per-resource unified diffs in code blocks, cut to Slack's limits.

A message holds at most 50 blocks and 3000 characters a section, and Slack refuses blocks
carrying much more than about 12,000 characters in all (see :mod:`bot.blocks_kit`). So each
resource gets one section (its name, the kind of change and its diff) and an equal share of
what is left of the budget (at least :data:`MIN_SHARE`); a diff longer than its share is cut
at a line boundary, resources that no longer fit are counted, and a closing note says exactly
what was cut. Over
:data:`UPLOAD_THRESHOLD` characters, or whenever the message would have to cut anything,
:func:`should_upload_as_file` says to send the whole diff as a file instead
(:func:`diff_file_content` + :func:`diff_file_message`).

The diffs arrive masked (``reconciler.diff`` replaces Secret values); this module escapes them
and never adds anything. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bot.blocks_kit import (
    BLOCKS_TEXT_BUDGET,
    MAX_BLOCKS,
    SECTION_TEXT_MAX,
    Block,
    SlackMessage,
    context,
    message,
    pack_lines,
    section,
)
from bot.mrkdwn import bold, clip, code, code_block, short_revision
from bot.views import CHANGE_LABELS, Changes, DiffEntry

UPLOAD_THRESHOLD: Final = 8000
# Each diff gets an equal share of the budget, but at least this much (about ten lines): with
# many resources, fewer diffs worth reading beat many cut to nothing.
MIN_SHARE: Final = 600
_RESERVED: Final = 800  # room for the headline and the closing note


@dataclass(frozen=True)
class DiffRendering:
    """A diff message and what it left out: ``cut_diffs`` resources whose diff was
    shortened, ``omitted`` resources not shown at all."""

    message: SlackMessage
    shown: int
    cut_diffs: int
    omitted: int

    @property
    def truncated(self) -> bool:
        return bool(self.cut_diffs or self.omitted)


def _title(entry: DiffEntry) -> str:
    return f"{bold(code(str(entry.key), 300))} — {CHANGE_LABELS[entry.change]}"


def _headline(app: str, revision: str, entries: Sequence[DiffEntry]) -> str:
    count = len(entries)
    against = f" against {code(short_revision(revision))}" if revision else ""
    return (
        f":mag: {bold('Diff of ' + clip(app, 150))}{against}: {count} resource"
        f"{'s' if count != 1 else ''} differ{'s' if count == 1 else ''} "
        f"({Changes.of(entries).summary()})"
    )


def _cut_note(cut: int, omitted: int, hint: str) -> str:
    parts = []
    if cut:
        parts.append(f"{cut} diff{'s' if cut != 1 else ''} shortened")
    if omitted:
        parts.append(f"{omitted} resource{'s' if omitted != 1 else ''} not shown")
    note = f":scissors: Cut to fit Slack's message limits: {', '.join(parts)}."
    return f"{note} {hint}" if hint else note


def render_diff(
    app: str,
    revision: str,
    entries: Sequence[DiffEntry],
    *,
    budget: int = BLOCKS_TEXT_BUDGET,
    hint: str = "",
) -> DiffRendering:
    """The diff message for ``app`` compared at ``revision``. ``budget`` caps the characters
    of all blocks; ``hint`` (escaped mrkdwn) ends the cut note, e.g. how to get the full diff."""
    if not entries:
        at = f" at {code(short_revision(revision))}" if revision else ""
        text = f":white_check_mark: {bold(clip(app, 150))} matches Git{at}: no differences."
        return DiffRendering(message(text, [section(text)]), 0, 0, 0)
    headline = _headline(app, revision, entries)
    blocks: list[Block] = [section(headline)]
    remaining = budget - _RESERVED
    cut = 0
    shown = 0
    for index, entry in enumerate(entries):
        if len(blocks) >= MAX_BLOCKS - 1:
            break
        share = min(
            SECTION_TEXT_MAX, remaining, max(MIN_SHARE, remaining // (len(entries) - index))
        )
        title = _title(entry)
        room = share - len(title) - 1
        if room < MIN_SHARE // 2:
            break
        block = code_block(entry.diff, room) if entry.diff else None
        body = block.text if block else "_no textual difference (metadata only)_"
        text = f"{title}\n{body}"
        blocks.append(section(text))
        remaining -= len(text)
        shown += 1
        cut += 1 if block is not None and block.truncated else 0
    omitted = len(entries) - shown
    if cut or omitted:
        blocks.append(context(_cut_note(cut, omitted, hint)))
    fallback = headline.removeprefix(":mag: ")
    return DiffRendering(message(fallback, blocks), shown, cut, omitted)


def diff_message(
    app: str,
    revision: str,
    entries: Sequence[DiffEntry],
    *,
    budget: int = BLOCKS_TEXT_BUDGET,
    hint: str = "",
) -> SlackMessage:
    """The diff as a message, cut to fit (see :func:`render_diff`)."""
    return render_diff(app, revision, entries, budget=budget, hint=hint).message


def should_upload_as_file(
    entries: Sequence[DiffEntry],
    *,
    threshold: int = UPLOAD_THRESHOLD,
    budget: int = BLOCKS_TEXT_BUDGET,
) -> bool:
    """Whether to upload the diff as a file (files_upload_v2) rather than post it: its text
    is over ``threshold`` characters, or a message would have to cut it."""
    if sum(len(e.diff) for e in entries) > threshold:
        return True
    return render_diff("app", "", entries, budget=budget).truncated


def diff_file_name(app: str, revision: str) -> str:
    """A file name for an uploaded diff: ``guestbook-1a2b3c4.diff``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in app)[:80] or "app"
    rev = short_revision(revision) if revision else "live"
    rev = "".join(c if c.isalnum() or c in "-_." else "-" for c in rev)
    return f"{safe}-{rev}.diff"


def diff_file_content(app: str, revision: str, entries: Sequence[DiffEntry]) -> str:
    """The whole diff as plain text for a file upload: one headed section per resource.
    Not escaped (a file is not mrkdwn); masked values stay masked."""
    out = [f"# Diff of {app}" + (f" against {revision}" if revision else "")]
    for entry in entries:
        out.append(f"\n# {entry.key} ({CHANGE_LABELS[entry.change]})")
        out.append(entry.diff.rstrip("\n") if entry.diff else "# (no textual difference)")
    return "\n".join(out) + "\n"


def diff_file_message(app: str, revision: str, entries: Sequence[DiffEntry]) -> SlackMessage:
    """The message posted with an uploaded diff: the summary and the resources that differ
    (the diff itself is in the file)."""
    headline = _headline(app, revision, entries)
    lines = [f"• {code(str(e.key), 300)} — {CHANGE_LABELS[e.change]}" for e in entries]
    blocks: list[Block] = [section(headline)]
    listed, shown = pack_lines(lines, max_blocks=MAX_BLOCKS - 3, budget=BLOCKS_TEXT_BUDGET // 2)
    blocks.extend(listed)
    if shown < len(lines):
        blocks.append(context(f"… and {len(lines) - shown} more resources."))
    blocks.append(context(":page_facing_up: The full diff is in the attached file."))
    return message(headline.removeprefix(":mag: "), blocks)
