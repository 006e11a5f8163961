"""Server-side field validation of the Kubernetes API emulator, through the official client
and raw HTTP: Strict refuses unknown and duplicate fields in the real server's words, Warn
(the default) drops them with one Warning header each, Ignore drops them silently, and a
server-side apply naming an undeclared field always fails."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from sandbox.kube import KubeEmulator
from sandbox.kube.typeschema import schema_for
from sandbox.kube.unknownfields import unknown_fields

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


def _http(
    kube: KubeEmulator,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> tuple[int, list[str], Any]:
    """(status, Warning headers, JSON body) of a raw request."""
    data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    request = urllib.request.Request(
        kube.url + path, data=data, method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get_all("Warning") or [], json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get_all("Warning") or [], json.load(err)


def _deployment(name: str = "web", **spec_extra: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "nginx"}]},
            },
            **spec_extra,
        },
    }


@pytest.fixture
def dyn(kube_api: ApiClient, tmp_path: Any) -> DynamicClient:
    return DynamicClient(kube_api, cache_file=str(tmp_path / "discovery.json"))


@pytest.fixture
def deployments(dyn: DynamicClient) -> Any:
    """The Deployment resource of the dynamic client (the typed client's models refuse
    unknown fields before sending; this one sends any dict, as kajitori's cluster does)."""
    return dyn.resources.get(api_version="apps/v1", kind="Deployment")


def _mode(mode: str) -> list[tuple[str, str]]:
    return [("fieldValidation", mode)]


def _status(err: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(err.body)
    assert body["code"] == err.status
    return body


def _warnings(response: Any) -> list[str]:
    return list(response.headers.getlist("Warning"))


# -- create and update ---------------------------------------------------------------------


def test_strict_create_names_every_unknown_field_and_stores_nothing(
    deployments: Any, kube: KubeEmulator
) -> None:
    body = _deployment(replica=3)
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(ApiException) as caught:
        deployments.create(body=body, namespace="default", query_params=_mode("Strict"))
    status = _status(caught.value)
    assert caught.value.status == 400 and status["reason"] == "BadRequest"
    # in the order of the body's text, as the server's JSON decoder meets them
    assert status["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.template.spec.containers[0].imagePullPolicyy", '
        'unknown field "spec.replica"'
    )
    assert kube.store.get("apps", "Deployment", "default", "web") is None


def test_warn_is_the_default_it_drops_unknown_fields_with_one_warning_each(
    deployments: Any,
) -> None:
    body = _deployment(replica=3, paused=False)
    body["metadata"]["colour"] = "red"
    response = deployments.create(body=body, namespace="default", serialize=False)
    assert _warnings(response) == [
        '299 - "unknown field \\"metadata.colour\\""',
        '299 - "unknown field \\"spec.replica\\""',
    ]
    created = json.loads(response.data)
    assert "replica" not in created["spec"] and "colour" not in created["metadata"]
    stored = deployments.get(name="web", namespace="default").to_dict()
    assert stored["spec"]["paused"] is False and stored["spec"]["replicas"] == 1
    assert "replica" not in stored["spec"]


def test_ignore_drops_unknown_fields_silently(deployments: Any) -> None:
    response = deployments.create(
        body=_deployment(replica=3),
        namespace="default",
        query_params=_mode("Ignore"),
        serialize=False,
    )
    assert response.status == 201 and _warnings(response) == []
    assert "replica" not in json.loads(response.data)["spec"]


def test_a_strict_dry_run_is_refused_and_a_warned_one_stores_nothing(
    deployments: Any, kube: KubeEmulator
) -> None:
    with pytest.raises(ApiException) as caught:
        deployments.create(
            body=_deployment(replica=3),
            namespace="default",
            dry_run="All",
            query_params=_mode("Strict"),
        )
    assert caught.value.status == 400 and 'unknown field \\"spec.replica\\"' in caught.value.body
    response = deployments.create(
        body=_deployment(replica=3), namespace="default", dry_run="All", serialize=False
    )
    assert _warnings(response) == ['299 - "unknown field \\"spec.replica\\""']
    assert kube.store.get("apps", "Deployment", "default", "web") is None


def test_duplicate_fields_of_a_json_body_in_document_order(kube: KubeEmulator) -> None:
    text = json.dumps(_deployment()).replace(
        '"spec": {', '"spec": {"paused": true, "paused": false, ', 1
    )
    status, _, body = _http(kube, "POST", DEPLOYMENTS + "?fieldValidation=Strict", text.encode())
    assert status == 400
    assert body["message"].endswith('strict decoding error: duplicate field "spec.paused"')
    status, warnings, created = _http(kube, "POST", DEPLOYMENTS, text.encode())
    assert status == 201 and warnings == ['299 - "duplicate field \\"spec.paused\\""']
    assert created["spec"]["paused"] is False  # the last one wins


def test_yaml_bodies_report_duplicates_by_line(kube: KubeEmulator) -> None:
    yaml_body = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  name: cm\n"
        b"data:\n  a: '1'\nbinary: x\n"
    )
    configmaps = "/api/v1/namespaces/default/configmaps"
    status, _, body = _http(
        kube, "POST", configmaps + "?fieldValidation=Strict", yaml_body, "application/yaml"
    )
    assert status == 400
    assert body["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'yaml: unmarshal errors:\n  line 5: key "name" already set in map, '
        'unknown field "binary"'
    )
    status, warnings, _ = _http(kube, "POST", configmaps, yaml_body, "application/yaml")
    assert status == 201
    assert warnings == [
        '299 - "line 5: key \\"name\\" already set in map"',
        '299 - "unknown field \\"binary\\""',
    ]


def test_update_refuses_like_create(deployments: Any) -> None:
    deployments.create(body=_deployment(), namespace="default")
    live = deployments.get(name="web", namespace="default").to_dict()
    live["spec"]["minReadySecond"] = 5
    with pytest.raises(ApiException) as caught:
        deployments.replace(body=live, namespace="default", query_params=_mode("Strict"))
    assert caught.value.status == 400
    assert _status(caught.value)["message"].endswith('unknown field "spec.minReadySecond"')


def test_an_unknown_directive_is_invalid(kube_api: ApiClient) -> None:
    apps = client.AppsV1Api(kube_api)
    with pytest.raises(ApiException) as caught:
        apps.create_namespaced_deployment("default", _deployment(), field_validation="strict")
    status = _status(caught.value)
    assert caught.value.status == 422 and status["details"]["kind"] == "CreateOptions"
    assert 'Unsupported value: "strict"' in status["message"]


# -- patches -------------------------------------------------------------------------------


def test_strict_patches_answer_422_quoting_the_patch(deployments: Any, kube: KubeEmulator) -> None:
    deployments.create(body=_deployment(), namespace="default")
    with pytest.raises(ApiException) as caught:
        deployments.patch(
            body={"spec": {"replica": 2}},
            name="web",
            namespace="default",
            content_type="application/strategic-merge-patch+json",
            query_params=_mode("Strict"),
        )
    status = _status(caught.value)
    assert caught.value.status == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        ' "" is invalid: patch: Invalid value: "map[spec:map[replica:2]]": '
        'strict decoding error: unknown field "spec.replica"'
    )
    assert status["details"]["causes"][0]["field"] == "patch"
    merge = b'{"spec": {"paused": true, "paused": false, "replica": 2}}'
    code, _, body = _http(
        kube,
        "PATCH",
        DEPLOYMENTS + "/web?fieldValidation=Strict",
        merge,
        "application/merge-patch+json",
    )
    assert code == 422
    assert body["message"].startswith(' "" is invalid: patch: Invalid value: "{\\"apiVersion')
    assert body["message"].endswith(
        'strict decoding error: duplicate field "spec.paused", unknown field "spec.replica"'
    )
    code, warnings, patched = _http(
        kube, "PATCH", DEPLOYMENTS + "/web", merge, "application/merge-patch+json"
    )
    assert code == 200 and patched["spec"]["paused"] is False
    assert warnings == [
        '299 - "duplicate field \\"spec.paused\\""',
        '299 - "unknown field \\"spec.replica\\""',
    ]
    assert "replica" not in kube.store.get("apps", "Deployment", "default", "web")["spec"]


