"""reconciler.cluster.Cluster against the Kubernetes emulator over real HTTP: discovery,
reads, server-side apply, delete, and the mapping of API errors to ClusterError."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cluster import Cluster
from reconciler.cluster_protocol import ConflictError, UnknownKindError
from reconciler.compare import compare
from reconciler.errors import ClusterError
from reconciler.model import (
    OUT_OF_SYNC,
    UNKNOWN,
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
    ResourceKey,
)
from sandbox.kube import KubeEmulator
from sandbox.kube.control import Fault

NS = "default"


@pytest.fixture
def cluster(kube: KubeEmulator, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig, "kajitori-sandbox")
    yield connected
    connected.close()


def config_map(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> Any:
    meta: dict[str, Any] = {"name": name, "namespace": NS, "labels": labels or {}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def widget_crd(scope: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
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


def test_discovery_knows_scopes_and_preferred_versions(cluster: Cluster) -> None:
    assert cluster.is_namespaced("apps", "Deployment") is True
    assert cluster.is_namespaced("", "Namespace") is False
    assert cluster.is_namespaced("example.com", "Widget") is None
    assert cluster.preferred_version("autoscaling", "HorizontalPodAutoscaler") == "autoscaling/v2"


def test_a_kind_installed_later_is_found_after_a_refresh(cluster: Cluster) -> None:
    assert cluster.is_namespaced("example.com", "Widget") is None
    cluster.apply(widget_crd("Cluster"))
    assert cluster.is_namespaced("example.com", "Widget") is False
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert cluster.apply(widget)["metadata"]["name"] == "w"


def test_apply_get_list_and_delete(cluster: Cluster) -> None:
    stored = cluster.apply(config_map("a", {"k": "1"}, {"tier": "web"}))
    cluster.apply(config_map("b", {"k": "2"}, {"tier": "db"}))
    key = ResourceKey("", "ConfigMap", NS, "a")
    live = cluster.get(key)
    assert live is not None and live["data"] == {"k": "1"} and live["kind"] == "ConfigMap"
    assert [f["manager"] for f in stored["metadata"]["managedFields"]] == ["kajitori"]
    listed = cluster.list("", "ConfigMap", NS, label_selector="tier=web")
    assert [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in listed] == [
        ("v1", "ConfigMap", "a")
    ]
    assert cluster.delete(key, dry_run=True) is True
    assert cluster.get(key) is not None
    assert cluster.delete(key, propagation="Background") is True
    assert cluster.get(key) is None
    assert cluster.delete(key) is False


def test_dry_run_apply_changes_nothing(cluster: Cluster) -> None:
    cluster.apply(config_map("a", {"k": "1"}))
    predicted = cluster.apply(config_map("a", {"k": "2"}), dry_run=True)
    live = cluster.get(ResourceKey("", "ConfigMap", NS, "a"))
    assert (predicted["data"], live and live["data"]) == ({"k": "2"}, {"k": "1"})


def test_list_in_a_missing_namespace_is_empty(cluster: Cluster) -> None:
    assert cluster.list("apps", "Deployment", "nowhere") == []


def test_conflict_with_another_manager_needs_force(cluster: Cluster, kube_api: Any) -> None:
    from kubernetes import client as k8s

    cluster.apply(config_map("a", {"k": "1"}))
    k8s.CoreV1Api(kube_api).patch_namespaced_config_map(
        "a", NS, {"data": {"k": "edited"}}, field_manager="kubectl-edit"
    )
    with pytest.raises(ConflictError) as raised:
        cluster.apply(config_map("a", {"k": "1"}))
    assert raised.value.code == 409 and "ConfigMap/default/a" in str(raised.value)
    assert cluster.apply(config_map("a", {"k": "1"}), force=True)["data"] == {"k": "1"}


def test_apply_errors_name_the_object_and_carry_code_and_reason(cluster: Cluster) -> None:
    missing = {**config_map("a", {}), "metadata": {"name": "a", "namespace": "nowhere"}}
    with pytest.raises(ClusterError) as raised:
        cluster.apply(missing)
    assert (raised.value.code, raised.value.reason) == (404, "NotFound")
    assert "ConfigMap/nowhere/a" in str(raised.value)
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(UnknownKindError, match="Widget w"):
        cluster.apply(widget)
    with pytest.raises(ClusterError, match=r"no metadata\.name"):
        cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})


def test_secret_values_echoed_by_the_server_are_scrubbed(
    kube: KubeEmulator, cluster: Cluster
) -> None:
    kube.faults.add(
        Fault(method="PATCH", resource="secrets", status=422, message="bad value hunter2-pass")
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": NS},
        "stringData": {"password": "hunter2-pass"},
    }
    with pytest.raises(ClusterError) as raised:
        cluster.apply(secret)
    assert raised.value.code == 422
    assert "hunter2-pass" not in str(raised.value)


def app() -> Application:
    source = ApplicationSource("https://git.example.com/apps.git", "web")
    return Application("web", ApplicationSpec(source, Destination(namespace=NS)))


def test_refused_dry_run_falls_back_to_a_local_overlay_with_a_message(
    kube: KubeEmulator, cluster: Cluster
) -> None:
    cluster.apply(config_map("a", {"k": "1"}))
    kube.faults.add(
        Fault(method="PATCH", resource="configmaps", status=422, message="denied by webhook")
    )
    result = compare(app(), [config_map("a", {"k": "2"})], cluster)
    resource = result.resources[0]
    assert (result.sync_status, resource.status) == (OUT_OF_SYNC, OUT_OF_SYNC)
    assert "denied by webhook" in resource.message
    assert "+  k: '2'" in resource.diff.splitlines()


def test_server_error_during_comparison_gives_an_unknown_comparison(
    kube: KubeEmulator, cluster: Cluster
) -> None:
    cluster.apply(config_map("a", {"k": "1"}))
    kube.faults.add(Fault(method="PATCH", resource="configmaps", status=500, message="etcd down"))
    result = compare(app(), [config_map("a", {"k": "2"})], cluster)
    assert result.sync_status == UNKNOWN
    assert "etcd down" in result.conditions[0].message


def test_in_cluster_outside_a_pod_is_a_cluster_error() -> None:
    with pytest.raises(ClusterError, match="not running inside a Kubernetes pod"):
        Cluster.in_cluster()


def test_unknown_kubeconfig_context_is_a_cluster_error(kubeconfig: Path) -> None:
    with pytest.raises(ClusterError, match="'elsewhere'"):
        Cluster.from_kubeconfig(kubeconfig, "elsewhere")
