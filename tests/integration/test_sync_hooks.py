"""Hooks and waves against the emulator: the order of writes (read from its audit log) is
Argo CD's, hooks finish by health, failures run SyncFail hooks and stop later waves."""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cluster import Cluster
from reconciler.hooks import HOOK_FINALIZER
from reconciler.model import ResourceKey
from reconciler.sync_types import SyncRequest
from tests.integration.sync_helpers import (
    REVISION,
    Obj,
    application,
    configmap,
    deployment,
    hook,
    job,
    names,
    results,
    service,
    sync,
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


def started_at(state: dict[str, Any]) -> int:
    return calendar.timegm(time.strptime(state["startedAt"], "%Y-%m-%dT%H:%M:%SZ"))


def three_waves() -> list[Obj]:
    return [
        wave(deployment("worker"), 2),
        wave(service("worker"), 2),
        wave(deployment("web"), 1),
        service("web"),
        configmap("config", mode="blue"),
        hook(job("migrate", "sleep", "1", generate=True), "PreSync"),
        hook(job("smoke", "true"), "PostSync", "HookSucceeded"),
    ]


def test_presync_job_and_three_waves_write_in_argo_order(kube: Any, cluster: Cluster) -> None:
    state = sync(application(), three_waves(), cluster)

    # the last group holds a hook, so the operation ends in the step after it completed
    assert (state["phase"], state["message"]) == (
        "Succeeded",
        "successfully synced (no more tasks)",
    )
    migrate = f"migrate-{REVISION[:7]}-presync-{started_at(state)}"
    assert [(w["verb"], f"{w['kind']}/{w['name']}", w["code"]) for w in writes(kube)] == [
        ("patch", f"Job/{migrate}", 201),  # PreSync hook created
        ("patch", f"Job/{migrate}", 200),  # its finalizer released once Complete
        ("patch", "ConfigMap/config", 201),  # wave 0, ConfigMap before Service (kind order)
        ("patch", "Service/web", 201),
        ("patch", "Deployment/web", 201),  # wave 1
        ("patch", "Service/worker", 201),  # wave 2, only after wave 1 was healthy
        ("patch", "Deployment/worker", 201),
        ("patch", "Job/smoke", 201),  # PostSync
        ("patch", "Job/smoke", 200),
        ("delete", "Job/smoke", 200),  # HookSucceeded, at the end of the operation
    ]
    by_name = results(state)
    assert by_name[f"Job/{migrate}:PreSync"]["hookPhase"] == "Succeeded"
    assert by_name[f"Job/{migrate}:PreSync"]["hookType"] == "PreSync"
    assert by_name["Deployment/web:Sync"]["hookPhase"] == "Succeeded"  # waited for health
    assert by_name["Job/smoke:PostSync"]["hookPhase"] == "Succeeded"
    live = cluster.get(ResourceKey("batch", "Job", NS, migrate))
    assert live is not None and HOOK_FINALIZER not in (live["metadata"].get("finalizers") or [])
    assert cluster.get(ResourceKey("batch", "Job", NS, "smoke")) is None


def test_strategy_apply_skips_the_hooks(kube: Any, cluster: Cluster) -> None:
    state = sync(application(), three_waves(), cluster, SyncRequest(strategy="apply"))

    assert state["phase"] == "Succeeded"
    assert "Job" not in {w["kind"] for w in writes(kube)}
    assert len(writes(kube)) == 5


def test_a_failing_presync_hook_runs_syncfail_and_applies_no_wave(
    kube: Any, cluster: Cluster
) -> None:
    desired = [
        *three_waves()[:5],
        hook(job("migrate", "sh", "-c", "sleep 1; exit 3"), "PreSync", "HookFailed"),
        hook(configmap("sync-failed", reason="migration"), "SyncFail"),
    ]
    state = sync(application(), desired, cluster)

    assert state["phase"] == "Failed"
    assert state["message"].startswith(
        "one or more synchronization tasks completed unsuccessfully, "
        "reason: Job.batch/shop/migrate:"
    )
    assert names(writes(kube)) == [
        "Job/migrate",  # created
        "Job/migrate",  # finalizer released after it failed
        "Job/migrate",  # deleted (HookFailed) as the operation turns to failure
        "ConfigMap/sync-failed",  # the SyncFail hook
        "ConfigMap/sync-failed",  # its finalizer released
    ]
    assert writes(kube)[2]["verb"] == "delete"
    by_name = results(state)
    assert by_name["Job/migrate:PreSync"]["hookPhase"] == "Failed"
    assert by_name["ConfigMap/sync-failed:SyncFail"]["hookPhase"] == "Succeeded"
    assert not [k for k in by_name if k.endswith(":Sync")]
    assert cluster.get(ResourceKey("apps", "Deployment", NS, "web")) is None


def test_a_degraded_wave_fails_the_sync_before_the_next_wave(kube: Any, cluster: Cluster) -> None:
    desired = [job("seed", "false"), wave(configmap("later"), 1)]

    state = sync(application(), desired, cluster)

    assert state["phase"] == "Failed"
    assert "Job.batch/shop/seed" in state["message"]
    assert names(writes(kube)) == ["Job/seed"]
    assert results(state)["Job/seed:Sync"]["hookPhase"] == "Failed"


def test_a_failing_syncfail_hook_is_named_in_the_message(kube: Any, cluster: Cluster) -> None:
    desired = [
        hook(job("migrate", "false"), "PreSync"),
        hook(job("alert", "false"), "SyncFail"),
    ]
    state = sync(application(), desired, cluster)

    assert state["phase"] == "Failed"
    first, second = state["message"].split("\n")
    assert "Job.batch/shop/migrate" in first
    assert second.startswith("one or more SyncFail hooks failed, reason: Job.batch/shop/alert")


def test_a_named_hook_is_deleted_and_created_again_on_the_next_sync(
    kube: Any, cluster: Cluster
) -> None:
    desired = [configmap("config"), hook(job("migrate", "true"), "PreSync")]
    assert sync(application(), desired, cluster)["phase"] == "Succeeded"
    first = cluster.get(ResourceKey("batch", "Job", NS, "migrate"))
    kube.audit.clear()

    state = sync(application(), desired, cluster, revision="e" * 40)

    assert state["phase"] == "Succeeded"
    verbs = [(w["verb"], w["kind"]) for w in writes(kube)][:2]
    assert verbs == [("delete", "Job"), ("patch", "Job")]  # BeforeHookCreation, then create
    second = cluster.get(ResourceKey("batch", "Job", NS, "migrate"))
    assert first is not None and second is not None
    assert first["metadata"]["uid"] != second["metadata"]["uid"]


def test_progress_events_name_each_group(kube: Any, cluster: Cluster) -> None:
    seen: list[tuple[str, str, int | None]] = []
    sync(
        application(),
        three_waves(),
        cluster,
        on_event=lambda e: seen.append((e.kind, e.phase, e.wave)) if e.kind == "group" else None,
    )
    assert seen == [
        ("group", "PreSync", 0),
        ("group", "Sync", 0),
        ("group", "Sync", 1),
        ("group", "Sync", 2),
        ("group", "PostSync", 0),
    ]