def test_json_patch_checks_its_operations_and_the_result(
    deployments: Any, kube: KubeEmulator
) -> None:
    deployments.create(body=_deployment(), namespace="default")
    ops = b'[{"op": "add", "path": "/spec/replica", "value": 2, "from2": "x"}]'
    code, _, body = _http(
        kube,
        "PATCH",
        DEPLOYMENTS + "/web?fieldValidation=Strict",
        ops,
        "application/json-patch+json",
    )
    assert code == 422
    assert body["message"].endswith(
        'strict decoding error: json patch unknown field "[0].from2", unknown field "spec.replica"'
    )


# -- server-side apply -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["Strict", "Warn", "Ignore"])
def test_apply_of_an_undeclared_field_always_fails_as_the_server_does(
    kube: KubeEmulator, mode: str
) -> None:
    code, _, body = _http(
        kube,
        "PATCH",
        DEPLOYMENTS + f"/web?fieldManager=me&fieldValidation={mode}",
        _deployment(replica=3),
        "application/apply-patch+yaml",
    )
    assert code == 500 and "reason" not in body
    assert body["message"] == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        ".spec.replica: field not declared in schema"
    )
    assert kube.store.get("apps", "Deployment", "default", "web") is None


def test_apply_reports_duplicate_yaml_keys_by_directive(kube: KubeEmulator) -> None:
    applied = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: default\n"
        b"data:\n  a: '1'\n  a: '2'\n"
    )
    path = "/api/v1/namespaces/default/configmaps/cm?fieldManager=me"
    code, _, body = _http(
        kube, "PATCH", path + "&fieldValidation=Strict", applied, "application/apply-patch+yaml"
    )
    assert code == 400
    assert body["message"] == (
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n"
        '  line 8: key "a" already set in map'
    )
    code, warnings, stored = _http(kube, "PATCH", path, applied, "application/apply-patch+yaml")
    assert code == 201 and stored["data"] == {"a": "2"}
    assert warnings == ['299 - "line 8: key \\"a\\" already set in map"']


