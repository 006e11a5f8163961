"""The approval request in Slack (issue 8): when the controller publishes
``ApprovalRequested``, the app's channel gets ONE message with what is to be decided and
Approve / Reject buttons (``bot.blocks_approval.approval_request``); once the approval is
decided, expires or is superseded, the message is updated to its decided form and the
buttons go.

:class:`ApprovalMessenger` is an event-bus subscriber (``bot.extension`` attaches it). It
posts on ``ApprovalRequested`` (once per approval ID: the resumed operation of a restarted
process announces its pending approval again, and finds the message already posted) and, on
the end of an operation (``SyncSucceeded`` / ``SyncFailed``), closes the app's messages whose
approval is no longer pending: a timeout ("Expired"), a newer sync ("superseded by a newer
sync"), a decision made elsewhere. The click handlers (``bot.actions_approval``) close the
message they were clicked on at once.

The message's channel and ts and what it showed are kept in :class:`~bot.approvals_store.
ApprovalMessages` (the controller's runtime store in ``kajitori run``), so a restarted
process still updates the message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.approvals_store import ApprovalMessage, ApprovalMessages
from bot.blocks_approval import approval_decided, approval_request
from bot.runtime import BotRuntime, Posted
from bot.views import ApprovalDecision, ApprovalView, DiffEntry, HookView, diff_entries
from reconciler.event_types import AUTOMATED, ApprovalRequested, Event, SyncFailed, SyncSucceeded
from reconciler.sync_approval import APPROVED, PENDING, REJECTED, TIMED_OUT, Approval

log = logging.getLogger("bot")

ENDED_WITHOUT_DECISION = "the sync ended before a decision"


def decision_of(approval: Approval) -> ApprovalDecision:
    """What the decided message says about ``approval`` (not Pending)."""
    at = datetime.fromtimestamp(approval.decided_at or approval.requested_at, UTC)
    if approval.state == APPROVED:
        return ApprovalDecision(True, at, approval.decided_by)
    if approval.state == REJECTED:
        return ApprovalDecision(False, at, approval.decided_by)
    if approval.state == TIMED_OUT:
        return ApprovalDecision(None, at)
    return ApprovalDecision(None, at, note=approval.message or ENDED_WITHOUT_DECISION)


def approvals_in(status: Mapping[str, Any]) -> dict[str, Approval]:
    """The approvals of the app's latest operation (``app_status`` shape), by ID."""
    operation = ((status.get("status") or {}).get("operationState")) or {}
    raw = [*(operation.get("approvalHistory") or []), operation.get("approval")]
    found: dict[str, Approval] = {}
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        try:
            approval = Approval.from_dict(item)
        except (ValueError, LookupError, TypeError):
            continue
        found[approval.id] = approval
    return found


def close_message(
    rt: BotRuntime, messages: ApprovalMessages, record: ApprovalMessage, approval: Approval
) -> bool:
    """Show ``approval``'s outcome in its message (buttons gone), once; True if this call
    did it."""
    if approval.state == PENDING or not messages.close(record.view.approval_id):
        return False
    decided = approval_decided(record.view, decision_of(approval))
    if not rt.update(Posted(record.channel, record.ts), decided):
        log.warning("could not update the approval message %s", record.ts)
    return True


def close_unfound(rt: BotRuntime, messages: ApprovalMessages, record: ApprovalMessage) -> bool:
    """Close a message whose approval the app's operation no longer has."""
    if not messages.close(record.view.approval_id):
        return False
    at = datetime.now(UTC)
    decided = approval_decided(record.view, ApprovalDecision(None, at, note=ENDED_WITHOUT_DECISION))
    rt.update(Posted(record.channel, record.ts), decided)
    return True


class ApprovalMessenger:
    """Posts and closes the approval messages (module docstring)."""

    types = (ApprovalRequested, SyncSucceeded, SyncFailed)

    def __init__(self, runtime: BotRuntime, messages: ApprovalMessages) -> None:
        self.runtime = runtime
        self.messages = messages

    def handle(self, event: Event) -> None:
        """The event-bus callback; never raises."""
        try:
            if isinstance(event, ApprovalRequested):
                self.request(event)
            elif isinstance(event, SyncSucceeded | SyncFailed):
                self.close_ended(event.app)
        except Exception:
            log.exception("approval message for app %s failed", event.app)

    def request(self, event: ApprovalRequested) -> ApprovalMessage | None:
        """Post the request for ``event`` unless it was posted already; the record."""
        known = self.messages.get(event.approval_id)
        if known is not None:
            return known
        rt = self.runtime
        status = rt.controller.app_status(event.app)
        approval = approvals_in(status).get(event.approval_id)
        project = event.project
        channel = rt.settings.slack.channels.channel_for(event.app, project)
        if not channel:
            log.warning(
                "app %s waits for approval %s but no Slack channel is configured for it "
                "(slack.channels)",
                event.app,
                event.approval_id,
            )
            return None
        view = self._view(event, approval)
        posted = rt.post(channel, approval_request(view))
        if posted is None:
            return None
        record = ApprovalMessage(view, posted.channel_id, posted.ts)
        self.messages.put(record)
        if approval is not None and not approval.pending:  # decided meanwhile (CLI, timeout)
            close_message(rt, self.messages, record, approval)
        return record

    def close_ended(self, app: str) -> None:
        """Close the app's open messages whose approval is no longer pending."""
        records = self.messages.open_of(app)
        if not records:
            return
        approvals = approvals_in(self.runtime.controller.app_status(app))
        for record in records:
            approval = approvals.get(record.view.approval_id)
            if approval is None:
                close_unfound(self.runtime, self.messages, record)
            elif not approval.pending:
                close_message(self.runtime, self.messages, record, approval)

    def _view(self, event: ApprovalRequested, approval: Approval | None) -> ApprovalView:
        key = event.resource
        hook = (
            HookView(
                name=approval.hook.name,
                kind=approval.hook.kind or "Job",
                namespace=approval.hook.namespace,
                image=approval.hook.image,
                command=approval.hook.command,
                args=approval.hook.args,
            )
            if approval is not None
            else HookView(
                name=key.name if key else "?",
                kind=key.kind if key else "Job",
                namespace=key.namespace if key else "",
            )
        )
        expires = datetime.fromtimestamp(approval.expires_at, UTC) if approval is not None else None
        return ApprovalView(
            approval_id=event.approval_id,
            app=event.app,
            hook=hook,
            revision=event.revision,
            project=event.project,
            commit=event.commit,
            changes=self._changes(event.app),
            requested_by="" if event.initiated_by == AUTOMATED else event.initiated_by,
            expires_at=expires,
        )

    def _changes(self, app: str) -> tuple[DiffEntry, ...]:
        """What the sync changes (the comparison now; the gate holds before any write)."""
        try:
            comparison = self.runtime.controller.diff(app)
            return tuple(diff_entries(comparison.resources))
        except Exception as error:  # a summary is a nicety: the request goes out anyway
            log.warning("app %s: no change summary for the approval (%s)", app, error)
            return ()
