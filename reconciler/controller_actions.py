"""Starting operations: a manual sync, a rollback, an automated sync or self-heal after a
refresh, and the resumption of an interrupted one at start-up.

Every path first claims the app on the ``OperationRunner`` (refused while another operation
of the app runs or is being prepared), then loads the manifests of the target revision,
builds the ``SyncOperation`` and hands it to the runner; a failure on the way releases the
claim. A manual sync fetches and renders before returning, so a bad revision or a render
error reaches the caller at once; the operation itself runs on the worker pool. A manual
sync supersedes an operation of the app that waits for approval (issue 8): that one ends
Failed "superseded by a newer sync" and the new one starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from reconciler.cluster_protocol import ClusterProtocol
from reconciler.controller_api import OperationRefused, OperationTicket, ProgressCallback
from reconciler.controller_ops import OperationRunner, Running
from reconciler.controller_policy import Decision, with_automated
from reconciler.controller_refresh import Refresher
from reconciler.controller_resume import commit_summary, resume_operation
from reconciler.errors import SourceError
from reconciler.event_types import Event
from reconciler.history import HistoryEntry, RollbackError, rollback_request, rollback_target
from reconciler.manifests import ManifestLoader, Manifests
from reconciler.model import Application, Automated
from reconciler.plan_backoff import AUTOMATED_DEFAULT_RETRY
from reconciler.state import Store
from reconciler.sync import SyncOperation
from reconciler.sync_types import SyncRequest

log = logging.getLogger(__name__)

T = TypeVar("T")


class OperationStarter:
    """Builds and launches the apps' operations (module docstring)."""

    def __init__(
        self,
        *,
        runner: OperationRunner,
        loader: ManifestLoader,
        store: Store,
        cluster: ClusterProtocol,
        refresher: Refresher,
        publish: Callable[[Event], None],
        clock: Callable[[], float],
        wave_delay: float,
        approval_timeout: float = 3600.0,
    ) -> None:
        self.runner = runner
        self.loader = loader
        self.store = store
        self.cluster = cluster
        self.refresher = refresher
        self.publish = publish
        self.clock = clock
        self.wave_delay = wave_delay
        self.approval_timeout = approval_timeout

    def manual_sync(
        self,
        app: Application,
        *,
        actor: str,
        revision: str | None,
        prune: bool,
        dry_run: bool,
        on_progress: ProgressCallback | None,
    ) -> OperationTicket:
        """A sync asked for by ``actor`` (of ``revision``, else the app's targetRevision)."""
        policy = app.spec.sync_policy
        request = SyncRequest(
            revision=revision or "",
            prune=prune,
            dry_run=dry_run,
            initiated_by=actor,
            sync_options=tuple(policy.sync_options),
            retry=policy.retry,
        )
        if self.runner.supersede_waiting(app.name):
            log.info(
                "app %s: a sync by %s supersedes the one waiting for approval", app.name, actor
            )
        return self._claimed(
            app,
            lambda: self._launch(
                app, self.loader.load(app, revision or None), request, on_progress
            ),
        )

    def rollback(
        self,
        app: Application,
        *,
        actor: str,
        history_id: int | None,
        on_progress: ProgressCallback | None,
        pause_auto_sync: Callable[[], None],
    ) -> tuple[OperationTicket, HistoryEntry]:
        """A sync to a history entry's revision, hooks skipped; ``pause_auto_sync`` is called
        once the manifests are loaded, before the operation starts."""
        try:
            entry = rollback_target(self.store.history(app.name), history_id)
        except RollbackError as error:
            raise OperationRefused(str(error)) from None

        def start() -> OperationTicket:
            manifests = self.load_at(app, entry.revision)
            pause_auto_sync()
            request = rollback_request(with_automated(app, None), entry, initiated_by=actor)
            return self._launch(app, manifests, request, on_progress)

        return self._claimed(app, start), entry

    def automated(
        self,
        app: Application,
        automated: Automated | None,
        decision: Decision,
        manifests: Manifests,
    ) -> bool:
        """Start the sync or self-heal auto-sync decided; False when another operation of
        the app got there first."""
        try:
            self.runner.claim(app.name)
        except OperationRefused:
            return False
        try:
            request = SyncRequest(
                revision=decision.revision,
                prune=decision.prune,
                resources=decision.resources,
                sync_options=tuple(app.spec.sync_policy.sync_options),
                automated=True,
                retry=app.spec.sync_policy.retry or AUTOMATED_DEFAULT_RETRY,
            )
            if decision.action == "self-heal":
                self.refresher.note_self_heal(app.name, decision.revision)
            log.info("app %s: auto-sync (%s) to %s", app.name, decision.reason, decision.revision)
            self._launch(with_automated(app, automated), manifests, request, None)
        except BaseException:
            self.runner.release(app.name)
            raise
        return True

    def resume(self, app: Application) -> bool:
        """Resume the app's interrupted operation, if the store holds one; True if so."""
        try:
            self.runner.claim(app.name)
        except OperationRefused:
            return False
        try:
            running = resume_operation(
                app,
                self.store,
                self.loader,
                self.cluster,
                clock=self.clock,
                wave_delay=self.wave_delay,
                publish=self.publish,
            )
        except BaseException:
            self.runner.release(app.name)
            raise
        if running is None:
            self.runner.release(app.name)
            return False
        log.info("app %s: resuming operation %s", app.name, running.operation.state.id)
        self.runner.launch(running)
        return True

    def load_at(self, app: Application, revision: str) -> Manifests:
        """Manifests at a commit: from the local clone if it has it, else after a fetch."""
        try:
            return self.loader.load(app, revision, fetch=False)
        except SourceError:
            return self.loader.load(app, revision, fetch=True)

    # -- helpers ---------------------------------------------------------------------------

    def _claimed(self, app: Application, start: Callable[[], T]) -> T:
        self.runner.claim(app.name)
        try:
            return start()
        except BaseException:
            self.runner.release(app.name)
            raise

    def _launch(
        self,
        app: Application,
        manifests: Manifests,
        request: SyncRequest,
        on_progress: ProgressCallback | None,
    ) -> OperationTicket:
        history = self.store.history(app.name)
        operation = SyncOperation.start(
            app,
            manifests.objects,
            self.cluster,
            request,
            revision=manifests.commit.sha,
            clock=self.clock,
            wave_delay=self.wave_delay,
            approval_timeout=self.approval_timeout,
            hook_fingerprints=self.store.hook_fingerprints(app.name),
        )
        self.runner.launch(Running(app, operation, commit_summary(manifests.commit), on_progress))
        return OperationTicket(
            app=app.name,
            operation_id=operation.state.id,
            revision=manifests.commit.sha,
            previous_revision=history[-1].revision if history else "",
        )


__all__ = ["OperationStarter"]
