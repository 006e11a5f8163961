"""Defaulting: what kube-apiserver adds to an object it stores.

The cheap, expected defaults: Service cluster IP, type and port protocols, workload replicas
and update strategies, a Job's generated selector and pod labels, Secret ``stringData``
folded into ``data``, the Namespace finalizer and name label, initial Pod/PVC phases, and a
CRD's status. Functions never mutate their arguments: they copy what they change.
"""

from __future__ import annotations

import base64
from typing import Any

from sandbox.kube.errors import bad_request
from sandbox.kube.resources import ResourceType


class Allocator:
    """Hands out Service cluster IPs and node ports (never reused until reset)."""

    def __init__(self) -> None:
        self._next_ip = 10
        self._next_port = 30000

    def cluster_ip(self) -> str:
        """A fresh address in 10.96.0.0/12."""
        n = self._next_ip
        self._next_ip += 1
        return f"10.{96 + (n >> 16) % 16}.{(n >> 8) & 255}.{n & 255}"

    def node_port(self) -> int:
        """A fresh port in 30000-32767."""
        port = self._next_port
        self._next_port = 30000 + (self._next_port - 30000 + 1) % 2768
        return port


def _copy(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """obj[key] replaced by a shallow copy of itself (a new empty dict when absent)."""
    value = obj.get(key)
    copied = dict(value) if isinstance(value, dict) else {}
    obj[key] = copied
    return copied


def _defaults(target: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key not in target:
            target[key] = value


def apply_defaults(
    rtype: ResourceType,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    alloc: Allocator,
) -> dict[str, Any]:
    """``obj`` with server defaults filled in (a new top-level dict). ``old`` is the live
    object on updates: allocated values (cluster IP, node ports, Job selector) carry over."""
    out = dict(obj)
    kind = rtype.kind if not rtype.custom else ""
    if kind == "Secret":
        _default_secret(out)
    elif kind == "Namespace":
        meta = _copy(out, "metadata")
        labels = _copy(meta, "labels")
        labels.setdefault("kubernetes.io/metadata.name", meta.get("name", ""))
        spec = _copy(out, "spec")
        spec.setdefault("finalizers", ["kubernetes"])
        if old is None:
            _copy(out, "status").setdefault("phase", "Active")
    elif kind == "Service":
        _default_service(out, old, alloc)
    elif kind == "Deployment":
        spec = _copy(out, "spec")
        _defaults(spec, {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600})
        if "strategy" not in spec:
            spec["strategy"] = {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            }
    elif kind == "StatefulSet":
        spec = _copy(out, "spec")
        _defaults(
            spec, {"replicas": 1, "podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10}
        )
        spec.setdefault(
            "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        )
    elif kind == "DaemonSet":
        spec = _copy(out, "spec")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault(
            "updateStrategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        )
    elif kind == "ReplicaSet":
        _copy(out, "spec").setdefault("replicas", 1)
    elif kind == "Job":
        _default_job(out, old)
    elif kind == "CronJob":
        spec = _copy(out, "spec")
        _defaults(
            spec,
            {
                "concurrencyPolicy": "Allow",
                "suspend": False,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
            },
        )
    elif kind in ("Pod", "PersistentVolumeClaim", "PersistentVolume") and old is None:
        phase = "Pending" if kind != "PersistentVolume" else "Available"
        _copy(out, "status").setdefault("phase", phase)
    return out


def _default_secret(out: dict[str, Any]) -> None:
    out.setdefault("type", "Opaque")
    string_data = out.pop("stringData", None)
    if string_data is None:
        return
    if not isinstance(string_data, dict):
        raise bad_request("Secret.stringData must be a map of strings")
    data = _copy(out, "data")
    for key, value in string_data.items():
        if not isinstance(value, str):
            raise bad_request(f"Secret.stringData[{key!r}] must be a string")
        data[key] = base64.b64encode(value.encode()).decode()


def _default_service(out: dict[str, Any], old: dict[str, Any] | None, alloc: Allocator) -> None:
    spec = _copy(out, "spec")
    old_spec = (old or {}).get("spec") or {}
    svc_type = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if svc_type == "ExternalName":
        return
    if not spec.get("clusterIP"):
        spec["clusterIP"] = old_spec.get("clusterIP") or alloc.cluster_ip()
    if not spec.get("clusterIPs"):
        spec["clusterIPs"] = old_spec.get("clusterIPs") or [spec["clusterIP"]]
    _defaults(
        spec,
        {
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
    )
    if svc_type in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    ports = spec.get("ports")
    if not isinstance(ports, list):
        return
    old_ports = {
        (p.get("port"), p.get("protocol", "TCP")): p
        for p in old_spec.get("ports") or []
        if isinstance(p, dict)
    }
    new_ports: list[Any] = []
    for port in ports:
        if not isinstance(port, dict):
            new_ports.append(port)
            continue
        port = dict(port)
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])
        if svc_type in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            previous = old_ports.get((port.get("port"), port["protocol"]), {})
            port["nodePort"] = previous.get("nodePort") or alloc.node_port()
        new_ports.append(port)
    spec["ports"] = new_ports


def _default_job(out: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = _copy(out, "spec")
    _defaults(
        spec,
        {
            "backoffLimit": 6,
            "completions": 1,
            "parallelism": 1,
            "completionMode": "NonIndexed",
            "suspend": False,
        },
    )
    meta = out.get("metadata") or {}
    if old is not None:
        old_spec = old.get("spec") or {}
        if "selector" not in spec and "selector" in old_spec:
            spec["selector"] = old_spec["selector"]
        return
    if spec.get("manualSelector"):
        return
    uid = meta.get("uid", "")
    name = meta.get("name", "")
    if "selector" not in spec:
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template = _copy(spec, "template")
    tmeta = _copy(template, "metadata")
    labels = _copy(tmeta, "labels")
    _defaults(
        labels,
        {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        },
    )


def crd_status(crd: dict[str, Any]) -> dict[str, Any]:
    """The status kube-apiserver gives an accepted CRD."""
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    stored = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
    now = (crd.get("metadata") or {}).get("creationTimestamp", "")
    return {
        "acceptedNames": names,
        "storedVersions": stored,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
    }
