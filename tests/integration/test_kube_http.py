"""The Kubernetes API emulator at the HTTP level: discovery, OpenAPI, tables, watches,
odd requests. Uses raw HTTP where no client library would send such a request."""

from __future__ import annotations

import base64
import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from sandbox.kube import KubeEmulator


def _conn(kube: KubeEmulator) -> http.client.HTTPConnection:
    parts = urlsplit(kube.url)
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)


def request(
    kube: KubeEmulator,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, http.client.HTTPResponse]:
    """One request on a fresh connection; the body is parsed as JSON when it is JSON."""
    conn = _conn(kube)
    data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=data, headers=sent)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    try:
        return response.status, json.loads(raw), response
    except ValueError:
        return response.status, raw, response


def test_discovery_documents(kube: KubeEmulator) -> None:
    code, version, _ = request(kube, "GET", "/version")
    assert code == 200 and version["major"] == "1" and version["gitVersion"].startswith("v1.")
    _, core, _ = request(kube, "GET", "/api")
    assert core["kind"] == "APIVersions" and core["versions"] == ["v1"]
    _, v1, _ = request(kube, "GET", "/api/v1")
    by_name = {r["name"]: r for r in v1["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"] and "all" in by_name["pods"]["categories"]
    assert by_name["pods"]["kind"] == "Pod" and by_name["pods"]["namespaced"] is True
    assert by_name["pods"]["singularName"] == "pod"
    assert not by_name["namespaces"]["namespaced"]
    assert set(by_name["configmaps"]["verbs"]) == {
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    }
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    _, groups, _ = request(kube, "GET", "/apis")
    names = {g["name"]: g for g in groups["groups"]}
    assert names["autoscaling"]["preferredVersion"]["groupVersion"] == "autoscaling/v2"
    for group in (
        "apps",
        "batch",
        "networking.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
    ):
        assert group in names
    _, apps, _ = request(kube, "GET", "/apis/apps/v1")
    kinds = {r["kind"] for r in apps["resources"]}
    assert {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"} <= kinds
    _, group, _ = request(kube, "GET", "/apis/batch")
    assert group["kind"] == "APIGroup" and group["versions"][0]["version"] == "v1"
    code, missing, _ = request(kube, "GET", "/apis/nothing.example.com/v1")
    assert code == 404 and missing["kind"] == "Status"


def test_openapi_v3_lets_kubectl_use_server_side_field_validation(kube: KubeEmulator) -> None:
    _, index, _ = request(kube, "GET", "/openapi/v3")
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    code, doc, _ = request(kube, "GET", url)
    assert code == 200 and doc["openapi"].startswith("3.")
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert "fieldValidation" in {p["name"] for p in patch["parameters"] if p["in"] == "query"}


def test_table_format_for_kubectl_get(kube: KubeEmulator) -> None:
    svc = {"metadata": {"name": "web"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    assert request(kube, "POST", "/api/v1/namespaces/default/services", svc)[0] == 201
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    code, table, _ = request(
        kube, "GET", "/api/v1/namespaces/default/services", headers={"Accept": accept}
    )
    assert code == 200 and table["kind"] == "Table"
    headers = [c["name"].upper() for c in table["columnDefinitions"]]
    assert headers[0] == "NAME" and headers[-1] == "AGE" and "CLUSTER-IP" in headers
    row = table["rows"][0]
    assert row["cells"][0] == "web"
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "web"
    ports = row["cells"][headers.index("PORT(S)")]
    assert ports.startswith("80:3") and ports.endswith("/TCP")
    _, plain, _ = request(kube, "GET", "/api/v1/namespaces/default/services/web")
    assert plain["kind"] == "Service" and plain["spec"]["ports"][0]["nodePort"] >= 30000


def _watch_lines(kube: KubeEmulator, path: str) -> list[dict[str, Any]]:
    code, raw, response = request(kube, "GET", path)
    assert code == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    text = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_watch_stream_and_gone(kube: KubeEmulator) -> None:
    cm = {"metadata": {"name": "w"}, "data": {}}
    _, created, _ = request(kube, "POST", "/api/v1/namespaces/default/configmaps", cm)
    rv = int(created["metadata"]["resourceVersion"])
    request(kube, "DELETE", "/api/v1/namespaces/default/configmaps/w")
    events = _watch_lines(
        kube,
        f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv - 1}"
        "&timeoutSeconds=1",
    )
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]
    assert int(events[1]["object"]["metadata"]["resourceVersion"]) > rv
    kube.reset()
    gone = _watch_lines(
        kube,
        f"/api/v1/watch/namespaces/default/configmaps?resourceVersion={rv}&timeoutSeconds=1",
    )
    assert len(gone) == 1 and gone[0]["type"] == "ERROR"
    assert gone[0]["object"]["kind"] == "Status" and gone[0]["object"]["code"] == 410
    assert gone[0]["object"]["reason"] == "Expired"


def test_delete_collection_and_pagination(kube: KubeEmulator) -> None:
    for i in range(5):
        cm = {"metadata": {"name": f"cm-{i}", "labels": {"batch": str(i % 2)}}}
        request(kube, "POST", "/api/v1/namespaces/default/configmaps", cm)
    _, page, _ = request(kube, "GET", "/api/v1/namespaces/default/configmaps?limit=2")
    assert [c["metadata"]["name"] for c in page["items"]] == ["cm-0", "cm-1"]
    assert page["metadata"]["remainingItemCount"] == 3
    token = page["metadata"]["continue"]
    _, rest, _ = request(kube, "GET", f"/api/v1/namespaces/default/configmaps?continue={token}")
    assert [c["metadata"]["name"] for c in rest["items"]] == ["cm-2", "cm-3", "cm-4"]
    code, deleted, _ = request(
        kube, "DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=batch%3D1"
    )
    assert code == 200 and {c["metadata"]["name"] for c in deleted["items"]} == {"cm-1", "cm-3"}
    _, left, _ = request(kube, "GET", "/api/v1/namespaces/default/configmaps")
    assert [c["metadata"]["name"] for c in left["items"]] == ["cm-0", "cm-2", "cm-4"]


def test_protobuf_bodies_kubectl_create_sends(kube: KubeEmulator) -> None:
    # a Namespace as `kubectl create namespace demo` encodes it
    meta = b"\x0a\x04demo"
    raw = b"\x0a" + bytes([len(meta)]) + meta
    type_meta = b"\x0a\x02v1\x12\x09Namespace"
    body = b"k8s\x00\x0a" + bytes([len(type_meta)]) + type_meta + b"\x12" + bytes([len(raw)]) + raw
    code, created, _ = request(
        kube,
        "POST",
        "/api/v1/namespaces",
        body,
        {"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    assert code == 201 and created["metadata"]["name"] == "demo"
    assert created["status"]["phase"] == "Active"
    code, refused, _ = request(
        kube,
        "POST",
        "/api/v1/namespaces",
        b"k8s\x00\x0a\x0b\x0a\x02v1\x12\x05Other",
        {"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    assert code == 415 and refused["reason"] == "UnsupportedMediaType"


def test_chunked_request_bodies_are_read(kube: KubeEmulator) -> None:
    body = json.dumps({"metadata": {"name": "chunky"}, "data": {"a": "b"}}).encode()
    conn = _conn(kube)
    conn.putrequest("POST", "/api/v1/namespaces/default/configmaps")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for piece in (body[:10], body[10:]):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    assert response.status == 201
    assert json.loads(response.read())["data"] == {"a": "b"}
    # the connection is kept alive for the next request
    conn.request("GET", "/api/v1/namespaces/default/configmaps/chunky")
    assert conn.getresponse().status == 200
    conn.close()


PATHS = [
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/default/configmaps/x",
    "/api/v1/namespaces/default/configmaps/x/status",
    "/apis/apps/v1/namespaces/default/deployments/d",
    "/apis/apps/v1/namespaces/default/deployments/d/status",
    "/api/v1/namespaces/x",
    "/api/v1/namespaces/default/services/s",
    "/apis/batch/v1/namespaces/default/jobs/j",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.example.com",
    "/api/v1/nodes",
    "/api/v1/namespaces/default/configmaps?labelSelector=a+in+(b",
    "/api/v1/namespaces/default/configmaps?limit=x&continue=zzz",
    "/api/v1/namespaces/default/configmaps/x/y/z/w",
]
BODIES: list[Any] = [
    b"",
    b"{",
    b"[]",
    b'"s"',
    {"metadata": 5},
    {"metadata": {"name": 5}},
    {"metadata": {"name": "x", "labels": {"a": 1}}},
    {"metadata": {"name": "x"}, "data": {"a": 1}},
    {"apiVersion": "v9", "kind": "X", "metadata": {"name": "x"}},
    {"metadata": {"name": "d"}, "spec": {"selector": 5, "template": "x"}},
    [{"op": "remove", "path": "/metadata/name"}],
    [{"op": "replace", "path": "/spec", "value": 1}],
    {"metadata": {"name": "x", "finalizers": "bad", "ownerReferences": [{"uid": 5}]}},
    {"metadata": {"name": "X Y"}},
    {"metadata": {"name": "s"}, "spec": {"ports": [5], "type": 5}},
    {"spec": {"group": 5, "names": 5, "versions": 5}},
    {"propagationPolicy": "Bad"},
]
PATCH_TYPES = [
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_no_request_crashes_the_server(kube: KubeEmulator, method: str) -> None:
    conn = _conn(kube)
    for path in PATHS:
        for body in BODIES:
            for ctype in PATCH_TYPES if method == "PATCH" else ["application/json"]:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                conn.request(method, path, body=data, headers={"Content-Type": ctype})
                response = conn.getresponse()
                raw = response.read()
                assert response.status < 500, (method, path, body, ctype, raw)
                if response.status >= 400:
                    status = json.loads(raw)
                    assert status["kind"] == "Status" and status["code"] == response.status
                    assert status["reason"] and status["message"]
    conn.close()
    _, listing, _ = request(kube, "GET", "/api/v1/namespaces/default/configmaps")
    assert all(isinstance(c["metadata"]["name"], str) for c in listing["items"])
    secret = {"metadata": {"name": "k"}, "data": {"key": base64.b64encode(b"v").decode()}}
    assert request(kube, "POST", "/api/v1/namespaces/default/secrets", secret)[0] == 201
