"""Automated sync and self-heal: after each refresh, whether to sync now, later or not at all
(Argo CD's ``autoSync`` in controller/appcontroller.go, see reference/argocd-sync.md §4).

``decide`` gives up when there is no automated policy (in effect: run-time switches
included), an operation runs, the app is not OutOfSync, only pruning is needed but prune is
off, or prune would delete every resource without ``allowEmpty`` (a SyncError condition). If
the last operation already went to the desired revision from the same source:

- it failed: no new attempt, and a SyncError condition saying so, until a new commit, a
  change of source or a manual sync changes the last operation;
- it succeeded and self-heal is off: the drift is left alone (the caller reports it);
- it succeeded and self-heal is on: after the self-heal backoff (0, 2, 6, 18 ... 300 s,
  counted from the last operation's end) a sync of only the resources that are not Synced
  (hooks skipped), otherwise a full sync of the new revision.

``project_violations`` lists resources the app's AppProject does not permit, which block any
sync. Pure: the clock's reading is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from reconciler.compare_types import Comparison, Condition
from reconciler.config_permits import project_permits
from reconciler.model import OUT_OF_SYNC, SYNCED, Application, AppProject, Automated, ResourceKey
from reconciler.plan_backoff import self_heal_remaining
from reconciler.sync_types import COMPLETED_PHASES, SUCCEEDED, StateError, parse_rfc3339

SYNC_ERROR: Final = "SyncError"
INVALID_SPEC_ERROR: Final = "InvalidSpecError"
# An app that stayed synced this long after a self-heal starts its backoff over
# (Argo CD's --self-heal-backoff-cooldown-seconds default).
SELF_HEAL_COOLDOWN: Final = 330.0

Action = Literal["none", "sync", "self-heal", "wait"]


@dataclass(frozen=True)
class Decision:
    """What auto-sync does after a refresh: ``none`` (``reason`` says why), ``sync`` (full
    sync of ``revision``), ``self-heal`` (sync of ``resources`` only) or ``wait`` (``delay``
    seconds, then refresh again). ``condition`` is a SyncError the app must carry;
    ``drift`` says the app drifted from the revision it was synced to."""

    action: Action
    reason: str = ""
    revision: str = ""
    prune: bool = False
    resources: tuple[ResourceKey, ...] = ()
    delay: float = 0.0
    condition: Condition | None = None
    drift: bool = False


def _same_source(app: Application, state: Mapping[str, Any]) -> bool:
    source = (state.get("syncResult") or {}).get("source") or {}
    spec = app.spec.source
    if not source:
        return True
    return bool(
        source.get("repoURL", spec.repo_url) == spec.repo_url
        and source.get("path", spec.path) == spec.path
        and source.get("targetRevision", spec.target_revision) == spec.target_revision
    )


def last_attempt(
    app: Application, revision: str, last: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The last completed operation if it went to ``revision`` from the app's current source
    (Argo CD's alreadyAttemptedSync), else None."""
    if not last or str(last.get("phase", "")) not in COMPLETED_PHASES:
        return None
    synced = str((last.get("syncResult") or {}).get("revision", ""))
    if not revision or synced != revision or not _same_source(app, last):
        return None
    return last


def is_drift(app: Application, comparison: Comparison, last: Mapping[str, Any] | None) -> bool:
    """OutOfSync at the very revision the last successful operation synced: live objects
    changed outside Git."""
    attempt = last_attempt(app, comparison.revision, last)
    return (
        comparison.sync_status == OUT_OF_SYNC
        and attempt is not None
        and attempt.get("phase") == SUCCEEDED
    )


def _finished_at(state: Mapping[str, Any]) -> float | None:
    try:
        return parse_rfc3339(str(state["finishedAt"])) if state.get("finishedAt") else None
    except StateError:
        return None


