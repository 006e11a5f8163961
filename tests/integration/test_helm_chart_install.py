"""kajitori installs itself: the chart in helm/kajitori, rendered by kajitori's own Helm source
renderer as an Application would render it from Git, synced into the Kubernetes emulator by
kajitori's own engine (SyncOperation), until its Deployment is Healthy; then an upgrade that
changes the configuration rolls the pod and leaves the rest alone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cluster import Cluster
from reconciler.health import assess
from reconciler.model import HelmSource, ResourceKey
from reconciler.render_helm import render_helm
from tests.integration.helm_chart_helpers import NAMESPACE, RELEASE, Obj, chart_files
from tests.integration.sync_helpers import application, results, sync, writes

DEPLOYMENT = ResourceKey("apps", "Deployment", NAMESPACE, RELEASE)


@pytest.fixture
def cluster(kube: Any, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig)
    yield connected
    connected.close()


def rendered(values: dict[str, Any]) -> list[Obj]:
    """The chart as kajitori's Helm source renders it for an app named ``kajitori`` whose
    destination namespace is ``kajitori`` (release name = app name, as in Argo CD)."""
    return render_helm(
        chart_files(),
        "helm/kajitori",
        HelmSource(values_object=values),
        release_name=RELEASE,
        namespace=NAMESPACE,
    )


def wait_healthy(cluster: Cluster, key: ResourceKey, *, after_generation: int = 0) -> Obj:
    """The live object once its health is Healthy (and its generation is past
    ``after_generation``); fails after 15 s with the last health seen."""
    deadline = time.monotonic() + 15
    last = None
    while time.monotonic() < deadline:
        live = cluster.get(key)
        if live is not None and live["metadata"].get("generation", 0) > after_generation:
            last = assess(live)
            if last is not None and last.status == "Healthy":
                return live
        time.sleep(0.05)
    pytest.fail(f"{key} did not become Healthy: {last}")


def test_kajitori_syncs_its_own_chart_until_the_deployment_is_healthy(
    kube: Any, cluster: Cluster
) -> None:
    values: dict[str, Any] = {"secretEnv": {"GITHUB_TOKEN": "ghp_example"}}
    desired = rendered(values)
    app = application(RELEASE, NAMESPACE, "CreateNamespace=true")

    state = sync(app, desired, cluster)

    assert (state["phase"], state["message"]) == (
        "Succeeded",
        "successfully synced (all tasks run)",
    )
    created = {(w["kind"], w["name"]) for w in writes(kube) if w["code"] == 201}
    assert created == {
        ("Namespace", NAMESPACE),
        ("ServiceAccount", RELEASE),
        ("Secret", RELEASE),
        ("ConfigMap", RELEASE),
        ("PersistentVolumeClaim", f"{RELEASE}-state"),
        ("ClusterRole", RELEASE),
        ("ClusterRoleBinding", RELEASE),
        ("Service", RELEASE),
        ("Deployment", RELEASE),
    }
    live = wait_healthy(cluster, DEPLOYMENT)
    assert live["spec"]["strategy"]["type"] == "Recreate"
    assert live["status"]["availableReplicas"] == 1
    # everything the chart made is healthy (or has no health check), the claim Bound included
    for obj in desired:
        key = ResourceKey.of(obj)
        found = cluster.get(key)
        assert found is not None, key
        health = assess(found)
        assert health is None or health.status == "Healthy", (key, health)


def test_an_upgrade_of_the_configuration_rolls_the_pod_and_nothing_else(
    kube: Any, cluster: Cluster
) -> None:
    app = application(RELEASE, NAMESPACE, "CreateNamespace=true")
    sync(app, rendered({}), cluster)
    before = wait_healthy(cluster, DEPLOYMENT)
    kube.audit.clear()

    upgraded = rendered({"settings": {"controller": {"workers": 8}}})
    state = sync(app, upgraded, cluster, revision="b" * 40)

    assert state["phase"] == "Succeeded"
    by_name = results(state)
    assert by_name["ConfigMap/kajitori:Sync"]["message"] == "configmap/kajitori configured"
    assert by_name["Deployment/kajitori:Sync"]["message"] == "deployment.apps/kajitori configured"
    assert by_name["Service/kajitori:Sync"]["message"] == "service/kajitori unchanged"
    assert by_name["Secret/kajitori:Sync"]["message"] == "secret/kajitori unchanged"
    after = wait_healthy(cluster, DEPLOYMENT, after_generation=before["metadata"]["generation"])
    old = before["spec"]["template"]["metadata"]["annotations"]
    new = after["spec"]["template"]["metadata"]["annotations"]
    assert new["checksum/config"] != old["checksum/config"]
    assert new["checksum/secret"] == old["checksum/secret"]
    configmap = cluster.get(ResourceKey("", "ConfigMap", NAMESPACE, RELEASE))
    assert configmap is not None
    assert "workers: 8" in configmap["data"]["config.yaml"]


SERVICE_MONITOR_CRD: Obj = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {
            "kind": "ServiceMonitor",
            "plural": "servicemonitors",
            "singular": "servicemonitor",
        },
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


def test_the_optional_parts_sync_too(kube: Any, cluster: Cluster) -> None:
    """Namespaced RBAC, an existing Secret, no volume claim, an Ingress and a ServiceMonitor
    (its CRD installed first, as the Prometheus Operator would have)."""
    operator = application("prometheus-operator", "monitoring")
    assert sync(operator, [SERVICE_MONITOR_CRD], cluster)["phase"] == "Succeeded"
    values: dict[str, Any] = {
        "rbac": {"namespaces": [NAMESPACE]},
        "existingSecret": "kajitori-tokens",
        "persistence": {"enabled": False},
        "ingress": {"enabled": True},
        "serviceMonitor": {"enabled": True},
    }
    desired = rendered(values)
    tokens: Obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "kajitori-tokens", "namespace": NAMESPACE},
        "stringData": {"GITHUB_TOKEN": "ghp_example"},
    }
    app = application(RELEASE, NAMESPACE, "CreateNamespace=true")

    state = sync(app, [tokens, *desired], cluster)

    assert state["phase"] == "Succeeded", state["message"]
    kinds = sorted(obj["kind"] for obj in desired)
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Ingress",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ]
    monitor = cluster.get(
        ResourceKey("monitoring.coreos.com", "ServiceMonitor", NAMESPACE, RELEASE)
    )
    assert monitor is not None and monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    live = wait_healthy(cluster, DEPLOYMENT)
    volumes = {v["name"]: v for v in live["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes["state"]
