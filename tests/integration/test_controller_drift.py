"""Drift: a client-side edit of a managed Deployment is seen through the live cache within
2 s, reported with the changed fields and the editing field manager, and reverted when
self-heal is on (a selective sync, hooks skipped) or left alone when it is off."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from reconciler.events import DriftDetected, SyncSucceeded
from reconciler.model import ResourceKey
from tests.integration.controller_helpers import (
    Harness,
    Remote,
    app_yaml,
    config_of,
    configmap,
    created,
    deployment,
    hook_job,
)

NS = "shop"
WEB = ResourceKey("apps", "Deployment", NS, "web")


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    remote = Remote(tmp_path / "repo")
    objects = [hook_job("migrate", "PreSync", "true"), configmap("settings"), deployment("web")]
    remote.commit({"shop/app.yaml": objects}, "v1")
    return remote


def make(kubeconfig: Path, tmp_path: Path, remote: Remote, automated: dict[str, Any]) -> Harness:
    app = app_yaml("shop", remote, namespace=NS, automated=automated)
    return Harness(kubeconfig, tmp_path, config_of([app], tmp_path / "state.db"))


@pytest.fixture
def healing(kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote) -> Iterator[Harness]:
    harness = make(kubeconfig, tmp_path, remote, {"selfHeal": True})
    yield harness
    harness.close()


@pytest.fixture
def reporting(kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote) -> Iterator[Harness]:
    harness = make(kubeconfig, tmp_path, remote, {"selfHeal": False})
    yield harness
    harness.close()


def synced_once(harness: Harness, remote: Remote) -> str:
    revision = harness.git.resolve(remote.url, "main")
    harness.start()
    harness.wait_phase("shop", "Succeeded", revision=revision)
    harness.wait_synced("shop", revision)
    assert harness.live_cache.wait_synced(5)
    return revision


def scale(kube_api: Any, replicas: int) -> float:
    """``kubectl edit``-like: a client-side patch by field manager kubectl-edit; when."""
    k8s.AppsV1Api(kube_api).patch_namespaced_deployment(
        "web", NS, {"spec": {"replicas": replicas}}, field_manager="kubectl-edit"
    )
    return time.monotonic()


def replicas(harness: Harness) -> int:
    live = harness.cluster.get(WEB)
    assert live is not None
    return int(live["spec"]["replicas"])


def test_an_edit_is_detected_within_2_s_and_reverted_with_self_heal_on(
    kube: Any, kube_api: Any, healing: Harness, remote: Remote
) -> None:
    revision = synced_once(healing, remote)
    operations_before = len(healing.recorder.of(SyncSucceeded, "shop"))

    edited_at = scale(kube_api, 3)
    drift = healing.recorder.wait_for(DriftDetected, timeout=2)
    assert time.monotonic() - edited_at < 2.0
    assert drift.self_heal is True and drift.revision == revision
    (change,) = drift.changes
    assert change.key == WEB
    assert change.fields == ("spec.replicas",)
    assert change.managers == ("kubectl-edit",)
    assert "-  replicas: 3" in change.diff and "+  replicas: 1" in change.diff

    healing.wait(lambda: replicas(healing) == 1, timeout=5, what="replicas back to 1")
    healed = healing.recorder.wait_for(
        SyncSucceeded, lambda e: len(healing.recorder.of(SyncSucceeded)) > operations_before
    )
    assert healed.initiated_by == "automated"
    operation = healing.controller.operation("shop")
    assert operation is not None
    assert operation["operation"]["sync"]["resources"] == [
        {"group": "apps", "kind": "Deployment", "namespace": NS, "name": "web"}
    ]
    assert len(created(kube, "Job", "migrate")) == 1  # no hook rerun
    assert len(healing.controller.history("shop")) == 1  # a selective sync is no deployment
    healing.wait_synced("shop", revision)


def test_an_edit_is_reported_and_kept_with_self_heal_off(
    kube: Any, kube_api: Any, reporting: Harness, remote: Remote
) -> None:
    revision = synced_once(reporting, remote)

    edited_at = scale(kube_api, 2)
    drift = reporting.recorder.wait_for(DriftDetected, timeout=2)
    assert time.monotonic() - edited_at < 2.0
    assert drift.self_heal is False
    assert drift.changes[0].managers == ("kubectl-edit",)

    time.sleep(1.0)
    reporting.controller.refresh_now("shop")
    assert replicas(reporting) == 2
    status = reporting.status("shop")["status"]
    assert status["sync"] == {**status["sync"], "status": "OutOfSync", "revision": revision}
    assert status["operationState"]["operation"]["sync"].get("resources") is None
    assert len(reporting.recorder.of(DriftDetected, "shop")) == 1  # reported once
    assert not [c for c in status["conditions"] if c["type"] == "SyncError"]


def test_self_heal_switched_on_at_run_time_reverts_the_drift(
    kube: Any, kube_api: Any, reporting: Harness, remote: Remote
) -> None:
    synced_once(reporting, remote)
    scale(kube_api, 4)
    reporting.recorder.wait_for(DriftDetected, timeout=2)

    toggle = reporting.controller.set_self_heal("shop", True, actor="U0BOB")
    assert toggle.enabled and toggle.changed_by == "U0BOB" and toggle.changed_at
    reporting.wait(lambda: replicas(reporting) == 1, timeout=5, what="replicas back to 1")
    assert reporting.status("shop")["spec"]["syncPolicy"]["automated"]["selfHeal"] is True
