"""Resuming, at start-up, the operation a previous process left in flight.

The store holds the state of every operation as it was after its last step. When that state
is still Running (the process was stopped or killed in the middle), the operation is rebuilt
from it with the manifests of its own revision (``SyncOperation.restore``): tasks with a
result are not run again, and a hook created just before the crash is adopted, not run a
second time. When it cannot be rebuilt (the state is unreadable, or the manifests of its
revision can no longer be had) it is ended with phase Error and a message saying why, and a
SyncFailed event tells people, so an app is never stuck behind an operation nobody runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from reconciler.cluster_protocol import ClusterProtocol
from reconciler.controller_ops import Running
from reconciler.errors import RenderError, SourceError
from reconciler.event_types import AUTOMATED, CommitSummary, Event, SyncFailed
from reconciler.manifests import ManifestLoader, Manifests
from reconciler.model import Application
from reconciler.source import CommitInfo
from reconciler.state import Store, in_flight
from reconciler.sync import SyncOperation
from reconciler.sync_types import ERROR, OperationState, StateError, rfc3339

log = logging.getLogger(__name__)


def commit_summary(commit: CommitInfo) -> CommitSummary:
    """The commit as events carry it."""
    return CommitSummary(
        sha=commit.sha,
        author=f"{commit.author_name} <{commit.author_email}>",
        message=commit.message,
        date=commit.date,
    )


def _load(loader: ManifestLoader, app: Application, revision: str) -> Manifests:
    try:
        return loader.load(app, revision, fetch=False)
    except SourceError:
        return loader.load(app, revision, fetch=True)


def resume_operation(
    app: Application,
    store: Store,
    loader: ManifestLoader,
    cluster: ClusterProtocol,
    *,
    clock: Callable[[], float],
    wave_delay: float,
    publish: Callable[[Event], None],
) -> Running | None:
    """The app's interrupted operation, rebuilt and ready to step; None when there is none
    (or it had to be ended: see the module docstring)."""
    raw = store.operation(app.name)
    if not in_flight(raw):
        return None
    assert raw is not None
    try:
        state = OperationState.from_dict(raw)
    except StateError as error:
        _end_unreadable(app, store, raw, str(error), clock, publish)
        return None
    try:
        manifests = _load(loader, app, state.revision)
    except (SourceError, RenderError) as error:
        message = (
            f"could not resume the operation after a restart: the manifests of revision "
            f"{state.revision} cannot be loaded: {error}"
        )
        _end(app, store, state, message, clock, publish)
        return None
    operation = SyncOperation.restore(
        state,
        app,
        manifests.objects,
        cluster,
        clock=clock,
        wave_delay=wave_delay,
        hook_fingerprints=store.hook_fingerprints(app.name),
    )
    return Running(app, operation, commit_summary(manifests.commit), None, resumed=True)


def _end(
    app: Application,
    store: Store,
    state: OperationState,
    message: str,
    clock: Callable[[], float],
    publish: Callable[[Event], None],
) -> None:
    log.error("app %s: %s", app.name, message, extra={"app": app.name})
    state.phase, state.message, state.finished_at = ERROR, message, clock()
    store.save_operation(app.name, state.to_dict())
    request = state.request
    publish(
        SyncFailed(
            app=app.name,
            project=app.spec.project,
            time=datetime.fromtimestamp(clock(), UTC),
            revision=state.revision,
            initiated_by=AUTOMATED if request.automated else request.initiated_by or AUTOMATED,
            started_at=datetime.fromtimestamp(state.started_at, UTC),
            message=message,
            phase=ERROR,
        )
    )


def _end_unreadable(
    app: Application,
    store: Store,
    raw: dict[str, Any],
    problem: str,
    clock: Callable[[], float],
    publish: Callable[[Event], None],
) -> None:
    message = (
        f"could not resume the operation after a restart: its saved state is unreadable: {problem}"
    )
    log.error("app %s: %s", app.name, message, extra={"app": app.name})
    ended = {**raw, "phase": ERROR, "message": message, "finishedAt": rfc3339(clock())}
    store.save_operation(app.name, ended)
    publish(
        SyncFailed(
            app=app.name,
            project=app.spec.project,
            time=datetime.fromtimestamp(clock(), UTC),
            message=message,
            phase=ERROR,
        )
    )


__all__ = ["commit_summary", "resume_operation"]
