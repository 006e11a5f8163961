"""`kajitori run` (``build_service``) under namespaced RBAC: the emulator refuses every request
that is not inside a namespace, as it would a ServiceAccount with only a Role in namespace
``shop``. With ``controller.namespaces: [shop]`` kajitori syncs, sees a manual edit through its
watch within 2 s and offers an object left over from an older commit for pruning, without one
refused request; without the setting the same refusals are a clear error on the app."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from reconciler.cluster import Cluster
from reconciler.config import parse_config
from reconciler.event_types import DriftDetected, SyncFailed
from reconciler.model import ResourceKey
from reconciler.service import Service, build_service
from sandbox.kube import KubeEmulator
from tests.integration.controller_helpers import Recorder, Remote, configmap, deployment
from tests.integration.rbac_helpers import forbid_outside_namespaces

NS = "shop"
OLD = ResourceKey("", "ConfigMap", NS, "old")


def config_text(remote: Remote, state: Path, namespaces: str) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata: {{name: shop}}
        spec:
          source: {{repoURL: {remote.url}, path: shop, targetRevision: main}}
          destination: {{server: https://kubernetes.default.svc, namespace: {NS}}}
        ---
        apiVersion: kajitori.dev/v1alpha1
        kind: Settings
        controller:
          reconciliationInterval: 1h
          waveDelay: 0s
          statePath: {state}
          cacheDir: {state.parent / "cache"}
          namespaces: {namespaces}
        server: {{host: 127.0.0.1, port: 0}}
        """
    )


@pytest.fixture
def remote(kube: KubeEmulator, kubeconfig: Path, tmp_path: Path) -> Remote:
    """The manifests at v1, and namespace shop made by an administrator beforehand."""
    admin = Cluster.from_kubeconfig(kubeconfig)
    admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    admin.close()
    remote = Remote(tmp_path / "repo")
    v1 = [configmap("settings", v="1"), configmap("old", v="1"), deployment("web")]
    remote.commit({"shop/app.yaml": v1}, "v1")
    return remote


def service_for(
    kubeconfig: Path, tmp_path: Path, remote: Remote, namespaces: str, recorder: Recorder
) -> Service:
    text = config_text(remote, tmp_path / "state" / "state.db", namespaces)
    config = parse_config(text, str(tmp_path / "kajitori.yaml"))
    return build_service(config, env={}, kubeconfig=kubeconfig, notifiers=[recorder])


def wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


def operation_done(service: Service, revision: str) -> dict[str, Any] | None:
    operation = service.controller.operation("shop")
    if not operation or operation.get("phase") in ("Running", "Terminating", None):
        return None
    if operation["syncResult"]["revision"] != revision:
        return None
    return operation


def synced_at(service: Service, revision: str) -> bool:
    sync = service.controller.app_status("shop")["status"]["sync"]
    return bool(sync["status"] == "Synced" and sync["revision"] == revision)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def test_within_its_namespace_kajitori_syncs_sees_edits_and_offers_leftovers_for_pruning(
    kube: KubeEmulator,
    kube_api: Any,
    kubeconfig: Path,
    tmp_path: Path,
    remote: Remote,
    recorder: Recorder,
) -> None:
    outside = forbid_outside_namespaces(kube)
    service = service_for(kubeconfig, tmp_path, remote, f"[{NS}]", recorder)
    with service:
        # (c) it syncs
        v1 = service.git.resolve(remote.url, "main")
        service.controller.sync("shop", actor="test")
        done = wait(lambda: operation_done(service, v1), 20, "the sync of v1")
        assert done["phase"] == "Succeeded", done["message"]
        wait(lambda: synced_at(service, v1), 15, "shop Synced at v1")
        assert service.live_cache.wait_synced(5)
        assert wait(service.ready, 5, "readiness")
        assert ("apps", "Deployment") in service.live_cache.kinds()

        # (b) a manual edit is seen through the watch within 2 s
        edited = time.monotonic()
        k8s.AppsV1Api(kube_api).patch_namespaced_deployment(
            "web", NS, {"spec": {"replicas": 3}}, field_manager="kubectl-edit"
        )
        drift = recorder.wait_for(DriftDetected, timeout=2)
        assert time.monotonic() - edited < 2.0
        assert [str(change.key) for change in drift.changes] == [f"Deployment.apps/{NS}/web"]

        # (a) an object left over from an older commit is offered for pruning, then pruned
        v2 = remote.commit(
            {"shop/app.yaml": [configmap("settings", v="1"), deployment("web")]}, "v2"
        )
        service.controller.refresh("shop")

        def offered() -> bool:
            status = service.controller.app_status("shop")["status"]
            return any(r["name"] == "old" and r.get("requiresPruning") for r in status["resources"])

        wait(offered, 10, "ConfigMap old offered for pruning")
        service.controller.sync("shop", actor="test", prune=True)
        pruned = wait(lambda: operation_done(service, v2), 20, "the sync of v2 with prune")
        assert pruned["phase"] == "Succeeded", pruned["message"]
        assert service.cluster.get(OLD) is None

    assert outside() == 0  # not one request the RBAC would have refused


def test_without_namespaces_the_refusals_are_a_clear_error_on_the_app(
    kube: KubeEmulator, kubeconfig: Path, tmp_path: Path, remote: Remote, recorder: Recorder
) -> None:
    outside = forbid_outside_namespaces(kube)
    service = service_for(kubeconfig, tmp_path, remote, "[]", recorder)
    with service:
        comparison = service.controller.diff("shop")
        messages = [c.message for c in comparison.conditions]
        assert comparison.sync_status == "Unknown"
        assert len(messages) == 1 and "forbidden: the account kajitori runs as" in messages[0]
        assert (
            "limit kajitori to the namespaces it may use with controller.namespaces"
            in (messages[0])
        )

        service.controller.sync("shop", actor="test")
        failed = recorder.wait_for(SyncFailed, timeout=20)
        assert "forbidden: the account kajitori runs as" in failed.message
        assert "list ConfigMap in all namespaces, " in failed.message
    assert outside() > 0