def decide(
    app: Application,
    comparison: Comparison,
    *,
    automated: Automated | None,
    last: Mapping[str, Any] | None,
    self_heal_attempts: int,
    now: float,
) -> Decision:
    """Argo CD's auto-sync rules (module docstring) for one refreshed app."""
    if automated is None:
        return Decision("none", "automated sync is off")
    if comparison.sync_status != OUT_OF_SYNC:
        return Decision("none", f"sync status is {comparison.sync_status}")
    targets = [r for r in comparison.resources if not r.hook]
    differing = [r for r in targets if r.status != SYNCED]
    if not automated.prune and differing and all(r.requires_pruning for r in differing):
        return Decision("none", "only pruning is needed and automated prune is off")
    counted = [r for r in targets if not r.ignore_extraneous]
    wipe_out = counted and all(r.requires_pruning for r in counted)
    if automated.prune and not automated.allow_empty and wipe_out:
        message = "auto-sync will wipe out all resources"
        return Decision("none", message, condition=Condition(SYNC_ERROR, message))
    attempt = last_attempt(app, comparison.revision, last)
    if attempt is None:
        return Decision("sync", "new revision", comparison.revision, automated.prune)
    if attempt.get("phase") != SUCCEEDED:
        message = (
            f"Failed last sync attempt to {comparison.revision}: {attempt.get('message', '')} "
            "(auto-sync will not retry this revision until a new commit or a manual sync)"
        )
        return Decision("none", message, condition=Condition(SYNC_ERROR, message))
    if not automated.self_heal:
        return Decision("none", "drift left alone: self-heal is off", drift=True)
    remaining = self_heal_remaining(self_heal_attempts, _finished_at(attempt), now)
    if remaining > 0:
        return Decision("wait", "self-heal backoff", delay=remaining, drift=True)
    keys = tuple(r.key for r in differing if automated.prune or not r.requires_pruning)
    return Decision(
        "self-heal",
        "reverting drift",
        comparison.revision,
        automated.prune,
        resources=keys,
        drift=True,
    )


def self_heal_attempts(
    previous_revision: str, attempts: int, revision: str, last: Mapping[str, Any] | None, now: float
) -> int:
    """The self-heal attempt count that applies now: 0 at a new revision, and 0 again once
    the app stayed synced for ``SELF_HEAL_COOLDOWN`` seconds after the last operation."""
    if previous_revision != revision:
        return 0
    finished = _finished_at(last) if last else None
    if finished is not None and now - finished > SELF_HEAL_COOLDOWN:
        return 0
    return attempts


def with_automated(app: Application, automated: Automated | None) -> Application:
    """``app`` with ``automated`` as its automated sync policy (the policy in effect after
    run-time switches); ``app`` itself when that is its policy already."""
    if app.spec.sync_policy.automated == automated:
        return app
    policy = replace(app.spec.sync_policy, automated=automated)
    return replace(app, spec=replace(app.spec, sync_policy=policy))


def project_violations(project: AppProject, comparison: Comparison) -> list[Condition]:
    """An InvalidSpecError per desired resource kind the project does not permit."""
    problems: dict[tuple[str, str, bool], Condition] = {}
    for resource in comparison.resources:
        if resource.desired is None:
            continue
        key = resource.key
        namespaced = bool(key.namespace)
        if project_permits(project, key.group, key.kind, namespaced):
            continue
        scope = "namespaced" if namespaced else "cluster-scoped"
        kind = f"{key.group}/{key.kind}" if key.group else key.kind
        problems.setdefault(
            (key.group, key.kind, namespaced),
            Condition(
                INVALID_SPEC_ERROR,
                f"{scope} resource {kind} (e.g. {key.name}) is not permitted in project "
                f"{project.name}",
            ),
        )
    return list(problems.values())


__all__ = [
    "INVALID_SPEC_ERROR",
    "SELF_HEAL_COOLDOWN",
    "SYNC_ERROR",
    "Decision",
    "decide",
    "is_drift",
    "last_attempt",
    "project_violations",
    "self_heal_attempts",
    "with_automated",
]
