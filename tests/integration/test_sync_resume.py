"""An operation restored from its saved state after a crash carries on without running its
PreSync Job twice; terminate() stops an operation cleanly; retries follow syncPolicy.retry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cluster import Cluster
from reconciler.hooks import HOOK_FINALIZER
from reconciler.model import Backoff, ResourceKey, RetryStrategy
from reconciler.sync import SyncOperation
from sandbox.kube.control import Fault
from tests.integration.sync_helpers import (
    REVISION,
    Obj,
    application,
    configmap,
    deployment,
    hook,
    job,
    results,
    roundtrip,
    service,
    wave,
    writes,
)

NS = "shop"


@pytest.fixture
def cluster(kube: Any, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig)
    connected.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.audit.clear()
    yield connected
    connected.close()


def desired() -> list[Obj]:
    return [
        hook(job("migrate", "sleep", "2", generate=True), "PreSync"),
        configmap("config"),
        wave(deployment("web"), 1),
        wave(service("web"), 2),
    ]


def creations(kube: Any, kind: str) -> list[str]:
    return [w["name"] for w in writes(kube) if w["kind"] == kind and w["code"] == 201]


def test_restored_after_a_crash_between_waves_it_does_not_run_the_presync_job_twice(
    kube: Any, cluster: Cluster, kubeconfig: Path
) -> None:
    app = application()
    first = SyncOperation.start(app, desired(), cluster, revision=REVISION, wave_delay=0)
    saved: dict[str, Any] = {}
    for _ in range(500):
        saved = roundtrip(first.step())
        if "ConfigMap/config:Sync" in results(saved):
            break
    assert saved["phase"] == "Running"
    assert results(saved)["Job/" + creations(kube, "Job")[0] + ":PreSync"]["hookPhase"] == (
        "Succeeded"
    )
    first.close()  # the process dies here: only `saved` survives

    restarted = Cluster.from_kubeconfig(kubeconfig)
    try:
        second = SyncOperation.restore(saved, app, desired(), restarted, wave_delay=0)
        state = second.run(poll_interval=0.02, timeout=60)
    finally:
        restarted.close()

    assert state["phase"] == "Succeeded"
    assert len(creations(kube, "Job")) == 1
    assert [w for w in writes(kube) if w["kind"] == "Job" and w["verb"] == "delete"] == []
    assert [w["name"] for w in writes(kube) if w["kind"] == "ConfigMap"] == ["config"]
    assert creations(kube, "Deployment") == ["web"] and creations(kube, "Service") == ["web"]
    assert state["startedAt"] == saved["startedAt"]


def test_a_hook_created_just_before_a_crash_is_adopted_not_run_again(
    kube: Any, cluster: Cluster
) -> None:
    app = application()
    first = SyncOperation.start(app, desired(), cluster, revision=REVISION, wave_delay=0)
    saved = roundtrip(first.to_dict())  # persisted before the step ...
    first.step()  # ... that created the PreSync Job; then the process died
    first.close()
    assert len(creations(kube, "Job")) == 1

    second = SyncOperation.restore(saved, app, desired(), cluster, wave_delay=0)
    state = second.run(poll_interval=0.02, timeout=60)

    assert state["phase"] == "Succeeded"
    assert len(creations(kube, "Job")) == 1
    name = creations(kube, "Job")[0]
    assert results(state)[f"Job/{name}:PreSync"]["hookPhase"] == "Succeeded"


def test_terminate_deletes_the_running_hook_and_applies_nothing_more(
    kube: Any, cluster: Cluster
) -> None:
    objects = [hook(job("migrate", "sleep", "600"), "PreSync"), configmap("config")]
    operation = SyncOperation.start(
        application(), objects, cluster, revision=REVISION, wave_delay=0
    )
    state = operation.step()
    state = operation.step()
    assert state["phase"] == "Running"
    assert state["message"] == "waiting for completion of hook batch/Job/migrate"

    state = operation.terminate()

    assert (state["phase"], state["message"]) == ("Failed", "Operation terminated")
    assert results(state)["Job/migrate:PreSync"]["hookPhase"] == "Failed"
    job_writes = [(w["verb"], w["code"]) for w in writes(kube) if w["kind"] == "Job"]
    assert job_writes == [("patch", 201), ("patch", 200), ("delete", 200)]
    assert "ConfigMap" not in {w["kind"] for w in writes(kube)}
    live = cluster.get(ResourceKey("batch", "Job", NS, "migrate"))
    assert live is None or HOOK_FINALIZER not in (live["metadata"].get("finalizers") or [])
    assert operation.step()["phase"] == "Failed"  # completed operations stay completed


def test_a_failed_attempt_is_retried_per_sync_policy(kube: Any, cluster: Cluster) -> None:
    retry = RetryStrategy(limit=2, backoff=Backoff(duration=0, factor=2, max_duration=0))
    app = application("shop", NS, retry=retry)
    kube.faults.add(Fault(method="PATCH", resource="configmaps", name="config", status=500))
    operation = SyncOperation.start(app, [configmap("config")], cluster, revision=REVISION)

    first = operation.step()
    assert first["phase"] == "Running" and first["retryCount"] == 1
    assert "Retrying attempt #1" in first["message"] and "finishedAt" in first
    state = operation.run(poll_interval=0.02, timeout=30)

    assert (state["phase"], state["retryCount"]) == ("Succeeded", 1)
    assert "finishedAt" in state
    assert cluster.get(ResourceKey("", "ConfigMap", NS, "config")) is not None


def test_without_retries_the_first_failure_is_final(kube: Any, cluster: Cluster) -> None:
    kube.faults.add(Fault(method="PATCH", resource="configmaps", name="config", status=500))
    operation = SyncOperation.start(
        application(), [configmap("config")], cluster, revision=REVISION
    )

    state = operation.run(poll_interval=0.02, timeout=30)

    assert (state["phase"], state["retryCount"]) == ("Failed", 0)
