"""RespectIgnoreDifferences: ignored fields keep their live values in what a sync applies."""

from __future__ import annotations

from typing import Any

from reconciler.model import IgnoreDifferences
from reconciler.sync_ignore import respect_ignore_differences


def deployment(replicas: int | None, image: str, sidecar: str | None = None) -> dict[str, Any]:
    containers = [{"name": "web", "image": image}]
    if sidecar:
        containers.append({"name": "proxy", "image": sidecar})
    spec: dict[str, Any] = {"template": {"spec": {"containers": containers}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "spec": spec, "status": {"x": 1}}


def test_json_pointer_takes_the_live_value() -> None:
    rule = IgnoreDifferences(kind="Deployment", json_pointers=("/spec/replicas",))
    result = respect_ignore_differences(deployment(1, "a"), deployment(5, "b"), [rule])
    assert result["spec"]["replicas"] == 5
    assert result["spec"]["template"]["spec"]["containers"][0]["image"] == "a"


def test_a_field_absent_live_is_left_out() -> None:
    rule = IgnoreDifferences(kind="Deployment", json_pointers=("/spec/replicas",))
    result = respect_ignore_differences(deployment(1, "a"), deployment(None, "a"), [rule])
    assert "replicas" not in result["spec"]


def test_jq_expression_over_list_items() -> None:
    rule = IgnoreDifferences(
        kind="Deployment",
        jq_path_expressions=('.spec.template.spec.containers[] | select(.name == "web") | .image',),
    )
    target = deployment(1, "mine", sidecar="envoy:1")
    result = respect_ignore_differences(target, deployment(1, "theirs", sidecar="envoy:2"), [rule])
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["theirs", "envoy:1"]
    assert target["spec"]["template"]["spec"]["containers"][0]["image"] == "mine"  # not mutated


def test_managed_fields_managers_and_status() -> None:
    live = deployment(7, "a")
    live["status"] = {"x": 2}
    live["metadata"] = {
        "managedFields": [
            {"manager": "hpa", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
        ]
    }
    rule = IgnoreDifferences(
        kind="Deployment", managed_fields_managers=("hpa",), json_pointers=("/status/x",)
    )
    result = respect_ignore_differences(deployment(1, "a"), live, [rule])
    assert result["spec"]["replicas"] == 7
    assert result["status"] == {"x": 1}  # status is never carried over
