"""Resource health per kind (Argo CD semantics) and worst-of aggregation, over the small
fixtures in fixtures/health/<kind>-<state>.yaml."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.health import (
    HOOK_FINALIZER,
    ORDER,
    Health,
    HealthStatus,
    aggregate,
    assess,
    has_health_check,
    split_api_version,
)

FIXTURES = Path(__file__).parent / "fixtures" / "health"


def load(name: str) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())
    return obj


def status(name: str) -> str | None:
    health = assess(load(name))
    return None if health is None else health.status


def message(name: str) -> str:
    health = assess(load(name))
    assert health is not None
    return health.message


EXPECTED: dict[str, str | None] = {
    "deployment-healthy": "Healthy",
    "deployment-paused": "Suspended",
    "deployment-generation-behind": "Progressing",
    "deployment-deadline-exceeded": "Degraded",
    "deployment-updating": "Progressing",
    "deployment-old-replicas": "Progressing",
    "deployment-unavailable": "Progressing",
    "deployment-extensions": "Progressing",
    "deployment-deleting": "Progressing",
    "deployment-malformed": "Unknown",
    "statefulset-healthy": "Healthy",
    "statefulset-unobserved": "Progressing",
    "statefulset-not-ready": "Progressing",
    "statefulset-partitioned": "Progressing",
    "statefulset-ondelete": "Healthy",
    "statefulset-revision-pending": "Progressing",
    "statefulset-revision-done": "Healthy",
    "daemonset-healthy": "Healthy",
    "daemonset-generation-behind": "Progressing",
    "daemonset-updating": "Progressing",
    "daemonset-unavailable": "Progressing",
    "daemonset-ondelete": "Healthy",
    "replicaset-healthy": "Healthy",
    "replicaset-failure": "Degraded",
    "replicaset-scaling": "Progressing",
    "replicaset-generation-behind": "Progressing",
    "service-clusterip": "Healthy",
    "service-loadbalancer-pending": "Progressing",
    "service-loadbalancer-ready": "Healthy",
    "service-knative": None,
    "ingress-ready": "Healthy",
    "ingress-pending": "Progressing",
    "pvc-bound": "Healthy",
    "pvc-pending": "Progressing",
    "pvc-lost": "Degraded",
    "pvc-no-phase": "Unknown",
    "pod-running-ready": "Healthy",
    "pod-crashloopbackoff": "Degraded",
    "pod-errimagepull-hook": "Progressing",
    "pod-pending": "Progressing",
    "pod-failed-oomkilled": "Degraded",
    "pod-failed-exitcode": "Degraded",
    "pod-failed-message": "Degraded",
    "pod-running-restarted": "Degraded",
    "pod-running-never": "Progressing",
    "pod-running-never-ignore-restart-policy": "Healthy",
    "pod-unknown-phase": "Unknown",
    "pod-malformed": "Unknown",
    "job-running": "Progressing",
    "job-complete": "Healthy",
    "job-failed": "Degraded",
    "job-suspended": "Suspended",
    "job-resumed": "Progressing",
    "job-hook-deleting": "Degraded",
    "cronjob-suspended": "Healthy",
    "cronjob-no-status": "Progressing",
    "cronjob-never-scheduled": "Healthy",
    "cronjob-never-succeeded": "Healthy",
    "cronjob-running": "Healthy",
    "cronjob-last-run-failed": "Degraded",
    "cronjob-last-run-succeeded": "Healthy",
    "cronjob-bad-time": "Unknown",
    "hpa-v1-healthy": "Healthy",
    "hpa-v1-bad-annotation": "Unknown",
    "hpa-v1-empty-annotation": "Progressing",
    "hpa-v2-degraded": "Degraded",
    "hpa-v2-external-metric-failed": "Degraded",
    "hpa-v2beta2-limited": "Healthy",
    "hpa-v2-no-conditions": "Progressing",
    "apiservice-available": "Healthy",
    "apiservice-unavailable": "Progressing",
    "apiservice-unprocessed": "Progressing",
    "rollout-canary-healthy": "Healthy",
    "rollout-canary-stepping": "Progressing",
    "rollout-canary-old-replicas": "Progressing",
    "rollout-paused": "Suspended",
    "rollout-phase-paused": "Suspended",
    "rollout-phase-degraded": "Degraded",
    "rollout-phase-healthy": "Healthy",
    "rollout-aborted": "Degraded",
    "rollout-invalid-spec": "Degraded",
    "rollout-unobserved": "Progressing",
    "rollout-workload-unobserved": "Progressing",
    "rollout-no-pod-hash": "Progressing",
    "rollout-bluegreen-cutover": "Progressing",
    "rollout-bluegreen-healthy": "Healthy",
    "rollout-updating": "Progressing",
    "workflow-running": "Progressing",
    "workflow-not-started": "Progressing",
    "workflow-succeeded": "Healthy",
    "workflow-failed": "Degraded",
    "workflow-error": "Degraded",
    "configmap-plain": None,
    "configmap-deleting": "Progressing",
    "application-healthy": None,
    "cronworkflow-plain": None,
}


def test_every_fixture_has_an_expectation() -> None:
    assert {path.stem for path in FIXTURES.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize(("fixture", "expected"), sorted(EXPECTED.items()))
def test_status_of_fixture(fixture: str, expected: str | None) -> None:
    assert status(fixture) == expected


def test_messages_explain_the_status() -> None:
    assert message("deployment-paused") == "Deployment is paused"
    assert (
        message("deployment-deadline-exceeded") == "Deployment 'web' exceeded its progress deadline"
    )
    assert "1 of 3" in message("deployment-updating")
    assert "1 old replicas" in message("deployment-old-replicas")
    assert "2 of 3 pods updated" in message("statefulset-partitioned")
    assert message("replicaset-failure") == 'pods "web-7d9-" is forbidden: exceeded quota'
    assert message("pod-crashloopbackoff") == "back-off 40s restarting failed container=app"
    assert message("pod-failed-oomkilled") == "OOMKilled"
    assert message("pod-failed-exitcode") == "container 'work' exited with code 3"
    assert message("pod-failed-message") == "The node was low on resource: memory."
    assert message("pod-pending") == "0/3 nodes are available: 3 Insufficient cpu."
    assert message("job-failed") == "Job has reached the specified backoff limit"
    assert message("cronjob-suspended") == "CronJob is Suspended"
    assert message("hpa-v2-no-conditions") == "Waiting to Autoscale"
    assert message("hpa-v2-degraded").startswith("the HPA was unable to compute")
    assert message("apiservice-unavailable").startswith("MissingEndpoints: endpoints for")
    assert message("apiservice-unprocessed") == "Waiting to be processed"
    assert message("rollout-paused") == "Rollout is paused"
    assert (
        message("rollout-phase-degraded") == "RolloutAborted: Rollout aborted update to revision 7"
    )
    assert message("workflow-failed") == "child 'etl-x7k2p-1234' failed"


def test_deletion_timestamp_means_pending_deletion() -> None:
    assert assess(load("deployment-deleting")) == Health("Progressing", "Pending deletion")
    assert assess(load("configmap-deleting")) == Health("Progressing", "Pending deletion")
    assert load("job-hook-deleting")["metadata"]["finalizers"] == [HOOK_FINALIZER]
    assert status("job-hook-deleting") == "Degraded"


def test_pod_error_waits_degrade_only_long_running_pods() -> None:
    hook = load("pod-errimagepull-hook")
    assert status("pod-errimagepull-hook") == "Progressing"
    hook["spec"]["restartPolicy"] = "Always"
    assert assess(hook) == Health("Degraded", "manifest unknown")
    del hook["spec"]["restartPolicy"]  # the API server's default is Always
    assert assess(hook) == Health("Degraded", "manifest unknown")


def test_cronjob_times_as_strings_or_yaml_datetimes() -> None:
    failed = load("cronjob-last-run-failed")
    assert not isinstance(failed["status"]["lastScheduleTime"], str)
    as_strings = copy.deepcopy(failed)
    as_strings["status"] = {
        "lastScheduleTime": "2024-05-02T03:00:00Z",
        "lastSuccessfulTime": "2024-05-01T03:04:10Z",
    }
    assert assess(as_strings) == assess(failed)


def test_hpa_failure_wins_over_an_earlier_healthy_condition() -> None:
    conditions = load("hpa-v2-degraded")["status"]["conditions"]
    assert conditions[0]["type"] == "AbleToScale" and conditions[0]["status"] == "True"
    assert status("hpa-v2-degraded") == "Degraded"


def test_malformed_objects_are_unknown_with_the_field_named() -> None:
    assert message("deployment-malformed") == (
        "malformed object: status.updatedReplicas should be an integer, not a string"
    )
    assert "status.containerStatuses should be a list" in message("pod-malformed")
    assert "status.lastScheduleTime should be an RFC 3339 time" in message("cronjob-bad-time")
    assert "is not valid JSON" in message("hpa-v1-bad-annotation")
    assert assess([]) == Health("Unknown", "object is not a mapping")  # type: ignore[arg-type]
    assert assess({}) == Health("Unknown", "malformed object: object has no kind")
    assert assess({"kind": "Pod"}) == Health("Unknown", "malformed object: Pod has no apiVersion")
    bad_condition = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "status": {"conditions": [7]}}
    assert assess(bad_condition) == Health(
        "Unknown", "malformed object: status.conditions[0] should be a mapping, not a number"
    )
    bad_metadata = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "oops"}
    assert assess(bad_metadata) == Health(
        "Unknown", "malformed object: metadata should be a mapping, not a string"
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _replaced(obj: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    copied = copy.deepcopy(obj)
    target: Any = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copied


WRONG_VALUES: tuple[Any, ...] = ("text", 3, 2.5, True, None, [], [1, "x"], {}, {"a": 1})


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_no_field_of_any_wrong_type_makes_assess_raise(fixture: str) -> None:
    obj = load(fixture)
    for path in _paths(obj):
        if not path or path[0] in ("apiVersion", "kind"):
            continue
        for wrong in WRONG_VALUES:
            health = assess(_replaced(obj, path, wrong))
            assert health is None or health.status in ORDER
            # every bad shape is caught by a named-field check, not by the last-resort handler
            assert health is None or not health.message.startswith("health check failed"), (
                fixture,
                path,
                wrong,
                health,
            )


def test_kinds_without_a_check() -> None:
    assert has_health_check(load("deployment-healthy"))
    assert has_health_check(load("rollout-paused"))
    assert not has_health_check(load("configmap-plain"))
    assert not has_health_check(load("application-healthy"))
    assert not has_health_check(load("service-knative"))
    assert not has_health_check({"kind": "Pod"})


def test_split_api_version() -> None:
    assert split_api_version("apps/v1") == ("apps", "v1")
    assert split_api_version("v1") == ("", "v1")
    assert split_api_version("networking.k8s.io/v1") == ("networking.k8s.io", "v1")


def test_order_is_argo_cds() -> None:
    assert ORDER == ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")
    assert list(HealthStatus) == list(ORDER)


def test_health_refuses_foreign_statuses() -> None:
    with pytest.raises(ValueError, match="unknown health status 'Fine'"):
        Health("Fine")
    assert Health("Healthy").status is HealthStatus.HEALTHY
    assert f"{Health('Degraded').status}" == "Degraded"


def test_aggregate_empty_and_none_are_healthy() -> None:
    assert aggregate([]) == "Healthy"
    assert aggregate([None, None]) == "Healthy"


@pytest.mark.parametrize("better", ORDER)
@pytest.mark.parametrize("worse", ORDER)
def test_aggregate_takes_the_worst(better: str, worse: str) -> None:
    if ORDER.index(better) > ORDER.index(worse):
        better, worse = worse, better
    assert aggregate([Health(better), None, Health(worse)]) == worse
    assert aggregate([Health(worse), Health(better)]) == worse


def test_aggregate_over_assessed_fixtures() -> None:
    names = ["deployment-healthy", "configmap-plain", "rollout-paused", "job-running"]
    assert aggregate(assess(load(name)) for name in names) == "Progressing"
    names = ["deployment-healthy", "service-clusterip", "rollout-paused"]
    assert aggregate(assess(load(name)) for name in names) == "Suspended"
    assert aggregate([Health("Missing"), Health("Degraded"), Health("Progressing")]) == "Degraded"
    assert aggregate([Health("Unknown"), Health("Degraded")]) == "Unknown"


def test_a_hook_held_by_kajitoris_finalizer_is_judged_on_its_state() -> None:
    job = load("job-hook-deleting")
    job["metadata"]["finalizers"] = ["kajitori.dev/hook-finalizer"]
    assert assess(job) == assess({**job, "metadata": {"name": "x"}})
