"""The rollback preview's buttons: confirm (roll back) and cancel.

Authorization is checked again on every click against the person who CLICKED, not the one who
asked for the preview: confirming needs the admin role in the app's project; cancelling is
open to the requester and to admins. A refused click gets an ephemeral denial and an audit
record, and the preview stays as it was.

A click is acted on once. The first accepted click claims the message (a double click, or two
admins clicking together, finds the claim and is told who came first); the message is then
updated in place to say who confirmed or cancelled, and its buttons go. A click on a preview
that no longer has its buttons (handled before a restart) is answered the same way. Before
rolling back, the history entry is checked to still name the revision the preview showed.

A confirmed rollback's message is remembered per app (``bot.rollback_threads``), and its link
goes to the controller for the revert pull request: when the revert is merged and deployed,
``bot.rollback_completion`` says so in that message's thread.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.authz import Action
from bot.blocks import (
    ROLLBACK_CANCEL_ACTION,
    ROLLBACK_CONFIRM_ACTION,
    SlackMessage,
    denied_message,
    error_message,
    parse_rollback_value,
)
from bot.blocks_kit import MAX_BLOCKS, Block, context, message, section
from bot.mrkdwn import clip, code, short_revision, user_ref
from bot.rollback_git_note import rollback_git_note
from bot.rollback_threads import RollbackThread, RollbackThreads, thread_link
from bot.runtime import BotRuntime, Posted, Requester
from bot.sync_reporter import SyncReporter
from reconciler.controller_api import UnknownAppError
from reconciler.errors import KajitoriError

_REQUESTED_BY = re.compile(r"Requested by <@([UW][A-Z0-9]+)>")


def _action(body: Mapping[str, Any]) -> Mapping[str, Any]:
    actions = body.get("actions") or [{}]
    first = actions[0]
    return first if isinstance(first, Mapping) else {}


def _original(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    found = body.get("message")
    return found if isinstance(found, Mapping) else None


def _where(body: Mapping[str, Any]) -> tuple[str, str]:
    container = body.get("container") or {}
    channel = body.get("channel") or {}
    return (
        str(container.get("channel_id") or channel.get("id") or ""),
        str(container.get("message_ts") or ""),
    )


def requested_by(original: Mapping[str, Any] | None) -> str:
    """The user who asked for the preview, from its "Requested by" line ("" if absent)."""
    for block in (original or {}).get("blocks") or []:
        for element in block.get("elements") or []:
            found = _REQUESTED_BY.search(str(element.get("text", "")))
            if found:
                return found.group(1)
    return ""


def has_buttons(original: Mapping[str, Any]) -> bool:
    """Whether the preview still shows its rollback buttons."""
    ours = {ROLLBACK_CONFIRM_ACTION, ROLLBACK_CANCEL_ACTION}
    for block in original.get("blocks") or []:
        elements = block.get("elements") or [] if block.get("type") == "actions" else []
        if any(e.get("action_id") in ours for e in elements):
            return True
    return False


def closed_preview(original: Mapping[str, Any] | None, note: str) -> SlackMessage:
    """The preview without its buttons and with ``note`` (escaped mrkdwn) at the end."""
    kept: list[Block] = [
        dict(b) for b in (original or {}).get("blocks") or [] if b.get("type") != "actions"
    ]
    kept = kept[: MAX_BLOCKS - 1]
    text = str((original or {}).get("text") or "Rollback")
    return message(text, [*kept, context(note)] if kept else [section(note)])


def _close(rt: BotRuntime, req: Requester, body: Mapping[str, Any], note: str) -> None:
    original = _original(body)
    closed = closed_preview(original, note)
    channel, ts = _where(body)
    if original is not None and channel and ts and rt.update(Posted(channel, ts), closed):
        return
    rt.respond(req.response_url, closed, replace_original=True)


def _already(rt: BotRuntime, req: Requester, by: str) -> None:
    who = user_ref(by) if by else "someone"
    text = f":information_source: This rollback was already handled by {who}."
    rt.tell(req, message(text, [section(text)]))


def handle_rollback_confirm(
    runtime: BotRuntime, body: Mapping[str, Any], *, threads: RollbackThreads | None = None
) -> None:
    """A click on "Roll back" (its confirm dialog accepted); ``threads`` remembers where it
    was confirmed (not kept when None)."""
    req = Requester.of_action(body)
    try:
        _confirm(runtime, req, body, threads)
    except Exception:
        runtime.internal_error(req, "the rollback confirmation")


def handle_rollback_cancel(runtime: BotRuntime, body: Mapping[str, Any]) -> None:
    """A click on "Cancel" under a rollback preview."""
    req = Requester.of_action(body)
    try:
        _cancel(runtime, req, body)
    except Exception:
        runtime.internal_error(req, "the rollback cancellation")


def _deny_unless_allowed(rt: BotRuntime, req: Requester, app: str, project: str, what: str) -> bool:
    """True when the clicking user may roll back ``app``; else tell, audit, False."""
    decision = rt.decide(req.user_id, project, Action.ROLLBACK)
    if decision.allowed:
        return True
    rt.audit(req.user_id, what, app, allowed=False, detail=decision.reason)
    rt.tell(req, denied_message(decision, app=app))
    return False


def _confirm(
    rt: BotRuntime, req: Requester, body: Mapping[str, Any], threads: RollbackThreads | None
) -> None:
    try:
        choice = parse_rollback_value(str(_action(body).get("value", "")))
    except ValueError:
        rt.tell(req, error_message("This button is not a rollback I know; run /rollback again."))
        return
    try:
        project = rt.project_of(choice.app)
    except UnknownAppError:
        rt.tell(req, error_message(f"The app {choice.app} is no longer configured."))
        return
    if not _deny_unless_allowed(rt, req, choice.app, project, "rollback-confirm"):
        return
    original = _original(body)
    channel, ts = _where(body)
    if original is not None and not has_buttons(original):
        _already(rt, req, "")
        return
    first = rt.claims.claim(channel, ts, req.user_id)
    if first is not None:
        _already(rt, req, first)
        return
    entry = next((e for e in rt.controller.history(choice.app) if e.id == choice.history_id), None)
    if entry is None or entry.revision != choice.revision:
        problem = (
            f"deployment #{choice.history_id} no longer names revision "
            f"{short_revision(choice.revision)}; run the rollback command again"
        )
        _close(rt, req, body, f":warning: Not rolled back: {clip(problem, 300)}.")
        rt.tell(req, error_message(f"Not rolled back: {problem}."))
        return
    who = user_ref(req.user_id)
    target = code(short_revision(choice.revision))
    _close(rt, req, body, f":white_check_mark: Confirmed by {who}: rolling back to {target}.")
    reporter = SyncReporter(
        rt,
        app=choice.app,
        project=project,
        channel=rt.settings.slack.channels.channel_for(choice.app, project, channel),
        initiated_by=req.user_id,
    )
    try:
        ticket = rt.controller.rollback(
            choice.app,
            actor=req.user_id,
            history_id=choice.history_id,
            on_progress=reporter.on_progress,
            thread_url=thread_link(rt.client, channel, ts),
        )
    except KajitoriError as error:
        note = f":x: Confirmed by {who}, but the rollback could not start: {clip(str(error), 500)}"
        _close(rt, req, body, note)
        rt.audit(req.user_id, "rollback", choice.app, allowed=True, detail=f"refused: {error}")
        rt.tell(req, error_message(f"The rollback could not start: {error}"))
        return
    detail = f"operation {ticket.operation_id} to #{choice.history_id} {ticket.revision}"
    rt.audit(req.user_id, "rollback", choice.app, allowed=True, detail=detail)
    if threads is not None and channel and ts:
        threads.put(RollbackThread(choice.app, channel, ts, req.user_id))
    reporter.started(ticket)
    git_note = rollback_git_note(rt.controller, choice.app)
    if git_note:
        confirmed = f":white_check_mark: Confirmed by {who}: rolling back to {target}."
        _close(rt, req, body, f"{confirmed}\n{git_note}")


def _cancel(rt: BotRuntime, req: Requester, body: Mapping[str, Any]) -> None:
    app = str(_action(body).get("value", ""))
    original = _original(body)
    requester = requested_by(original)
    if req.user_id != requester:
        try:
            project = rt.project_of(app)
        except UnknownAppError:
            project = ""
        if not project or not _deny_unless_allowed(rt, req, app, project, "rollback-cancel"):
            if not project:
                rt.tell(req, error_message(f"The app {app} is no longer configured."))
            return
    channel, ts = _where(body)
    if original is not None and not has_buttons(original):
        _already(rt, req, "")
        return
    first = rt.claims.claim(channel, ts, req.user_id)
    if first is not None:
        _already(rt, req, first)
        return
    _close(rt, req, body, f":no_entry_sign: Cancelled by {user_ref(req.user_id)}.")
    rt.audit(req.user_id, "rollback-cancel", app, allowed=True, detail="cancelled")
