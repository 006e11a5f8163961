"""The controller: keeps every configured app equal to Git, and is what the bot, the CLI and
the HTTP endpoints talk to (``reconciler.controller_api.ControllerAPI``).

- **Scheduling** (``controller_schedule``): APScheduler refreshes each app every
  ``reconciliationInterval`` seconds at most (``jitter`` spreads them below it; the
  ``kajitori.dev/refresh-interval`` annotation overrides it per app, ``0`` turns polling
  off), and at once on a webhook push, a ``refresh`` request or a live change of one of its
  objects (the live cache's watch: a manual edit is noticed within about a second).
- **Refresh** (``controller_refresh``): manifests, comparison, status record, events
  (SyncStatusChanged, HealthChanged, DriftDetected), then auto-sync's decision
  (``controller_policy``): a full sync of a new revision, a self-heal of the drifted
  resources after Argo CD's backoff, or nothing (with a SyncError condition after a failed
  attempt at the same revision).
- **Operations** (``controller_ops``): one per app at a time, stepped on a worker pool of
  ``workers`` threads, persisted after every step. ``start()`` resumes the operations a
  previous process left in flight (``SyncOperation.restore``: no hook runs twice);
  ``stop()`` lets running steps finish and persist.
- **State**: history and operations in the ``Store``; app records, run-time switches of
  auto-sync and self-heal (who and when), the audit log, the event log and the notifier's
  key-value table in the ``RuntimeStore`` (``runtime``; the same SQLite file by default).

The machinery (the wiring of these parts, start and stop, the refresh cycle, the audit and
event logs) is ``reconciler.controller_core.ControllerCore``; ``Controller`` adds the
ControllerAPI surface the bot, the CLI and the HTTP endpoints call.
"""

from __future__ import annotations

from typing import Any

from reconciler.compare_types import Comparison
from reconciler.controller_api import (
    AppSummary,
    OperationRefused,
    OperationTicket,
    ProgressCallback,
    RuntimeToggle,
)
from reconciler.controller_core import LIVE_CHANGE_DELAY, ControllerCore
from reconciler.controller_policy import INVALID_SPEC_ERROR
from reconciler.controller_status import app_document, summary_of
from reconciler.history import HistoryEntry
from reconciler.model import Application
from reconciler.rollback_record import RollbackRecord
from reconciler.state_runtime import AUTO_SYNC, SELF_HEAL
from reconciler.sync import Approval
from reconciler.webhooks import PushEvent, apps_for_push


