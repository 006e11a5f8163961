"""Objects and accessors shared by the server-side apply and managedFields tests."""

from __future__ import annotations

import copy
from typing import Any

T0, T1, T2, T3 = (f"2024-05-0{d}T10:00:00Z" for d in range(1, 5))


def deployment(replicas: int | None = 2, *containers: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": list(containers)
                or [{"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]}]
            },
        },
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": spec,
    }


def entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["metadata"].get("managedFields", [])
    return result


def fields_of(obj: dict[str, Any], manager: str, operation: str = "Apply") -> dict[str, Any]:
    found = [e for e in entries(obj) if e["manager"] == manager and e["operation"] == operation]
    assert len(found) == 1, f"{manager}/{operation}: {entries(obj)}"
    result: dict[str, Any] = found[0]["fieldsV1"]
    return result


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    clean = copy.deepcopy(obj)
    clean["metadata"].pop("managedFields", None)
    return clean
