"""The ``/scale`` subresource of the Kubernetes API emulator through the official client:
autoscaling/v1 Scale for Deployments, StatefulSets and ReplicaSets, discovery, preconditions,
and who owns ``spec.replicas`` after a scale."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from sandbox.kube import KubeEmulator

SCALE = "/apis/apps/v1/namespaces/default/deployments/web/scale"


def _workload(kind: str, name: str = "web", replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {
            "matchLabels": labels,
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
        },
        "template": {
            "metadata": {"labels": {**labels, "tier": "a"}},
            "spec": {"containers": [{"name": "main", "image": "nginx"}]},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def _http(kube: KubeEmulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        kube.url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


@pytest.fixture
def apps(kube_api: ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(kube_api)


@pytest.fixture
def dyn(kube_api: ApiClient, tmp_path: Any) -> DynamicClient:
    return DynamicClient(kube_api, cache_file=str(tmp_path / "discovery.json"))


def _apply(dyn: DynamicClient, obj: dict[str, Any], manager: str = "gitops") -> Any:
    resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    return resource.server_side_apply(body=obj, namespace="default", field_manager=manager)


def test_read_and_patch_the_scale_of_a_deployment(
    apps: client.AppsV1Api, dyn: DynamicClient, kube: KubeEmulator
) -> None:
    created = _apply(dyn, _workload("Deployment"))
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert scale.kind == "Scale" and scale.api_version == "autoscaling/v1"
    assert scale.spec.replicas == 2
    assert scale.status.selector == "app=web,tier in (a,b)"
    assert scale.metadata.uid == created.metadata.uid
    assert scale.metadata.creation_timestamp is not None

    # the client sends a dict as a strategic merge patch
    patched = apps.patch_namespaced_deployment_scale(
        "web", "default", {"spec": {"replicas": 5}}, field_manager="autoscaler"
    )
    assert patched.spec.replicas == 5
    live = kube.store.get("apps", "Deployment", "default", "web")
    assert live is not None and live["spec"]["replicas"] == 5
    assert live["metadata"]["generation"] == 2
    assert int(patched.metadata.resource_version) > int(created.metadata.resourceVersion)
    record = kube.audit_log()[-1]
    assert (record["verb"], record["subresource"], record["fieldManager"]) == (
        "patch",
        "scale",
        "autoscaler",
    )
    assert record["patchType"] == "application/strategic-merge-patch+json"


def test_the_scale_writer_takes_spec_replicas_over(
    apps: client.AppsV1Api, dyn: DynamicClient, kube: KubeEmulator
) -> None:
    _apply(dyn, _workload("Deployment"))
    apps.patch_namespaced_deployment_scale(
        "web", "default", {"spec": {"replicas": 4}}, field_manager="kubectl"
    )
    live = kube.store.get("apps", "Deployment", "default", "web")
    assert live is not None
    entries = {
        (e["manager"], e.get("subresource", "")): e for e in live["metadata"]["managedFields"]
    }
    scaler = entries[("kubectl", "scale")]
    assert (scaler["operation"], scaler["apiVersion"]) == ("Update", "apps/v1")
    assert scaler["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entries[("gitops", "")]["fieldsV1"]["f:spec"]
    # applying the old count again now conflicts with the scaler, named as the server does
    with pytest.raises(ApiException) as caught:
        _apply(dyn, _workload("Deployment"))
    assert caught.value.status == 409
    assert json.loads(caught.value.body)["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
        "using apps/v1: .spec.replicas"
    )


@pytest.mark.parametrize("kind", ["StatefulSet", "ReplicaSet"])
def test_statefulsets_and_replicasets_scale_too(
    apps: client.AppsV1Api, dyn: DynamicClient, kube: KubeEmulator, kind: str
) -> None:
    _apply(dyn, _workload(kind))
    read = getattr(apps, f"read_namespaced_{kind.lower().replace('set', '_set')}_scale")
    replace = getattr(apps, f"replace_namespaced_{kind.lower().replace('set', '_set')}_scale")
    current = read("web", "default")
    assert current.spec.replicas == 2
    current.spec.replicas = 0
    current.metadata.resource_version = None  # no precondition: the controllers write status
    replaced = replace("web", "default", current)
    assert replaced.spec.replicas is None  # autoscaling/v1 omits a zero count
    live = kube.store.get("apps", kind, "default", "web")
    assert live is not None and live["spec"]["replicas"] == 0


def test_a_stale_resource_version_conflicts_and_a_negative_count_is_invalid(
    apps: client.AppsV1Api, dyn: DynamicClient
) -> None:
    _apply(dyn, _workload("Deployment"))
    stale = apps.read_namespaced_deployment_scale("web", "default")
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
    stale.spec.replicas = 7
    with pytest.raises(ApiException) as conflict:
        apps.replace_namespaced_deployment_scale("web", "default", stale)
    assert conflict.value.status == 409
    assert "the object has been modified" in json.loads(conflict.value.body)["message"]
    with pytest.raises(ApiException) as negative:
        apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": -1}})
    assert negative.value.status == 422
    assert json.loads(negative.value.body)["message"] == (
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )
    assert apps.read_namespaced_deployment_scale("web", "default").spec.replicas == 3


def test_scale_writes_validate_fields_and_honour_dry_run(
    dyn: DynamicClient, kube: KubeEmulator
) -> None:
    _apply(dyn, _workload("Deployment"))
    code, body = _http(kube, "PATCH", SCALE + "?fieldValidation=Strict", {"spec": {"replica": 4}})
    assert code == 422 and body["message"].endswith('unknown field "spec.replica"')
    code, body = _http(kube, "PATCH", SCALE + "?dryRun=All", {"spec": {"replicas": 9}})
    assert code == 200 and body["spec"]["replicas"] == 9
    assert _http(kube, "GET", SCALE)[1]["spec"]["replicas"] == 2
    assert _http(kube, "DELETE", SCALE)[0] == 405
    missing = "/apis/apps/v1/namespaces/default/deployments/none/scale"
    code, body = _http(kube, "GET", missing)
    assert code == 404 and body["message"] == 'deployments.apps "none" not found'
    assert _http(kube, "GET", "/apis/apps/v1/namespaces/default/daemonsets/web/scale")[0] == 404


def test_discovery_lists_the_scale_subresources(kube: KubeEmulator, dyn: DynamicClient) -> None:
    resources = {r["name"]: r for r in _http(kube, "GET", "/apis/apps/v1")[1]["resources"]}
    for plural in ("deployments", "statefulsets", "replicasets"):
        entry = resources[f"{plural}/scale"]
        assert (entry["group"], entry["version"], entry["kind"]) == ("autoscaling", "v1", "Scale")
        assert entry["verbs"] == ["get", "patch", "update"]
    assert "daemonsets/scale" not in resources
    scale = dyn.resources.get(api_version="apps/v1", kind="Deployment").subresources["scale"]
    assert scale.kind == "Scale"
    document = _http(kube, "GET", "/openapi/v3/apis/apps/v1")[1]
    patch = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert patch["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Scale"
