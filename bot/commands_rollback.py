"""``/rollback APP [HISTORY_ID]``: a preview, in the app's channel, behind a confirm button.

The preview names the deployment it goes back to (history ID, revision, when it was deployed),
what is deployed now, and — when the app syncs automatically — that the rollback pauses
auto-sync and how to resume it. The rollback itself starts only when an admin clicks the
danger button and confirms the dialog (:mod:`bot.actions`).

``ControllerAPI`` has no way to describe a commit or to compare the cluster with an older
revision. A controller that offers them — ``commit(app, revision) -> CommitSummary | None``
and ``diff_at(app, revision) -> Comparison`` — gets its answers shown (author, message, what
will change); otherwise the preview says plainly that the change cannot be previewed rather
than claiming there is none.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, cast

from bot.blocks import SlackMessage, rollback_preview
from bot.blocks_kit import section
from bot.mrkdwn import code, short_revision
from bot.parse import Command, RollbackCommand
from bot.replies import cannot_post, tell_where
from bot.runtime import BotRuntime, Requester
from bot.status_view import current_revision
from bot.views import DiffEntry, RollbackView, diff_entries
from reconciler.event_types import CommitSummary
from reconciler.history import rollback_target

log = logging.getLogger(__name__)

CHANGES_HEADING = "*What will change:*"


def _deployed_at(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _optional(rt: BotRuntime, method: str, app: str, revision: str) -> Any:
    """Call an optional controller extension; None when absent or failing."""
    call = getattr(rt.controller, method, None)
    if not callable(call):
        return None
    try:
        return call(app, revision)
    except Exception:
        log.warning("controller.%s(%s) failed; previewing without it", method, app, exc_info=True)
        return None


def _commit(rt: BotRuntime, app: str, revision: str) -> CommitSummary | None:
    found = _optional(rt, "commit", app, revision)
    return found if isinstance(found, CommitSummary) else None


def _changes(rt: BotRuntime, app: str, revision: str) -> list[DiffEntry] | None:
    comparison = _optional(rt, "diff_at", app, revision)
    if comparison is None:
        return None
    return diff_entries(getattr(comparison, "resources", None) or [])


def _unknown_changes(preview: SlackMessage, revision: str) -> SlackMessage:
    """The preview with its "what will change" line saying the change is not known."""
    text = (
        f"{CHANGES_HEADING} the app's resources go back to how revision "
        f"{code(short_revision(revision))} defines them; this controller cannot preview the "
        "difference."
    )
    blocks = [
        section(text)
        if block.get("type") == "section"
        and str((block.get("text") or {}).get("text", "")).startswith(CHANGES_HEADING)
        else block
        for block in preview["blocks"]
    ]
    return {"text": preview["text"], "blocks": blocks}


def run_rollback(rt: BotRuntime, req: Requester, command: Command, project: str) -> None:
    cmd = cast(RollbackCommand, command)
    history = rt.controller.history(cmd.app)
    target = rollback_target(history, cmd.history_id)  # RollbackError names the problem
    document = rt.controller.app_status(cmd.app)
    current = current_revision(document) or (history[-1].revision if history else "")
    changes = _changes(rt, cmd.app, target.revision)
    view = RollbackView(
        app=cmd.app,
        history_id=target.id,
        revision=target.revision,
        current_revision=current,
        project=project,
        commit=_commit(rt, cmd.app, target.revision),
        deployed_at=_deployed_at(target.deployed_at),
        changes=changes or (),
        auto_sync=rt.controller.auto_sync_enabled(cmd.app),
        requested_by=req.user_id,
    )
    preview = rollback_preview(view, sync_command=rt.commands.sync)
    if changes is None:
        preview = _unknown_changes(preview, target.revision)
    channel = rt.settings.slack.channels.channel_for(cmd.app, project, req.channel_id)
    posted = rt.post(channel, preview)
    if posted is None:
        cannot_post(rt, req, channel, f"The rollback preview of {cmd.app} is ready")
        return
    tell_where(rt, req, posted.channel_id, "The rollback preview is")
