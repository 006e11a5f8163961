"""Deployment history and rollback, as Argo CD keeps them in ``status.history``.

- A history entry is added only after a sync that Succeeded, was not a dry run and was not
  selective (it synced every resource): ``should_record``.
- Ids start at 0 and each entry takes the last id + 1, so ids keep increasing even after old
  entries are trimmed; the list is trimmed to ``spec.revisionHistoryLimit`` (default 10),
  oldest first.
- Rollback syncs the revision of an entry (without an id: the one before the current, i.e.
  ``history[-2]``) with the ``apply`` strategy, so hooks do not run (Argo CD #1927). It is
  refused while automated sync is enabled, because the automated sync would at once sync the
  app back to Git's revision: switch automated sync off first, as Argo CD requires.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import KajitoriError
from reconciler.model import Application
from reconciler.sync_types import (
    APPLY_STRATEGY,
    SUCCEEDED,
    OperationState,
    StateError,
    SyncRequest,
    rfc3339,
)

DEFAULT_HISTORY_LIMIT = 10


class RollbackError(KajitoriError):
    """A rollback that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class HistoryEntry:
    """One deployment (Argo CD's RevisionHistory): ``deployed_at`` and
    ``deploy_started_at`` are RFC 3339 times; ``source`` is repoURL, path and targetRevision."""

    id: int
    revision: str
    deployed_at: str
    deploy_started_at: str
    initiated_by: str = ""
    automated: bool = False
    source: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "revision": self.revision,
            "deployedAt": self.deployed_at,
            "deployStartedAt": self.deploy_started_at,
            "source": dict(self.source),
            "initiatedBy": {"username": self.initiated_by, "automated": self.automated},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryEntry:
        if not isinstance(data, Mapping):
            raise StateError(f"a history entry must be an object, not {type(data).__name__}")
        try:
            initiated = data.get("initiatedBy") or {}
            return cls(
                id=int(data["id"]),
                revision=str(data["revision"]),
                deployed_at=str(data.get("deployedAt", "")),
                deploy_started_at=str(data.get("deployStartedAt", "")),
                initiated_by=str(initiated.get("username", "")),
                automated=bool(initiated.get("automated", False)),
                source=dict(data.get("source") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise StateError(f"history entry {dict(data)!r}: {error}") from None


def should_record(state: OperationState) -> bool:
    """Whether a finished operation belongs in the history: Succeeded, not a dry run, not
    selective."""
    request = state.request
    return state.phase == SUCCEEDED and not request.dry_run and not request.selective


def add_entry(
    history: Sequence[HistoryEntry],
    state: OperationState,
    *,
    deployed_at: float,
    limit: int = DEFAULT_HISTORY_LIMIT,
) -> list[HistoryEntry]:
    """``history`` with an entry for the finished operation ``state`` (its revision, source,
    start and who started it) deployed at ``deployed_at`` (unix seconds), trimmed to
    ``limit`` entries (at least one is kept)."""
    next_id = history[-1].id + 1 if history else 0
    entry = HistoryEntry(
        id=next_id,
        revision=state.revision,
        deployed_at=rfc3339(deployed_at),
        deploy_started_at=rfc3339(state.started_at),
        initiated_by=state.request.initiated_by,
        automated=state.request.automated,
        source=dict(state.source),
    )
    entries = [*history, entry]
    return entries[-max(1, limit) :]


def rollback_target(history: Sequence[HistoryEntry], entry_id: int | None) -> HistoryEntry:
    """The entry a rollback goes to: ``entry_id``, or the deployment before the current one."""
    if entry_id is None:
        if len(history) < 2:
            raise RollbackError(
                "nothing to roll back to: the history holds "
                f"{len(history)} deployment{'s' if len(history) != 1 else ''}; "
                "a rollback without an ID needs at least two"
            )
        return history[-2]
    for entry in history:
        if entry.id == entry_id:
            return entry
    known = ", ".join(str(e.id) for e in history) or "none"
    raise RollbackError(f"history has no entry with ID {entry_id} (known IDs: {known})")


def rollback_request(
    app: Application,
    entry: HistoryEntry,
    *,
    prune: bool = False,
    initiated_by: str = "",
) -> SyncRequest:
    """The sync operation of a rollback: the entry's revision, the app's sync options, the
    apply strategy (no hooks). Refused while the app syncs automatically."""
    if app.spec.sync_policy.automated is not None:
        raise RollbackError(
            f"app {app.name}: rollback cannot be initiated when auto-sync is enabled "
            "(automated sync would sync it back to Git at once); disable "
            "spec.syncPolicy.automated first"
        )
    return SyncRequest(
        revision=entry.revision,
        prune=prune,
        strategy=APPLY_STRATEGY,
        sync_options=tuple(app.spec.sync_policy.sync_options),
        initiated_by=initiated_by,
        retry=app.spec.sync_policy.retry,
    )
