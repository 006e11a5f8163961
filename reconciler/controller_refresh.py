"""One refresh of one app: load its manifests, compare them with the cluster, update its
status record, announce what changed, and say what auto-sync should do.

A refresh fetches Git only when asked (polls, webhooks, people); one caused by a live change
resolves the revision from the local clone, so a burst of watch events costs no fetch, and
the render and dry-run caches make an unchanged app cheap. The record is updated under the
app's lock and saved; the events go out after it:

- ``SyncStatusChanged`` and ``HealthChanged`` when those changed (the latter listing the
  resources that are not Healthy);
- ``DriftDetected`` when the app is OutOfSync at the revision it was last synced to, outside
  an operation: once per distinct drift (fields, managers and masked diffs), again only when
  the drift changes or after the app was Synced in between.

The resource kinds of the app are added to the live cache, whose change callback brings the
next refresh within a second of a manual edit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.cluster_protocol import ClusterProtocol
from reconciler.compare import compare, comparison_error
from reconciler.compare_types import Comparison, DryRunCache
from reconciler.controller_drift import drift_changes, drift_signature
from reconciler.controller_policy import (
    Decision,
    decide,
    is_drift,
    project_violations,
    self_heal_attempts,
    with_automated,
)
from reconciler.controller_status import AppRecord, merge_conditions, resource_entries
from reconciler.errors import RenderError, SourceError
from reconciler.event_types import (
    AppAdded,
    AppRemoved,
    DriftDetected,
    Event,
    HealthChanged,
    ResourceHealth,
    SyncStatusChanged,
)
from reconciler.livecache import LiveCache
from reconciler.manifests import ManifestLoader, Manifests
from reconciler.metrics import Metrics
from reconciler.model import SYNCED, Application, AppProject, Automated
from reconciler.state_runtime import RuntimeStore
from reconciler.sync_types import rfc3339

log = logging.getLogger(__name__)

Publish = Callable[[Event], None]


@dataclass(frozen=True)
class Refreshed:
    """The outcome of a refresh: the comparison, the manifests it used (None when they could
    not be had), and what auto-sync should do."""

    comparison: Comparison
    manifests: Manifests | None
    decision: Decision


class Refresher:
    """Refreshes apps and keeps their records (module docstring). Thread-safe: one refresh
    per app at a time (a lock per app), any number of apps at once."""

    def __init__(
        self,
        *,
        loader: ManifestLoader,
        cluster: ClusterProtocol,
        runtime: RuntimeStore,
        publish: Publish,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        live_cache: LiveCache | None = None,
    ) -> None:
        self.loader = loader
        self.cluster = cluster
        self.runtime = runtime
        self.dry_runs = DryRunCache()
        self._publish = publish
        self._metrics = metrics
        self._clock = clock
        self._live_cache = live_cache
        self._lock = threading.Lock()
        self._records: dict[str, AppRecord] = {}
        self._locks: dict[str, threading.RLock] = {}

    # -- records ---------------------------------------------------------------------------

    def lock(self, app: str) -> threading.RLock:
        with self._lock:
            return self._locks.setdefault(app, threading.RLock())

    def record(self, app: str) -> AppRecord:
        """The app's record (loaded from the runtime store the first time)."""
        with self._lock:
            found = self._records.get(app)
        if found is not None:
            return found
        record = AppRecord.from_dict(self.runtime.app_record(app))
        with self._lock:
            return self._records.setdefault(app, record)

    def save(self, app: str, record: AppRecord) -> None:
        with self._lock:
            self._records[app] = record
        self.runtime.save_app_record(app, record.to_dict())

    def announce(self, apps: Mapping[str, Application], metrics: Metrics) -> None:
        """Publish AppAdded for configured apps seen for the first time (their record gets
        its creation time) and AppRemoved for recorded apps no longer configured (their
        record and switches are deleted)."""
        now = self._clock()
        for name in sorted(set(self.runtime.app_record_names()) - set(apps)):
            self.runtime.delete_app_record(name)
            with self._lock:
                self._records.pop(name, None)
            metrics.remove_app(name)
            self._publish(AppRemoved(app=name, time=_time(now)))
        for name, app in sorted(apps.items()):
            record = self.record(name)
            if record.created_at:
                continue
            record.created_at = rfc3339(now)
            self.save(name, record)
            source = app.spec.source
            self._publish(
                AppAdded(
                    app=name,
                    project=app.spec.project,
                    time=_time(now),
                    repo_url=source.repo_url,
                    path=source.path,
                    target_revision=source.target_revision,
                    dest_namespace=app.spec.destination.namespace,
                )
            )

    # -- one refresh -----------------------------------------------------------------------

    def load(self, app: Application, fetch: bool) -> Manifests:
        """The app's manifests at its target revision, timing the Git part."""
        started = time.monotonic()
        failed = False
        try:
            return self.loader.load(app, fetch=fetch)
        except SourceError:
            failed = True
            raise
        finally:
            if fetch:
                self._metrics.record_git_request(
                    app.spec.source.repo_url, time.monotonic() - started, failed=failed
                )

    def compare_now(self, app: Application) -> Comparison:
        """Fetch and compare ``app`` now, touching no record (what ``diff`` shows); a
        Comparison with a ComparisonError condition when its manifests cannot be had."""
        try:
            manifests = self.load(app, fetch=True)
        except (SourceError, RenderError) as error:
            return comparison_error(app, error)
        return compare(
            app, manifests.objects, self.cluster, revision=manifests.commit.sha, cache=self.dry_runs
        )

    def refresh(
        self,
        app: Application,
        project: AppProject,
        *,
        automated: Automated | None,
        last_operation: Mapping[str, Any] | None,
        operation_running: bool,
        fetch: bool,
    ) -> Refreshed:
        """Refresh ``app`` (module docstring). ``automated`` is the policy in effect,
        ``last_operation`` the stored operation state."""
        started = time.monotonic()
        manifests: Manifests | None = None
        try:
            manifests = self.load(app, fetch)
        except (SourceError, RenderError) as error:
            comparison = comparison_error(app, error)
        else:
            comparison = compare(
                app,
                manifests.objects,
                self.cluster,
                revision=manifests.commit.sha,
                cache=self.dry_runs,
            )
        self._watch_kinds(comparison)
        violations = project_violations(project, comparison)
        events: list[Event] = []
        with self.lock(app.name):
            record = self.record(app.name)
            now = self._clock()
            attempts = self_heal_attempts(
                record.self_heal_revision,
                record.self_heal_attempts,
                comparison.revision,
                last_operation,
                now,
            )
            if operation_running:
                decision = Decision("none", "an operation is running")
            elif violations:
                decision = Decision("none", "the project does not permit every resource")
            else:
                decision = decide(
                    app,
                    comparison,
                    automated=automated,
                    last=last_operation,
                    self_heal_attempts=attempts,
                    now=now,
                )
            conditions = [*comparison.conditions, *violations]
            if decision.condition is not None:
                conditions.append(decision.condition)
            updated = self._updated(record, app, comparison, manifests, conditions, now)
            if comparison.revision:  # a failed load says nothing about self-heal
                updated.self_heal_revision = comparison.revision
                updated.self_heal_attempts = attempts
            events.extend(self._changes(app, record, updated, comparison, now))
            drifted = not operation_running and is_drift(app, comparison, last_operation)
            if drifted:
                changes = drift_changes(comparison)
                signature = drift_signature(changes)
                if changes and signature != record.drift_signature:
                    heal = automated is not None and automated.self_heal
                    events.append(
                        DriftDetected(
                            app=app.name,
                            project=app.spec.project,
                            time=_time(now),
                            revision=comparison.revision,
                            changes=changes,
                            self_heal=heal,
                        )
                    )
                updated.drift_signature = signature
            elif comparison.sync_status == SYNCED:
                updated.drift_signature = ""
            self.save(app.name, updated)
        for event in events:
            self._publish(event)
        self._metrics.set_app_info(
            with_automated(app, automated),
            updated.sync_status,
            updated.health_status,
            "sync" if operation_running else "",
        )
        self._metrics.set_app_conditions(app, updated.condition_types())
        self._metrics.record_reconcile(app, time.monotonic() - started)
        return Refreshed(comparison, manifests, decision)

    def note_self_heal(self, app: str, revision: str) -> None:
        """Count a self-heal sync of ``revision`` (for the backoff of the next one)."""
        with self.lock(app):
            record = self.record(app)
            if record.self_heal_revision != revision:
                record.self_heal_revision, record.self_heal_attempts = revision, 0
            record.self_heal_attempts += 1
            self.save(app, record)

    # -- helpers ---------------------------------------------------------------------------

    def _updated(
        self,
        record: AppRecord,
        app: Application,
        comparison: Comparison,
        manifests: Manifests | None,
        conditions: list[Any],
        now: float,
    ) -> AppRecord:
        stamp = rfc3339(now)
        updated = AppRecord.from_dict(record.to_dict())
        updated.created_at = record.created_at or stamp
        updated.sync_status = comparison.sync_status
        updated.revision = comparison.revision
        health = str(comparison.health_status)
        if health != record.health_status or not record.health_changed_at:
            updated.health_changed_at = stamp
        updated.health_status = health
        unhealthy = [r.health for r in comparison.resources if r.health is not None and not r.hook]
        worst = next((h for h in unhealthy if str(h.status) == health and h.message), None)
        updated.health_message = worst.message if worst is not None else ""
        updated.conditions = merge_conditions(record.conditions, conditions, stamp)
        updated.reconciled_at = stamp
        updated.resources = resource_entries(comparison)
        if manifests is not None:
            commit = manifests.commit
            updated.commit = {
                "revision": commit.sha,
                "author": f"{commit.author_name} <{commit.author_email}>",
                "date": commit.date,
                "message": commit.message,
            }
        return updated

    def _changes(
        self,
        app: Application,
        before: AppRecord,
        after: AppRecord,
        comparison: Comparison,
        now: float,
    ) -> list[Event]:
        events: list[Event] = []
        first = not before.reconciled_at
        if first or before.sync_status != after.sync_status:
            events.append(
                SyncStatusChanged(
                    app=app.name,
                    project=app.spec.project,
                    time=_time(now),
                    previous="" if first else before.sync_status,
                    current=after.sync_status,
                    revision=after.revision,
                )
            )
        if first or before.health_status != after.health_status:
            events.append(
                HealthChanged(
                    app=app.name,
                    project=app.spec.project,
                    time=_time(now),
                    previous="" if first else before.health_status,
                    current=after.health_status,
                    message=after.health_message,
                    revision=after.revision,
                    resources=tuple(
                        ResourceHealth(r.key, str(r.health.status), r.health.message)
                        for r in comparison.resources
                        if r.health is not None and str(r.health.status) != "Healthy" and not r.hook
                    ),
                )
            )
        return events

    def _watch_kinds(self, comparison: Comparison) -> None:
        if self._live_cache is None:
            return
        kinds = {(r.key.group, r.key.kind) for r in comparison.resources if not r.hook}
        for group, kind in sorted(kinds - self._live_cache.kinds()):
            try:
                self._live_cache.watch(group, kind)
            except RuntimeError:  # the cache was stopped (shutting down)
                return


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


__all__ = ["Refreshed", "Refresher"]
