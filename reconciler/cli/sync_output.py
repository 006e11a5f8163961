"""Progress output of `kajitori sync` and `kajitori rollback`: one line when a (phase, wave)
group starts, one per object written, one per hook or resource that finishes, the waiting
messages when they change, warnings on standard error, and a summary at the end.

Example::

    dry run passed for 5 tasks
    PreSync wave 0: 1 tasks
      job.batch/migrate-3f2a1bc-presync-1700000000: Running (created)
      job.batch/migrate-3f2a1bc-presync-1700000000: Succeeded (Reached expected number ...)
    Sync wave 0: 3 tasks
      ...
    Succeeded: successfully synced (all tasks run)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from reconciler.sync_exec import describe_key
from reconciler.sync_progress import (
    EVENT_DRY_RUN,
    EVENT_GROUP,
    EVENT_RESULT,
    EVENT_WAITING,
    EVENT_WARNING,
    SyncEvent,
)


class ProgressPrinter:
    """Turns ``SyncEvent`` values into lines as they happen."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self._last_waiting = ""
        self._seen: dict[str, tuple[str, str]] = {}

    def event(self, event: SyncEvent) -> None:
        if event.kind == EVENT_WARNING:
            print(f"warning: {event.message}", file=self.err, flush=True)
        elif event.kind == EVENT_GROUP:
            self._line(event.message)
        elif event.kind == EVENT_RESULT and event.result is not None:
            result = event.result
            label = describe_key(result.key)
            key = f"{label}:{result.sync_phase}"
            previous = self._seen.get(key)
            message = result.message
            if message.startswith(label):
                message = message[len(label) :].strip()
            self._seen[key] = (result.hook_phase, message)
            if previous is not None and previous[0] == result.hook_phase:
                return
            if previous is not None and previous[1] == message:
                message = ""
            self._line(f"  {label}: {result.hook_phase}" + (f" ({message})" if message else ""))
        elif event.kind == EVENT_WAITING:
            if event.message != self._last_waiting:
                self._last_waiting = event.message
                self._line(f"  ... {event.message}")
        elif event.kind == EVENT_DRY_RUN:
            self._line(event.message)
        # EVENT_FINISHED: the summary says it

    def summary(self, state: Mapping[str, Any]) -> None:
        resources = (state.get("syncResult") or {}).get("resources") or []
        counts: dict[str, int] = {}
        for resource in resources:
            status = str(resource.get("status") or resource.get("hookPhase") or "")
            counts[status] = counts.get(status, 0) + 1
        tally = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        self._line(f"{state.get('phase')}: {state.get('message')}")
        if tally:
            self._line(f"resources: {tally}")

    def _line(self, text: str) -> None:
        print(text, file=self.out, flush=True)
