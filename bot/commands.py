"""Slash commands: parse → authorize → controller → respond, on the bot's worker pool.

:func:`handle_command` takes the slash command's form fields (as Slack posts them) after Bolt
acknowledged the request. Every failure a person can act on is answered privately (the
command's response_url) in words meant for people: a usage error with the usage line, an
unknown app with the closest names, a denial with the reason, a refusal from the controller.
Denials, refusals and accepted write commands go to the controller's audit log. Anything
unexpected is logged with a fresh id and the person sees only "internal error, see logs (id
…)" — never a stack trace.

Messages about an app go to its channel (``ChannelRoutes.channel_for``: the app's, else its
project's, else the channel the command came from); when that is another channel the person
is told where to look. ``/sync`` and ``/toggle-selfheal`` live here; ``/diff`` and ``/gitops``
in :mod:`bot.commands_read`; ``/rollback`` in :mod:`bot.commands_rollback`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, cast

from bot.authz import Action, action_of
from bot.blocks import (
    denied_message,
    error_message,
    selfheal_toggled,
    usage_message,
)
from bot.blocks_kit import message, section
from bot.commands_read import run_diff, run_gitops
from bot.commands_rollback import run_rollback
from bot.mrkdwn import bold, clip, code
from bot.parse import (
    Command,
    DiffCommand,
    GitopsCommand,
    HelpRequested,
    RollbackCommand,
    SyncCommand,
    ToggleSelfHealCommand,
    UsageError,
    closest,
    parse_command,
    usage_lines,
)
from bot.parse import UnknownAppError as UnknownAppUsage
from bot.replies import cannot_post, tell_where
from bot.runtime import BotRuntime, Requester
from bot.sync_reporter import SyncReporter
from reconciler.controller_api import UnknownAppError
from reconciler.errors import KajitoriError

log = logging.getLogger(__name__)


def handle_command(runtime: BotRuntime, payload: Mapping[str, Any]) -> None:
    """Run one slash command (``payload``: Slack's form fields) and answer it."""
    requester = Requester.of_command(payload)
    name = str(payload.get("command", ""))
    try:
        _run(runtime, requester, name, str(payload.get("text", "")))
    except Exception:
        runtime.internal_error(requester, f"the {name} command")


def _run(rt: BotRuntime, req: Requester, name: str, text: str) -> None:
    try:
        command = parse_command(name, text, rt.controller.app_names(), rt.commands)
    except HelpRequested as error:
        rt.tell(req, usage_message(error))
        return
    except UsageError as error:
        typed = error.app if isinstance(error, UnknownAppUsage) else ""
        rt.audit(req.user_id, name, typed, allowed=False, detail=f"usage error: {error.problem}")
        rt.tell(req, usage_message(error))
        return
    action = action_of(command)
    app: str | None = getattr(command, "app", None)
    try:
        project = ""
        if app is not None:
            project = rt.project_of(app)
            decision = rt.decide(req.user_id, project, action)
            if not decision.allowed:
                rt.audit(req.user_id, action.value, app, allowed=False, detail=decision.reason)
                rt.tell(req, denied_message(decision, app=app))
                return
        _HANDLERS[type(command)](rt, req, command, project)
    except UnknownAppError as error:  # configuration reloaded since parsing
        usage = usage_lines(rt.commands)[name]
        rt.tell(
            req, usage_message(UnknownAppUsage(error.app, closest(error.app, error.known), usage))
        )
    except KajitoriError as error:  # OperationRefused, RollbackError, ...
        rt.audit(req.user_id, action.value, app or "", allowed=True, detail=f"refused: {error}")
        rt.tell(req, error_message(str(error)))


def _run_sync(rt: BotRuntime, req: Requester, command: Command, project: str) -> None:
    cmd = cast(SyncCommand, command)
    channel = rt.settings.slack.channels.channel_for(cmd.app, project, req.channel_id)
    reporter = SyncReporter(
        rt,
        app=cmd.app,
        project=project,
        channel=channel,
        initiated_by=req.user_id,
        prune=cmd.prune,
        dry_run=cmd.dry_run,
    )
    ticket = rt.controller.sync(
        cmd.app,
        actor=req.user_id,
        revision=cmd.revision,
        prune=cmd.prune,
        dry_run=cmd.dry_run,
        on_progress=reporter.on_progress,
    )
    detail = f"operation {ticket.operation_id} to {ticket.revision}"
    rt.audit(req.user_id, Action.SYNC.value, cmd.app, allowed=True, detail=detail)
    reporter.started(ticket)
    posted = reporter.posted
    if posted is None:
        cannot_post(rt, req, channel, f"The sync of {cmd.app} is running")
    else:
        tell_where(rt, req, posted.channel_id, f"Syncing {bold(clip(cmd.app, 150))}: progress")
    if cmd.revision is None and not cmd.dry_run:
        _resume_auto_sync(rt, req, cmd.app)


def _resume_auto_sync(rt: BotRuntime, req: Requester, app: str) -> None:
    """A manual sync to Git's revision resumes an app's automated sync paused by a rollback,
    as the rollback preview promises."""
    if rt.controller.application(app).spec.sync_policy.automated is None:
        return
    if rt.controller.auto_sync_enabled(app):
        return
    rt.controller.set_auto_sync(app, True, actor=req.user_id)
    rt.audit(req.user_id, "auto-sync", app, allowed=True, detail="resumed by a sync to Git")
    text = (
        f":arrow_forward: Auto-sync of {bold(clip(app, 150))} was paused; syncing Git's "
        "revision resumed it."
    )
    rt.tell(req, message(text, [section(text)]))


def _run_toggle(rt: BotRuntime, req: Requester, command: Command, project: str) -> None:
    cmd = cast(ToggleSelfHealCommand, command)
    enabled = not rt.controller.self_heal_enabled(cmd.app)
    toggle = rt.controller.set_self_heal(cmd.app, enabled, actor=req.user_id)
    state = "on" if toggle.enabled else "off"
    rt.audit(req.user_id, Action.TOGGLE_SELFHEAL.value, cmd.app, allowed=True, detail=state)
    announcement = selfheal_toggled(
        cmd.app,
        toggle.enabled,
        req.user_id,
        project=project,
        auto_sync=rt.controller.auto_sync_enabled(cmd.app),
    )
    channel = rt.settings.slack.channels.channel_for(cmd.app, project, req.channel_id)
    posted = rt.post(channel, announcement)
    if posted is None:
        cannot_post(rt, req, channel, f"Self-heal of {cmd.app} is now {state}")
    else:
        tell_where(rt, req, posted.channel_id, f"Self-heal of {code(cmd.app, 150)} is {state}")


_HANDLERS: dict[type, Callable[[BotRuntime, Requester, Any, str], None]] = {
    SyncCommand: _run_sync,
    DiffCommand: run_diff,
    RollbackCommand: run_rollback,
    ToggleSelfHealCommand: _run_toggle,
    GitopsCommand: run_gitops,
}
