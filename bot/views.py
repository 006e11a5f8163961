"""What the Block Kit builders show: small frozen inputs, filled by the bot from the
controller's answers and events.

The builders take these instead of the controller's own objects so that they stay pure and
easy to test, and so that what reaches Slack is exactly what is listed here. By contract no
field holds a secret value: diffs arrive masked by ``reconciler.diff`` and hooks are described
by image, command and arguments only (never their environment).

Where the reconciler already has the right type it is used as is: ``ResourceKey``,
``CommitSummary`` (sha, author, message, date), ``HistoryEntry``; per-resource sync results
are any object with ``key``, ``status``, ``message`` and ``hook_phase`` (both
``reconciler.sync_types.ResourceResult`` and ``reconciler.event_types.ResourceResult`` fit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, Protocol

from reconciler.compare_types import ResourceStatus
from reconciler.event_types import CommitSummary
from reconciler.model import ResourceKey

ChangeKind = Literal["changed", "new", "prune"]
CHANGE_LABELS: Final = {"changed": "changed", "new": "new", "prune": "to be pruned"}


class Outcome(Protocol):
    """What a sync did to one resource."""

    @property
    def key(self) -> ResourceKey: ...

    @property
    def status(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def hook_phase(self) -> str: ...


def failed(outcome: Outcome) -> bool:
    """Whether a resource's sync failed (write refused, or a hook/task ended Failed/Error)."""
    return outcome.status == "SyncFailed" or outcome.hook_phase in ("Failed", "Error")


@dataclass(frozen=True)
class SyncView:
    """One sync operation as its channel message shows it. ``initiated_by`` is a Slack user
    ID (shown as a mention), another name, or "" / "automated" for auto-sync.
    ``from_revision`` is what was deployed before ("" when never synced), ``to_revision`` the
    commit being synced; ``commit`` describes it. ``commit_url`` (optional) links the SHA."""

    app: str
    to_revision: str
    project: str = "default"
    initiated_by: str = ""
    from_revision: str = ""
    commit: CommitSummary | None = None
    prune: bool = False
    dry_run: bool = False
    commit_url: str = ""


@dataclass(frozen=True)
class SyncOutcome:
    """How a sync ended: ``phase`` Succeeded, Failed or Error (Running while it goes on),
    Argo CD's operation ``message``, the per-resource ``results`` and the start and end
    times (the builders never read a clock). ``retrying`` when a retry follows."""

    phase: str
    message: str = ""
    results: Sequence[Outcome] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    retrying: bool = False


@dataclass(frozen=True)
class WaveView:
    """One (phase, wave) group of a sync, for its thread reply."""

    phase: str
    wave: int
    results: Sequence[Outcome] = ()


@dataclass(frozen=True)
class DiffEntry:
    """One resource that differs: its masked unified ``diff`` and what kind of change it is
    (``changed``; ``new``: not in the cluster yet; ``prune``: in the cluster, no longer in
    Git)."""

    key: ResourceKey
    diff: str
    change: ChangeKind = "changed"


def diff_entries(resources: Iterable[ResourceStatus]) -> list[DiffEntry]:
    """The entries of a comparison's resources that differ, in the comparison's order
    (hooks and Synced resources left out)."""
    entries: list[DiffEntry] = []
    for resource in resources:
        if resource.hook:
            continue
        if resource.requires_pruning:
            entries.append(DiffEntry(resource.key, resource.diff, "prune"))
        elif resource.status == "OutOfSync":
            change: ChangeKind = "new" if resource.live is None else "changed"
            entries.append(DiffEntry(resource.key, resource.diff, change))
    return entries


@dataclass(frozen=True)
class RollbackView:
    """A rollback waiting for confirmation: the history entry it goes to (``history_id``,
    ``revision``, its ``commit``), what is deployed now, and what would change.
    ``auto_sync`` says whether the app syncs automatically now (the rollback pauses that).
    ``resume_hint`` (mrkdwn-safe text from the bot) says how to resume auto-sync."""

    app: str
    history_id: int
    revision: str
    current_revision: str = ""
    project: str = "default"
    commit: CommitSummary | None = None
    deployed_at: datetime | None = None
    changes: Sequence[DiffEntry] = ()
    auto_sync: bool = False
    requested_by: str = ""
    resume_hint: str = ""


@dataclass(frozen=True)
class AppRow:
    """One app in a listing or status: sync and health status, deployed revision, policy."""

    name: str
    project: str = "default"
    sync_status: str = "Unknown"
    health_status: str = "Unknown"
    revision: str = ""
    auto_sync: bool = False
    self_heal: bool = False
    operation_phase: str = ""
    message: str = ""


@dataclass(frozen=True)
class ResourceRow:
    """One resource in an app's status."""

    key: ResourceKey
    sync_status: str = ""
    health_status: str = ""
    message: str = ""


@dataclass(frozen=True)
class StatusView:
    """An app's detailed status: its row, the resources that are not Synced and Healthy, its
    conditions (messages) and the last sync's end time."""

    app: AppRow
    resources: Sequence[ResourceRow] = ()
    conditions: Sequence[str] = ()
    last_synced_at: datetime | None = None
    commit: CommitSummary | None = None


@dataclass(frozen=True)
class HookView:
    """The hook an approval is about: what it will run. Never its environment."""

    name: str
    kind: str = "Job"
    namespace: str = ""
    image: str = ""
    command: Sequence[str] = ()
    args: Sequence[str] = ()


@dataclass(frozen=True)
class ApprovalView:
    """A sync step waiting for a person (a database migration hook)."""

    approval_id: str
    app: str
    hook: HookView
    revision: str = ""
    project: str = "default"
    commit: CommitSummary | None = None
    changes: Sequence[DiffEntry] = ()
    requested_by: str = ""
    expires_at: datetime | None = None
    commit_url: str = ""


@dataclass(frozen=True)
class ApprovalDecision:
    """What became of an approval: ``approved`` True or False, or None when it expired
    unanswered; ``by`` (a Slack user ID) and ``at`` say who and when; ``note`` explains
    anything else (the sync was cancelled, ...)."""

    approved: bool | None
    at: datetime
    by: str = ""
    note: str = ""


@dataclass(frozen=True)
class HelpTopic:
    """One line of help: a usage line and what it does."""

    usage: str
    summary: str


@dataclass(frozen=True)
class Changes:
    """Counts of a diff's entries by kind, for one-line summaries."""

    changed: int = 0
    new: int = 0
    prune: int = 0
    names: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, entries: Sequence[DiffEntry]) -> Changes:
        return cls(
            changed=sum(1 for e in entries if e.change == "changed"),
            new=sum(1 for e in entries if e.change == "new"),
            prune=sum(1 for e in entries if e.change == "prune"),
            names=tuple(str(e.key) for e in entries),
        )

    def summary(self) -> str:
        parts = [
            f"{count} {label}"
            for count, label in (
                (self.changed, "changed"),
                (self.new, "new"),
                (self.prune, "to be pruned"),
            )
            if count
        ]
        return ", ".join(parts) if parts else "no changes"