# -- custom resources ------------------------------------------------------------------------


def _widget_crd(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer"},
                "options": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
    },
}


def _widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": spec,
    }


def test_custom_resources_are_checked_against_their_crd_schema(
    kube_api: ApiClient, kube: KubeEmulator
) -> None:
    client.ApiextensionsV1Api(kube_api).create_custom_resource_definition(
        _widget_crd(WIDGET_SCHEMA)
    )
    custom = client.CustomObjectsApi(kube_api)
    body = _widget(size=1, colour="red", options={"free": {"form": True}})
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", body, field_validation="Strict"
        )
    assert caught.value.status == 400
    assert _status(caught.value)["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.colour"'
    )
    created = custom.create_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", body
    )
    assert created["spec"] == {"size": 1, "options": {"free": {"form": True}}}
    code, _, failed = _http(
        kube,
        "PATCH",
        WIDGETS + "/w1?fieldManager=me&fieldValidation=Ignore",
        _widget(size=2, colour="blue"),
        "application/apply-patch+yaml",
    )
    assert code == 500
    assert failed["message"].endswith(".spec.colour: field not declared in schema")


def test_a_custom_resource_preserving_unknown_fields_keeps_them(
    kube_api: ApiClient, kube: KubeEmulator
) -> None:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    client.ApiextensionsV1Api(kube_api).create_custom_resource_definition(_widget_crd(schema))
    code, warnings, created = _http(
        kube, "POST", WIDGETS + "?fieldValidation=Strict", _widget(anything={"goes": 1})
    )
    assert code == 201 and not warnings and created["spec"] == {"anything": {"goes": 1}}


# -- what the emulator writes itself ---------------------------------------------------------


def test_objects_the_simulated_controllers_write_declare_only_known_fields(
    kube: KubeEmulator,
) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "j", "image": "b", "command": ["sh", "-c", "sleep 1"]}],
                }
            }
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "lb", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    statefulset = _deployment("db")
    statefulset.update(kind="StatefulSet")
    statefulset["spec"]["serviceName"] = "db"
    paths = {
        DEPLOYMENTS + "/web": _deployment(),
        "/apis/apps/v1/namespaces/default/statefulsets/db": statefulset,
        "/apis/batch/v1/namespaces/default/jobs/once": job,
        "/api/v1/namespaces/default/services/lb": service,
        "/api/v1/namespaces/default/persistentvolumeclaims/data": claim,
    }
    for path, obj in paths.items():
        code, _, _ = _http(
            kube,
            "PATCH",
            path + "?fieldManager=t&fieldValidation=Strict",
            obj,
            "application/apply-patch+yaml",
        )
        assert code == 201
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = kube.store.get("batch", "Job", "default", "once")
        if (done or {}).get("status", {}).get("succeeded") == 1:
            break
        time.sleep(0.05)
    checked = 0
    for rtype in kube.store.registry.types():
        for obj in kube.store.list(rtype.group, rtype.kind):
            assert unknown_fields(obj, schema_for(rtype, rtype.version)) == [], obj
            checked += 1
    kinds = {
        (o["kind"]) for t in kube.store.registry.types() for o in kube.store.list(t.group, t.kind)
    }
    assert {"ReplicaSet", "Pod", "Job", "Service", "PersistentVolumeClaim"} <= kinds
    assert checked >= 10
