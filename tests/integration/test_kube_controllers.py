"""The emulator's simulated controllers, seen through the real `kubernetes` client.

Every test runs against the session's emulator (reset, time factor 0.05 from conftest), so
the documented delays shrink twentyfold. Intermediate states are read from a watch, which
delivers every change in order, so the two-step progress cannot be missed however fast it is.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.resource import Resource

from sandbox.kube import KubeEmulator
from sandbox.kube.controllers_base import template_hash

Obj = dict[str, Any]
NS = "ctl"


@pytest.fixture
def dyn(kube: KubeEmulator, kube_api: ApiClient) -> DynamicClient:
    client = DynamicClient(kube_api)  # type: ignore[no-untyped-call]
    namespaces = client.resources.get(api_version="v1", kind="Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return client


def res(dyn: DynamicClient, api_version: str, kind: str) -> Resource:
    resource: Resource = dyn.resources.get(api_version=api_version, kind=kind)
    return resource


def create(dyn: DynamicClient, body: Obj) -> Obj:
    resource = res(dyn, body["apiVersion"], body["kind"])
    created: Obj = resource.create(body=body, namespace=NS).to_dict()
    return created


def get(dyn: DynamicClient, api_version: str, kind: str, name: str) -> Obj | None:
    resource = res(dyn, api_version, kind)
    items = resource.get(namespace=NS, field_selector=f"metadata.name={name}").to_dict()
    found: list[Obj] = items["items"]
    return found[0] if found else None


def items(dyn: DynamicClient, api_version: str, kind: str) -> list[Obj]:
    listed: list[Obj] = res(dyn, api_version, kind).get(namespace=NS).to_dict()["items"]
    return listed


def watch_until(
    dyn: DynamicClient,
    obj: Obj,
    done: Callable[[Obj], bool],
    timeout: float = 10.0,
) -> list[Obj]:
    """Every state of `obj` after the one given, in order, up to the first where done()."""
    resource = res(dyn, obj["apiVersion"], obj["kind"])
    seen: list[Obj] = []
    stream: Iterator[Obj] = resource.watch(
        namespace=NS,
        name=obj["metadata"]["name"],
        resource_version=obj["metadata"]["resourceVersion"],
        timeout=int(timeout),
    )
    for event in stream:
        state: Obj = event["raw_object"]
        seen.append(state)
        if done(state):
            return seen
    raise AssertionError(f"{obj['kind']} {obj['metadata']['name']} never got there: {seen[-3:]}")


def wait_for(
    fetch: Callable[[], Obj | None], done: Callable[[Obj], bool], timeout: float = 10.0
) -> Obj:
    deadline = time.monotonic() + timeout
    last: Obj | None = None
    while time.monotonic() < deadline:
        last = fetch()
        if last is not None and done(last):
            return last
        time.sleep(0.02)
    raise AssertionError(f"condition not reached; last state: {last}")


def condition(obj: Obj, ctype: str) -> Obj:
    conditions = (obj.get("status") or {}).get("conditions")
    for cond in conditions if isinstance(conditions, list) else []:
        if isinstance(cond, dict) and cond.get("type") == ctype:
            return dict(cond)
    return {}


def deployment(name: str, replicas: int = 2, image: str = "nginx:1.25", **extra: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **extra,
        },
    }


def rolled_out(obj: Obj) -> bool:
    return condition(obj, "Progressing").get("reason") == "NewReplicaSetAvailable" and (
        (obj.get("status") or {}).get("observedGeneration") == obj["metadata"]["generation"]
    )


def job(name: str, command: list[str], **extra: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox", "command": command}],
                }
            },
            **extra,
        },
    }


def job_done(obj: Obj) -> bool:
    return any(condition(obj, t).get("status") == "True" for t in ("Complete", "Failed"))


# -- Deployment ----------------------------------------------------------------------------


def test_deployment_progresses_then_becomes_available(dyn: DynamicClient) -> None:
    created = create(dyn, deployment("web", replicas=2))
    states = watch_until(dyn, created, rolled_out)

    progressing = [
        s for s in states if condition(s, "Progressing").get("reason") == "ReplicaSetUpdated"
    ]
    assert progressing, "no intermediate Progressing state"
    first = progressing[0]["status"]
    assert first["observedGeneration"] == 1
    assert first["updatedReplicas"] == 2
    assert first.get("availableReplicas", 0) < 2
    assert condition(progressing[0], "Available")["status"] == "False"

    final = states[-1]
    status = final["status"]
    assert status["observedGeneration"] == 1
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"]) == (2, 2, 2)
    assert status["availableReplicas"] == 2
    assert "unavailableReplicas" not in status
    available = condition(final, "Available")
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    assert condition(final, "Progressing")["status"] == "True"
    assert final["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"


def test_deployment_owns_a_replicaset_per_template(dyn: DynamicClient) -> None:
    created = create(dyn, deployment("api", replicas=3))
    watch_until(dyn, created, rolled_out)
    pod_hash = template_hash(created["spec"]["template"])

    rs = wait_for(
        lambda: get(dyn, "apps/v1", "ReplicaSet", f"api-{pod_hash}"),
        lambda o: (o.get("status") or {}).get("readyReplicas") == 3,
    )
    owner = rs["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "Deployment",
        "api",
        created["metadata"]["uid"],
    )
    assert owner["controller"] is True
    assert rs["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "api", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert rs["spec"]["replicas"] == 3
    assert rs["status"]["availableReplicas"] == 3


def test_spec_change_progresses_again_with_new_generation(dyn: DynamicClient) -> None:
    created = create(dyn, deployment("web", replicas=2, image="nginx:1.25"))
    before = watch_until(dyn, created, rolled_out)[-1]
    old_hash = template_hash(created["spec"]["template"])

    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}
    }
    patched: Obj = (
        res(dyn, "apps/v1", "Deployment")
        .patch(body=patch, name="web", namespace=NS, content_type="application/merge-patch+json")
        .to_dict()
    )
    assert patched["metadata"]["generation"] == 2
    assert before["metadata"]["generation"] == 1
    states = watch_until(dyn, patched, rolled_out)

    rolling = [
        s
        for s in states
        if s["status"].get("observedGeneration") == 2
        and condition(s, "Progressing").get("reason") == "ReplicaSetUpdated"
    ]
    assert rolling, "the new generation was never seen Progressing"
    # old pods keep serving while the new ones start: more replicas than updated ones
    assert rolling[0]["status"]["replicas"] > rolling[0]["status"]["updatedReplicas"]
    assert condition(rolling[0], "Available")["status"] == "True"
    final = states[-1]
    assert final["status"]["observedGeneration"] == 2
    assert final["status"]["availableReplicas"] == 2
    assert final["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"

    new_hash = template_hash(patched["spec"]["template"])
    old_rs = wait_for(
        lambda: get(dyn, "apps/v1", "ReplicaSet", f"web-{old_hash}"),
        lambda o: o["spec"]["replicas"] == 0,
    )
    assert old_rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    new_rs = get(dyn, "apps/v1", "ReplicaSet", f"web-{new_hash}")
    assert new_rs is not None
    assert new_rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"


def set_image(dyn: DynamicClient, name: str, image: str) -> Obj:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}}
    patched: Obj = (
        res(dyn, "apps/v1", "Deployment")
        .patch(body=patch, name=name, namespace=NS, content_type="application/merge-patch+json")
        .to_dict()
    )
    return patched


def test_going_back_to_an_old_template_reuses_its_replicaset(dyn: DynamicClient) -> None:
    created = create(dyn, deployment("web", replicas=1, image="nginx:1"))
    watch_until(dyn, created, rolled_out)
    watch_until(dyn, set_image(dyn, "web", "nginx:2"), rolled_out)
    final = watch_until(dyn, set_image(dyn, "web", "nginx:1"), rolled_out)[-1]

    assert final["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    replicasets = {rs["metadata"]["name"]: rs for rs in items(dyn, "apps/v1", "ReplicaSet")}
    assert len(replicasets) == 2
    first = replicasets[f"web-{template_hash(created['spec']['template'])}"]
    assert first["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert first["spec"]["replicas"] == 1
    [other] = [rs for name, rs in replicasets.items() if rs is not first]
    wait_for(
        lambda: get(dyn, "apps/v1", "ReplicaSet", other["metadata"]["name"]),
        lambda o: o["spec"]["replicas"] == 0,
    )


def test_orphaned_replicaset_is_adopted_by_a_new_deployment(dyn: DynamicClient) -> None:
    created = create(dyn, deployment("web", replicas=2))
    watch_until(dyn, created, rolled_out)
    res(dyn, "apps/v1", "Deployment").delete(name="web", namespace=NS, propagation_policy="Orphan")
    [orphan] = items(dyn, "apps/v1", "ReplicaSet")
    assert not orphan["metadata"].get("ownerReferences")

    again = create(dyn, deployment("web", replicas=2))
    watch_until(dyn, again, rolled_out)
    [adopted] = items(dyn, "apps/v1", "ReplicaSet")
    assert adopted["metadata"]["uid"] == orphan["metadata"]["uid"]
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == again["metadata"]["uid"]


def test_scaling_changes_replicas_without_a_new_replicaset(dyn: DynamicClient) -> None:
    created = create(dyn, deployment("web", replicas=1))
    watch_until(dyn, created, rolled_out)
    scaled: Obj = (
        res(dyn, "apps/v1", "Deployment")
        .patch(
            body={"spec": {"replicas": 4}},
            name="web",
            namespace=NS,
            content_type="application/merge-patch+json",
        )
        .to_dict()
    )
    final = watch_until(
        dyn, scaled, lambda s: rolled_out(s) and s["status"].get("readyReplicas") == 4
    )
    assert final[-1]["status"]["availableReplicas"] == 4
    replicasets = items(dyn, "apps/v1", "ReplicaSet")
    assert [rs["spec"]["replicas"] for rs in replicasets] == [4]


def test_zero_replicas_is_available(dyn: DynamicClient) -> None:
    created = create(dyn, deployment("idle", replicas=0))
    final = watch_until(dyn, created, rolled_out)[-1]
    status = final["status"]
    assert status["observedGeneration"] == 1
    assert not any(status.get(f) for f in ("replicas", "readyReplicas", "availableReplicas"))
    assert condition(final, "Available")["status"] == "True"


def test_paused_deployment_is_left_alone(dyn: DynamicClient, kube: KubeEmulator) -> None:
    created = create(dyn, deployment("held", replicas=2, paused=True))
    observed = watch_until(
        dyn, created, lambda s: bool((s.get("status") or {}).get("observedGeneration"))
    )
    progressing = condition(observed[-1], "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    time.sleep(3 * 0.6 * kube.time_factor + 0.2)  # longer than both steps
    still = get(dyn, "apps/v1", "Deployment", "held")
    assert still is not None
    assert "availableReplicas" not in still["status"]
    assert items(dyn, "apps/v1", "ReplicaSet") == []

    resumed: Obj = (
        res(dyn, "apps/v1", "Deployment")
        .patch(
            body={"spec": {"paused": False}},
            name="held",
            namespace=NS,
            content_type="application/merge-patch+json",
        )
        .to_dict()
    )
    final = watch_until(dyn, resumed, rolled_out)[-1]
    assert final["status"]["availableReplicas"] == 2


# -- ReplicaSet, StatefulSet, DaemonSet ----------------------------------------------------


def _pod_template(app: str) -> Obj:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": "redis:7"}]},
    }


def test_replicaset_converges_to_ready(dyn: DynamicClient) -> None:
    created = create(
        dyn,
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "plain"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "plain"}},
                "template": _pod_template("plain"),
            },
        },
    )
    states = watch_until(
        dyn, created, lambda s: (s.get("status") or {}).get("availableReplicas") == 3
    )
    observed = states[0]["status"]
    assert observed["observedGeneration"] == 1
    assert observed["replicas"] == 3
    assert observed.get("readyReplicas", 0) == 0
    final = states[-1]["status"]
    assert (final["replicas"], final["readyReplicas"], final["fullyLabeledReplicas"]) == (3, 3, 3)


def test_statefulset_converges_and_rolls_revisions(dyn: DynamicClient) -> None:
    body: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": _pod_template("db"),
        },
    }
    created = create(dyn, body)

    def ready(s: Obj) -> bool:
        st = s.get("status") or {}
        return st.get("readyReplicas") == 2 and st.get("currentRevision") == st.get(
            "updateRevision"
        )

    states = watch_until(dyn, created, ready)
    assert states[0]["status"].get("readyReplicas", 0) == 0
    final = states[-1]["status"]
    revision = f"db-{template_hash(body['spec']['template'])}"
    assert (final["currentRevision"], final["updateRevision"]) == (revision, revision)
    assert (final["currentReplicas"], final["updatedReplicas"], final["observedGeneration"]) == (
        2,
        2,
        1,
    )

    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "redis:8"}]}}}}
    patched: Obj = (
        res(dyn, "apps/v1", "StatefulSet")
        .patch(body=patch, name="db", namespace=NS, content_type="application/merge-patch+json")
        .to_dict()
    )
    states = watch_until(
        dyn, patched, lambda s: s["status"].get("observedGeneration") == 2 and ready(s)
    )
    rolling = states[0]["status"]
    assert rolling["observedGeneration"] == 2
    assert rolling["currentRevision"] == revision
    assert rolling["updateRevision"] != revision
    assert states[-1]["status"]["currentRevision"] == rolling["updateRevision"]


def test_daemonset_converges_on_one_node(dyn: DynamicClient) -> None:
    created = create(
        dyn,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": _pod_template("agent"),
            },
        },
    )
    states = watch_until(
        dyn, created, lambda s: (s.get("status") or {}).get("numberAvailable") == 1
    )
    first = states[0]["status"]
    assert (first["desiredNumberScheduled"], first["numberReady"]) == (1, 0)
    final = states[-1]["status"]
    assert final == {
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": 1,
        "numberMisscheduled": 0,
        "numberReady": 1,
        "updatedNumberScheduled": 1,
        "numberAvailable": 1,
        "observedGeneration": 1,
    }


def test_kubectl_rollout_status_accepts_the_simulated_status(
    dyn: DynamicClient, kubeconfig: Path, tmp_path: Path
) -> None:
    """kubectl's own rollout logic (observedGeneration, updated / available counts, revisions)
    must see each workload finish."""
    create(dyn, deployment("web", replicas=3))
    template = _pod_template("db")
    create(
        dyn,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": template,
            },
        },
    )
    create(
        dyn,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}, "template": template},
        },
    )
    base = ["kubectl", "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache")]
    for target in ("deployment/web", "statefulset/db", "daemonset/agent"):
        result = subprocess.run(
            [*base, "rollout", "status", target, "-n", NS, "--timeout=30s"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"{target}: {result.stdout}{result.stderr}"
        assert "successfully rolled out" in result.stdout or "complete" in result.stdout
    waited = subprocess.run(
        [*base, "wait", "--for=condition=Available", "deployment/web", "-n", NS, "--timeout=30s"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert waited.returncode == 0, waited.stderr
    assert "condition met" in waited.stdout


# -- Job and Pod ---------------------------------------------------------------------------


def job_pods(dyn: DynamicClient, name: str) -> list[Obj]:
    return [p for p in items(dyn, "v1", "Pod") if p["metadata"]["labels"].get("job-name") == name]


def test_job_runs_for_its_sleep_then_completes(dyn: DynamicClient, kube: KubeEmulator) -> None:
    started = time.monotonic()
    created = create(dyn, job("migrate", ["sh", "-c", "echo migrating; sleep 10; echo done"]))
    running = wait_for(
        lambda: get(dyn, "batch/v1", "Job", "migrate"),
        lambda o: (o.get("status") or {}).get("ready") == 1,
    )
    assert running["status"]["active"] == 1
    assert running["status"]["startTime"]
    assert not job_done(running)
    [pod] = job_pods(dyn, "migrate")
    assert pod["status"]["phase"] == "Running"
    assert condition(pod, "Ready")["status"] == "True"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert pod["metadata"]["name"].startswith("migrate-")

    final = watch_until(dyn, running, job_done)[-1]
    elapsed = time.monotonic() - started
    assert elapsed >= 10 * kube.time_factor
    status = final["status"]
    assert status["succeeded"] == 1
    assert "active" not in status
    assert status["completionTime"]
    assert condition(final, "Complete")["status"] == "True"
    assert condition(final, "SuccessCriteriaMet")["status"] == "True"
    assert condition(final, "Failed") == {}
    [pod] = job_pods(dyn, "migrate")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0


def test_job_without_sleep_takes_the_default_time(dyn: DynamicClient, kube: KubeEmulator) -> None:
    started = time.monotonic()
    created = create(dyn, job("quick", ["echo", "hi"]))
    watch_until(dyn, created, job_done)
    elapsed = time.monotonic() - started
    assert 1.0 * kube.time_factor <= elapsed < 5.0


@pytest.mark.parametrize(
    "command",
    [["false"], ["/bin/false"], ["sh", "-c", "sleep 1; exit 1"], ["sh", "-c", "exit 3"]],
)
def test_failing_job_ends_failed(dyn: DynamicClient, command: list[str]) -> None:
    created = create(dyn, job("broken", command))
    final = watch_until(dyn, created, job_done)[-1]
    failed = condition(final, "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "BackoffLimitExceeded")
    assert condition(final, "Complete") == {}
    assert final["status"]["failed"] == 1
    assert "completionTime" not in final["status"]
    [pod] = job_pods(dyn, "broken")
    assert pod["status"]["phase"] == "Failed"
    code = 3 if command[-1] == "exit 3" else 1
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == code


def test_job_past_its_deadline_fails(dyn: DynamicClient) -> None:
    created = create(dyn, job("slow", ["sleep", "600"], activeDeadlineSeconds=2))
    final = watch_until(dyn, created, job_done)[-1]
    assert condition(final, "Failed")["reason"] == "DeadlineExceeded"


def test_suspended_job_does_not_start(dyn: DynamicClient, kube: KubeEmulator) -> None:
    create(dyn, job("later", ["true"], suspend=True))
    time.sleep(6 * kube.time_factor)  # the Job would have started after 0.05
    held = get(dyn, "batch/v1", "Job", "later")
    assert held is not None
    assert not (held.get("status") or {}).get("startTime")
    assert job_pods(dyn, "later") == []


def test_finished_job_is_deleted_after_its_ttl(dyn: DynamicClient) -> None:
    create(dyn, job("temp", ["true"], ttlSecondsAfterFinished=1))
    wait_for(
        lambda: {"gone": True} if get(dyn, "batch/v1", "Job", "temp") is None else None,
        lambda o: True,
    )


def pod(name: str, command: list[str] | None, restart: str = "Always") -> Obj:
    container: Obj = {"name": "main", "image": "busybox"}
    if command is not None:
        container["command"] = command
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": restart, "containers": [container]},
    }


def test_direct_pod_runs_and_is_ready(dyn: DynamicClient) -> None:
    created = create(dyn, pod("web", None))
    final = watch_until(dyn, created, lambda s: (s.get("status") or {}).get("phase") == "Running")[
        -1
    ]
    assert condition(final, "Ready")["status"] == "True"
    status = final["status"]
    assert status["podIP"].startswith("10.244.")
    assert status["containerStatuses"][0]["ready"] is True
    assert "running" in status["containerStatuses"][0]["state"]


@pytest.mark.parametrize(
    ("command", "restart", "phase"),
    [
        (["sleep", "2"], "Never", "Succeeded"),
        (["sh", "-c", "exit 2"], "Never", "Failed"),
        (["false"], "OnFailure", "Failed"),
    ],
)
def test_direct_pod_that_terminates(
    dyn: DynamicClient, command: list[str], restart: str, phase: str
) -> None:
    created = create(dyn, pod("task", command, restart))
    states = watch_until(
        dyn, created, lambda s: (s.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    )
    assert any(s["status"].get("phase") == "Running" for s in states)
    final = states[-1]
    assert final["status"]["phase"] == phase
    assert condition(final, "Ready")["status"] == "False"


def test_failing_pod_with_restart_always_crash_loops(dyn: DynamicClient) -> None:
    created = create(dyn, pod("crashy", ["sh", "-c", "exit 1"]))

    def waiting(s: Obj) -> bool:
        statuses = (s.get("status") or {}).get("containerStatuses") or []
        return bool(statuses) and "waiting" in statuses[0]["state"]

    final = watch_until(dyn, created, waiting)[-1]
    container = final["status"]["containerStatuses"][0]
    assert final["status"]["phase"] == "Running"
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["lastState"]["terminated"]["exitCode"] == 1
    assert condition(final, "Ready")["status"] == "False"


# -- storage and addresses -----------------------------------------------------------------


def test_pvc_becomes_bound(dyn: DynamicClient) -> None:
    created = create(
        dyn,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "5Gi"}},
            },
        },
    )
    final = watch_until(dyn, created, lambda s: (s.get("status") or {}).get("phase") == "Bound")[-1]
    assert final["status"]["capacity"] == {"storage": "5Gi"}
    assert final["status"]["accessModes"] == ["ReadWriteOnce"]


def service(name: str, kind: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80}]},
    }


def lb_ips(obj: Obj) -> list[str]:
    balancer = (obj.get("status") or {}).get("loadBalancer") or {}
    return [entry["ip"] for entry in balancer.get("ingress") or []]


def test_loadbalancer_service_and_ingress_get_addresses(
    dyn: DynamicClient, kube: KubeEmulator
) -> None:
    lb = create(dyn, service("front", "LoadBalancer"))
    ingress = create(
        dyn,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "front"},
            "spec": {
                "rules": [
                    {
                        "host": "front.example",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "front", "port": {"number": 80}}
                                    },
                                }
                            ]
                        },
                    }
                ]
            },
        },
    )
    create(dyn, service("inside", "ClusterIP"))
    lb_final = watch_until(dyn, lb, lambda s: bool(lb_ips(s)))[-1]
    ingress_final = watch_until(dyn, ingress, lambda s: bool(lb_ips(s)))[-1]
    [lb_ip] = lb_ips(lb_final)
    [ingress_ip] = lb_ips(ingress_final)
    assert lb_ip.startswith("127.0.0.")
    assert ingress_ip.startswith("127.0.0.")
    assert lb_ip != ingress_ip

    time.sleep(10 * kube.time_factor)
    inside = get(dyn, "v1", "Service", "inside")
    assert inside is not None
    assert lb_ips(inside) == []

    res(dyn, "v1", "Service").patch(
        body={"spec": {"type": "ClusterIP"}},
        name="front",
        namespace=NS,
        content_type="application/merge-patch+json",
    )
    wait_for(lambda: get(dyn, "v1", "Service", "front"), lambda o: lb_ips(o) == [])


# -- deletion, reset and odd objects --------------------------------------------------------


def record_additions(kube: KubeEmulator) -> list[tuple[str, str]]:
    """(kind, name) of every object added to the store from now on."""
    added: list[tuple[str, str]] = []
    kube.store.add_listener(
        lambda event, obj: (
            added.append((obj["kind"], obj["metadata"]["name"])) if event == "ADDED" else None
        )
    )
    return added


def test_deleted_objects_are_not_brought_back(dyn: DynamicClient, kube: KubeEmulator) -> None:
    kube.time_factor = 3.0  # Job start 0.15 s, observe 0.3 s: both after the deletes below
    added = record_additions(kube)
    create(dyn, deployment("short", replicas=1))
    create(dyn, job("short", ["sleep", "1"]))
    res(dyn, "apps/v1", "Deployment").delete(name="short", namespace=NS)
    res(dyn, "batch/v1", "Job").delete(name="short", namespace=NS)
    time.sleep(0.6)
    assert ("Deployment", "short") in added
    assert [kind for kind, _ in added if kind in ("ReplicaSet", "Pod")] == []
    assert items(dyn, "apps/v1", "Deployment") == []


def test_foreground_deleted_job_gets_no_new_pod(dyn: DynamicClient, kube: KubeEmulator) -> None:
    body = job("fg", ["sleep", "1"])
    body["metadata"]["finalizers"] = ["example.com/hold"]
    created = create(dyn, body)
    wait_for(
        lambda: get(dyn, "batch/v1", "Job", "fg"),
        lambda o: bool((o.get("status") or {}).get("startTime")),
    )
    res(dyn, "batch/v1", "Job").delete(name="fg", namespace=NS, propagation_policy="Foreground")
    time.sleep(10 * kube.time_factor)  # well past the Job's run time (1 s)
    held = get(dyn, "batch/v1", "Job", "fg")
    assert held is not None
    assert held["metadata"]["deletionTimestamp"]
    assert not job_done(held), "a Job being deleted must not be driven on"
    assert job_pods(dyn, "fg") == [], "its Pod went with the foreground deletion, for good"
    assert created["metadata"]["uid"] == held["metadata"]["uid"]


def test_after_a_reset_objects_start_afresh(dyn: DynamicClient, kube: KubeEmulator) -> None:
    create(dyn, job("again", ["sleep", "5"]))
    wait_for(
        lambda: get(dyn, "batch/v1", "Job", "again"),
        lambda o: (o.get("status") or {}).get("active") == 1,
    )
    kube.reset()
    namespaces = res(dyn, "v1", "Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    started = time.monotonic()
    fresh = create(dyn, job("again", ["sh", "-c", "sleep 10; exit 4"]))
    final = watch_until(dyn, fresh, job_done)[-1]
    assert time.monotonic() - started >= 10 * kube.time_factor
    assert condition(final, "Failed")["status"] == "True"
    assert final["metadata"]["uid"] == fresh["metadata"]["uid"]


def test_odd_objects_are_skipped_and_the_rest_still_works(
    dyn: DynamicClient, kube: KubeEmulator
) -> None:
    store = kube.store
    odd: list[Obj] = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "string-command", "namespace": NS},
            "spec": {"containers": [{"name": "c", "image": "x", "command": "sleep 5"}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "no-containers", "namespace": NS},
            "spec": {"containers": "none"},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "odd-deadline", "namespace": NS},
            "spec": {
                "activeDeadlineSeconds": "soon",
                "template": {
                    "spec": {"containers": [{"name": "c", "image": "x", "command": [1, 2]}]}
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "odd", "namespace": NS},
            "spec": {"resources": "lots"},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "odd", "namespace": NS},
            "spec": {"type": ["LoadBalancer"]},
        },
    ]
    for body in odd:
        store.create(body, manager="test")
    web = create(dyn, deployment("web", replicas=1))
    # a status full of wrong types, as a broken client might write it
    store.update_status(
        "apps",
        "Deployment",
        NS,
        "web",
        {"observedGeneration": "one", "conditions": "bad", "replicas": "1"},
    )

    watch_until(dyn, web, rolled_out)
    pvc = wait_for(
        lambda: get(dyn, "v1", "PersistentVolumeClaim", "odd"),
        lambda o: (o.get("status") or {}).get("phase") == "Bound",
    )
    assert "capacity" not in pvc["status"]
    for name in ("string-command", "no-containers"):
        running = wait_for(
            lambda n=name: get(dyn, "v1", "Pod", n),  # type: ignore[misc]
            lambda o: (o.get("status") or {}).get("phase") == "Running",
        )
        assert condition(running, "Ready")["status"] == "True"
    held = get(dyn, "batch/v1", "Job", "odd-deadline")
    assert held is not None
    assert not (held.get("status") or {}).get("startTime"), "a Job it cannot read is skipped"
    odd_service = get(dyn, "v1", "Service", "odd")
    assert odd_service is not None
    assert lb_ips(odd_service) == []
