"""The official kubernetes client against the Kubernetes API emulator, over real HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from sandbox.kube import KubeEmulator


def _status(err: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(err.body)
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == err.status
    return body


def _http(
    kube: KubeEmulator,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    """A raw request (for bodies no client would send, and the control API)."""
    data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    request = urllib.request.Request(
        kube.url + path, data=data, method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _configmap(name: str, data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **meta},
        "data": data or {"key": "value"},
    }


def _deployment(name: str, image: str = "nginx:1.25", replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


@pytest.fixture
def core(kube_api: ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube_api)


@pytest.fixture
def apps(kube_api: ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(kube_api)


@pytest.fixture
def dyn(kube_api: ApiClient, tmp_path: Any) -> DynamicClient:
    return DynamicClient(kube_api, cache_file=str(tmp_path / "discovery.json"))


def test_watch_sees_every_change_in_order(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", _configmap("watched"))
    start = created.metadata.resource_version
    events: list[tuple[str, str, str | None]] = []
    ready = threading.Event()

    def follow() -> None:
        w = watch.Watch()
        ready.set()
        for event in w.stream(
            core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=5
        ):
            obj = event["object"]
            events.append((event["type"], obj.metadata.resource_version, (obj.data or {}).get("n")))
            if event["type"] == "DELETED":
                w.stop()

    thread = threading.Thread(target=follow)
    thread.start()
    ready.wait()
    for n in range(5):
        core.patch_namespaced_config_map("watched", "default", {"data": {"n": str(n)}})
    core.create_namespaced_config_map("default", _configmap("other"))
    core.delete_namespaced_config_map("watched", "default")
    thread.join(10)
    assert [(t, n) for t, _, n in events] == [
        ("MODIFIED", "0"),
        ("MODIFIED", "1"),
        ("MODIFIED", "2"),
        ("MODIFIED", "3"),
        ("MODIFIED", "4"),
        ("ADDED", None),
        ("DELETED", "4"),
    ]
    versions = [int(rv) for _, rv, _ in events]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert versions[0] > int(start)


def test_watch_without_version_lists_first_and_honours_selectors(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _configmap("a", labels={"tier": "web"}))
    core.create_namespaced_config_map("default", _configmap("b", labels={"tier": "db"}))
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            label_selector="tier=web",
            timeout_seconds=1,
        )
    ]
    assert seen == [("ADDED", "a")]


def test_watch_from_a_version_the_history_dropped_is_gone(
    core: client.CoreV1Api, kube: KubeEmulator
) -> None:
    old = core.create_namespaced_config_map("default", _configmap("old")).metadata.resource_version
    kube.reset()  # the history is emptied: nothing before now can be replayed
    core.create_namespaced_config_map("default", _configmap("new"))
    with pytest.raises(ApiException) as caught:
        list(
            watch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version=old, timeout_seconds=2
            )
        )
    assert caught.value.status == 410


def test_list_resource_version_and_selectors(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _configmap("one", labels={"app": "x"}))
    core.create_namespaced_config_map("default", _configmap("two", labels={"app": "y"}))
    listing = core.list_namespaced_config_map("default", label_selector="app in (x,y)")
    assert [c.metadata.name for c in listing.items] == ["one", "two"]
    assert int(listing.metadata.resource_version) >= max(
        int(c.metadata.resource_version) for c in listing.items
    )
    assert [
        c.metadata.name
        for c in core.list_namespaced_config_map(
            "default", field_selector="metadata.name=two"
        ).items
    ] == ["two"]
    assert (
        core.list_namespaced_config_map("default", label_selector="app!=x").items[0].metadata.name
        == "two"
    )
    everywhere = core.list_config_map_for_all_namespaces(
        field_selector="metadata.namespace=default"
    )
    assert len(everywhere.items) == 2


def test_stale_update_is_a_conflict(core: client.CoreV1Api) -> None:
    first = core.create_namespaced_config_map("default", _configmap("cm"))
    core.patch_namespaced_config_map("cm", "default", {"data": {"key": "newer"}})
    first.data = {"key": "stale"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cm", "default", first)
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "Conflict"
    assert core.read_namespaced_config_map("cm", "default").data == {"key": "newer"}


def test_create_conflicts_and_generate_name(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _configmap("taken"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", _configmap("taken"))
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "AlreadyExists"
    generated = core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "job-"}, "data": {}}
    )
    assert generated.metadata.name.startswith("job-") and len(generated.metadata.name) == 9


def test_object_in_a_missing_namespace_is_not_found(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("nowhere", _configmap("cm"))
    assert caught.value.status == 404
    assert _status(caught.value)["message"] == 'namespaces "nowhere" not found'


def test_dry_run_changes_nothing(core: client.CoreV1Api, dyn: DynamicClient) -> None:
    would = core.create_namespaced_config_map("default", _configmap("dry"), dry_run="All")
    assert would.metadata.name == "dry" and would.metadata.uid
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("dry", "default")
    live = core.create_namespaced_config_map("default", _configmap("wet"))
    patched = core.patch_namespaced_config_map(
        "wet", "default", {"data": {"key": "dry"}}, dry_run="All"
    )
    assert patched.data == {"key": "dry"}
    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    applied = configmaps.server_side_apply(
        body=_configmap("wet", {"key": "applied"}),
        namespace="default",
        field_manager="test",
        dry_run="All",
        force_conflicts=True,
    )
    assert applied.data["key"] == "applied"
    core.delete_namespaced_config_map("wet", "default", dry_run="All")
    after = core.read_namespaced_config_map("wet", "default")
    assert after.data == {"key": "value"}
    assert after.metadata.resource_version == live.metadata.resource_version


def test_generation_bumps_only_on_spec_changes(
    apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    created = apps.create_namespaced_deployment("default", _deployment("web"))
    assert created.metadata.generation == 1
    labelled = apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 2}})
    assert scaled.metadata.generation == 2
    status = apps.patch_namespaced_deployment_status(
        "web", "default", {"status": {"observedGeneration": 2, "replicas": 7}}
    )
    assert status.metadata.generation == 2
    assert status.status.replicas == 7
    # status is a subresource: the main resource ignores status changes
    ignored = apps.patch_namespaced_deployment("web", "default", {"status": {"replicas": 99}})
    assert ignored.status.replicas != 99
    assert core.read_namespace("default").metadata.generation is None


def test_immutable_fields_are_invalid(core: client.CoreV1Api, kube_api: ApiClient) -> None:
    batch = client.BatchV1Api(kube_api)
    job = {
        "metadata": {"name": "once"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}],
                }
            }
        },
    }
    batch.create_namespaced_job("default", job)
    with pytest.raises(ApiException) as caught:
        batch.patch_namespaced_job(
            "once",
            "default",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "alpine"}]}}}},
        )
    assert caught.value.status == 422
    body = _status(caught.value)
    assert body["reason"] == "Invalid" and "spec.template" in body["message"]

    svc = core.create_namespaced_service(
        "default", {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}
    )
    assert svc.spec.cluster_ip and svc.spec.type == "ClusterIP"
    assert svc.spec.ports[0].target_port == 80 and svc.spec.ports[0].protocol == "TCP"
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_service("svc", "default", {"spec": {"clusterIP": "10.0.0.1"}})
    assert caught.value.status == 422 and "spec.clusterIP" in _status(caught.value)["message"]

    core.create_namespaced_config_map("default", {**_configmap("frozen"), "immutable": True})
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("frozen", "default", {"data": {"key": "changed"}})
    assert caught.value.status == 422


def test_secret_string_data_is_folded_into_data(core: client.CoreV1Api) -> None:
    secret = core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}
    )
    assert secret.data == {"password": "aHVudGVyMg=="}
    assert secret.string_data is None
    assert secret.type == "Opaque"


def test_finalizers_hold_an_object_until_removed(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", _configmap("held", finalizers=["example.com/x"]))
    core.delete_namespaced_config_map("held", "default")
    held = core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("held", "default")
    assert caught.value.status == 404


def _owned(name: str, owner: Any, **extra: Any) -> dict[str, Any]:
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": True,
    }
    return _configmap(name, ownerReferences=[ref], **extra)


def test_garbage_collection_follows_owner_references(core: client.CoreV1Api) -> None:
    def names() -> set[str]:
        return {c.metadata.name for c in core.list_namespaced_config_map("default").items}

    owner = core.create_namespaced_config_map("default", _configmap("owner"))
    core.create_namespaced_config_map("default", _owned("child", owner))
    grandchild_owner = core.read_namespaced_config_map("child", "default")
    core.create_namespaced_config_map("default", _owned("grandchild", grandchild_owner))
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Background")
    assert names() == set()

    owner = core.create_namespaced_config_map("default", _configmap("owner"))
    core.create_namespaced_config_map("default", _owned("orphan", owner))
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")
    assert names() == {"orphan"}
    assert core.read_namespaced_config_map("orphan", "default").metadata.owner_references is None

    owner = core.create_namespaced_config_map("default", _configmap("boss"))
    core.create_namespaced_config_map("default", _owned("slow", owner, finalizers=["x/y"]))
    core.delete_namespaced_config_map("boss", "default", propagation_policy="Foreground")
    boss = core.read_namespaced_config_map("boss", "default")
    assert "foregroundDeletion" in boss.metadata.finalizers
    assert core.read_namespaced_config_map("slow", "default").metadata.deletion_timestamp
    core.patch_namespaced_config_map("slow", "default", {"metadata": {"finalizers": None}})
    assert names() == {"orphan"}


WIDGET_SCHEMA = {
    "type": "object",
    "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
}


def test_custom_resources_are_served_until_their_crd_is_deleted(
    kube_api: ApiClient, dyn: DynamicClient
) -> None:
    ext = client.ApiextensionsV1Api(kube_api)
    for scope, plural in (("Namespaced", "widgets"), ("Cluster", "gadgets")):
        kind = plural[:-1].capitalize()
        ext.create_custom_resource_definition(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.example.com"},
                "spec": {
                    "group": "example.com",
                    "scope": scope,
                    "names": {
                        "plural": plural,
                        "singular": kind.lower(),
                        "kind": kind,
                        "shortNames": [plural[:2]],
                    },
                    "versions": [
                        {
                            "name": "v1",
                            "served": True,
                            "storage": True,
                            "subresources": {"status": {}},
                            # a real API server prunes (and SSA refuses) what the
                            # schema does not declare, so spec must be declared
                            "schema": {"openAPIV3Schema": WIDGET_SCHEMA},
                        }
                    ],
                },
            }
        )
    crd = ext.read_custom_resource_definition("widgets.example.com")
    assert {c.type for c in crd.status.conditions if c.status == "True"} >= {"Established"}
    widgets = dyn.resources.get(api_version="example.com/v1", kind="Widget")
    gadgets = dyn.resources.get(api_version="example.com/v1", kind="Gadget")
    assert widgets.namespaced and not gadgets.namespaced
    widgets.server_side_apply(
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1", "namespace": "default"},
            "spec": {"size": 3},
        },
        namespace="default",
        field_manager="test",
    )
    gadgets.create(
        body={
            "apiVersion": "example.com/v1",
            "kind": "Gadget",
            "metadata": {"name": "g1"},
            "spec": {},
        }
    )
    assert widgets.get(name="w1", namespace="default").spec.size == 3
    assert [g.metadata.name for g in gadgets.get().items] == ["g1"]

    ext.delete_custom_resource_definition("widgets.example.com")
    custom = client.CustomObjectsApi(kube_api)
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert caught.value.status == 404
    fresh = DynamicClient(kube_api, cache_file=None)
    with pytest.raises(ResourceNotFoundError):
        fresh.resources.get(api_version="example.com/v1", kind="Widget")
    assert [
        g["metadata"]["name"]
        for g in custom.list_cluster_custom_object("example.com", "v1", "gadgets")["items"]
    ] == ["g1"]


def test_server_side_apply_ownership_and_conflicts(dyn: DynamicClient) -> None:
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    created = deployments.server_side_apply(
        body=_deployment("api"), namespace="default", field_manager="alice"
    )
    assert created.metadata.managedFields[0].manager == "alice"
    with pytest.raises(ApiException) as caught:
        deployments.server_side_apply(
            body=_deployment("api", replicas=5), namespace="default", field_manager="bob"
        )
    assert caught.value.status == 409
    body = _status(caught.value)
    assert body["reason"] == "Conflict"
    assert {c["field"] for c in body["details"]["causes"]} == {".spec.replicas"}
    forced = deployments.server_side_apply(
        body=_deployment("api", replicas=5),
        namespace="default",
        field_manager="bob",
        force_conflicts=True,
    )
    assert forced.spec.replicas == 5
    # alice drops the image: bob also applied it, so it stays
    slim = _deployment("api", replicas=5)
    again = deployments.server_side_apply(body=slim, namespace="default", field_manager="alice")
    assert again.spec.template.spec.containers[0].image == "nginx:1.25"


def test_server_keeps_serving_after_bad_requests(
    core: client.CoreV1Api, kube: KubeEmulator
) -> None:
    path = "/api/v1/namespaces/default/configmaps"
    for body in (b"{not json", b"[1, 2]", b'"text"', b""):
        code, status = _http(kube, "POST", path, body)
        assert code == 400
        assert status["kind"] == "Status" and status["reason"] == "BadRequest"
        assert status["code"] == 400 and status["message"]
    code, status = _http(kube, "PATCH", f"{path}/missing", b"{}", "application/x-unknown")
    assert code == 415 and status["reason"] == "UnsupportedMediaType"
    core.create_namespaced_config_map("default", _configmap("cm"))
    code, status = _http(
        kube, "PATCH", f"{path}/cm", [{"op": "bogus"}], "application/json-patch+json"
    )
    assert 400 <= code < 500 and status["kind"] == "Status"
    code, status = _http(
        kube,
        "PATCH",
        f"{path}/cm",
        {"apiVersion": "v2", "kind": "Nope"},
        "application/apply-patch+yaml",
    )
    assert code == 400
    assert core.read_namespace("default").metadata.name == "default"


def test_unknown_resources_are_not_found(kube_api: ApiClient) -> None:
    custom = client.CustomObjectsApi(kube_api)
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object("nothing.example.com", "v1", "default", "things")
    assert caught.value.status == 404
    assert _status(caught.value)["reason"] == "NotFound"


def test_fault_injection_and_audit_log(core: client.CoreV1Api, kube: KubeEmulator) -> None:
    fault = {"method": "POST", "resource": "configmaps", "count": 2, "status": 503}
    assert _http(kube, "POST", "/_sandbox/faults", fault)[0] == 201
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.create_namespaced_config_map("default", _configmap("flaky"))
        assert caught.value.status == 503
        assert _status(caught.value)["reason"] == "ServiceUnavailable"
    core.create_namespaced_config_map("default", _configmap("flaky"))
    slow = {"method": "GET", "resource": "configmaps", "name": "flaky", "latency_ms": 300}
    assert _http(kube, "POST", "/_sandbox/faults", slow)[0] == 201
    started = time.monotonic()
    core.read_namespaced_config_map("flaky", "default")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    core.read_namespaced_config_map("flaky", "default")
    assert time.monotonic() - started < 0.3

    core.patch_namespaced_config_map("flaky", "default", {"data": {"k": "v"}}, field_manager="me")
    core.delete_namespaced_config_map("flaky", "default", dry_run="All")
    code, audit = _http(kube, "GET", "/_sandbox/audit")
    assert code == 200 and audit == kube.audit_log()
    assert [(a["verb"], a["code"]) for a in audit] == [
        ("create", 503),
        ("create", 503),
        ("create", 201),
        ("patch", 200),
        ("delete", 200),
    ]
    patch = audit[3]
    assert patch["resource"] == "configmaps" and patch["namespace"] == "default"
    assert patch["name"] == "flaky" and patch["fieldManager"] == "me"
    assert patch["group"] == "" and patch["version"] == "v1" and patch["kind"] == "ConfigMap"
    assert audit[4]["dryRun"] is True and audit[3]["dryRun"] is False
    assert [a["time"] for a in audit] == sorted(a["time"] for a in audit)


def test_control_api_reset_and_time_factor(core: client.CoreV1Api, kube: KubeEmulator) -> None:
    core.create_namespace({"metadata": {"name": "scratch"}})
    assert _http(kube, "PUT", "/_sandbox/time-factor", {"timeFactor": 0.5}) == (
        200,
        {"timeFactor": 0.5},
    )
    assert kube.time_factor == 0.5
    assert _http(kube, "PUT", "/_sandbox/time-factor", {"timeFactor": -1})[0] == 400
    assert _http(kube, "POST", "/_sandbox/faults", {"status": 500, "count": 0})[0] == 400
    assert _http(kube, "POST", "/_sandbox/faults", {"status": 500, "resource": "pods"})[0] == 201
    assert _http(kube, "POST", "/_sandbox/reset")[0] == 200
    assert _http(kube, "GET", "/_sandbox/faults") == (200, {"pending": []})
    assert kube.audit_log() == []
    names = [n.metadata.name for n in core.list_namespace().items]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
