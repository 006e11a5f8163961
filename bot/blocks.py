"""Block Kit builders for everything the bot says, in one import.

Every builder is a pure function from plain inputs (:mod:`bot.views`) to a
:class:`~bot.blocks_kit.SlackMessage` (``text`` fallback + ``blocks``) that Slack accepts:
within its per-field and per-message limits, with every string that came from a person or a
repository escaped so it cannot mention, notify or link. The builders live in one module per
subject; this module re-exports them and builds the short ephemeral answers (denials, errors,
usage) the command handlers send.
"""

from __future__ import annotations

from bot.authz import Decision
from bot.blocks_approval import (
    APPROVAL_BLOCK_ID,
    APPROVE_ACTION,
    REJECT_ACTION,
    approval_decided,
    approval_request,
)
from bot.blocks_diff import (
    UPLOAD_THRESHOLD,
    DiffRendering,
    diff_file_content,
    diff_file_message,
    diff_file_name,
    diff_message,
    render_diff,
    should_upload_as_file,
)
from bot.blocks_kit import SlackMessage, context, message, section
from bot.blocks_listing import (
    app_status,
    apps_list,
    help_message,
    history_list,
    status_overview,
)
from bot.blocks_rollback import (
    ROLLBACK_CANCEL_ACTION,
    ROLLBACK_CONFIRM_ACTION,
    RollbackChoice,
    parse_rollback_value,
    rollback_preview,
    rollback_value,
    selfheal_toggled,
)
from bot.blocks_sync import sync_finished, sync_started, sync_wave_reply
from bot.mrkdwn import bold, clip, code
from bot.parse import HelpRequested, UnknownAppError, UsageError


def denied_message(decision: Decision, *, app: str = "") -> SlackMessage:
    """The ephemeral answer to a refused command or click: what was refused and why."""
    about = f" ({bold(clip(app, 150))})" if app else ""
    text = f":no_entry: Not allowed{about}: {clip(decision.reason, 2000)}"
    return message(text, [section(text)])


def error_message(problem: str, *, usage: str = "") -> SlackMessage:
    """An ephemeral error: ``problem`` (plain text, escaped here) and the usage line, if any.
    Never pass an exception's traceback or repr: only a message meant for people."""
    text = f":warning: {clip(problem, 2500)}"
    blocks = [section(text)]
    if usage:
        blocks.append(context(f"Usage: {code(usage, 500)}"))
    return message(text, blocks)


def usage_message(error: UsageError) -> SlackMessage:
    """The ephemeral answer to a command that could not be parsed (or asked for --help)."""
    if isinstance(error, HelpRequested):
        text = f":information_source: Usage: {code(error.usage, 500)}"
        return message(text, [section(text)])
    if isinstance(error, UnknownAppError) and error.suggestions:
        names = " or ".join(code(name, 150) for name in error.suggestions)
        problem = f":warning: Unknown app {code(error.app, 150)}. Did you mean {names}?"
        return message(problem, [section(problem), context(f"Usage: {code(error.usage, 500)}")])
    return error_message(error.problem, usage=error.usage)


__all__ = [
    "APPROVAL_BLOCK_ID",
    "APPROVE_ACTION",
    "REJECT_ACTION",
    "ROLLBACK_CANCEL_ACTION",
    "ROLLBACK_CONFIRM_ACTION",
    "UPLOAD_THRESHOLD",
    "DiffRendering",
    "RollbackChoice",
    "SlackMessage",
    "app_status",
    "approval_decided",
    "approval_request",
    "apps_list",
    "denied_message",
    "diff_file_content",
    "diff_file_message",
    "diff_file_name",
    "diff_message",
    "error_message",
    "help_message",
    "history_list",
    "parse_rollback_value",
    "render_diff",
    "rollback_preview",
    "rollback_value",
    "selfheal_toggled",
    "should_upload_as_file",
    "status_overview",
    "sync_finished",
    "sync_started",
    "sync_wave_reply",
    "usage_message",
]
