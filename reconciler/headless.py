"""Headless notifications: what kajitori would have told Slack, written to the log instead.

``kajitori run`` without a notifier (no Slack settings) subscribes a ``HeadlessNotifier`` to
the event bus, so an operator running the reconciler on its own still sees "sync succeeded",
"drift detected" and "approval requested" as they happen. Each event becomes one INFO record
on the ``kajitori.notifications`` logger: the message is the event's one-line ``summary()``,
and the extra fields ``app``, ``project``, ``event`` and (when the event has one) ``revision``
make the JSON log format easy to filter. A drift event also lists the changed resources and
fields, and a failed sync its failed resources, at the same level: that is what the Slack
message would have shown.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from reconciler.event_types import DriftDetected, Event, SyncFailed

LOGGER_NAME: Final = "kajitori.notifications"
# Drift and failure details listed per event, at most (the rest is counted).
MAX_DETAILS: Final = 10


class HeadlessNotifier:
    """An event bus subscriber that logs each event as the notification it stands for."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger if logger is not None else logging.getLogger(LOGGER_NAME)
        self.count = 0  # events logged so far

    def __call__(self, event: Event) -> None:
        extra: dict[str, Any] = {"app": event.app, "project": event.project, "event": event.type}
        revision = getattr(event, "revision", "")
        if isinstance(revision, str) and revision:
            extra["revision"] = revision
        self.log.info("would notify: %s", event.summary(), extra=extra)
        for line in _details(event):
            self.log.info("  %s", line, extra=extra)
        self.count += 1


def _details(event: Event) -> list[str]:
    """The lines a message about ``event`` would list below its summary."""
    lines: list[str] = []
    if isinstance(event, DriftDetected):
        for change in event.changes:
            fields = ", ".join(change.fields) or "changed"
            managers = f" (by {', '.join(change.managers)})" if change.managers else ""
            lines.append(f"{change.key}: {fields}{managers}")
    elif isinstance(event, SyncFailed):
        for result in event.resources:
            if result.status not in ("Synced", "Pruned"):
                message = f": {result.message}" if result.message else ""
                lines.append(f"{result.key}: {result.status}{message}")
    if len(lines) > MAX_DETAILS:
        hidden = len(lines) - MAX_DETAILS
        lines = [*lines[:MAX_DETAILS], f"... and {hidden} more"]
    return lines


__all__ = ["LOGGER_NAME", "MAX_DETAILS", "HeadlessNotifier"]
