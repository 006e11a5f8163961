"""Health of Pods, Jobs and CronJobs: the kinds that run to completion or carry hooks.

Pods follow Argo CD's built-in check: with restartPolicy Always, a container stuck waiting
on an error (``Err*``, ``*Error``, ``*BackOff``) is Degraded at once; Pods that may finish
(OnFailure / Never, typically sync hooks) are only Progressing while they run, so a hook is not
failed early. restartPolicy absent is read as Always, the API server's default.

Jobs are judged by their conditions. One deliberate difference from Argo CD: Kubernetes
leaves a ``Suspended`` condition with status False on a Job that was resumed, and Argo CD
counts any Suspended condition as "finished", calling such a running Job Healthy; here only a
true Suspended condition ends the wait, so a resumed Job stays Progressing until it completes.

CronJobs follow Argo CD's bundled health script, including its choice (argo-cd#24428) to
report a suspended CronJob as Healthy with the message "CronJob is Suspended" rather than
Suspended, so that pausing a schedule does not mark the whole application Suspended.
"""

from __future__ import annotations

from reconciler.health_fields import (
    Obj,
    boolean,
    find_condition,
    integer,
    mapping,
    mappings,
    sequence,
    string,
    timestamp,
)
from reconciler.health_types import Health, HealthStatus

IGNORE_RESTART_POLICY_ANNOTATION = "argocd.argoproj.io/ignore-restart-policy"
"""Present on a Pod: judge it as a long-running Pod whatever its restartPolicy."""

HEALTHY = HealthStatus.HEALTHY
PROGRESSING = HealthStatus.PROGRESSING
DEGRADED = HealthStatus.DEGRADED


def _waiting_on_error(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")


def _terminated_message(container: Obj) -> str:
    """Why a terminated container failed, or "" when it did not (or is not terminated)."""
    terminated = mapping(container, "state", "terminated")
    if not terminated:
        return ""
    message = string(terminated, "message")
    if message:
        return message
    if string(terminated, "reason") == "OOMKilled":
        return "OOMKilled"
    code = integer(terminated, "exitCode")
    if code != 0:
        return f"container {string(container, 'name')!r} exited with code {code}"
    return ""


def _pod_ready(status: Obj) -> bool:
    ready = find_condition(mappings(status, "conditions"), "Ready")
    return ready is not None and string(ready, "status") == "True"


def pod(obj: Obj) -> Health:
    """Pending is Progressing, Succeeded Healthy, Failed Degraded (with the best reason found);
    Running is Healthy when Ready for long-running Pods, Degraded when a container has already
    restarted after terminating, otherwise Progressing."""
    policy = string(obj, "spec", "restartPolicy") or "Always"
    status = mapping(obj, "status")
    message = string(status, "message")
    containers = mappings(status, "containerStatuses")
    if policy == "Always":
        problems = []
        for container in containers:
            waiting = mapping(container, "state", "waiting")
            reason = string(waiting, "reason")
            if _waiting_on_error(reason):
                problems.append(string(waiting, "message") or reason)
        if problems:
            return Health(DEGRADED, ", ".join(problems))
    phase = string(status, "phase")
    if phase == "Pending":
        return Health(PROGRESSING, message)
    if phase == "Succeeded":
        return Health(HEALTHY, message)
    if phase == "Failed":
        if message:
            return Health(DEGRADED, message)
        for container in [*mappings(status, "initContainerStatuses"), *containers]:
            reason = _terminated_message(container)
            if reason:
                return Health(DEGRADED, reason)
        return Health(DEGRADED)
    if phase == "Running":
        annotations = mapping(obj, "metadata", "annotations")
        if policy == "Always" or IGNORE_RESTART_POLICY_ANNOTATION in annotations:
            if _pod_ready(status):
                return Health(HEALTHY, message)
            if any(mapping(c, "lastState", "terminated") for c in containers):
                return Health(DEGRADED, message or "a container terminated and is not ready")
            return Health(PROGRESSING, message)
        if policy in ("OnFailure", "Never"):
            return Health(PROGRESSING, message)
    return Health(HealthStatus.UNKNOWN, message or f"unrecognised pod phase {phase!r}")


def job(obj: Obj) -> Health:
    """A Failed condition is Degraded, a Complete one Healthy, a true Suspended one Suspended;
    a Job with none of these is still Progressing."""
    failed: Obj | None = None
    complete: Obj | None = None
    suspended: Obj | None = None
    for condition in mappings(obj, "status", "conditions"):
        kind = string(condition, "type")
        if kind == "Failed":
            failed = condition
        elif kind == "Complete":
            complete = condition
        elif kind == "Suspended" and string(condition, "status") == "True":
            suspended = condition
    if failed is not None:
        return Health(DEGRADED, string(failed, "message") or string(failed, "reason"))
    if suspended is not None:
        return Health(HealthStatus.SUSPENDED, string(suspended, "message") or "Job is suspended")
    if complete is not None:
        return Health(HEALTHY, string(complete, "message"))
    active = integer(obj, "status", "active")
    return Health(PROGRESSING, f"Job running: {active} active pod(s)" if active else "")


def cronjob(obj: Obj) -> Health:
    """Healthy unless its last scheduled run finished without success (then Degraded). A CronJob
    with no status yet is Progressing; a suspended one is Healthy (see the module note)."""
    if boolean(obj, "spec", "suspend"):
        return Health(HEALTHY, "CronJob is Suspended")
    if obj.get("status") is None:
        return Health(PROGRESSING, "Waiting for the CronJob controller")
    status = mapping(obj, "status")
    last_schedule = timestamp(status, "lastScheduleTime")
    if last_schedule is None:
        return Health(HEALTHY, "CronJob has not been scheduled yet")
    last_success = timestamp(status, "lastSuccessfulTime")
    if last_success is None:
        return Health(HEALTHY, "CronJob has not completed a run successfully yet")
    if sequence(status, "active"):
        return Health(HEALTHY, "A run is in progress; the previous one may have failed")
    if last_success < last_schedule:
        return Health(DEGRADED, "The last scheduled run did not complete successfully")
    return Health(HEALTHY, "The last scheduled run completed successfully")
