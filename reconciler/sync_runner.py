"""Driving a sync operation to its end with its state persisted: what ``kajitori sync`` and
``kajitori rollback`` do, and what the controller does one step at a time.

``persist`` saves the state after a step; once the operation completed it saves, in the same
transaction (``Store.finish_operation``), the history entry a successful full sync earns
(``reconciler.history.should_record``) and the fingerprints of the on-change hooks that
succeeded (``operationState.hookFingerprints``), which the next operation gets as
``hook_fingerprints`` (``Store.hook_fingerprints``). ``drive`` steps an operation until it
completes, persisting after every step, so that a process killed at any point leaves a state
that ``SyncOperation.restore`` resumes. ``resumable`` reads the in-flight operation of an app
from the store, if any.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.history import add_entry, should_record
from reconciler.model import Application
from reconciler.state import Store, in_flight
from reconciler.sync import SyncOperation
from reconciler.sync_types import OperationState


def persist(
    store: Store, app: Application, operation: SyncOperation, *, now: float | None = None
) -> dict[str, Any]:
    """Save the operation's state; when it has just completed, record the history entry
    (trimmed to the app's revisionHistoryLimit) and the on-change hook fingerprints. Returns
    the saved state."""
    state = operation.to_dict()
    if not operation.completed:
        store.save_operation(app.name, state)
        return state
    history = None
    if should_record(operation.state):
        history = add_entry(
            store.history(app.name),
            operation.state,
            deployed_at=time.time() if now is None else now,
            limit=app.spec.revision_history_limit,
        )
    store.finish_operation(app.name, state, history, operation.state.hook_fingerprints)
    return state


def drive(
    operation: SyncOperation,
    store: Store,
    app: Application,
    *,
    poll_interval: float = 1.0,
    timeout: float | None = None,
    sleeper: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Step ``operation`` until it completes (terminating it after ``timeout`` seconds),
    persisting its state after every step. Returns the final state."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            operation.step()
            state = persist(store, app, operation)
            if operation.completed:
                return state
            if deadline is not None and time.monotonic() >= deadline:
                operation.terminate()
                return persist(store, app, operation)
            sleeper(max(poll_interval, operation.seconds_until_due()))
    finally:
        operation.close()


def resumable(store: Store, app: Application) -> OperationState | None:
    """The app's in-flight operation, if the store holds one."""
    state: Mapping[str, Any] | None = store.operation(app.name)
    if not in_flight(state):
        return None
    assert state is not None
    return OperationState.from_dict(state)
