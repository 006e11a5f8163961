"""The rollback preview (``/rollback``) and the self-heal toggle announcement.

A rollback deploys an older revision against what Git says, so it is shown first: the target
revision, its author and message, what will change, and, when the app syncs automatically, that
auto-sync will be paused (it would otherwise sync Git's revision straight back, which is why
Argo CD refuses a rollback while automated sync is on) and how to resume it. Only the
danger-styled button, behind a confirm dialog, starts it; its ``value`` carries the app, the
history ID and the full revision, so the click handler rolls back to exactly what was shown.
Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from bot.blocks_kit import (
    Block,
    SlackMessage,
    actions,
    button,
    confirm_dialog,
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
from bot.views import CHANGE_LABELS, Changes, RollbackView

ROLLBACK_CONFIRM_ACTION: Final = "kajitori_rollback_confirm"
ROLLBACK_CANCEL_ACTION: Final = "kajitori_rollback_cancel"
CHANGES_LISTED: Final = 15


@dataclass(frozen=True)
class RollbackChoice:
    """What a confirm button's value says: roll ``app`` back to history entry
    ``history_id`` at ``revision``."""

    app: str
    history_id: int
    revision: str


def rollback_value(view: RollbackView) -> str:
    """The confirm button's value (JSON, well under Slack's 2000 characters)."""
    return json.dumps(
        {"app": view.app, "historyId": view.history_id, "revision": view.revision},
        separators=(",", ":"),
    )


def parse_rollback_value(value: str) -> RollbackChoice:
    """The choice a confirm button carries; ValueError when it is not one of ours."""
    try:
        data: Any = json.loads(value)
    except ValueError:
        raise ValueError("rollback button value is not JSON") from None
    if not isinstance(data, Mapping):
        raise ValueError("rollback button value is not an object")
    app, history_id, revision = data.get("app"), data.get("historyId"), data.get("revision")
    if not isinstance(app, str) or not app:
        raise ValueError("rollback button value has no app")
    if not isinstance(history_id, int) or isinstance(history_id, bool) or history_id < 0:
        raise ValueError("rollback button value has no valid historyId")
    if not isinstance(revision, str) or not revision:
        raise ValueError("rollback button value has no revision")
    return RollbackChoice(app, history_id, revision)


def _commit_quote(view: RollbackView) -> str:
    if view.commit is None or not view.commit.message.strip():
        return ""
    lines = view.commit.message.strip().splitlines()[:8]
    return "\n".join(f"> {clip(line, 300)}" if line.strip() else ">" for line in lines)


def _auto_sync_note(view: RollbackView, sync_command: str) -> str:
    if not view.auto_sync:
        return (
            ":information_source: Auto-sync is off for this app, so it stays at the rolled-back "
            "revision until someone syncs it."
        )
    hint = view.resume_hint or (
        f"To resume, run {code(sync_command + ' ' + view.app, 300)}: syncing Git's revision "
        "turns auto-sync back on."
    )
    return (
        f":warning: {bold('Auto-sync will be paused')} for {bold(clip(view.app, 150))}: "
        f"otherwise it would sync Git's revision straight back. {hint}"
    )


def rollback_preview(view: RollbackView, *, sync_command: str = "/sync") -> SlackMessage:
    """The preview of a rollback with its danger-styled confirm button."""
    target = code(short_revision(view.revision))
    app = clip(view.app, 150)
    blocks: list[Block] = [
        section(f":rewind: {bold('Roll back ' + app)} to deployment #{view.history_id} ({target})")
    ]
    current = code(short_revision(view.current_revision)) if view.current_revision else "_unknown_"
    fields = [f"*Target revision*\n{target}", f"*Deployed now*\n{current}"]
    if view.commit is not None and view.commit.author:
        fields.append(f"*Author*\n{clip(view.commit.author, 200)}")
    if view.deployed_at is not None:
        fields.append(f"*First deployed*\n{slack_date(view.deployed_at)}")
    fields.append(f"*Project*\n{clip(view.project, 100)}")
    blocks.append(fields_section(fields))
    quote = _commit_quote(view)
    if quote:
        blocks.append(section(f"*Commit message*\n{quote}"))
    changes = Changes.of(view.changes)
    blocks.append(section(f"*What will change:* {changes.summary()}"))
    lines = [f"• {code(str(e.key), 300)} — {CHANGE_LABELS[e.change]}" for e in view.changes]
    listed, shown = pack_lines(lines[:CHANGES_LISTED], max_blocks=2, budget=3000)
    blocks.extend(listed)
    if shown < len(lines):
        blocks.append(context(f"… and {len(lines) - shown} more; see the full diff with /diff."))
    blocks.append(section(_auto_sync_note(view, sync_command)))
    paused = " Auto-sync will be paused." if view.auto_sync else ""
    dialog = confirm_dialog(
        title=f"Roll back {view.app}?",
        text=(
            f"{view.app} goes back to {short_revision(view.revision)} (deployment "
            f"#{view.history_id}), away from what Git says.{paused}"
        ),
        confirm="Roll back",
        deny="Cancel",
        style="danger",
    )
    blocks.append(
        actions(
            [
                button(
                    "Roll back",
                    ROLLBACK_CONFIRM_ACTION,
                    rollback_value(view),
                    style="danger",
                    confirm=dialog,
                ),
                button("Cancel", ROLLBACK_CANCEL_ACTION, view.app),
            ]
        )
    )
    if view.requested_by:
        blocks.append(context(f"Requested by {user_ref(view.requested_by)}"))
    title = first_line(view.commit.message) if view.commit else ""
    fallback = f"Roll back {app} to {target}" + (f": {clip(title, 150)}" if title else "") + "?"
    return message(fallback, blocks)


def selfheal_toggled(
    app: str,
    enabled: bool,
    user: str,
    *,
    project: str = "",
    auto_sync: bool | None = None,
) -> SlackMessage:
    """The channel announcement that ``user`` switched self-heal of ``app`` on or off."""
    state = "on" if enabled else "off"
    icon = ":shield:" if enabled else ":no_entry_sign:"
    name = bold(clip(app, 150))
    what = (
        "changes made in the cluster outside Git are reverted automatically."
        if enabled
        else "changes made in the cluster outside Git are reported but left as they are."
    )
    text = f"{icon} {user_ref(user)} turned self-heal {bold(state)} for {name}: {what}"
    blocks: list[Block] = [section(text)]
    if enabled and auto_sync is False:
        blocks.append(
            context(
                ":information_source: Auto-sync is off for this app, so self-heal takes effect "
                "only once auto-sync is on."
            )
        )
    if project:
        blocks.append(context(f"Project {clip(project, 100)}"))
    fallback = f"{user_ref(user)} turned self-heal {state} for {clip(app, 150)}"
    return message(fallback, blocks)
