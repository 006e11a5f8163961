"""Read-only answers: ``/gitops apps``, ``status [APP]``, ``history APP`` and ``help``.

Listings can be long (hundreds of apps), so lines are packed into as few sections as fit and
what does not fit is counted in a closing line rather than cut silently. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
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
    first_line,
    short_revision,
    slack_date,
    user_ref,
)
from bot.parse import usage_lines
from bot.settings import DEFAULT_COMMANDS, CommandNames
from bot.views import AppRow, StatusView
from reconciler.event_types import CommitSummary
from reconciler.history import HistoryEntry

SYNC_ICONS: Final = {
    "Synced": ":large_green_circle:",
    "OutOfSync": ":large_yellow_circle:",
}
HEALTH_ICONS: Final = {
    "Healthy": ":green_heart:",
    "Progressing": ":hourglass_flowing_sand:",
    "Degraded": ":broken_heart:",
    "Suspended": ":double_vertical_bar:",
    "Missing": ":ghost:",
}
_ATTENTION: Final = {"Degraded": 0, "Missing": 1, "Unknown": 2, "Progressing": 3, "Suspended": 4}


def _status_pair(sync: str, health: str) -> str:
    icons = SYNC_ICONS.get(sync, ":white_circle:") + HEALTH_ICONS.get(health, ":grey_question:")
    return f"{icons} {clip(sync, 30)} · {clip(health, 30)}"


def _policy(row: AppRow) -> str:
    if not row.auto_sync:
        return "manual sync"
    return "auto-sync + self-heal" if row.self_heal else "auto-sync"


def app_line(row: AppRow) -> str:
    """One app in a listing: status icons, name, project, revision and sync policy."""
    revision = code(short_revision(row.revision)) if row.revision else "_not deployed_"
    line = (
        f"{_status_pair(row.sync_status, row.health_status)} {bold(clip(row.name, 150))} "
        f"· {clip(row.project, 60)} · {revision} · {_policy(row)}"
    )
    if row.operation_phase:
        line += f" · last sync {clip(row.operation_phase, 20)}"
    return line


def _rows_message(title: str, rows: Sequence[AppRow], fallback: str) -> SlackMessage:
    blocks: list[Block] = [section(title)]
    lines = [app_line(row) for row in rows]
    listed, shown = pack_lines(lines, max_blocks=MAX_BLOCKS - 2, budget=BLOCKS_TEXT_BUDGET - 600)
    blocks.extend(listed)
    if shown < len(lines):
        blocks.append(context(f"… and {len(lines) - shown} more apps not shown here."))
    return message(fallback, blocks)


def apps_list(rows: Sequence[AppRow]) -> SlackMessage:
    """``/gitops apps``: every configured app, by name."""
    if not rows:
        text = "No apps are configured yet."
        return message(text, [section(text)])
    count = len(rows)
    title = f":card_index_dividers: {bold(f'{count} app' + ('s' if count != 1 else ''))}"
    ordered = sorted(rows, key=lambda r: r.name)
    return _rows_message(title, ordered, f"{count} apps")


def _counts(values: Sequence[str]) -> str:
    seen: dict[str, int] = {}
    for value in values:
        seen[value] = seen.get(value, 0) + 1
    return ", ".join(f"{n} {clip(name, 30)}" for name, n in sorted(seen.items()))


def status_overview(rows: Sequence[AppRow]) -> SlackMessage:
    """``/gitops status`` without an app: counts, then the apps that need attention first."""
    if not rows:
        text = "No apps are configured yet."
        return message(text, [section(text)])
    summary = (
        f"{bold(str(len(rows)) + ' apps')}: {_counts([r.sync_status for r in rows])}; "
        f"{_counts([r.health_status for r in rows])}"
    )

    def attention(row: AppRow) -> tuple[int, int, str]:
        return (_ATTENTION.get(row.health_status, 9), row.sync_status == "Synced", row.name)

    ordered = sorted(rows, key=attention)
    return _rows_message(f":bar_chart: {summary}", ordered, f"Status of {len(rows)} apps")


def app_status(view: StatusView) -> SlackMessage:
    """``/gitops status APP``: the app's status, what is not in order, and its conditions."""
    row = view.app
    name = bold(clip(row.name, 150))
    blocks: list[Block] = [
        section(f"{_status_pair(row.sync_status, row.health_status)} {name}"),
    ]
    revision = code(short_revision(row.revision)) if row.revision else "_not deployed_"
    fields = [
        f"*Revision*\n{revision}",
        f"*Project*\n{clip(row.project, 100)}",
        f"*Sync policy*\n{_policy(row)}",
    ]
    if view.commit is not None:
        title = clip(first_line(view.commit.message), 200) or "_no message_"
        author = f" — {clip(view.commit.author, 80)}" if view.commit.author else ""
        fields.append(f"*Commit*\n{title}{author}")
    if view.last_synced_at is not None:
        fields.append(f"*Last sync*\n{slack_date(view.last_synced_at)}")
    if row.operation_phase:
        fields.append(f"*Last operation*\n{clip(row.operation_phase, 40)}")
    blocks.append(fields_section(fields))
    if row.message:
        blocks.append(section(f"> {clip(row.message, 1000)}"))
    for condition in list(view.conditions)[:5]:
        blocks.append(section(f":warning: {clip(condition, 1000)}"))
    lines = []
    for resource in view.resources:
        line = (
            f"• {code(str(resource.key), 300)} "
            f"{clip(resource.sync_status or '-', 30)} · {clip(resource.health_status or '-', 30)}"
        )
        if resource.message:
            line += f": {clip(resource.message, 300)}"
        lines.append(line)
    if lines:
        blocks.append(section(f"*Resources not Synced and Healthy ({len(lines)}):*"))
        listed, shown = pack_lines(
            lines, max_blocks=MAX_BLOCKS - len(blocks) - 1, budget=BLOCKS_TEXT_BUDGET // 2
        )
        blocks.extend(listed)
        if shown < len(lines):
            blocks.append(context(f"… and {len(lines) - shown} more resources not shown here."))
    fallback = f"{clip(row.name, 150)}: {clip(row.sync_status, 30)}, {clip(row.health_status, 30)}"
    return message(fallback, blocks)


