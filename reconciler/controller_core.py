"""The controller's machinery, under the ControllerAPI surface that ``reconciler.controller``
adds: the wiring of its parts, start and stop, the refresh cycle, and the audit and event logs.

``ControllerCore`` builds the parts the module docstring of ``reconciler.controller`` describes
(``Refresher``, ``AppScheduler``, ``OperationRunner``, ``Switches``, ``OperationStarter``,
``RollbackGit``) and joins them: a scheduled refresh polls a pending revert pull request,
compares, records the status and then acts on auto-sync's decision; the end of an operation
compares once more before its event goes out; a live change of an app's object asks for a
refresh. It holds no part of the public API beyond the lifecycle and ``record_audit``, so the
order in which things happen during a refresh is read in one place.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from reconciler.cluster_cached import CachedReads
from reconciler.cluster_protocol import ClusterProtocol
from reconciler.config import Config
from reconciler.controller_actions import OperationStarter
from reconciler.controller_api import RuntimeToggle, UnknownAppError
from reconciler.controller_ops import OperationRunner
from reconciler.controller_refresh import Refreshed, Refresher
from reconciler.controller_schedule import AppScheduler, refresh_interval
from reconciler.controller_switches import Switches
from reconciler.errors import KajitoriError
from reconciler.event_types import Event
from reconciler.events import EventBus
from reconciler.github import GitHubClient
from reconciler.github_settings import github_settings
from reconciler.livecache import LiveCache, LiveChange
from reconciler.manifests import ManifestLoader
from reconciler.metrics import Metrics
from reconciler.model import Application, Automated
from reconciler.rollback_git import RollbackGit
from reconciler.source import GitSource
from reconciler.state import Store, in_flight
from reconciler.state_runtime import (
    AUTO_SYNC,
    AuditEntry,
    Override,
    RuntimeStore,
    runtime_store_for,
)
from reconciler.sync_types import rfc3339

# The controller's logger keeps the name it has always had, whichever module logs.
log = logging.getLogger("reconciler.controller")

LIVE_CHANGE_DELAY: Final = 0.25  # merges the burst of watch events one apply causes


class ControllerCore:
    """The controller's parts and how they work together (module docstring); the base of
    ``reconciler.controller.Controller``."""

    def __init__(
        self,
        config: Config,
        *,
        cluster: ClusterProtocol,
        git: GitSource,
        store: Store,
        events: EventBus,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        workers: int | None = None,
        live_cache: LiveCache | None = None,
        poll_interval: float = 1.0,
        runtime: RuntimeStore | None = None,
        github: GitHubClient | None = None,
    ) -> None:
        self.config = config
        self.cluster = cluster
        self.store = store
        self.events = events
        self.metrics = metrics
        self.live_cache = live_cache
        self._clock = clock
        self._apps: dict[str, Application] = dict(config.applications)
        settings = config.settings.controller
        self.workers = workers or settings.workers
        self._owns_runtime = runtime is None
        self.runtime: RuntimeStore = runtime if runtime is not None else runtime_store_for(store)
        self.loader = ManifestLoader(git)
        self._refresher = Refresher(
            loader=self.loader,
            cluster=cluster if live_cache is None else CachedReads(cluster, live_cache),
            runtime=self.runtime,
            publish=self._publish,
            metrics=metrics,
            clock=clock,
            live_cache=live_cache,
        )
        self._scheduler = AppScheduler(self._refresh, refresh_workers=max(2, self.workers))
        self._runner = OperationRunner(
            store=store,
            publish=self._publish,
            metrics=metrics,
            call_later=self._scheduler.call_later,
            workers=self.workers,
            clock=clock,
            poll_interval=poll_interval,
            sync_timeout=settings.sync_timeout,
            on_done=self._operation_done,
        )
        self._switches = Switches(self.runtime)
        self._starter = OperationStarter(
            runner=self._runner,
            loader=self.loader,
            store=store,
            cluster=cluster,
            refresher=self._refresher,
            publish=self._publish,
            clock=clock,
            wave_delay=settings.wave_delay,
            approval_timeout=settings.approval_timeout,
        )
        self._owns_github = False
        github_config = github_settings(config.settings, source=str(config.path))
        if github is None and github_config.api_enabled:
            github = GitHubClient.from_settings(github_config)
            self._owns_github = True
        self.github = github
        self._rollback_git = RollbackGit(
            github_config, github, git, self.runtime, self._publish, clock
        )
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._previous_on_change: Callable[[LiveChange], None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started and not self._stopped

    def ready(self) -> bool:
        """Started, and the live cache (if any) has listed every watched kind."""
        return self.started and (self.live_cache is None or self.live_cache.synced())

    def start(self) -> None:
        """Announce new and removed apps, resume interrupted operations, follow the live
        cache and start the schedule. Idempotent."""
        with self._lock:
            if self._started or self._stopped:
                return
            self._started = True
        self._refresher.announce(self._apps, self.metrics)
        for name in sorted(self._apps):
            self._starter.resume(self._apps[name])
        if self.live_cache is not None:
            self._previous_on_change = self.live_cache.on_change
            self.live_cache.on_change = self._on_live_change
        settings = self.config.settings.controller
        for name, app in sorted(self._apps.items()):
            interval = refresh_interval(app, settings.reconciliation_interval)
            self._scheduler.add_app(name, interval, settings.jitter)
        self._scheduler.start()
        log.info("controller started: %d app(s), %d worker(s)", len(self._apps), self.workers)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop scheduling; let the steps that run now finish and persist (up to ``timeout``
        seconds). In-flight operations stay saved and resume at the next start(). The
        runtime store is closed if the controller opened it (the ``store`` is the caller's)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        deadline = time.monotonic() + timeout
        if self.live_cache is not None and self.live_cache.on_change == self._on_live_change:
            self.live_cache.on_change = self._previous_on_change
        if not self._runner.stop(timeout):
            log.warning("some operation steps did not finish within %.1f s", timeout)
        self._scheduler.shutdown(max(0.0, deadline - time.monotonic()))
        if self._owns_runtime:
            self.runtime.close()
        if self._owns_github and self.github is not None:
            self.github.close()
        log.info("controller stopped")

    # -- the audit log (ControllerAPI) -----------------------------------------------------

    def record_audit(
        self, actor: str, action: str, app: str, *, allowed: bool, detail: str = ""
    ) -> None:
        """Append to the audit log (any app name, known or not: denials are kept too)."""
        entry = AuditEntry(rfc3339(self._clock()), actor, action, app, allowed, detail)
        try:
            self.runtime.append_audit(entry)
        except KajitoriError:
            log.exception("cannot write the audit log")

    # -- internals -------------------------------------------------------------------------

    def _app(self, app: str) -> Application:
        found = self._apps.get(app)
        if found is None:
            raise UnknownAppError(app, sorted(self._apps))
        return found

    def _toggle(self, app: str, name: str, enabled: bool, actor: str) -> RuntimeToggle:
        self._app(app)
        override = Override(name, enabled, actor, rfc3339(self._clock()))
        self._switches.set(app, override)
        what = "auto-sync" if name == AUTO_SYNC else "self-heal"
        self.record_audit(actor, f"{'enable' if enabled else 'disable'} {what}", app, allowed=True)
        log.info("app %s: %s %s by %s", app, what, "on" if enabled else "off", actor)
        self._scheduler.request(app, fetch=False)
        return RuntimeToggle(enabled, override.changed_by, override.changed_at)

    def _publish(self, event: Event) -> None:
        self.events.publish(event)
        try:
            self.runtime.append_event(event.to_dict())
        except KajitoriError:
            log.exception("cannot write the event log")

    def _refresh(self, name: str, fetch: bool) -> None:
        """One refresh (on a scheduler thread, or the caller's for refresh_now). The runner
        is asked before the store is read: an operation ending in between then counts as
        running (harmless: its end requests another refresh), never as a stale Running state
        without an operation, which would look like a revision never attempted."""
        app = self._apps.get(name)
        if app is None or self._stopped:
            return
        merged = self._rollback_git.poll(name)
        if merged is not None and merged.state == "merged" and merged.resume_auto_sync:
            self._toggle(name, AUTO_SYNC, True, "kajitori")  # as set_auto_sync(name, True)
        automated = self._switches.automated(app)
        busy = self._runner.busy(name)  # first: see the docstring
        last = self.store.operation(name)
        result = self._refresher.refresh(
            app,
            self.config.project_of(app),
            automated=automated,
            last_operation=last,
            operation_running=busy or in_flight(last),
            fetch=fetch,
        )
        if not busy:
            record = self._refresher.record(name)
            self._rollback_git.confirm(
                name, record.sync_status, record.revision, project=app.spec.project
            )
        self._act(app, automated, result)

    def _act(self, app: Application, automated: Automated | None, result: Refreshed) -> None:
        decision = result.decision
        waiting = self._runner.waiting_revision(app.name) if automated is not None else ""
        target = result.comparison.revision
        if waiting and target and target != waiting and result.manifests is not None:
            # A new commit supersedes the sync that waits for approval; its end requests the
            # refresh that auto-syncs the new revision.
            self._runner.supersede_waiting(app.name)
            return
        if decision.action == "wait":
            self._scheduler.request(app.name, fetch=False, delay=decision.delay)
        elif decision.action in ("sync", "self-heal") and result.manifests and self.started:
            self._starter.automated(app, automated, decision, result.manifests)

    def _operation_done(self, name: str, state: Mapping[str, Any]) -> None:
        """Compare once more right away (on the operation's thread, without acting), so the
        status that the end-of-operation event's subscribers read is the post-sync one; then
        ask for the scheduled refresh that may act on it."""
        app = self._apps.get(name)
        if app is not None and not self._stopped:
            try:
                self._refresher.refresh(
                    app,
                    self.config.project_of(app),
                    automated=self._switches.automated(app),
                    last_operation=self.store.operation(name),
                    operation_running=False,
                    fetch=False,
                )
            except Exception:
                log.exception("refreshing app %s after its operation", name)
        self._scheduler.request(name, fetch=False)

    def _on_live_change(self, change: LiveChange) -> None:
        for name in change.apps:
            if name in self._apps:
                self._scheduler.request(name, fetch=False, delay=LIVE_CHANGE_DELAY)
        previous = self._previous_on_change
        if previous is not None:
            previous(change)


__all__ = ["LIVE_CHANGE_DELAY", "ControllerCore"]
