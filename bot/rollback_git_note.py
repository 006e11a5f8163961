"""The line the rollback confirmation adds about Git: the revert pull requests, or why there
are none (GitHub failed, or is not configured and Git is left to the user).

The controller keeps that outcome (``Controller.rollback_status``, a
``reconciler.rollback_record.RollbackRecord``); controllers without it (test fakes, older
builds) simply add nothing.
"""

from __future__ import annotations

from typing import Any

from bot.mrkdwn import clip

MAX_NOTE = 900


def rollback_git_note(controller: Any, app: str) -> str:
    """mrkdwn for the Git side of ``app``'s latest rollback; "" when there is nothing to say."""
    status_of = getattr(controller, "rollback_status", None)
    if not callable(status_of):
        return ""
    record = status_of(app)
    summary = getattr(record, "summary", None)
    if record is None or not callable(summary):
        return ""
    state = str(getattr(record, "state", ""))
    warned = state in ("failed", "not-configured") or bool(getattr(record, "warnings", ()))
    icon = ":warning:" if warned else ":arrows_counterclockwise:"
    return f"{icon} {clip(str(summary()), MAX_NOTE)}"
