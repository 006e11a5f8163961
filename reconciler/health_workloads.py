"""Health of the replicated workload controllers: Deployment, StatefulSet, DaemonSet and
ReplicaSet, with Argo CD's built-in semantics (which follow ``kubectl rollout status``).

Each function takes a live object as plain dicts and returns a ``Health``; a field of the wrong
type raises ``MalformedObject`` (the caller turns it into Unknown). ``spec.replicas`` absent is
read as 1, the API server's default, so a hand-written object behaves like the stored one.
"""

from __future__ import annotations

from reconciler.health_fields import (
    Obj,
    boolean,
    find_condition,
    integer,
    mapping,
    mappings,
    optional_integer,
    string,
)
from reconciler.health_types import Health, HealthStatus

PROGRESSING = HealthStatus.PROGRESSING
HEALTHY = HealthStatus.HEALTHY


def _generation_observed(obj: Obj) -> bool:
    """Whether the controller has seen the latest spec (metadata.generation)."""
    return integer(obj, "metadata", "generation") <= integer(obj, "status", "observedGeneration")


def deployment(obj: Obj) -> Health:
    """Paused is Suspended; a rollout past its progress deadline is Degraded; a rollout that is
    not observed, not fully updated, still terminating old pods or not yet available is
    Progressing; otherwise Healthy."""
    if boolean(obj, "spec", "paused"):
        return Health(HealthStatus.SUSPENDED, "Deployment is paused")
    if not _generation_observed(obj):
        return Health(PROGRESSING, "Waiting for the controller to observe the latest spec")
    status = mapping(obj, "status")
    progressing = find_condition(mappings(status, "conditions"), "Progressing")
    if progressing is not None and string(progressing, "reason") == "ProgressDeadlineExceeded":
        name = string(obj, "metadata", "name")
        return Health(HealthStatus.DEGRADED, f"Deployment {name!r} exceeded its progress deadline")
    wanted = integer(obj, "spec", "replicas", default=1)
    replicas = integer(status, "replicas")
    updated = integer(status, "updatedReplicas")
    available = integer(status, "availableReplicas")
    if updated < wanted:
        return Health(PROGRESSING, f"Rollout in progress: {updated} of {wanted} replicas updated")
    if replicas > updated:
        old = replicas - updated
        return Health(PROGRESSING, f"Rollout in progress: {old} old replicas still terminating")
    if available < updated:
        return Health(
            PROGRESSING, f"Rollout in progress: {available} of {updated} updated replicas available"
        )
    return Health(HEALTHY)


def statefulset(obj: Obj) -> Health:
    """Unobserved spec or unready pods are Progressing; a RollingUpdate with a partition waits
    for the pods above the partition; OnDelete is Healthy once ready; otherwise the update
    revision must have become the current one."""
    status = mapping(obj, "status")
    observed = integer(status, "observedGeneration")
    if observed == 0 or integer(obj, "metadata", "generation") > observed:
        return Health(PROGRESSING, "Waiting for the controller to observe the latest spec")
    wanted = integer(obj, "spec", "replicas", default=1)
    ready = integer(status, "readyReplicas")
    updated = integer(status, "updatedReplicas")
    if ready < wanted:
        return Health(PROGRESSING, f"Waiting for {wanted - ready} pods to be ready")
    strategy = mapping(obj, "spec", "updateStrategy")
    strategy_type = string(strategy, "type")
    if strategy_type == "RollingUpdate" and strategy.get("rollingUpdate") is not None:
        partition = optional_integer(strategy, "rollingUpdate", "partition")
        if partition is not None and updated < wanted - partition:
            return Health(
                PROGRESSING,
                f"Partitioned rollout in progress: {updated} of {wanted - partition} pods updated",
            )
        return Health(HEALTHY, f"Rollout complete: {updated} pods updated")
    if strategy_type == "OnDelete":
        return Health(HEALTHY, f"{ready} pods ready ({updated} updated)")
    update_revision = string(status, "updateRevision")
    current_revision = string(status, "currentRevision")
    if update_revision != current_revision:
        return Health(
            PROGRESSING,
            f"Rolling update in progress: {updated} pods at revision {update_revision}",
        )
    current = integer(status, "currentReplicas")
    return Health(
        HEALTHY, f"Rolling update complete: {current} pods at revision {current_revision}"
    )


def daemonset(obj: Obj) -> Health:
    """Unobserved spec is Progressing; OnDelete is Healthy; otherwise every scheduled node must
    run an updated, available pod."""
    if not _generation_observed(obj):
        return Health(PROGRESSING, "Waiting for the controller to observe the latest spec")
    status = mapping(obj, "status")
    desired = integer(status, "desiredNumberScheduled")
    updated = integer(status, "updatedNumberScheduled")
    available = integer(status, "numberAvailable")
    if string(obj, "spec", "updateStrategy", "type") == "OnDelete":
        return Health(HEALTHY, f"{updated} of {desired} pods updated (OnDelete)")
    if updated < desired:
        return Health(PROGRESSING, f"Rollout in progress: {updated} of {desired} pods updated")
    if available < desired:
        return Health(PROGRESSING, f"Rollout in progress: {available} of {desired} pods available")
    return Health(HEALTHY)


def replicaset(obj: Obj) -> Health:
    """Unobserved spec is Progressing; a true ReplicaFailure condition is Degraded; fewer
    available replicas than wanted is Progressing; otherwise Healthy."""
    if not _generation_observed(obj):
        return Health(PROGRESSING, "Waiting for the controller to observe the latest spec")
    status = mapping(obj, "status")
    failure = find_condition(mappings(status, "conditions"), "ReplicaFailure")
    if failure is not None and string(failure, "status") == "True":
        return Health(HealthStatus.DEGRADED, string(failure, "message"))
    wanted = integer(obj, "spec", "replicas", default=1)
    available = integer(status, "availableReplicas")
    if available < wanted:
        return Health(PROGRESSING, f"Waiting for replicas: {available} of {wanted} available")
    return Health(HEALTHY)
