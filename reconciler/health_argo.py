"""Health of Argo's own workloads: Argo Rollouts' ``Rollout`` and Argo Workflows' ``Workflow``
(both group argoproj.io), with the semantics Argo CD ships for them.

Rollouts since v1.0 record their own phase and message in status, which is surfaced as is
(Paused becomes Suspended). Older Rollouts are judged from conditions, pause state, replica
counts and the blue-green / canary selectors. Where Argo CD's script would stop with a script
error on a missing field (no conditions list, no strategy) these read it as empty instead.
"""

from __future__ import annotations

from reconciler.health_fields import (
    MalformedObject,
    Obj,
    boolean,
    integer,
    mapping,
    mappings,
    sequence,
    string,
)
from reconciler.health_types import Health, HealthStatus

WORKLOAD_GENERATION_ANNOTATION = "rollout.argoproj.io/workload-generation"
"""Set by Argo Rollouts on a Rollout with spec.workloadRef: the referenced workload's generation."""

PROGRESSING = HealthStatus.PROGRESSING

_ROLLOUT_PHASES: dict[str, HealthStatus] = {
    "Healthy": HealthStatus.HEALTHY,
    "Progressing": HealthStatus.PROGRESSING,
    "Degraded": HealthStatus.DEGRADED,
    "Paused": HealthStatus.SUSPENDED,
    "Suspended": HealthStatus.SUSPENDED,
}


def _number(value: object, what: str) -> int | None:
    """A generation written as a number or a decimal string (Rollouts store strings); None when
    absent or not numeric (pre-v0.10 Rollouts stored a hash there)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value) if value.strip().isdigit() else None
    raise MalformedObject(f"{what} should be a number or a string")


def _generation_observed(obj: Obj) -> bool:
    status = mapping(obj, "status")
    observed = _number(status.get("observedGeneration"), "status.observedGeneration")
    generation = _number(mapping(obj, "metadata").get("generation"), "metadata.generation")
    if observed is None or generation is None or observed > generation:
        return True  # an old Rollout whose observedGeneration is not a generation count
    return observed == generation


def _workload_generation_observed(obj: Obj) -> bool:
    if mapping(obj, "spec").get("workloadRef") is None:
        return True
    annotations = mapping(obj, "metadata", "annotations")
    if not annotations:
        return True
    wanted = _number(annotations.get(WORKLOAD_GENERATION_ANNOTATION), "workload annotation")
    seen = _number(
        mapping(obj, "status").get("workloadObservedGeneration"),
        "status.workloadObservedGeneration",
    )
    return wanted == seen


def rollout(obj: Obj) -> Health:
    """An Argo Rollout: unobserved spec is Progressing; a recorded phase is surfaced; otherwise
    invalid, aborted or timed-out is Degraded, paused Suspended, an unfinished rollout
    Progressing and a finished one Healthy."""
    if obj.get("status") is None or not _generation_observed(obj):
        return Health(PROGRESSING, "Waiting for the controller to observe the latest spec")
    if not _workload_generation_observed(obj):
        return Health(PROGRESSING, "Waiting for the controller to observe the referenced workload")
    status = mapping(obj, "status")
    phase = string(status, "phase")
    message = string(status, "message")
    if phase:
        if phase in _ROLLOUT_PHASES:
            return Health(_ROLLOUT_PHASES[phase], message)
        return Health(HealthStatus.UNKNOWN, f"unrecognised rollout phase {phase!r}")
    for condition in mappings(status, "conditions"):
        kind, reason = string(condition, "type"), string(condition, "reason")
        if kind == "InvalidSpec" or (
            kind == "Progressing" and reason in ("RolloutAborted", "ProgressDeadlineExceeded")
        ):
            return Health(HealthStatus.DEGRADED, string(condition, "message"))
    if sequence(status, "pauseConditions") or boolean(obj, "spec", "paused"):
        return Health(HealthStatus.SUSPENDED, "Rollout is paused")
    if status.get("currentPodHash") is None:
        return Health(PROGRESSING, "Waiting for the controller to reconcile the status")
    pod_hash = string(status, "currentPodHash")
    wanted = integer(obj, "spec", "replicas", default=1)
    replicas = integer(status, "replicas")
    updated = integer(status, "updatedReplicas")
    available = integer(status, "availableReplicas")
    if updated < wanted:
        return Health(PROGRESSING, f"Rollout in progress: {updated} of {wanted} replicas updated")
    if available < updated:
        return Health(
            PROGRESSING, f"Rollout in progress: {available} of {updated} updated replicas available"
        )
    stable = string(status, "stableRS") or string(status, "canary", "stableRS")
    strategy = mapping(obj, "spec", "strategy")
    if strategy.get("blueGreen") is not None:
        active = string(status, "blueGreen", "activeSelector", default="")
        if status.get("blueGreen") is None or active != pod_hash:
            return Health(PROGRESSING, "Waiting for the active service to switch over")
        if stable and stable != pod_hash:
            return Health(PROGRESSING, "Waiting for analysis to complete")
    elif strategy.get("canary") is not None:
        if replicas > updated:
            old = replicas - updated
            return Health(PROGRESSING, f"Rollout in progress: {old} old replicas still terminating")
        if stable != pod_hash:
            return Health(PROGRESSING, "Waiting for the canary steps to finish")
    return Health(HealthStatus.HEALTHY)


def workflow(obj: Obj) -> Health:
    """An Argo Workflow by status.phase: not started, Pending or Running is Progressing,
    Succeeded Healthy, Failed or Error Degraded; the workflow's message is kept."""
    phase = string(obj, "status", "phase")
    message = string(obj, "status", "message")
    if phase in ("", "Pending", "Running"):
        return Health(PROGRESSING, message)
    if phase == "Succeeded":
        return Health(HealthStatus.HEALTHY, message)
    if phase in ("Failed", "Error"):
        return Health(HealthStatus.DEGRADED, message)
    return Health(HealthStatus.UNKNOWN, message or f"unrecognised workflow phase {phase!r}")
