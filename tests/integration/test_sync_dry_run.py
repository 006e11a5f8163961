"""The server-side dry-run that precedes every sync: one refused object means nothing at all is
written; objects waiting for a namespace or a CRD of the same sync pass; a dry-run operation
writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cluster import Cluster
from reconciler.compare import compare
from reconciler.model import OUT_OF_SYNC, ResourceKey
from reconciler.sync_types import SyncRequest
from sandbox.kube.control import Fault
from tests.integration.sync_helpers import (
    Obj,
    annotated,
    application,
    configmap,
    deployment,
    dry_runs,
    hook,
    job,
    results,
    service,
    sync,
    wave,
    writes,
)

NS = "shop"


@pytest.fixture
def cluster(kube: Any, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig)
    yield connected
    connected.close()


def invalid_deployment() -> Obj:
    broken = deployment("broken")
    del broken["spec"]["selector"]  # the server refuses it: 422 Invalid
    return broken


def test_an_object_the_server_refuses_means_nothing_is_applied(kube: Any, cluster: Cluster) -> None:
    app = application("shop", NS, "CreateNamespace=true")
    desired = [
        hook(job("migrate", "true"), "PreSync"),
        configmap("config"),
        invalid_deployment(),
        wave(service("web"), 1),
    ]

    state = sync(app, desired, cluster)

    assert state["phase"] == "Failed"
    assert state["message"].startswith(
        "one or more objects failed to apply (dry run), reason: Deployment.apps/shop/broken: "
    )
    assert "spec.selector" in state["message"]
    assert writes(kube) == []  # not even the namespace CreateNamespace would make
    assert cluster.get(ResourceKey("", "Namespace", "", NS)) is None
    assert results(state)["Deployment/broken:Sync"]["status"] == "SyncFailed"
    assert len(dry_runs(kube)) >= 3


def test_every_refused_object_is_named(kube: Any, cluster: Cluster) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.audit.clear()
    kube.faults.add(Fault(method="PATCH", resource="configmaps", name="config", status=403))
    bad_data = configmap("numbers")
    bad_data["data"] = {"count": 3}  # not a string: 400 BadRequest

    state = sync(application(), [configmap("config"), bad_data, service("web")], cluster)

    assert state["phase"] == "Failed"
    assert "ConfigMap/shop/config:" in state["message"]
    assert "ConfigMap/shop/numbers:" in state["message"]
    assert "Service/shop/web" not in state["message"]
    assert writes(kube) == []


def misspelt(name: str, *sync_options: str) -> Obj:
    """A Deployment whose manifest says ``replica`` for ``replicas``."""
    typo = deployment(name)
    typo["spec"]["replica"] = typo["spec"].pop("replicas")
    if sync_options:
        typo = annotated(typo, **{"argocd.argoproj.io/sync-options": ",".join(sync_options)})
    return typo


def test_a_misspelt_field_fails_the_sync_at_once_naming_the_field(
    kube: Any, cluster: Cluster
) -> None:
    """The API server answers such an apply with a 500; it is the manifest's fault, so the
    operation fails (no endless "cannot reach the cluster" retries) and nothing is written."""
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    cluster.apply({**deployment("typo"), "metadata": {"name": "typo", "namespace": NS}})
    kube.audit.clear()
    app = application()

    compared = compare(app, [configmap("config"), misspelt("typo")], cluster)
    typo = next(r for r in compared.resources if r.key.name == "typo")
    assert compared.sync_status == OUT_OF_SYNC and typo.status == OUT_OF_SYNC
    assert ".spec.replica: field not declared in schema" in typo.message

    state = sync(app, [configmap("config"), misspelt("typo")], cluster)
    assert state["phase"] == "Failed"
    assert "Deployment.apps/shop/typo:" in state["message"]
    assert ".spec.replica: field not declared in schema" in state["message"]
    assert writes(kube) == []


def test_replace_rejects_an_unknown_field_unless_validate_is_false(
    kube: Any, cluster: Cluster
) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.audit.clear()

    state = sync(application(), [misspelt("web", "Replace=true")], cluster)
    assert state["phase"] == "Failed"
    assert 'unknown field "spec.replica"' in state["message"]
    assert writes(kube) == []

    state = sync(application(), [misspelt("web", "Replace=true", "Validate=false")], cluster)
    assert state["phase"] == "Succeeded", state["message"]
    live = cluster.get(ResourceKey("apps", "Deployment", NS, "web"))
    assert live is not None and "replica" not in live["spec"]


def test_a_dry_run_operation_writes_nothing(kube: Any, cluster: Cluster) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.audit.clear()
    desired = [configmap("config"), deployment("web"), hook(job("migrate"), "PreSync")]

    state = sync(application(), desired, cluster, SyncRequest(dry_run=True))

    assert (state["phase"], state["message"]) == ("Succeeded", "successfully synced (dry run)")
    assert writes(kube) == []
    assert len(dry_runs(kube)) == 3
    assert {r["hookPhase"] for r in state["syncResult"]["resources"]} == {"Succeeded"}


def test_objects_in_a_namespace_of_the_same_sync_pass_the_dry_run(
    kube: Any, cluster: Cluster
) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}}
    config = configmap("config")
    config["metadata"]["namespace"] = "fresh"

    state = sync(application(), [config, namespace], cluster)

    assert state["phase"] == "Succeeded"
    assert [(w["kind"], w["name"]) for w in writes(kube)] == [
        ("Namespace", "fresh"),
        ("ConfigMap", "config"),
    ]


CRD: Obj = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}
WIDGET: Obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}


def test_a_custom_resource_whose_crd_is_in_the_sync_skips_the_dry_run(
    kube: Any, cluster: Cluster
) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.audit.clear()

    state = sync(application(), [WIDGET, CRD], cluster)

    assert state["phase"] == "Succeeded"
    assert [w["kind"] for w in writes(kube)] == ["CustomResourceDefinition", "Widget"]
    assert cluster.get(ResourceKey("example.com", "Widget", NS, "w")) is not None


def test_a_custom_resource_without_its_crd_fails_the_dry_run_unless_told_to_skip(
    kube: Any, cluster: Cluster
) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.audit.clear()

    refused = sync(application(), [WIDGET], cluster)
    assert refused["phase"] == "Failed"
    assert "(dry run)" in refused["message"] and "Widget" in refused["message"]

    skipping = annotated(
        WIDGET, **{"argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"}
    )
    state = sync(application(), [skipping], cluster)
    assert state["phase"] == "Failed"
    assert state["message"].startswith("one or more objects failed to apply, reason: ")
    assert writes(kube) == []
