"""Argo CD sync options as a sync carries them out against the emulator: Replace, Force,
FailOnSharedResource, Prune=false/confirm, PruneLast, PrunePropagationPolicy,
RespectIgnoreDifferences, Validate=false, and selective sync."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.dynamic import DynamicClient

from reconciler.cluster import Cluster
from reconciler.model import TRACKING_ANNOTATION, IgnoreDifferences, ResourceKey
from reconciler.sync import SyncOperation
from reconciler.sync_types import SyncRequest, rfc3339
from tests.integration.sync_helpers import (
    REVISION,
    annotated,
    application,
    configmap,
    deployment,
    hook,
    job,
    results,
    sync,
    wave,
    writes,
)

NS = "shop"
OPTIONS = "argocd.argoproj.io/sync-options"


@pytest.fixture
def cluster(kube: Any, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig)
    connected.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.audit.clear()
    yield connected
    connected.close()


def test_replace_creates_then_replaces_instead_of_applying(kube: Any, cluster: Cluster) -> None:
    app = application("shop", NS, "Replace=true")
    assert sync(app, [configmap("config", a="1")], cluster)["phase"] == "Succeeded"
    state = sync(app, [configmap("config", a="2")], cluster)

    assert state["phase"] == "Succeeded"
    assert [(w["verb"], w["name"]) for w in writes(kube)] == [
        ("create", "config"),
        ("update", "config"),
    ]
    live = cluster.get(ResourceKey("", "ConfigMap", NS, "config"))
    assert live is not None and live["data"] == {"a": "2"}
    assert results(state)["ConfigMap/config:Sync"]["message"] == "configmap/config replaced"


def test_force_deletes_and_recreates_what_cannot_be_changed(kube: Any, cluster: Cluster) -> None:
    app = application()

    def forced(*command: str) -> dict[str, Any]:
        return annotated(job("seed", *command), **{OPTIONS: "Force=true"})

    assert sync(app, [forced("true")], cluster)["phase"] == "Succeeded"
    before = cluster.get(ResourceKey("batch", "Job", NS, "seed"))
    kube.audit.clear()

    state = sync(app, [forced("sh", "-c", "echo again")], cluster)

    assert state["phase"] == "Succeeded"
    assert [(w["verb"], w["code"]) for w in writes(kube) if w["kind"] == "Job"][-2:] == [
        ("delete", 200),
        ("patch", 201),
    ]
    after = cluster.get(ResourceKey("batch", "Job", NS, "seed"))
    assert before is not None and after is not None
    assert before["metadata"]["uid"] != after["metadata"]["uid"]


def test_fail_on_shared_resource_refuses_an_object_of_another_app(
    kube: Any, cluster: Cluster
) -> None:
    theirs = configmap("config")
    theirs["metadata"]["namespace"] = NS
    theirs["metadata"]["annotations"] = {TRACKING_ANNOTATION: f"other:/ConfigMap:{NS}/config"}
    cluster.apply(theirs)
    kube.audit.clear()

    state = sync(
        application("shop", NS, "FailOnSharedResource=true"), [configmap("config")], cluster
    )

    assert state["phase"] == "Failed"
    assert state["message"] == (
        "Shared resource found: ConfigMap/shop/config is part of applications shop and other"
    )
    assert writes(kube) == []


def prune_setup(
    kube: Any, cluster: Cluster, *options: str, old: dict[str, Any] | None = None
) -> Any:
    app = application("shop", NS, *options)
    sync(app, [configmap("keep"), old or configmap("old")], cluster)
    kube.audit.clear()
    return app


def test_prune_false_on_the_live_object_keeps_it(kube: Any, cluster: Cluster) -> None:
    app = prune_setup(kube, cluster, old=annotated(configmap("old"), **{OPTIONS: "Prune=false"}))

    state = sync(app, [configmap("keep")], cluster, SyncRequest(prune=True))

    assert state["phase"] == "Succeeded"
    old = results(state)["ConfigMap/old:Sync"]
    assert (old["status"], old["message"]) == ("PruneSkipped", "ignored (no prune)")
    assert cluster.get(ResourceKey("", "ConfigMap", NS, "old")) is not None


def test_prune_confirm_waits_for_the_deletion_approval(kube: Any, cluster: Cluster) -> None:
    app = prune_setup(kube, cluster, "Prune=confirm")
    operation = SyncOperation.start(
        app, [configmap("keep")], cluster, SyncRequest(prune=True), revision=REVISION, wave_delay=0
    )
    for _ in range(3):
        state = operation.step()
    assert (state["phase"], state["message"]) == (
        "Running",
        "Waiting for pruning confirmation of v1/ConfigMap/old",
    )
    assert [w for w in writes(kube) if w["verb"] == "delete"] == []

    approval = {"argocd.argoproj.io/deletion-approved": rfc3339(time.time() + 60)}
    operation.update_app(application("shop", NS, "Prune=confirm", annotations=approval))
    state = operation.run(poll_interval=0.02, timeout=30)

    assert state["phase"] == "Succeeded"
    assert [w["name"] for w in writes(kube) if w["verb"] == "delete"] == ["old"]


def test_prune_last_prunes_after_every_wave(kube: Any, cluster: Cluster) -> None:
    app = prune_setup(kube, cluster, "PruneLast=true")

    state = sync(
        app, [configmap("keep"), wave(configmap("later"), 2)], cluster, SyncRequest(prune=True)
    )

    assert state["phase"] == "Succeeded"
    assert [(w["verb"], w["name"]) for w in writes(kube)] == [
        ("patch", "keep"),
        ("patch", "later"),
        ("delete", "old"),
    ]


def test_prune_propagation_policy_orphan_keeps_the_replicasets(kube: Any, cluster: Cluster) -> None:
    app = prune_setup(kube, cluster, "PrunePropagationPolicy=orphan", old=deployment("old"))
    deadline = time.monotonic() + 10
    while not cluster.list("apps", "ReplicaSet", NS) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cluster.list("apps", "ReplicaSet", NS)

    state = sync(app, [configmap("keep")], cluster, SyncRequest(prune=True))

    assert state["phase"] == "Succeeded"
    assert cluster.get(ResourceKey("apps", "Deployment", NS, "old")) is None
    assert len(cluster.list("apps", "ReplicaSet", NS)) == 1


def test_respect_ignore_differences_keeps_the_live_value(
    kube: Any, cluster: Cluster, kube_api: Any
) -> None:
    ignore = [IgnoreDifferences(kind="Deployment", group="apps", json_pointers=("/spec/replicas",))]
    plain = application("shop", NS, ignore=ignore)
    sync(plain, [deployment("web", replicas=1)], cluster)
    # An autoscaler takes spec.replicas under its own field manager.
    client = DynamicClient(kube_api)  # type: ignore[no-untyped-call]
    deployments = client.resources.get(api_version="apps/v1", kind="Deployment")
    deployments.server_side_apply(
        body={
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"replicas": 3},
        },
        namespace=NS,
        field_manager="hpa-controller",
        force_conflicts=True,
    )
    respecting = application("shop", NS, "RespectIgnoreDifferences=true", ignore=ignore)

    assert sync(respecting, [deployment("web", replicas=1)], cluster)["phase"] == "Succeeded"
    assert replicas(cluster) == 3
    assert sync(plain, [deployment("web", replicas=1)], cluster)["phase"] == "Succeeded"
    assert replicas(cluster) == 1


def replicas(cluster: Cluster) -> int:
    live = cluster.get(ResourceKey("apps", "Deployment", NS, "web"))
    assert live is not None
    return int(live["spec"]["replicas"])


def test_validate_false_still_syncs(kube: Any, cluster: Cluster) -> None:
    state = sync(application("shop", NS, "Validate=false"), [configmap("config")], cluster)

    assert state["phase"] == "Succeeded"
    assert [w["name"] for w in writes(kube)] == ["config"]


def test_selective_sync_writes_only_the_selected_objects_and_no_hooks(
    kube: Any, cluster: Cluster
) -> None:
    desired = [configmap("a"), configmap("b"), hook(job("migrate"), "PreSync")]
    request = SyncRequest(resources=(ResourceKey("", "ConfigMap", "", "b"),))

    state = sync(application(), desired, cluster, request)

    assert state["phase"] == "Succeeded"
    assert [w["name"] for w in writes(kube)] == ["b"]
    assert state["operation"]["sync"]["resources"] == [
        {"group": "", "kind": "ConfigMap", "namespace": "", "name": "b"}
    ]
