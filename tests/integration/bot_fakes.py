"""A small test implementation of ``reconciler.controller_api.ControllerAPI`` for the bot's
tests and benchmark: configured apps, a deployment history, canned comparisons, and syncs that
run on their own threads and report progress exactly as the protocol says (Argo-shaped
``operationState`` dicts, one call per step), optionally held on a gate or slowed down.

It is our own protocol, not a client library, so a test double is the right tool here; every
call is recorded for the assertions. ``tests/integration/bot_harness.py`` serves the real bot
against it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.compare_types import Comparison
from reconciler.controller_api import (
    AppSummary,
    ControllerAPI,
    OperationRefused,
    OperationTicket,
    ProgressCallback,
    RuntimeToggle,
    UnknownAppError,
)
from reconciler.history import HistoryEntry, rollback_target
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Automated,
    Destination,
    ResourceKey,
    SyncPolicy,
)
from reconciler.sync_approval import APPROVED, REJECTED, Approval
from reconciler.sync_types import (
    APPLY_STRATEGY,
    FAILED,
    RUNNING,
    SUCCEEDED,
    SYNC_FAILED,
    SYNCED,
    OperationState,
    ResourceResult,
    SyncRequest,
    rfc3339,
)

REV_OLD = "1111111111111111111111111111111111111111"
REV_MID = "2222222222222222222222222222222222222222"
REV_HEAD = "3333333333333333333333333333333333333333"


def make_app(name: str, project: str = "default", *, automated: bool = False) -> Application:
    """An Application as the configuration would give it."""
    policy = SyncPolicy(automated=Automated(prune=True) if automated else None)
    return Application(
        name=name,
        spec=ApplicationSpec(
            source=ApplicationSource(repo_url="https://git.example/apps.git", path=name),
            destination=Destination(namespace=name),
            project=project,
            sync_policy=policy,
        ),
    )


@dataclass(frozen=True)
class Step:
    """One step of a fake sync: the results it records. Like Argo's, they carry no wave: the
    bot finds the waves in ``app_status``'s ``status.resources``."""

    results: tuple[ResourceResult, ...]


def key(kind: str, name: str, namespace: str = "demo", group: str = "") -> ResourceKey:
    return ResourceKey(group, kind, namespace, name)


def default_plan(fail: bool = False) -> list[Step]:
    """A PreSync hook, then wave 0 (ConfigMap, Service), then wave 1 (a Deployment), each
    result first Running then finished; ``fail`` makes the Deployment's write fail."""
    job = key("Job", "migrate", group="batch")
    config = key("ConfigMap", "settings")
    service = key("Service", "web")
    deploy = key("Deployment", "web", group="apps")

    def res(k: ResourceKey, phase: str, hook: str, status: str = SYNCED, msg: str = "") -> Any:
        hook_type = "PreSync" if phase == "PreSync" else ""
        return ResourceResult(k, phase, "v1", status, msg, hook_type, hook)

    last = (
        res(deploy, "Sync", FAILED, SYNC_FAILED, 'admission webhook "policy" denied: no :latest')
        if fail
        else res(deploy, "Sync", SUCCEEDED, msg="deployment.apps/web configured")
    )
    return [
        Step((res(job, "PreSync", RUNNING, msg="job created"),)),
        Step((res(job, "PreSync", SUCCEEDED, msg="job succeeded"),)),
        Step((res(config, "Sync", SUCCEEDED), res(service, "Sync", SUCCEEDED))),
        Step((last,)),
    ]


@dataclass
class Operation:
    app: str
    ticket: OperationTicket
    thread: threading.Thread
    states: list[dict[str, Any]] = field(default_factory=list)


