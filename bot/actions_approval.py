"""The approval message's buttons: Approve and Reject (each behind a confirm dialog).

The CLICKING user is authorized on every click (approving and rejecting need the admin role in
the app's project); a refused click gets an ephemeral denial and an audit record, and nothing
is decided. An accepted click is decided by the controller (``decide_approval``) on the bot's
worker pool, and the message is updated to say who decided and when, without its buttons.

Idempotent: the first click on an approval claims it, so a double click or a second approver
is told who decided already and the controller is asked once; the controller's own decision
is first-wins too (a decision made from the CLI, or before a restart, is reported the same
way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.approvals import approvals_in, close_message, close_unfound
from bot.approvals_store import ApprovalMessage, ApprovalMessages
from bot.authz import Action
from bot.blocks import SlackMessage, denied_message, error_message
from bot.blocks_kit import message, section
from bot.mrkdwn import user_ref
from bot.runtime import BotRuntime, Requester
from reconciler.controller_api import UnknownAppError
from reconciler.errors import KajitoriError
from reconciler.sync_approval import APPROVED, REJECTED, TIMED_OUT, Approval

CLAIM_CHANNEL = "approval"


def _value(body: Mapping[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    first = actions[0] if isinstance(actions[0], Mapping) else {}
    return str(first.get("value", ""))


def _info(text: str) -> SlackMessage:
    return message(text, [section(text)])


def _outcome(approval: Approval) -> str:
    who = user_ref(approval.decided_by) if approval.decided_by else "someone"
    if approval.state == APPROVED:
        return f"already approved by {who}"
    if approval.state == REJECTED:
        return f"already rejected by {who}"
    if approval.state == TIMED_OUT:
        return "no longer open: it timed out"
    return f"no longer open: {approval.message or 'the sync ended'}"


def handle_approval_approve(
    runtime: BotRuntime, body: Mapping[str, Any], *, messages: ApprovalMessages
) -> None:
    """A click on "Approve" (its confirm dialog accepted)."""
    _handle(runtime, messages, body, approved=True)


def handle_approval_reject(
    runtime: BotRuntime, body: Mapping[str, Any], *, messages: ApprovalMessages
) -> None:
    """A click on "Reject" (its confirm dialog accepted)."""
    _handle(runtime, messages, body, approved=False)


def _handle(
    rt: BotRuntime, messages: ApprovalMessages, body: Mapping[str, Any], *, approved: bool
) -> None:
    req = Requester.of_action(body)
    try:
        _decide(rt, messages, req, _value(body), approved)
    except Exception:
        rt.internal_error(req, "the approval decision")


def _app_of(rt: BotRuntime, record: ApprovalMessage | None, approval_id: str) -> str:
    """The app the approval belongs to: from the posted message's record, else the app whose
    operation has it ("" when none does)."""
    if record is not None:
        return record.view.app
    for name in rt.controller.app_names():
        if approval_id in approvals_in(rt.controller.app_status(name)):
            return name
    return ""


def _decide(
    rt: BotRuntime, messages: ApprovalMessages, req: Requester, approval_id: str, approved: bool
) -> None:
    record = messages.get(approval_id) if approval_id else None
    app = _app_of(rt, record, approval_id) if approval_id else ""
    if not app:
        rt.tell(req, error_message("This approval is not one I know (any more)."))
        return
    try:
        project = rt.project_of(app)
    except UnknownAppError:
        rt.tell(req, error_message(f"The app {app} is no longer configured."))
        return
    verb = "approve" if approved else "reject"
    decision = rt.decide(req.user_id, project, Action.APPROVE if approved else Action.REJECT)
    if not decision.allowed:
        rt.audit(req.user_id, verb, app, allowed=False, detail=decision.reason)
        rt.tell(req, denied_message(decision, app=app))
        return
    first = rt.claims.claim(CLAIM_CHANNEL, approval_id, req.user_id)
    if first is not None:
        rt.tell(
            req,
            _info(f":information_source: This approval was already decided by {user_ref(first)}."),
        )
        return
    try:
        result = rt.controller.decide_approval(app, approval_id, approved, actor=req.user_id)
    except KajitoriError as error:
        _close_after_end(rt, messages, record, app, approval_id)
        rt.audit(req.user_id, verb, app, allowed=True, detail=f"refused: {error}")
        rt.tell(req, error_message(f"Nothing was decided: {error}"))
        return
    mine = result.decided_by == req.user_id and result.state == (APPROVED if approved else REJECTED)
    if record is not None:
        close_message(rt, messages, record, result)
    if not mine:
        rt.tell(req, _info(f":information_source: This migration was {_outcome(result)}."))


def _close_after_end(
    rt: BotRuntime,
    messages: ApprovalMessages,
    record: ApprovalMessage | None,
    app: str,
    approval_id: str,
) -> None:
    """The operation has ended (or no longer has the approval): show why in the message."""
    if record is None:
        return
    approval = approvals_in(rt.controller.app_status(app)).get(approval_id)
    if approval is not None and not approval.pending:
        close_message(rt, messages, record, approval)
    elif approval is None:
        close_unfound(rt, messages, record)
