"""What drifted and who changed it: changed field paths, managers from managedFields, the
drift signature; and the status record and Argo-shaped document built from a comparison."""

from __future__ import annotations

import copy
from typing import Any

from reconciler.compare_types import Comparison, Condition, ResourceStatus
from reconciler.controller_drift import (
    changed_paths,
    drift_changes,
    drift_signature,
    field_managers,
    format_path,
)
from reconciler.controller_status import AppRecord, app_document, merge_conditions
from reconciler.health import Health
from reconciler.history import HistoryEntry
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Automated,
    Destination,
    ResourceKey,
)
from reconciler.state_runtime import Override

WEB = ResourceKey("apps", "Deployment", "shop", "web")


def desired() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"tier": "web"}},
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.27", "args": ["--a"]},
                        {"name": "log", "image": "fluentbit:3"},
                    ]
                }
            },
        },
    }


def live(**changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(desired())
    obj["metadata"]["managedFields"] = [
        {
            "manager": "kajitori",
            "operation": "Apply",
            "time": "2024-05-01T10:00:00Z",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}},
        },
        {
            "manager": "kubectl-edit",
            "operation": "Update",
            "time": "2024-05-01T10:05:00Z",
            "fieldsV1": {
                "f:spec": {
                    "f:replicas": {},
                    "f:template": {
                        "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}}}
                    },
                }
            },
        },
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "subresource": "status",
            "time": "2024-05-01T10:06:00Z",
            "fieldsV1": {"f:status": {"f:replicas": {}}},
        },
    ]
    obj["status"] = {"replicas": 3}
    for path, value in changes.items():
        target: Any = obj
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return obj


def test_changed_paths_name_the_fields_git_sets_that_differ() -> None:
    edited = live(spec__replicas=3, spec__template__spec__containers__0__image="nginx:1.28")
    edited["spec"]["template"]["spec"]["containers"][1]["env"] = [{"name": "X"}]  # not Git's
    paths = [format_path(p) for p in changed_paths(desired(), edited)]
    assert paths == ["spec.replicas", "spec.template.spec.containers[name=web].image"]


def test_removed_fields_labels_and_list_items_are_changes_too() -> None:
    edited = live()
    del edited["metadata"]["labels"]
    edited["spec"]["template"]["spec"]["containers"] = edited["spec"]["template"]["spec"][
        "containers"
    ][:1]
    edited["spec"]["template"]["spec"]["containers"][0]["args"] = ["--a", "--b"]
    paths = [format_path(p) for p in changed_paths(desired(), edited)]
    assert paths == [
        "metadata.labels",
        "spec.template.spec.containers[name=web].args",
        "spec.template.spec.containers[name=log]",
    ]


def test_field_managers_are_the_owners_of_the_changed_paths() -> None:
    edited = live(spec__replicas=3)
    assert field_managers(edited, changed_paths(desired(), edited)) == ("kubectl-edit",)
    image = live(spec__template__spec__containers__0__image="x")
    assert field_managers(image, changed_paths(desired(), image)) == ("kubectl-edit",)


def test_without_an_owner_the_newest_updater_is_named() -> None:
    edited = live()
    del edited["metadata"]["labels"]  # nobody owns a removed field
    assert field_managers(edited, changed_paths(desired(), edited)) == ("kubectl-edit",)
    bare = live()
    bare["metadata"]["managedFields"] = bare["metadata"]["managedFields"][:1]
    assert field_managers(bare, [("spec", "replicas")]) == ()


def test_drift_changes_skip_prunes_and_hooks_and_sign_the_diffs() -> None:
    edited = live(spec__replicas=3)
    cm = ResourceKey("", "ConfigMap", "shop", "old")
    comparison = Comparison(
        "a" * 40,
        [
            ResourceStatus(WEB, "OutOfSync", Health("Healthy"), desired(), edited, diff="-x\n+y\n"),
            ResourceStatus(
                cm, "OutOfSync", None, None, {"kind": "ConfigMap"}, requires_pruning=True
            ),
            ResourceStatus(WEB, None, None, desired(), None, hook=True),
        ],
        "OutOfSync",
        "Healthy",
    )
    (change,) = drift_changes(comparison)
    assert (change.key, change.fields, change.managers) == (
        WEB,
        ("spec.replicas",),
        ("kubectl-edit",),
    )
    assert change.diff == "-x\n+y\n"
    same = drift_signature((change,))
    assert same == drift_signature(drift_changes(comparison))
    comparison.resources[0].diff = "-x\n+z\n"
    assert drift_signature(drift_changes(comparison)) != same


def test_conditions_keep_their_transition_time_while_present() -> None:
    first = merge_conditions([], [Condition("SyncError", "boom")], "2024-05-01T10:00:00Z")
    again = merge_conditions(
        first,
        [Condition("SyncError", "boom"), Condition("ComparisonError", "x")],
        "2024-05-01T10:05:00Z",
    )
    assert [c["lastTransitionTime"] for c in again] == [
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:05:00Z",
    ]


def test_the_record_round_trips_and_ignores_damage() -> None:
    record = AppRecord(created_at="2024-05-01T10:00:00Z", sync_status="Synced", revision="a" * 40)
    record.self_heal_attempts = 2
    assert AppRecord.from_dict(record.to_dict()) == record
    damaged = AppRecord.from_dict({"sync_status": 5, "revision": "abc", "extra": True})
    assert (damaged.sync_status, damaged.revision) == ("Unknown", "abc")
    assert AppRecord.from_dict(None) == AppRecord()


def test_the_application_document() -> None:
    app = Application(
        "shop",
        ApplicationSpec(
            source=ApplicationSource("https://git.example.com/apps.git", "shop", "main"),
            destination=Destination(namespace="shop", server="https://kubernetes.default.svc"),
        ),
        labels={"team": "web"},
    )
    record = AppRecord(
        created_at="2024-05-01T10:00:00Z",
        sync_status="OutOfSync",
        revision="a" * 40,
        health_status="Degraded",
        health_message="Deployment web: 0/1 ready",
        health_changed_at="2024-05-01T10:03:00Z",
        reconciled_at="2024-05-01T10:04:00Z",
    )
    history = [HistoryEntry(0, "b" * 40, "2024-05-01T09:00:00Z", "2024-05-01T08:59:00Z")]
    switch = Override("selfHeal", True, "U0ALICE", "2024-05-01T10:01:00Z")
    document = app_document(
        app,
        record,
        automated=Automated(self_heal=True),
        operation={"phase": "Failed"},
        history=history,
        overrides={"selfHeal": switch},
    )
    assert document["metadata"] == {
        "name": "shop",
        "namespace": "argocd",
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "labels": {"team": "web"},
    }
    assert document["spec"]["syncPolicy"] == {
        "automated": {"prune": False, "selfHeal": True, "allowEmpty": False}
    }
    status = document["status"]
    assert status["sync"]["status"] == "OutOfSync" and status["sync"]["revision"] == "a" * 40
    assert status["health"] == {
        "status": "Degraded",
        "message": "Deployment web: 0/1 ready",
        "lastTransitionTime": "2024-05-01T10:03:00Z",
    }
    assert status["operationState"] == {"phase": "Failed"}
    assert status["history"][0]["revision"] == "b" * 40
    assert status["overrides"]["selfHeal"]["changedBy"] == "U0ALICE"
    assert status["reconciledAt"] == "2024-05-01T10:04:00Z"
