"""Builders and audit-log readers shared by the sync integration tests."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from typing import Any

from reconciler.cluster_protocol import ClusterProtocol
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Automated,
    Destination,
    IgnoreDifferences,
    RetryStrategy,
    SyncPolicy,
)
from reconciler.sync import SyncOperation
from reconciler.sync_types import SyncRequest

Obj = dict[str, Any]
REVISION = "3f2a1bc9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3"


def application(
    name: str = "shop",
    namespace: str = "shop",
    *options: str,
    retry: RetryStrategy | None = None,
    ignore: Sequence[IgnoreDifferences] = (),
    annotations: dict[str, str] | None = None,
    automated: bool = False,
) -> Application:
    return Application(
        name,
        ApplicationSpec(
            source=ApplicationSource("https://git.example.com/apps.git", name, "main"),
            destination=Destination(namespace=namespace, server="https://kubernetes.default.svc"),
            sync_policy=SyncPolicy(
                automated=Automated() if automated else None,
                sync_options=tuple(options),
                retry=retry,
            ),
            ignore_differences=tuple(ignore),
        ),
        annotations=annotations or {},
    )


def sync(
    app: Application,
    desired: Sequence[Obj],
    cluster: ClusterProtocol,
    request: SyncRequest | None = None,
    *,
    revision: str = REVISION,
    **options: Any,
) -> dict[str, Any]:
    """Run a whole operation with no wave delay and a short poll; its final state."""
    options.setdefault("wave_delay", 0.0)
    operation = SyncOperation.start(app, desired, cluster, request, revision=revision, **options)
    return operation.run(poll_interval=0.02, timeout=60)


def annotated(obj: Obj, **annotations: str) -> Obj:
    result = copy.deepcopy(obj)
    result.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
    return result


def hook(obj: Obj, phase: str, *policies: str) -> Obj:
    extra = {"argocd.argoproj.io/hook": phase}
    if policies:
        extra["argocd.argoproj.io/hook-delete-policy"] = ",".join(policies)
    return annotated(obj, **extra)


def wave(obj: Obj, number: int) -> Obj:
    return annotated(obj, **{"argocd.argoproj.io/sync-wave": str(number)})


def configmap(name: str, **data: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def service(name: str, port: int = 80) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": port}]},
    }


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 1) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def job(name: str, *command: str, generate: bool = False) -> Obj:
    meta: Obj = {"generateName": f"{name}-"} if generate else {"name": name}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "main", "image": "busybox", "command": list(command or ["true"])}
                    ],
                }
            },
        },
    }


def writes(kube: Any) -> list[dict[str, Any]]:
    """The audit records of real (not dry-run) writes, oldest first."""
    return [entry for entry in kube.audit_log() if not entry.get("dryRun")]


def dry_runs(kube: Any) -> list[dict[str, Any]]:
    return [entry for entry in kube.audit_log() if entry.get("dryRun")]


def names(entries: Iterable[dict[str, Any]]) -> list[str]:
    """``Kind/name`` of audit records."""
    return [f"{entry['kind']}/{entry['name']}" for entry in entries]


def roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    """A state as it comes back from storage."""
    result: dict[str, Any] = json.loads(json.dumps(state))
    return result


def results(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The state's resource results by ``Kind/name:syncPhase``."""
    return {
        f"{r['kind']}/{r['name']}:{r['syncPhase']}": r for r in state["syncResult"]["resources"]
    }