def _when(text: str) -> str:
    try:
        return slack_date(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return clip(text, 40) or "?"


def history_list(
    app: str,
    entries: Sequence[HistoryEntry],
    *,
    current_revision: str = "",
    commits: Mapping[str, CommitSummary] | None = None,
    rollback_command: str = DEFAULT_COMMANDS.rollback,
) -> SlackMessage:
    """``/gitops history APP``: deployments newest first, with IDs to roll back to.
    ``commits`` maps revisions to their commits, for titles."""
    name = clip(app, 150)
    if not entries:
        text = f"{bold(name)} has no deployment history yet."
        return message(text, [section(text)])
    commits = commits or {}
    lines = []
    for entry in sorted(entries, key=lambda e: e.id, reverse=True):
        who = "auto-sync" if entry.automated else user_ref(entry.initiated_by)
        line = (
            f"{bold('#' + str(entry.id))} {code(short_revision(entry.revision))} · "
            f"{_when(entry.deployed_at)} · by {who}"
        )
        commit = commits.get(entry.revision)
        if commit is not None and commit.message.strip():
            line += f" · {clip(first_line(commit.message), 120)}"
        if current_revision and entry.revision == current_revision:
            line += " · _current_"
        lines.append(line)
    blocks: list[Block] = [section(f":scroll: {bold('Deployment history of ' + name)}")]
    listed, shown = pack_lines(lines, max_blocks=MAX_BLOCKS - 3, budget=BLOCKS_TEXT_BUDGET // 2)
    blocks.extend(listed)
    if shown < len(lines):
        blocks.append(context(f"… and {len(lines) - shown} older deployments."))
    blocks.append(context(f"Roll back with {code(rollback_command + ' ' + app + ' ID', 300)}."))
    return message(f"Deployment history of {name}", blocks)


_SUMMARIES: Final = (
    (
        "sync",
        "Sync the app to Git (or to REV); --prune deletes what Git no longer has, "
        "--dry-run only shows what would happen.",
    ),
    ("diff", "Show what differs between Git and the cluster (Secret values masked)."),
    ("rollback", "Go back to an earlier deployment (see history); pauses auto-sync."),
    ("toggle_selfheal", "Switch self-heal (reverting changes made outside Git) on or off."),
    ("gitops", "Read-only: list apps, show status or deployment history, or this help."),
)


def help_message(names: CommandNames = DEFAULT_COMMANDS) -> SlackMessage:
    """``/gitops help``: every command with its usage line and what it does."""
    usages = usage_lines(names)
    lines = []
    for attribute, summary in _SUMMARIES:
        command = getattr(names, attribute)
        lines.append(f"{code(usages[command], 300)}\n{summary}")
    blocks: list[Block] = [
        section(f":compass: {bold('kajitori commands')}"),
        section("\n\n".join(lines)),
        context(
            "Reading needs the viewer role; sync and self-heal need deployer; rollback and "
            "approving migrations need admin."
        ),
    ]
    return message("kajitori commands: " + ", ".join(names.all()), blocks)
