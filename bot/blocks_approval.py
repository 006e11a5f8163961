"""The migration approval request and its decided form.

A sync whose hook needs a person's approval (a database migration) waits, and the channel gets
a message with everything needed to decide: the revision, its author and commit message, a
summary of what the sync changes, and exactly what the hook will run (kind and name, image,
command and arguments; never its environment). Approve and Reject are buttons behind confirm
dialogs; both carry the approval ID as their value, under the action IDs
:data:`APPROVE_ACTION` and :data:`REJECT_ACTION`. Once decided (or expired), the message is
updated to the decided form: the same facts, the buttons gone, and who decided and when. Pure.
"""

from __future__ import annotations

import shlex
from typing import Final

from bot.blocks_kit import (
    Block,
    SlackMessage,
    actions,
    button,
    confirm_dialog,
    context,
    fields_section,
    message,
    section,
)
from bot.mrkdwn import (
    bold,
    clip,
    code,
    code_block,
    first_line,
    link,
    short_revision,
    slack_date,
    user_ref,
)
from bot.views import ApprovalDecision, ApprovalView, Changes, HookView

APPROVE_ACTION: Final = "kajitori_approval_approve"
REJECT_ACTION: Final = "kajitori_approval_reject"
APPROVAL_BLOCK_ID: Final = "kajitori_approval_actions"
COMMAND_MAX: Final = 1500


def _hook_name(hook: HookView) -> str:
    where = f"{hook.namespace}/" if hook.namespace else ""
    return f"{hook.kind}/{where}{hook.name}"


def _hook_section(hook: HookView) -> Block:
    lines = [f"*Hook* {code(_hook_name(hook), 300)}"]
    lines.append(f"*Image* {code(hook.image, 500)}" if hook.image else "*Image* _not set_")
    argv = [*hook.command, *hook.args]
    if argv:
        lines.append("*Runs*\n" + code_block(shlex.join(argv), COMMAND_MAX).text)
    else:
        lines.append("*Runs* the image's default command")
    return section("\n".join(lines))


def _body(view: ApprovalView, *, pending: bool) -> list[Block]:
    app = clip(view.app, 150)
    revision = code(short_revision(view.revision)) if view.revision else "_unknown_"
    if view.commit_url:
        revision = link(view.commit_url, revision)
    hook = code(view.hook.name, 200)
    if pending:
        headline = f":lock: {bold('Approval needed')}: {hook} of {bold(app)} waits for approval"
    else:
        headline = f":lock: Migration {hook} of {bold(app)}"
    blocks: list[Block] = [section(headline)]
    fields = [f"*Revision*\n{revision}", f"*Project*\n{clip(view.project, 100)}"]
    if view.commit is not None and view.commit.author:
        fields.append(f"*Author*\n{clip(view.commit.author, 200)}")
    if view.requested_by:
        fields.append(f"*Sync started by*\n{user_ref(view.requested_by)}")
    if view.expires_at is not None:
        fields.append(f"*Expires*\n{slack_date(view.expires_at)}")
    blocks.append(fields_section(fields))
    if view.commit is not None and view.commit.message.strip():
        lines = view.commit.message.strip().splitlines()[:8]
        quote = "\n".join(f"> {clip(line, 300)}" if line.strip() else ">" for line in lines)
        blocks.append(section(f"*Commit message*\n{quote}"))
    changes = Changes.of(view.changes)
    listed = ", ".join(code(name, 200) for name in changes.names[:10])
    more = f" and {len(changes.names) - 10} more" if len(changes.names) > 10 else ""
    blocks.append(
        section(f"*Changes:* {changes.summary()}" + (f"\n{listed}{more}" if listed else ""))
    )
    blocks.append(_hook_section(view.hook))
    return blocks


def approval_request(view: ApprovalView) -> SlackMessage:
    """The approval request with Approve and Reject buttons (each behind a confirm dialog)."""
    blocks = _body(view, pending=True)
    image = view.hook.image or "its image"
    approve = confirm_dialog(
        title="Approve this migration?",
        text=(
            f"{view.hook.name} runs {image} for {view.app}, then the sync goes on. "
            "A migration usually cannot be undone by a rollback."
        ),
        confirm="Approve",
        deny="Cancel",
        style="primary",
    )
    reject = confirm_dialog(
        title="Reject this migration?",
        text=f"{view.hook.name} does not run and the sync of {view.app} stops as Failed.",
        confirm="Reject",
        deny="Cancel",
        style="danger",
    )
    blocks.append(
        actions(
            [
                button(
                    "Approve", APPROVE_ACTION, view.approval_id, style="primary", confirm=approve
                ),
                button("Reject", REJECT_ACTION, view.approval_id, style="danger", confirm=reject),
            ],
            block_id=APPROVAL_BLOCK_ID,
        )
    )
    blocks.append(context(f"Approval {code(view.approval_id, 200)} · needs the admin role"))
    title = first_line(view.commit.message) if view.commit else ""
    fallback = (
        f"Approval needed: {clip(view.hook.name, 100)} of {clip(view.app, 150)} "
        f"at {short_revision(view.revision) if view.revision else '?'}"
        + (f" ({clip(title, 120)})" if title else "")
    )
    return message(fallback, blocks)


def approval_decided(view: ApprovalView, decision: ApprovalDecision) -> SlackMessage:
    """The request as it reads once decided or expired: the same facts, no buttons, and who
    decided and when."""
    blocks = _body(view, pending=False)
    when = slack_date(decision.at)
    if decision.approved is True:
        outcome = f":white_check_mark: {bold('Approved')} by {user_ref(decision.by)} {when}"
        word = "approved"
    elif decision.approved is False:
        outcome = f":no_entry: {bold('Rejected')} by {user_ref(decision.by)} {when}"
        word = "rejected"
    elif decision.note:
        outcome = f":fast_forward: {bold('Closed')} {when}: {clip(decision.note, 1000)}"
        outcome += "; the hook did not run"
        word = "closed"
    else:
        outcome = f":hourglass: {bold('Expired')} unanswered {when}; the hook did not run"
        word = "expired"
    if decision.note and decision.approved is not None:
        outcome += f"\n{clip(decision.note, 1000)}"
    blocks.append(section(outcome))
    blocks.append(context(f"Approval {code(view.approval_id, 200)}"))
    fallback = f"Migration {clip(view.hook.name, 100)} of {clip(view.app, 150)} {word}"
    return message(fallback, blocks)
