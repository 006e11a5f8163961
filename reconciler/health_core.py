"""Health of Services, Ingresses, PersistentVolumeClaims, APIServices and
HorizontalPodAutoscalers, with Argo CD's built-in semantics.

HPA: Argo CD walks the conditions in order and stops at the first one that is either a known
failure (Degraded) or a true AbleToScale / ScalingLimited (Healthy), so its answer can hinge on
the order the controller wrote them in. Here any known failure wins over any healthy condition,
so a failing metric is not hidden behind an earlier AbleToScale=True. Besides the failure reasons
Argo CD checks (FailedGetScale, FailedUpdateScale, FailedGetResourceMetric, InvalidSelector), the
HPA controller's other metric failures (object, pods and external metrics, and
FailedComputeMetricsReplicas) count as Degraded too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from reconciler.health_fields import (
    MalformedObject,
    Obj,
    find_condition,
    mapping,
    mappings,
    sequence,
    string,
)
from reconciler.health_types import Health, HealthStatus

HPA_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
"""Where autoscaling/v1 HPAs carry the conditions that v2 keeps in status.conditions."""

HPA_FAILURES: frozenset[tuple[str, str]] = frozenset(
    {
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "FailedGetObjectMetric"),
        ("ScalingActive", "FailedGetPodsMetric"),
        ("ScalingActive", "FailedGetExternalMetric"),
        ("ScalingActive", "FailedComputeMetricsReplicas"),
        ("ScalingActive", "InvalidSelector"),
    }
)
"""(condition type, reason) pairs that mean the autoscaler cannot do its job."""

HPA_HEALTHY_TYPES: frozenset[str] = frozenset({"AbleToScale", "ScalingLimited"})
"""Condition types that, when True, show a working autoscaler."""

WAITING_TO_AUTOSCALE = Health(HealthStatus.PROGRESSING, "Waiting to Autoscale")


def _has_load_balancer_address(obj: Obj) -> bool:
    return bool(sequence(obj, "status", "loadBalancer", "ingress"))


def service(obj: Obj) -> Health:
    """Healthy, except a LoadBalancer Service without an address yet (Progressing)."""
    if string(obj, "spec", "type") == "LoadBalancer" and not _has_load_balancer_address(obj):
        return Health(HealthStatus.PROGRESSING, "Waiting for the load balancer address")
    return Health(HealthStatus.HEALTHY)


def ingress(obj: Obj) -> Health:
    """Healthy once a load balancer address is published, Progressing until then."""
    if _has_load_balancer_address(obj):
        return Health(HealthStatus.HEALTHY)
    return Health(HealthStatus.PROGRESSING, "Waiting for the load balancer address")


def persistent_volume_claim(obj: Obj) -> Health:
    """Bound is Healthy, Pending Progressing, Lost Degraded, anything else Unknown."""
    phase = string(obj, "status", "phase")
    if phase == "Bound":
        return Health(HealthStatus.HEALTHY)
    if phase == "Pending":
        return Health(HealthStatus.PROGRESSING, "Waiting for the claim to be bound")
    if phase == "Lost":
        return Health(HealthStatus.DEGRADED, "The bound volume was lost")
    if not phase:
        return Health(HealthStatus.UNKNOWN, "the claim reports no phase")
    return Health(HealthStatus.UNKNOWN, f"unrecognised claim phase {phase!r}")


def api_service(obj: Obj) -> Health:
    """The Available condition decides: True is Healthy, anything else Progressing."""
    available = find_condition(mappings(obj, "status", "conditions"), "Available")
    if available is None:
        return Health(HealthStatus.PROGRESSING, "Waiting to be processed")
    detail = f"{string(available, 'reason')}: {string(available, 'message')}"
    if string(available, "status") == "True":
        return Health(HealthStatus.HEALTHY, detail)
    return Health(HealthStatus.PROGRESSING, detail)


def _v1_conditions(obj: Obj) -> list[Obj] | None:
    """Conditions of an autoscaling/v1 HPA from its annotation; None when it has none."""
    annotations = mapping(obj, "metadata", "annotations")
    raw = annotations.get(HPA_CONDITIONS_ANNOTATION)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise MalformedObject(f"annotation {HPA_CONDITIONS_ANNOTATION} should be a string")
    try:
        parsed = json.loads(raw)
    except ValueError as error:
        raise MalformedObject(
            f"annotation {HPA_CONDITIONS_ANNOTATION} is not valid JSON: {error}"
        ) from None
    if not isinstance(parsed, list) or not all(isinstance(c, Mapping) for c in parsed):
        raise MalformedObject(f"annotation {HPA_CONDITIONS_ANNOTATION} should be a JSON list")
    return parsed


def horizontal_pod_autoscaler(obj: Obj) -> Health:
    """Degraded on a known failure condition, Healthy when AbleToScale or ScalingLimited is
    True, otherwise Progressing ("Waiting to Autoscale"). autoscaling/v1 reads the conditions
    from its annotation, later versions from status.conditions."""
    if string(obj, "apiVersion") == "autoscaling/v1":
        conditions = _v1_conditions(obj)
        if not conditions:
            return WAITING_TO_AUTOSCALE
    else:
        conditions = mappings(obj, "status", "conditions")
    healthy: Obj | None = None
    for condition in conditions:
        kind = string(condition, "type")
        if (kind, string(condition, "reason")) in HPA_FAILURES:
            return Health(HealthStatus.DEGRADED, string(condition, "message"))
        if healthy is None and kind in HPA_HEALTHY_TYPES and string(condition, "status") == "True":
            healthy = condition
    if healthy is not None:
        return Health(HealthStatus.HEALTHY, string(healthy, "message"))
    return WAITING_TO_AUTOSCALE
