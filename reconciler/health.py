"""Resource health with Argo CD's built-in semantics, and the worst-of rule for an app.

Pure: functions over objects held as plain dicts, no clients, clock or environment. The
checks per kind live in ``health_workloads`` (Deployment, StatefulSet, DaemonSet,
ReplicaSet), ``health_batch`` (Pod, Job, CronJob), ``health_core`` (Service, Ingress, PVC,
APIService, HPA) and ``health_argo`` (Argo Rollout, Argo Workflow); this module picks one by
API group and kind, and is the only one callers need.

Kinds without a check (ConfigMap, Secret, argoproj.io Application, CRDs such as a knative
Service, ...) have no health: ``assess`` returns None and ``aggregate`` leaves them out, as
Argo CD does. ``Missing`` is never produced here: it means "in Git but not in the cluster",
which only the caller that compares the two can know.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from reconciler import health_argo, health_batch, health_core, health_workloads
from reconciler.health_fields import MalformedObject, mapping, sequence
from reconciler.health_types import ORDER, Health, HealthStatus, rank

__all__ = [
    "HOOK_FINALIZER",
    "HOOK_FINALIZERS",
    "ORDER",
    "Health",
    "HealthStatus",
    "aggregate",
    "assess",
    "has_health_check",
    "split_api_version",
]

HOOK_FINALIZER: Final = "argocd.argoproj.io/hook-finalizer"
"""Argo CD's finalizer on a running hook (objects an Argo CD sync left behind carry it)."""

HOOK_FINALIZERS: Final = (HOOK_FINALIZER, "kajitori.dev/hook-finalizer")
"""Finalizers a sync engine keeps on a running hook: Argo CD's and kajitori's own
(``reconciler.hooks.HOOK_FINALIZER``). A hook being deleted while it still carries one is
judged on its real state rather than "Pending deletion", so that the sync can still read
whether the hook succeeded."""

Check = Callable[[Mapping[str, Any]], Health]

_CHECKS: Final[dict[tuple[str, str], Check]] = {
    ("apps", "Deployment"): health_workloads.deployment,
    ("extensions", "Deployment"): health_workloads.deployment,
    ("apps", "StatefulSet"): health_workloads.statefulset,
    ("apps", "DaemonSet"): health_workloads.daemonset,
    ("extensions", "DaemonSet"): health_workloads.daemonset,
    ("apps", "ReplicaSet"): health_workloads.replicaset,
    ("extensions", "ReplicaSet"): health_workloads.replicaset,
    ("", "Pod"): health_batch.pod,
    ("batch", "Job"): health_batch.job,
    ("batch", "CronJob"): health_batch.cronjob,
    ("", "Service"): health_core.service,
    ("", "PersistentVolumeClaim"): health_core.persistent_volume_claim,
    ("networking.k8s.io", "Ingress"): health_core.ingress,
    ("extensions", "Ingress"): health_core.ingress,
    ("apiregistration.k8s.io", "APIService"): health_core.api_service,
    ("autoscaling", "HorizontalPodAutoscaler"): health_core.horizontal_pod_autoscaler,
    ("argoproj.io", "Rollout"): health_argo.rollout,
    ("argoproj.io", "Workflow"): health_argo.workflow,
}
"""The built-in checks by (API group, kind); every version of a group shares one check."""


def split_api_version(api_version: str) -> tuple[str, str]:
    """("apps", "v1") for "apps/v1"; ("", "v1") for the core group's "v1"."""
    group, _, version = api_version.rpartition("/")
    return group, version


def _group_and_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise MalformedObject("object has no kind")
    if not isinstance(api_version, str) or not api_version:
        raise MalformedObject(f"{kind} has no apiVersion")
    return split_api_version(api_version)[0], kind


def has_health_check(obj: Mapping[str, Any]) -> bool:
    """Whether objects of this API group and kind have a built-in health check."""
    try:
        return _group_and_kind(obj) in _CHECKS
    except MalformedObject:
        return False


def _pending_deletion(obj: Mapping[str, Any]) -> bool:
    metadata = mapping(obj, "metadata")
    if metadata.get("deletionTimestamp") is None:
        return False
    finalizers = sequence(metadata, "finalizers")
    return not any(name in finalizers for name in HOOK_FINALIZERS)


def assess(obj: dict[str, Any]) -> Health | None:
    """The health of one live object, or None when its kind has no health check.

    An object marked for deletion is Progressing ("Pending deletion") whatever its kind,
    unless it is a hook still held by ``HOOK_FINALIZER``. Never raises: a malformed object
    (not a mapping, no kind, a field of the wrong type) gives Unknown with a message saying
    what is wrong.
    """
    if not isinstance(obj, Mapping):
        return Health(HealthStatus.UNKNOWN, "object is not a mapping")
    try:
        key = _group_and_kind(obj)
        if _pending_deletion(obj):
            return Health(HealthStatus.PROGRESSING, "Pending deletion")
        check = _CHECKS.get(key)
        if check is None:
            return None
        return check(obj)
    except MalformedObject as error:
        return Health(HealthStatus.UNKNOWN, f"malformed object: {error}")
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        # A shape the checks did not foresee; report it rather than fail the caller's loop.
        return Health(HealthStatus.UNKNOWN, f"health check failed: {type(error).__name__}")


def aggregate(healths: Iterable[Health | None]) -> str:
    """The worst status among ``healths`` in Argo CD's order (Healthy < Suspended < Progressing
    < Missing < Degraded < Unknown). None entries (kinds without health) are ignored; nothing
    to judge is Healthy. Callers leave hooks and ignored resources out themselves."""
    worst = HealthStatus.HEALTHY
    for health in healths:
        if health is not None and rank(health.status) > rank(worst):
            worst = HealthStatus(health.status)
    return worst
