"""Messages about one sync: the channel message (posted when it starts, then updated in place
until it ends) and a thread reply per (phase, wave) group.

The message says who started it, the app, from which revision to which (short SHAs, the
commit's title and author), and the options; when the sync ends the same message says
Succeeded, or Failed with each failing object and why. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bot.blocks_kit import (
    BLOCKS_TEXT_BUDGET,
    MAX_BLOCKS,
    Block,
    SlackMessage,
    context,
    fields_section,
    message,
    pack_lines,
    section,
)
from bot.mrkdwn import (
    bold,
    clip,
    code,
    duration_text,
    first_line,
    link,
    short_revision,
    user_ref,
)
from bot.views import Outcome, SyncOutcome, SyncView, WaveView, failed

RESULT_MESSAGE_MAX: Final = 400
_ICONS: Final = {
    "Synced": ":white_check_mark:",
    "Succeeded": ":white_check_mark:",
    "Pruned": ":wastebasket:",
    "PruneSkipped": ":heavy_minus_sign:",
    "Running": ":hourglass_flowing_sand:",
    "SyncFailed": ":x:",
    "Failed": ":x:",
    "Error": ":x:",
}


def _revision(revision: str, url: str = "") -> str:
    text = code(short_revision(revision)) if revision else "_none yet_"
    return link(url, text) if url else text


def _commit_text(view: SyncView) -> str:
    commit = view.commit
    if commit is None:
        return ""
    title = clip(first_line(commit.message), 150) or "_no commit message_"
    author = f" — {clip(commit.author, 80)}" if commit.author else ""
    return f"{title}{author}"


def _options(view: SyncView) -> str:
    options = [name for name, on in (("prune", view.prune), ("dry run", view.dry_run)) if on]
    return ", ".join(options)


def _fields(view: SyncView) -> Block:
    target = _revision(view.to_revision, view.commit_url)
    fields = [
        f"*Revision*\n{_revision(view.from_revision)} → {target}",
        f"*Started by*\n{user_ref(view.initiated_by)}",
    ]
    commit = _commit_text(view)
    if commit:
        fields.append(f"*Commit*\n{commit}")
    fields.append(f"*Project*\n{clip(view.project, 100)}")
    options = _options(view)
    if options:
        fields.append(f"*Options*\n{options}")
    return fields_section(fields)


def _app(view: SyncView) -> str:
    return bold(clip(view.app, 150))


def _dry(view: SyncView) -> str:
    return " (dry run)" if view.dry_run else ""


def sync_started(view: SyncView) -> SlackMessage:
    """The channel message when a sync starts; progress follows in its thread."""
    target = code(short_revision(view.to_revision))
    headline = f":arrows_counterclockwise: Syncing {_app(view)} to {target}{_dry(view)}"
    blocks = [
        section(headline),
        _fields(view),
        context("Progress is posted in the thread of this message."),
    ]
    fallback = f"Syncing {clip(view.app, 150)} to {target}{_dry(view)}, started by " + user_ref(
        view.initiated_by
    )
    return message(fallback, blocks)


def outcome_line(outcome: Outcome) -> str:
    """One resource's result: icon, resource, status and (cut) message."""
    status = outcome.status or outcome.hook_phase or "Pending"
    if outcome.hook_phase in ("Running", "Failed", "Error"):
        status = outcome.hook_phase
    icon = ":x:" if failed(outcome) else _ICONS.get(status, ":small_blue_diamond:")
    text = f"{icon} {code(str(outcome.key))} {clip(status, 60)}"
    if outcome.message:
        text += f": {clip(outcome.message, RESULT_MESSAGE_MAX)}"
    return text


def _listing(lines: Sequence[str], *, max_blocks: int, budget: int, what: str) -> list[Block]:
    """``lines`` packed into sections, with a context line counting what did not fit."""
    blocks, shown = pack_lines(lines, max_blocks=max_blocks - 1, budget=budget)
    if shown < len(lines):
        blocks.append(context(f"… and {len(lines) - shown} more {what} not shown here."))
    return blocks


def sync_finished(view: SyncView, outcome: SyncOutcome) -> SlackMessage:
    """The channel message once the sync ended (or while it waits to be retried): Succeeded
    with a count, or Failed with each failing object and why."""
    target = code(short_revision(view.to_revision))
    took = ""
    if outcome.started_at is not None and outcome.finished_at is not None:
        took = duration_text((outcome.finished_at - outcome.started_at).total_seconds())
    count = len(outcome.results)
    plural = "s" if count != 1 else ""
    if outcome.phase == "Succeeded":
        details = f"{count} resource{plural}" + (f" in {took}" if took else "")
        headline = f":white_check_mark: {_app(view)} synced to {target}{_dry(view)} ({details})"
        fallback = f"{clip(view.app, 150)} synced to {target}{_dry(view)}: Succeeded"
    elif outcome.phase == "Running" and not outcome.retrying:
        headline = f":arrows_counterclockwise: Syncing {_app(view)} to {target}{_dry(view)}"
        fallback = f"Syncing {clip(view.app, 150)} to {target}{_dry(view)}"
    else:
        phase = clip(outcome.phase, 20) if outcome.phase != "Running" else "Failed"
        retry = ", retrying" if outcome.retrying else ""
        headline = f":x: Sync of {_app(view)} to {target}{_dry(view)} {bold(phase)}{retry}"
        fallback = f"Sync of {clip(view.app, 150)} to {target}: {phase}{retry}"
    blocks: list[Block] = [section(headline), _fields(view)]
    if outcome.message:
        blocks.append(section(f"> {clip(outcome.message, 1500)}"))
    failures = [r for r in outcome.results if failed(r)]
    if failures and outcome.phase != "Succeeded":
        blocks.append(section(f"*Failed ({len(failures)}):*"))
        blocks.extend(
            _listing(
                [outcome_line(r) for r in failures],
                max_blocks=MAX_BLOCKS - len(blocks) - 1,
                budget=BLOCKS_TEXT_BUDGET // 2,
                what="failed resources",
            )
        )
    by = f"Started by {user_ref(view.initiated_by)}" + (f" · took {took}" if took else "")
    blocks.append(context(by))
    return message(fallback, blocks)


def sync_wave_reply(view: SyncView, wave: WaveView) -> SlackMessage:
    """The thread reply for one (phase, wave) group: each resource's result."""
    failures = sum(1 for r in wave.results if failed(r))
    count = len(wave.results)
    summary = f"{count} resource{'s' if count != 1 else ''}"
    if failures:
        summary += f", {failures} failed"
    title = f"{bold(clip(wave.phase, 40))} · wave {wave.wave} — {summary}"
    blocks = [section(title)]
    blocks.extend(
        _listing(
            [outcome_line(r) for r in wave.results],
            max_blocks=MAX_BLOCKS - 1,
            budget=BLOCKS_TEXT_BUDGET - 500,
            what="resources",
        )
    )
    fallback = f"{clip(view.app, 150)}: {clip(wave.phase, 40)} wave {wave.wave}: {summary}"
    return message(fallback, blocks)
