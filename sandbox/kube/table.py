"""The meta.k8s.io/v1 Table format that ``kubectl get`` asks for (``Accept: …;as=Table``).

Every kind gets NAME and AGE; common kinds get the columns kubectl users know (READY,
STATUS, TYPE, CLUSTER-IP, ...); custom resources get their CRD's additionalPrinterColumns.
Rows carry the object's metadata (``includeObject=Metadata``, the default), the whole object
(``Object``) or nothing (``None``).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

from sandbox.kube.resources import ResourceType

Cell = Callable[[dict[str, Any], float], Any]


def _get(obj: Any, path: str) -> Any:
    current = obj
    for part in path.strip(".").split("."):
        if not part:
            continue
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def human_age(seconds: float) -> str:
    """A duration the way kubectl prints ages (``45s``, ``3m12s``, ``5h``, ``12d``)."""
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d"


def _age(obj: dict[str, Any], now: float) -> str:
    stamp = _get(obj, "metadata.creationTimestamp")
    if not isinstance(stamp, str):
        return "<unknown>"
    try:
        created = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return "<unknown>"
    return human_age(now - created)


def _num(obj: dict[str, Any], path: str) -> int:
    value = _get(obj, path)
    return value if isinstance(value, int) else 0


def _ready(obj: dict[str, Any], _now: float) -> str:
    return f"{_num(obj, 'status.readyReplicas')}/{_num(obj, 'spec.replicas')}"


def _pod_ready(obj: dict[str, Any], _now: float) -> str:
    statuses = _get(obj, "status.containerStatuses") or []
    total = len(_get(obj, "spec.containers") or [])
    ready = sum(1 for s in statuses if isinstance(s, dict) and s.get("ready"))
    return f"{ready}/{total}"


def _job_status(obj: dict[str, Any], _now: float) -> str:
    for cond in _get(obj, "status.conditions") or []:
        if isinstance(cond, dict) and cond.get("status") == "True":
            if cond.get("type") == "Complete":
                return "Complete"
            if cond.get("type") == "Failed":
                return "Failed"
    return "Running" if _num(obj, "status.active") else "Pending"


def _ports(obj: dict[str, Any], _now: float) -> str:
    parts = []
    for port in _get(obj, "spec.ports") or []:
        if isinstance(port, dict):
            text = f"{port.get('port')}"
            if port.get("nodePort"):
                text += f":{port['nodePort']}"
            parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _external_ip(obj: dict[str, Any], _now: float) -> str:
    ingress = _get(obj, "status.loadBalancer.ingress") or []
    ips = [i.get("ip") or i.get("hostname") for i in ingress if isinstance(i, dict)]
    if ips:
        return ",".join(str(i) for i in ips)
    return "<pending>" if _get(obj, "spec.type") == "LoadBalancer" else "<none>"


def _path(path: str, default: str = "") -> Cell:
    def cell(obj: dict[str, Any], _now: float) -> Any:
        value = _get(obj, path)
        return default if value is None else value

    return cell


def _count(path: str) -> Cell:
    return lambda obj, _now: len(_get(obj, path) or {})


COLUMNS: dict[str, list[tuple[str, Cell]]] = {
    "Deployment": [
        ("READY", _ready),
        ("UP-TO-DATE", _path("status.updatedReplicas", "0")),
        ("AVAILABLE", _path("status.availableReplicas", "0")),
    ],
    "StatefulSet": [("READY", _ready)],
    "ReplicaSet": [
        ("DESIRED", _path("spec.replicas", "0")),
        ("CURRENT", _path("status.replicas", "0")),
        ("READY", _path("status.readyReplicas", "0")),
    ],
    "DaemonSet": [
        ("DESIRED", _path("status.desiredNumberScheduled", "0")),
        ("CURRENT", _path("status.currentNumberScheduled", "0")),
        ("READY", _path("status.numberReady", "0")),
    ],
    "Pod": [
        ("READY", _pod_ready),
        ("STATUS", _path("status.phase", "Pending")),
        ("RESTARTS", lambda obj, _n: 0),
    ],
    "Job": [
        ("STATUS", _job_status),
        (
            "COMPLETIONS",
            lambda o, _n: f"{_num(o, 'status.succeeded')}/{_get(o, 'spec.completions') or 1}",
        ),
    ],
    "Service": [
        ("TYPE", _path("spec.type", "ClusterIP")),
        ("CLUSTER-IP", _path("spec.clusterIP", "<none>")),
        ("EXTERNAL-IP", _external_ip),
        ("PORT(S)", _ports),
    ],
    "Namespace": [("STATUS", _path("status.phase", "Active"))],
    "ConfigMap": [("DATA", _count("data"))],
    "Secret": [("TYPE", _path("type", "Opaque")), ("DATA", _count("data"))],
    "PersistentVolumeClaim": [
        ("STATUS", _path("status.phase", "Pending")),
        ("VOLUME", _path("spec.volumeName")),
    ],
    "Ingress": [
        ("CLASS", _path("spec.ingressClassName", "<none>")),
        ("ADDRESS", lambda o, _n: _external_ip(o, _n).replace("<none>", "")),
    ],
    "CronJob": [("SCHEDULE", _path("spec.schedule")), ("SUSPEND", _path("spec.suspend", "False"))],
}


def _custom_columns(rtype: ResourceType) -> list[tuple[str, Cell, str]]:
    columns = []
    for col in rtype.printer_columns:
        json_path = str(col.get("jsonPath", ""))
        if json_path == ".metadata.creationTimestamp":
            continue
        columns.append(
            (str(col.get("name", "")).upper(), _path(json_path), str(col.get("type", "string")))
        )
    return columns


def columns_for(rtype: ResourceType) -> list[tuple[str, Cell, str]]:
    """(header, cell function, type) for each column, NAME first and AGE last."""
    middle: list[tuple[str, Cell, str]]
    if rtype.custom:
        middle = _custom_columns(rtype)
    else:
        middle = [(name, cell, "string") for name, cell in COLUMNS.get(rtype.kind, [])]
    return [
        ("NAME", _path("metadata.name"), "string"),
        *middle,
        ("AGE", _age, "date"),
    ]


def table(
    rtype: ResourceType,
    objects: list[dict[str, Any]],
    resource_version: str,
    include_object: str = "Metadata",
    now: float | None = None,
) -> dict[str, Any]:
    """A Table of ``objects``."""
    moment = time.time() if now is None else now
    columns = columns_for(rtype)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj, moment) for _, cell, _ in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata") or {},
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": header.title() if header != "NAME" else "Name",
                "type": kind,
                "format": "name" if header == "NAME" else "",
                "description": header.lower(),
                "priority": 0,
            }
            for header, _, kind in columns
        ],
        "rows": rows,
    }
