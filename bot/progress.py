"""Reading an operation's progress: the controller's ``on_progress`` data → what the sync
message and its thread replies show.

The controller reports an operation as Argo CD's ``status.operationState`` (phase, message,
startedAt, finishedAt, ``syncResult.resources[]`` with syncPhase, status, hookPhase). A sync
runs one (phase, wave) group at a time and records results in the order tasks started, so the
groups appear in execution order; a group is over once a later one has begun, and every group
is over once the operation completed (or a failed attempt waits for its retry).

Argo's result entries carry no wave number. ``syncWave`` is read from a result when the
controller adds it; otherwise from the app's ``status.resources[].syncWave`` (Argo CD keeps
the wave there, see :func:`waves_from_status`); otherwise 0. Pure: times come from the state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from bot.mrkdwn import clip
from bot.views import SyncOutcome, WaveView, failed
from reconciler.model import ResourceKey
from reconciler.sync_types import COMPLETED_PHASES, RUNNING, ResourceResult, StateError

GroupKey = tuple[str, int]
"""(sync phase, wave) of a group of tasks."""

WAVE_FIELD: Final = "syncWave"


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _wave(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


@dataclass(frozen=True)
class Progress:
    """One operation state as read from the controller. ``waves`` holds the wave of results
    whose entry said (keyed by ``ResourceResult.result_key``)."""

    phase: str = RUNNING
    message: str = ""
    revision: str = ""
    results: tuple[ResourceResult, ...] = ()
    waves: Mapping[str, int] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    dry_run: bool = False

    @property
    def completed(self) -> bool:
        return self.phase in COMPLETED_PHASES

    @property
    def retrying(self) -> bool:
        """A failed attempt waits for its retry (Argo CD keeps the phase Running)."""
        return self.phase == RUNNING and self.finished_at is not None

    @property
    def over(self) -> bool:
        """Whether every group so far has ended (completed, or waiting for a retry)."""
        return self.completed or self.retrying


def read_progress(state: Mapping[str, Any]) -> Progress:
    """The progress in an ``operationState`` mapping; unreadable entries are skipped."""
    sync_result = state.get("syncResult")
    result_doc: Mapping[str, Any] = sync_result if isinstance(sync_result, Mapping) else {}
    raw_results = result_doc.get("resources")
    results: list[ResourceResult] = []
    waves: dict[str, int] = {}
    for item in raw_results if isinstance(raw_results, list) else []:
        if not isinstance(item, Mapping):
            continue
        try:
            result = ResourceResult.from_dict(item)
        except (StateError, TypeError, ValueError):
            continue
        results.append(result)
        wave = _wave(item.get(WAVE_FIELD))
        if wave is not None:
            waves[result.result_key] = wave
    operation = state.get("operation")
    sync = operation.get("sync") if isinstance(operation, Mapping) else None
    dry_run = bool(sync.get("dryRun")) if isinstance(sync, Mapping) else False
    return Progress(
        phase=str(state.get("phase") or RUNNING),
        message=str(state.get("message") or ""),
        revision=str(result_doc.get("revision") or ""),
        results=tuple(results),
        waves=waves,
        started_at=_time(state.get("startedAt")),
        finished_at=_time(state.get("finishedAt")),
        dry_run=dry_run,
    )


def waves_from_status(app_status: Mapping[str, Any]) -> dict[ResourceKey, int]:
    """The wave of each resource in an Argo-shaped app's ``status.resources``."""
    status = app_status.get("status")
    resources = status.get("resources") if isinstance(status, Mapping) else None
    waves: dict[ResourceKey, int] = {}
    for item in resources if isinstance(resources, list) else []:
        if not isinstance(item, Mapping):
            continue
        wave = _wave(item.get(WAVE_FIELD))
        if wave is None:
            continue
        key = ResourceKey(
            str(item.get("group", "")),
            str(item.get("kind", "")),
            str(item.get("namespace", "")),
            str(item.get("name", "")),
        )
        waves[key] = wave
    return waves


def needs_status_waves(progress: Progress) -> bool:
    """Whether some result lacks a wave of its own (then the app's status is consulted)."""
    return any(r.result_key not in progress.waves for r in progress.results)


def group_results(
    progress: Progress, status_waves: Mapping[ResourceKey, int] | None = None
) -> list[tuple[GroupKey, list[ResourceResult]]]:
    """The results grouped by (sync phase, wave), groups in the order they began."""
    status_waves = status_waves or {}
    groups: dict[GroupKey, list[ResourceResult]] = {}
    for result in progress.results:
        wave = progress.waves.get(result.result_key)
        if wave is None:
            wave = status_waves.get(result.key, 0)
        groups.setdefault((result.sync_phase or "Sync", wave), []).append(result)
    return list(groups.items())


def ended_groups(
    progress: Progress, groups: Sequence[tuple[GroupKey, list[ResourceResult]]]
) -> list[tuple[GroupKey, list[ResourceResult]]]:
    """The groups that are over: all of them once the operation is over, else all but the
    one running now (the last to begin)."""
    return list(groups) if progress.over else list(groups[:-1])


def wave_view(key: GroupKey, results: Sequence[ResourceResult]) -> WaveView:
    return WaveView(phase=key[0], wave=key[1], results=tuple(results))


def outcome_of(progress: Progress) -> SyncOutcome:
    """The outcome a finished (or retrying) operation's message shows."""
    return SyncOutcome(
        phase=progress.phase,
        message=progress.message,
        results=progress.results,
        started_at=progress.started_at,
        finished_at=progress.finished_at,
        retrying=progress.retrying,
    )


def running_summary(progress: Progress, current: GroupKey | None) -> str:
    """One line (escaped mrkdwn) for the channel message while the sync runs."""
    done = sum(1 for r in progress.results if r.completed and not failed(r))
    failures = sum(1 for r in progress.results if failed(r))
    where = f"{clip(current[0], 40)} wave {current[1]}" if current else "starting"
    parts = [f"{done} resource{'s' if done != 1 else ''} done"]
    if failures:
        parts.append(f"{failures} failed")
    return f":hourglass_flowing_sand: Running {where}: {', '.join(parts)}. Details in the thread."
