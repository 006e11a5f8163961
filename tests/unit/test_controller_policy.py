"""Auto-sync decisions (Argo CD's autoSync rules), self-heal attempts and project checks."""

from __future__ import annotations

from typing import Any

from reconciler.compare_types import Comparison, ResourceStatus
from reconciler.controller_policy import (
    INVALID_SPEC_ERROR,
    SYNC_ERROR,
    decide,
    is_drift,
    project_violations,
    self_heal_attempts,
    with_automated,
)
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    AppProject,
    Automated,
    Destination,
    GroupKind,
    ResourceKey,
)

REV = "a" * 40
OLD = "b" * 40
T0 = 1_700_000_000.0
APP = Application(
    "shop",
    ApplicationSpec(
        source=ApplicationSource("https://git.example.com/apps.git", "shop", "main"),
        destination=Destination(namespace="shop"),
    ),
)
WEB = ResourceKey("apps", "Deployment", "shop", "web")
CM = ResourceKey("", "ConfigMap", "shop", "settings")


def resource(key: ResourceKey, status: str, *, prune: bool = False) -> ResourceStatus:
    desired = None if prune else {"apiVersion": "v1", "kind": key.kind}
    return ResourceStatus(key, status, None, desired, {}, requires_pruning=prune)


def comparison(*resources: ResourceStatus, status: str = "OutOfSync") -> Comparison:
    return Comparison(REV, list(resources), status, "Healthy", [])


def operation(phase: str, revision: str = REV, finished: str = "2023-11-14T22:13:20Z") -> Any:
    return {
        "phase": phase,
        "message": "hook failed" if phase != "Succeeded" else "successfully synced",
        "finishedAt": finished,
        "syncResult": {
            "revision": revision,
            "source": {
                "repoURL": APP.spec.source.repo_url,
                "path": "shop",
                "targetRevision": "main",
            },
        },
    }


def test_nothing_happens_without_automated_sync_or_when_not_out_of_sync() -> None:
    drifted = comparison(resource(WEB, "OutOfSync"))
    assert (
        decide(APP, drifted, automated=None, last=None, self_heal_attempts=0, now=T0).action
        == "none"
    )
    synced = comparison(resource(WEB, "Synced"), status="Synced")
    assert (
        decide(APP, synced, automated=Automated(), last=None, self_heal_attempts=0, now=T0).action
        == "none"
    )
    unknown = comparison(status="Unknown")
    assert (
        decide(APP, unknown, automated=Automated(), last=None, self_heal_attempts=0, now=T0).action
        == "none"
    )


def test_a_new_revision_is_synced_with_prune_as_configured() -> None:
    result = decide(
        APP,
        comparison(resource(WEB, "OutOfSync")),
        automated=Automated(prune=True),
        last=operation("Succeeded", OLD),
        self_heal_attempts=3,
        now=T0,
    )
    assert (result.action, result.revision, result.prune, result.resources) == (
        "sync",
        REV,
        True,
        (),
    )


def test_only_pruning_needed_without_prune_does_nothing() -> None:
    drifted = comparison(resource(WEB, "Synced"), resource(CM, "OutOfSync", prune=True))
    result = decide(APP, drifted, automated=Automated(), last=None, self_heal_attempts=0, now=T0)
    assert result.action == "none" and result.condition is None


def test_pruning_everything_needs_allow_empty() -> None:
    empty = comparison(
        resource(WEB, "OutOfSync", prune=True), resource(CM, "OutOfSync", prune=True)
    )
    refused = decide(
        APP, empty, automated=Automated(prune=True), last=None, self_heal_attempts=0, now=T0
    )
    assert refused.action == "none"
    assert refused.condition is not None and refused.condition.type == SYNC_ERROR
    assert refused.condition.message == "auto-sync will wipe out all resources"
    allowed = decide(
        APP,
        empty,
        automated=Automated(prune=True, allow_empty=True),
        last=None,
        self_heal_attempts=0,
        now=T0,
    )
    assert allowed.action == "sync"