class FakeController:
    """Apps by name; ``gate`` (when set) holds every sync before its first step until it is
    set; ``step_delay`` sleeps between steps. ``errors`` maps method names to exceptions to
    raise (for the error paths)."""

    def __init__(
        self,
        apps: Sequence[Application],
        *,
        plan: Callable[[], list[Step]] = default_plan,
        step_delay: float = 0.0,
    ) -> None:
        self._apps = {a.name: a for a in apps}
        self.plan = plan
        self.step_delay = step_delay
        self.gate: threading.Event | None = None
        self.errors: dict[str, Exception] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.audit: list[dict[str, Any]] = []
        self.comparisons: dict[str, Comparison] = {}
        self.histories: dict[str, list[HistoryEntry]] = {}
        self.thread_urls: dict[str, str] = {}  # the thread link each rollback was given
        self.self_heal: dict[str, bool] = {}
        self.auto_sync: dict[str, bool] = {
            a.name: a.spec.sync_policy.automated is not None for a in apps
        }
        self.revisions: dict[str, str] = {a.name: REV_MID for a in apps}
        self.operations: list[Operation] = []
        self.approvals: dict[str, Approval] = {}
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # -- helpers for tests ----------------------------------------------------------------

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == method]

    def wait_idle(self, timeout: float = 10.0) -> None:
        for operation in list(self.operations):
            operation.thread.join(timeout)

    def _record(self, method: str, **kwargs: Any) -> None:
        with self._lock:
            self.calls.append((method, kwargs))
        error = self.errors.get(method)
        if error is not None:
            raise error

    def _known(self, app: str) -> Application:
        if app not in self._apps:
            raise UnknownAppError(app, sorted(self._apps))
        return self._apps[app]

    # -- ControllerAPI --------------------------------------------------------------------

    def app_names(self) -> list[str]:
        return sorted(self._apps)

    def application(self, app: str) -> Application:
        return self._known(app)

    def apps(self) -> list[AppSummary]:
        self._record("apps")
        return [
            AppSummary(
                name=a.name,
                project=a.spec.project,
                sync_status="Synced",
                health_status="Healthy",
                revision=self.revisions[a.name],
                auto_sync=self.auto_sync[a.name],
                self_heal=self.self_heal.get(a.name, False),
            )
            for a in sorted(self._apps.values(), key=lambda a: a.name)
        ]

    def app_status(self, app: str) -> dict[str, Any]:
        self._record("app_status", app=app)
        spec = self._known(app)
        return {
            "metadata": {"name": app, "namespace": "argocd"},
            "spec": {"project": spec.spec.project},
            "status": {
                "sync": {"status": "OutOfSync", "revision": self.revisions[app]},
                "health": {"status": "Degraded", "message": "1 of 2 pods crash-looping"},
                "conditions": [{"type": "SyncError", "message": "last sync failed"}],
                "operationState": {"phase": "Failed", "finishedAt": "2024-05-01T10:00:00Z"},
                "resources": [
                    {
                        "group": "",
                        "kind": "ConfigMap",
                        "namespace": "demo",
                        "name": "settings",
                        "status": "Synced",
                        "health": {"status": "Healthy"},
                        "syncWave": 0,
                    },
                    {
                        "group": "",
                        "kind": "Service",
                        "namespace": "demo",
                        "name": "web",
                        "status": "Synced",
                        "health": {"status": "Healthy"},
                        "syncWave": 0,
                    },
                    {
                        "group": "apps",
                        "kind": "Deployment",
                        "namespace": "demo",
                        "name": "web",
                        "status": "OutOfSync",
                        "syncWave": 1,
                        "health": {"status": "Degraded", "message": "crash-looping"},
                    },
                ],
                "history": [e.to_dict() for e in self.histories.get(app, [])],
            },
        }

    def refresh(self, app: str) -> None:
        self._record("refresh", app=app)

    def diff(self, app: str) -> Comparison:
        self._record("diff", app=app)
        self._known(app)
        return self.comparisons.get(app, Comparison(revision=self.revisions[app]))

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
        self._record("sync", app=app, actor=actor, revision=revision, prune=prune, dry_run=dry_run)
        self._known(app)
        request = SyncRequest(
            revision=revision or "", prune=prune, dry_run=dry_run, initiated_by=actor
        )
        return self._start(app, request, REV_HEAD if revision is None else revision, on_progress)

    def history(self, app: str) -> list[HistoryEntry]:
        self._record("history", app=app)
        self._known(app)
        return list(self.histories.get(app, []))

    def rollback(
        self,
        app: str,
        *,
        actor: str,
        history_id: int | None = None,
        on_progress: ProgressCallback | None = None,
        thread_url: str = "",
    ) -> OperationTicket:
        self._record("rollback", app=app, actor=actor, history_id=history_id)
        self.thread_urls[app] = thread_url
        self._known(app)
        entry = rollback_target(self.histories.get(app, []), history_id)
        self.auto_sync[app] = False
        request = SyncRequest(revision=entry.revision, strategy=APPLY_STRATEGY, initiated_by=actor)
        return self._start(app, request, entry.revision, on_progress)

    def set_auto_sync(self, app: str, enabled: bool, *, actor: str) -> RuntimeToggle:
        self._record("set_auto_sync", app=app, enabled=enabled, actor=actor)
        self._known(app)
        self.auto_sync[app] = enabled
        return RuntimeToggle(enabled, actor, "2024-05-01T10:00:00Z")

    def set_self_heal(self, app: str, enabled: bool, *, actor: str) -> RuntimeToggle:
        self._record("set_self_heal", app=app, enabled=enabled, actor=actor)
        self._known(app)
        self.self_heal[app] = enabled
        return RuntimeToggle(enabled, actor, "2024-05-01T10:00:00Z")

    def self_heal_enabled(self, app: str) -> bool:
        self._known(app)
        return self.self_heal.get(app, False)

    def auto_sync_enabled(self, app: str) -> bool:
        self._known(app)
        return self.auto_sync[app]

    def record_audit(
        self, actor: str, action: str, app: str, *, allowed: bool, detail: str = ""
    ) -> None:
        with self._lock:
            self.audit.append(
                {"actor": actor, "action": action, "app": app, "allowed": allowed, "detail": detail}
            )

    def decide_approval(
        self, app: str, approval_id: str, approved: bool, *, actor: str
    ) -> Approval:
        """The first decision on ``approval_id`` wins (a later one returns it unchanged);
        ``approvals`` holds the pending ones a test put there."""
        self._record("decide_approval", app=app, approval_id=approval_id, approved=approved)
        self._known(app)
        with self._lock:
            approval = self.approvals.get(approval_id)
            if approval is None:
                raise OperationRefused(f"app {app}: no operation is running, nothing to approve")
            if approval.pending:
                state = APPROVED if approved else REJECTED
                verb = "approved" if approved else "rejected"
                approval = approval.decided(state, actor, time.time(), f"{verb} by {actor}")
                self.approvals[approval_id] = approval
        return approval

    # -- the fake operation ---------------------------------------------------------------

    def _start(
        self,
        app: str,
        request: SyncRequest,
        revision: str,
        on_progress: ProgressCallback | None,
    ) -> OperationTicket:
        with self._lock:
            if app in self._running:
                raise OperationRefused(f"another operation is already running on {app}")
            self._running.add(app)
            operation_id = f"op-{next(self._ids)}"
        ticket = OperationTicket(app, operation_id, revision, self.revisions[app])
        state = OperationState(
            request=request, started_at=int(time.time()), id=operation_id, revision=revision
        )
        thread = threading.Thread(
            target=self._run,
            args=(app, state, on_progress),
            name=f"fake-sync-{app}",
            daemon=True,
        )
        self.operations.append(Operation(app, ticket, thread))
        thread.start()
        return ticket

    def _emit(self, state: OperationState, on_progress: ProgressCallback | None) -> None:
        if on_progress is not None:
            on_progress(state.to_dict())

    def _run(self, app: str, state: OperationState, on_progress: ProgressCallback | None) -> None:
        try:
            if self.gate is not None:
                self.gate.wait(60)
            for step in self.plan():
                for result in step.results:
                    state.record(result)
                self._emit(state, on_progress)
                if self.step_delay:
                    time.sleep(self.step_delay)
            failed = any(r.failed for r in state.results.values())
            state.phase = FAILED if failed else SUCCEEDED
            state.message = (
                "one or more objects failed to apply" if failed else "successfully synced"
            )
            state.finished_at = time.time()
            self._emit(state, on_progress)
            if not failed and not state.request.dry_run:
                self.revisions[app] = state.revision
        finally:
            with self._lock:
                self._running.discard(app)


def history_of(*revisions: str) -> list[HistoryEntry]:
    """Deployments of ``revisions`` (oldest first), ids from 0."""
    return [
        HistoryEntry(
            id=index,
            revision=revision,
            deployed_at=rfc3339(1714557600 + 3600 * index),
            deploy_started_at=rfc3339(1714557600 + 3600 * index - 30),
            initiated_by="U0BOB",
        )
        for index, revision in enumerate(revisions)
    ]


def audit_of(controller: FakeController, **match: Any) -> list[dict[str, Any]]:
    """Audit records whose fields equal ``match``."""
    return [r for r in controller.audit if all(r.get(k) == v for k, v in match.items())]


def _conforms(controller: FakeController) -> ControllerAPI:
    """mypy proves here that the fake implements the whole protocol."""
    return controller
