"""The attempts of a sync operation: the state the first one starts from, and the retry of a
failed one (``syncPolicy.retry``, Argo CD's retry with backoff).

``SyncOperation`` (``reconciler.sync``) drives the attempts; the bookkeeping on the state is
here, as plain functions over ``OperationState`` so that it reads the same whether the
operation was just started or restored from its saved state:

- a new operation's request takes the app's ``syncPolicy`` sync options and retry strategy
  unless the request names its own;
- a failed attempt that may be retried leaves the operation Running, with ``retryCount``
  counted up and a message saying when the next attempt starts (UTC);
- a restored operation that waits between attempts waits out the rest of the backoff, which
  is derived from the saved end of its last attempt.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

from reconciler.model import Application
from reconciler.plan_backoff import retry_allowed, retry_delay
from reconciler.sync_types import ERROR, FAILED, RUNNING, OperationState, SyncRequest


def first_state(
    app: Application, request: SyncRequest, *, revision: str, started_at: int
) -> OperationState:
    """The state of a new operation syncing ``app`` to commit ``revision``; the request's
    sync options and retry default to the app's ``syncPolicy``."""
    policy = app.spec.sync_policy
    if not request.sync_options and policy.sync_options:
        request = replace(request, sync_options=tuple(policy.sync_options))
    if request.retry is None and policy.retry is not None:
        request = replace(request, retry=policy.retry)
    source = app.spec.source
    return OperationState(
        request=request,
        started_at=started_at,
        id=uuid.uuid4().hex[:16],
        revision=revision,
        source={
            "repoURL": source.repo_url,
            "path": source.path,
            "targetRevision": source.target_revision,
        },
        message="starting",
    )


def retry_due(state: OperationState) -> float:
    """When a (restored) operation that waits between attempts may start the next one: the
    end of its last attempt plus that attempt's backoff; 0.0 when it is not waiting."""
    retry = state.request.retry
    if state.awaiting_retry and state.finished_at is not None and retry:
        return state.finished_at + retry_delay(max(0, state.retry_count - 1), retry.backoff)
    return 0.0


def schedule_retry(state: OperationState, phase: str, message: str) -> float | None:
    """After an attempt ended ``phase`` with ``message`` (``finished_at`` set): when the
    retry strategy allows another attempt, put the operation back to Running with a message
    saying when, count the retry and return the time it is due; None when the operation ends
    here."""
    retry = state.request.retry
    if phase not in (FAILED, ERROR) or not retry_allowed(state.retry_count, retry):
        return None
    assert retry is not None and state.finished_at is not None
    delay = retry_delay(state.retry_count, retry.backoff)
    state.retry_count += 1
    state.phase = RUNNING
    due = state.finished_at + delay
    at = time.strftime("%H:%M:%S", time.gmtime(due))
    state.message = f"{message}. Retrying attempt #{state.retry_count} at {at} UTC."
    return due


__all__ = ["first_state", "retry_due", "schedule_retry"]