def test_a_failed_attempt_at_the_same_revision_is_not_repeated() -> None:
    result = decide(
        APP,
        comparison(resource(WEB, "OutOfSync")),
        automated=Automated(self_heal=True),
        last=operation("Failed"),
        self_heal_attempts=0,
        now=T0,
    )
    assert result.action == "none"
    assert result.condition is not None and result.condition.type == SYNC_ERROR
    assert result.condition.message.startswith(f"Failed last sync attempt to {REV}: hook failed")
    # a different source (another path) is a new attempt
    moved = {**operation("Failed"), "syncResult": {"revision": REV, "source": {"path": "other"}}}
    again = decide(
        APP,
        comparison(resource(WEB, "OutOfSync")),
        automated=Automated(),
        last=moved,
        self_heal_attempts=0,
        now=T0,
    )
    assert again.action == "sync"


def test_drift_is_left_alone_without_self_heal() -> None:
    drifted = comparison(resource(WEB, "OutOfSync"), resource(CM, "Synced"))
    result = decide(
        APP,
        drifted,
        automated=Automated(),
        last=operation("Succeeded"),
        self_heal_attempts=0,
        now=T0,
    )
    assert (result.action, result.drift, result.condition) == ("none", True, None)
    assert is_drift(APP, drifted, operation("Succeeded"))
    assert not is_drift(APP, drifted, operation("Succeeded", OLD))


def test_self_heal_syncs_only_what_drifted_after_the_backoff() -> None:
    drifted = comparison(resource(WEB, "OutOfSync"), resource(CM, "Synced"))
    last = operation("Succeeded", finished="2023-11-14T22:13:20Z")  # == T0
    healing = Automated(self_heal=True)
    first = decide(APP, drifted, automated=healing, last=last, self_heal_attempts=0, now=T0)
    assert (first.action, first.resources, first.prune) == ("self-heal", (WEB,), False)
    wait = decide(APP, drifted, automated=healing, last=last, self_heal_attempts=2, now=T0 + 1)
    assert wait.action == "wait" and wait.delay == 5.0  # 6 s after the end of the last sync
    due = decide(APP, drifted, automated=healing, last=last, self_heal_attempts=2, now=T0 + 6)
    assert due.action == "self-heal"
    capped = decide(APP, drifted, automated=healing, last=last, self_heal_attempts=9, now=T0 + 299)
    assert capped.action == "wait" and capped.delay == 1.0


def test_self_heal_attempts_restart_at_a_new_revision_or_after_the_cooldown() -> None:
    last = operation("Succeeded", finished="2023-11-14T22:13:20Z")
    assert self_heal_attempts(REV, 4, REV, last, T0 + 10) == 4
    assert self_heal_attempts(OLD, 4, REV, last, T0 + 10) == 0
    assert self_heal_attempts(REV, 4, REV, last, T0 + 400) == 0


def test_kinds_the_project_does_not_permit() -> None:
    project = AppProject(
        "team",
        cluster_resource_whitelist=(),
        namespace_resource_whitelist=(GroupKind("apps", "Deployment"),),
    )
    crb = ResourceKey("rbac.authorization.k8s.io", "ClusterRoleBinding", "", "admin")
    found = project_violations(
        project,
        comparison(resource(WEB, "Synced"), resource(CM, "OutOfSync"), resource(crb, "OutOfSync")),
    )
    assert [c.type for c in found] == [INVALID_SPEC_ERROR] * 2
    assert (
        found[0].message
        == "namespaced resource ConfigMap (e.g. settings) is not permitted in project team"
    )
    assert (
        "cluster-scoped resource rbac.authorization.k8s.io/ClusterRoleBinding" in found[1].message
    )


def test_with_automated_replaces_only_the_policy() -> None:
    assert with_automated(APP, None) is APP
    changed = with_automated(APP, Automated(self_heal=True))
    assert changed.spec.sync_policy.automated == Automated(self_heal=True)
    assert changed.spec.source == APP.spec.source and APP.spec.sync_policy.automated is None