class Controller(ControllerCore):
    """The reconciler's controller (module docstring); implements ControllerAPI."""

    def on_push(self, push: PushEvent) -> list[str]:
        """Refresh (with a fetch) every app that follows the pushed repository and revision;
        their names."""
        names = [app.name for app in apps_for_push(list(self._apps.values()), push)]
        for name in names:
            self._scheduler.request(name, fetch=True)
        return names

    def refresh_now(self, app: str, *, fetch: bool = True) -> dict[str, Any]:
        """Refresh ``app`` on this thread (auto-sync included) and return its status."""
        self._app(app)
        self._refresh(app, fetch)
        return self.app_status(app)

    # -- ControllerAPI: reading ------------------------------------------------------------

    def app_names(self) -> list[str]:
        return sorted(self._apps)

    def application(self, app: str) -> Application:
        return self._app(app)

    def apps(self) -> list[AppSummary]:
        return [
            summary_of(
                self._apps[name],
                self._refresher.record(name),
                auto_sync=self.auto_sync_enabled(name),
                self_heal=self.self_heal_enabled(name),
                operation_phase=self._runner.phase(name),
            )
            for name in self.app_names()
        ]

    def app_status(self, app: str) -> dict[str, Any]:
        application = self._app(app)
        return app_document(
            application,
            self._refresher.record(app),
            automated=self._switches.automated(application),
            operation=self.store.operation(app),
            history=self.store.history(app),
            overrides=self._switches.of(app),
        )

    def operation(self, app: str) -> dict[str, Any] | None:
        """The app's latest operation state (in flight or finished), or None."""
        self._app(app)
        return self.store.operation(app)

    def history(self, app: str) -> list[HistoryEntry]:
        self._app(app)
        return self.store.history(app)

    def diff(self, app: str) -> Comparison:
        return self._refresher.compare_now(self._app(app))

    def auto_sync_enabled(self, app: str) -> bool:
        return self._switches.automated(self._app(app)) is not None

    def self_heal_enabled(self, app: str) -> bool:
        """The self-heal switch (run-time, else the spec); it acts only while auto-sync is
        enabled too."""
        return self._switches.self_heal(self._app(app))

    # -- ControllerAPI: acting -------------------------------------------------------------

    def refresh(self, app: str) -> None:
        self._app(app)
        self._scheduler.request(app, fetch=True)

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
        """Queue a manual sync (fetches and renders first, so a bad revision or a render
        error raises here: SourceError, RenderError)."""
        application = self._app(app)
        self._require_running(app)
        self._refuse_if_invalid(app)
        ticket = self._starter.manual_sync(
            application,
            actor=actor,
            revision=revision,
            prune=prune,
            dry_run=dry_run,
            on_progress=on_progress,
        )
        detail = f"revision {ticket.revision}" + (" (dry run)" if dry_run else "")
        self.record_audit(actor, "sync", app, allowed=True, detail=detail)
        return ticket

    def rollback(
        self,
        app: str,
        *,
        actor: str,
        history_id: int | None = None,
        on_progress: ProgressCallback | None = None,
        thread_url: str = "",
    ) -> OperationTicket:
        """Sync to a history entry's revision with hooks skipped, pausing auto-sync first
        (persisted, with who and when) so it does not sync the app straight back; then open
        the revert pull request(s) when GitHub is configured (``reconciler.rollback_git``;
        the outcome in ``rollback_status``). OperationRefused while an earlier rollback's
        revert is not merged yet."""
        application = self._app(app)
        self._require_running(app)
        self._rollback_git.refuse_if_pending(app)
        resume_auto_sync = self.auto_sync_enabled(app)

        def pause() -> None:
            if self.auto_sync_enabled(app):
                self.set_auto_sync(app, False, actor=actor)

        ticket, entry = self._starter.rollback(
            application,
            actor=actor,
            history_id=history_id,
            on_progress=on_progress,
            pause_auto_sync=pause,
        )
        detail = f"history {entry.id} {entry.revision}"
        self.record_audit(actor, "rollback", app, allowed=True, detail=detail)
        self._rollback_git.open(
            application,
            entry.revision,
            actor=actor,
            thread_url=thread_url,
            resume_auto_sync=resume_auto_sync,
        )
        return ticket

    def rollback_status(self, app: str) -> RollbackRecord | None:
        """What the app's latest rollback did to Git: the revert pull requests, the warnings,
        and whether it waits for a merge; None when the app was never rolled back."""
        self._app(app)
        return self._rollback_git.record(app)

    def terminate(self, app: str, *, actor: str) -> bool:
        """Terminate the app's running operation; False when none runs."""
        self._app(app)
        done = self._runner.terminate(app)
        self.record_audit(actor, "terminate", app, allowed=True, detail="" if done else "idle")
        return done

    def decide_approval(
        self, app: str, approval_id: str, approved: bool, *, actor: str
    ) -> Approval:
        """Approve or reject the gated hook the app's operation waits for (the first
        decision wins; a repeated one returns it unchanged). OperationRefused when no
        operation runs, ApprovalError for an unknown approval id."""
        self._app(app)
        decision = self._runner.decide(app, approval_id, approved, actor)
        verb = "approve" if approved else "reject"
        self.record_audit(actor, verb, app, allowed=True, detail=f"approval {approval_id}")
        return decision

    def set_auto_sync(self, app: str, enabled: bool, *, actor: str) -> RuntimeToggle:
        return self._toggle(app, AUTO_SYNC, enabled, actor)

    def set_self_heal(self, app: str, enabled: bool, *, actor: str) -> RuntimeToggle:
        return self._toggle(app, SELF_HEAL, enabled, actor)

    # -- refusals --------------------------------------------------------------------------

    def _require_running(self, app: str) -> None:
        if not self.started:
            raise OperationRefused(f"app {app}: the controller is not running")

    def _refuse_if_invalid(self, app: str) -> None:
        for condition in self._refresher.record(app).conditions:
            if condition.get("type") == INVALID_SPEC_ERROR:
                raise OperationRefused(f"app {app}: {condition.get('message')}")


__all__ = ["LIVE_CHANGE_DELAY", "Controller"]
