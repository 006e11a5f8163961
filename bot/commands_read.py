"""The read commands: ``/diff APP`` and ``/gitops apps | status [APP] | history APP | help``.

``/diff`` compares now (``ControllerAPI.diff``, slow enough that it never runs on the ack
path) and posts the per-resource diffs in the app's channel: as blocks when they fit Slack's
limits, otherwise a summary message with the whole diff uploaded as a file in its thread
(``files_upload_v2``). The diffs come masked from ``reconciler.diff``: only the masked
``ResourceStatus.diff`` text is ever read here, never the objects themselves, so a Secret's
value cannot reach Slack.

``/gitops`` answers privately (ephemeral): listings are for the person asking, not the
channel. Without an app, the listing shows only the apps of projects the person may read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

from slack_sdk.errors import SlackClientError

from bot.authz import Action
from bot.blocks import (
    app_status,
    apps_list,
    denied_message,
    diff_file_content,
    diff_file_message,
    diff_file_name,
    diff_message,
    error_message,
    help_message,
    history_list,
    should_upload_as_file,
    status_overview,
)
from bot.mrkdwn import clip
from bot.parse import Command, DiffCommand, GitopsCommand
from bot.replies import cannot_post, tell_where
from bot.runtime import BotRuntime, Requester
from bot.status_view import app_row, current_revision, status_view
from bot.views import AppRow, diff_entries

log = logging.getLogger(__name__)

ERROR_CONDITION_SUFFIX = "Error"


def _error_conditions(comparison: Any) -> list[str]:
    found = []
    for condition in getattr(comparison, "conditions", None) or []:
        kind = str(getattr(condition, "type", ""))
        if kind.endswith(ERROR_CONDITION_SUFFIX):
            found.append(f"{kind}: {getattr(condition, 'message', '')}")
    return found


def run_diff(rt: BotRuntime, req: Requester, command: Command, project: str) -> None:
    cmd = cast(DiffCommand, command)
    comparison = rt.controller.diff(cmd.app)
    entries = diff_entries(getattr(comparison, "resources", None) or [])
    revision = str(getattr(comparison, "revision", "") or "")
    problems = _error_conditions(comparison)
    if problems and not entries:
        rt.tell(req, error_message(f"Could not compare {cmd.app}: " + "; ".join(problems)))
        return
    channel = rt.settings.slack.channels.channel_for(cmd.app, project, req.channel_id)
    if should_upload_as_file(entries):
        posted = rt.post(channel, diff_file_message(cmd.app, revision, entries))
        if posted is not None:
            try:
                rt.client.files_upload_v2(
                    channel=posted.channel_id,
                    thread_ts=posted.ts,
                    content=diff_file_content(cmd.app, revision, entries),
                    filename=diff_file_name(cmd.app, revision),
                    title=f"Diff of {cmd.app}",
                )
            except (SlackClientError, OSError) as error:
                log.warning("files_upload_v2 of the diff of %s failed: %r", cmd.app, error)
                rt.tell(
                    req,
                    error_message(
                        f"The diff of {cmd.app} is too long for a message and uploading it "
                        "as a file failed; try again, or check the files:write scope."
                    ),
                )
    else:
        posted = rt.post(channel, diff_message(cmd.app, revision, entries))
    if posted is None:
        cannot_post(rt, req, channel, f"The diff of {cmd.app} is ready")
        return
    tell_where(rt, req, posted.channel_id, f"The diff of {clip(cmd.app, 150)} is")
    if problems:
        rt.tell(req, error_message("The comparison also reported: " + "; ".join(problems)))


def _readable(rt: BotRuntime, req: Requester, rows: Sequence[AppRow]) -> list[AppRow] | None:
    """The rows the requester may read; None (after telling them why) when there are apps
    but none they may read."""
    allowed: list[AppRow] = []
    decisions = {}
    for row in rows:
        if row.project not in decisions:
            decisions[row.project] = rt.decide(req.user_id, row.project, Action.READ)
        if decisions[row.project].allowed:
            allowed.append(row)
    if rows and not allowed:
        first = decisions[rows[0].project]
        rt.audit(req.user_id, Action.READ.value, "", allowed=False, detail=first.reason)
        rt.tell(req, denied_message(first))
        return None
    return allowed


def run_gitops(rt: BotRuntime, req: Requester, command: Command, project: str) -> None:
    cmd = cast(GitopsCommand, command)
    names = rt.commands
    if cmd.sub == "help":
        rt.tell(req, help_message(names))
        return
    if cmd.app is None:  # apps, or status of every app
        rows = _readable(rt, req, [app_row(s) for s in rt.controller.apps()])
        if rows is not None:
            rt.tell(req, apps_list(rows) if cmd.sub == "apps" else status_overview(rows))
        return
    document = rt.controller.app_status(cmd.app)
    if cmd.sub == "history":
        entries = rt.controller.history(cmd.app)
        answer = history_list(
            cmd.app,
            entries,
            current_revision=current_revision(document),
            rollback_command=names.rollback,
        )
    else:
        view = status_view(
            document,
            name=cmd.app,
            project=project,
            auto_sync=rt.controller.auto_sync_enabled(cmd.app),
            self_heal=rt.controller.self_heal_enabled(cmd.app),
        )
        answer = app_status(view)
    rt.tell(req, answer)
