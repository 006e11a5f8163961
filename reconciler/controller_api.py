"""What the controller offers its callers (the Slack bot, the CLI, the HTTP endpoints).

The bot depends on this protocol only, never on the controller's internals, so it can be
written, read and tested on its own. Every method is cheap and non-blocking except where said:
long work (a sync, a rollback) is queued on the controller's worker pool and reported through
the returned ``OperationTicket`` and the event bus.

All ``app`` arguments are Application names; an unknown name raises ``UnknownAppError``.
``actor`` names who asked (a Slack user ID such as ``U0ALICE``, ``cli:<user>``, ``webhook``),
and is written to the audit log and into Argo's ``initiatedBy.username``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.errors import KajitoriError
from reconciler.model import Application
from reconciler.sync_approval import Approval


class UnknownAppError(KajitoriError):
    """No Application of that name is configured. ``known`` lists the configured names."""

    def __init__(self, app: str, known: Sequence[str]) -> None:
        self.app = app
        self.known = list(known)
        super().__init__(f"unknown application {app!r}")


class OperationRefused(KajitoriError):
    """The controller will not start the operation now; the message says why (another
    operation is running, a rollback is pending, auto-sync would undo a rollback, ...)."""


@dataclass(frozen=True)
class AppSummary:
    """One line of `/gitops apps`."""

    name: str
    project: str
    sync_status: str
    health_status: str
    revision: str
    auto_sync: bool
    self_heal: bool
    operation_phase: str = ""


@dataclass(frozen=True)
class RuntimeToggle:
    """A run-time switch of auto-sync or self-heal: its new value, who set it and when
    (RFC 3339)."""

    enabled: bool
    changed_by: str
    changed_at: str


@dataclass(frozen=True)
class OperationTicket:
    """A queued operation: ``operation_id`` identifies it in events and in the app's
    ``status.operationState``; ``revision`` is the resolved target commit."""

    app: str
    operation_id: str
    revision: str
    previous_revision: str = ""


ProgressCallback = Callable[[Mapping[str, Any]], None]
"""Called on the worker thread after each step of an operation with the operation state as
data (Argo's ``status.operationState`` shape). Must return quickly."""


class ControllerAPI(Protocol):
    def app_names(self) -> list[str]:
        """Configured Application names, sorted."""
        ...

    def application(self, app: str) -> Application:
        """The configured Application spec."""
        ...

    def apps(self) -> list[AppSummary]:
        """Every app's current status, sorted by name."""
        ...

    def app_status(self, app: str) -> dict[str, Any]:
        """The app as an Argo-shaped dict (metadata, spec, status with sync, health,
        operationState, history, conditions, reconciledAt, resources) — what notification
        triggers and templates read."""
        ...

    def refresh(self, app: str) -> None:
        """Schedule a refresh now (fetch Git, compare); returns at once."""
        ...

    def diff(self, app: str) -> Any:
        """Compare now and return the ``reconciler.compare.Comparison`` (blocking, bounded by
        the API server's speed; run it off Slack's ack path). Secret values in its ``diff``
        texts are masked."""
        ...

    def sync(
        self,
        app: str,
        *,
        actor: str,
        revision: str | None = None,
        prune: bool = False,
        dry_run: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> OperationTicket:
        """Queue a manual sync; raises OperationRefused when one is running."""
        ...

    def history(self, app: str) -> list[Any]:
        """Deployment history (``reconciler.history.HistoryEntry``), newest last."""
        ...

    def rollback(
        self,
        app: str,
        *,
        actor: str,
        history_id: int | None = None,
        on_progress: ProgressCallback | None = None,
        thread_url: str = "",
    ) -> OperationTicket:
        """Sync the cluster to a history entry's revision with hooks skipped, after pausing
        auto-sync for the app (persisted, with who and when). ``thread_url`` (the chat
        thread the rollback was confirmed in) goes into the revert pull request."""
        ...

    def set_auto_sync(self, app: str, enabled: bool, *, actor: str) -> RuntimeToggle:
        """Switch automated sync at run time (persisted)."""
        ...

    def set_self_heal(self, app: str, enabled: bool, *, actor: str) -> RuntimeToggle:
        """Switch self-heal at run time (persisted)."""
        ...

    def self_heal_enabled(self, app: str) -> bool:
        """Self-heal as in effect now (the run-time switch, else the spec)."""
        ...

    def auto_sync_enabled(self, app: str) -> bool:
        """Automated sync as in effect now (the run-time switch, else the spec)."""
        ...

    def record_audit(
        self, actor: str, action: str, app: str, *, allowed: bool, detail: str = ""
    ) -> None:
        """Append to the persisted audit log (denials included)."""
        ...

    def decide_approval(
        self, app: str, approval_id: str, approved: bool, *, actor: str
    ) -> Approval:
        """Approve or reject the gated hook the app's operation waits for; the decision.
        Idempotent: the first decision wins and a later one returns it unchanged (compare its
        ``decided_by``). OperationRefused when the app runs no operation;
        ``reconciler.sync_approval.ApprovalError`` for an unknown id."""
        ...
