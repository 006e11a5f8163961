"""The real kubectl against the Kubernetes API emulator (sandbox/kube), as a black box."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.kube import KubeEmulator

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")

SOCK_SHOP = "argocd-example-apps/sock-shop"


class Kubectl:
    """Runs kubectl with the emulator's kubeconfig and a private discovery cache."""

    def __init__(self, kubeconfig: Path, cache: Path) -> None:
        self.kubeconfig = kubeconfig
        self.cache = cache

    def run(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        command = ["kubectl", "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache)]
        result = subprocess.run(
            [*command, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path / "kube-cache")


def _namespace_yaml(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"ns-{name}.yaml"
    path.write_text(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    return path


@pytest.fixture
def sock_shop(kubectl: Kubectl, corpus: Path, tmp_path: Path) -> Path:
    """sock-shop applied server-side into namespace sock-shop; returns the kustomization dir."""
    kubectl.run("apply", "--server-side", "-f", str(_namespace_yaml(tmp_path, "sock-shop")))
    directory = corpus / SOCK_SHOP
    kubectl.run("apply", "--server-side", "-k", str(directory), "-n", "sock-shop")
    return directory


def _resource_versions(kube: KubeEmulator, namespace: str) -> dict[tuple[str, str], str]:
    versions = {}
    for kind in ("Deployment", "Service", "Ingress"):
        group = {"Deployment": "apps", "Ingress": "networking.k8s.io"}.get(kind, "")
        for obj in kube.store.list(group, kind, namespace):
            versions[(kind, obj["metadata"]["name"])] = obj["metadata"]["resourceVersion"]
    return versions


def test_server_side_apply_of_sock_shop_creates_29_objects(
    kubectl: Kubectl, corpus: Path, tmp_path: Path, kube: KubeEmulator
) -> None:
    kubectl.run("create", "namespace", "sock-shop")
    out = kubectl.run(
        "apply", "--server-side", "-k", str(corpus / SOCK_SHOP), "-n", "sock-shop"
    ).stdout
    applied = [line for line in out.splitlines() if line.endswith("serverside-applied")]
    assert len(applied) == 29
    assert len(_resource_versions(kube, "sock-shop")) == 29
    deployments = kubectl.run("get", "deploy", "-n", "sock-shop").stdout.splitlines()
    assert deployments[0].split()[:2] == ["NAME", "READY"]
    assert len(deployments) == 1 + 14
    assert {line.split()[0] for line in deployments[1:]} >= {"carts", "front-end", "user-db"}


def test_applying_again_changes_no_resource_version(
    kubectl: Kubectl, sock_shop: Path, kube: KubeEmulator
) -> None:
    # let the simulated controllers finish writing status, which bumps resourceVersions
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        items = kubectl.json("get", "deploy", "-n", "sock-shop")["items"]
        if all((d.get("status") or {}).get("availableReplicas") == 1 for d in items):
            break
        time.sleep(0.1)
    time.sleep(0.3)
    before = _resource_versions(kube, "sock-shop")
    kubectl.run("apply", "--server-side", "-k", str(sock_shop), "-n", "sock-shop")
    assert _resource_versions(kube, "sock-shop") == before


def test_field_owned_by_another_manager_needs_force_conflicts(
    kubectl: Kubectl, sock_shop: Path
) -> None:
    kubectl.run(
        "patch",
        "deploy",
        "carts",
        "-n",
        "sock-shop",
        "--type=merge",
        "-p",
        '{"spec":{"replicas":3}}',
    )
    refused = kubectl.run(
        "apply", "--server-side", "-k", str(sock_shop), "-n", "sock-shop", check=False
    )
    assert refused.returncode != 0
    assert 'conflict with "kubectl-patch"' in refused.stderr
    assert ".spec.replicas" in refused.stderr
    assert kubectl.json("get", "deploy", "carts", "-n", "sock-shop")["spec"]["replicas"] == 3
    kubectl.run(
        "apply", "--server-side", "--force-conflicts", "-k", str(sock_shop), "-n", "sock-shop"
    )
    deployment = kubectl.json("get", "deploy", "carts", "-n", "sock-shop", "--show-managed-fields")
    assert deployment["spec"]["replicas"] == 1
    managers = {e["manager"]: e for e in deployment["metadata"]["managedFields"]}
    assert "f:replicas" in managers["kubectl"]["fieldsV1"]["f:spec"]


def test_diff_server_side_shows_a_change(kubectl: Kubectl, sock_shop: Path, tmp_path: Path) -> None:
    rendered = kubectl.run("kustomize", str(sock_shop)).stdout
    same = tmp_path / "same.yaml"
    same.write_text(rendered)
    unchanged = kubectl.run(
        "diff", "--server-side", "-f", str(same), "-n", "sock-shop", check=False
    )
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.stdout == ""
    changed = tmp_path / "changed.yaml"
    changed.write_text(rendered.replace("weaveworksdemos/carts:0.4.8", "weaveworksdemos/carts:0.5"))
    result = kubectl.run(
        "diff", "--server-side", "-f", str(changed), "-n", "sock-shop", check=False
    )
    assert result.returncode == 1, result.stderr
    assert "-        image: weaveworksdemos/carts:0.4.8" in result.stdout
    assert "+        image: weaveworksdemos/carts:0.5" in result.stdout
    # a diff is a dry run: nothing changed
    live = kubectl.json("get", "deploy", "carts", "-n", "sock-shop")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.4.8")


def test_wait_for_job_completion(kubectl: Kubectl, tmp_path: Path, kube: KubeEmulator) -> None:
    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        """
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: default
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: busybox
        command: ["sh", "-c", "echo migrating; sleep 10"]
"""
    )
    kubectl.run("apply", "--server-side", "-f", str(manifest))
    started = time.monotonic()
    kubectl.run("wait", "--for=condition=complete", "job/migrate", "--timeout=30s")
    elapsed = time.monotonic() - started
    assert elapsed >= 10 * kube.time_factor * 0.5
    job = kubectl.json("get", "job", "migrate")
    assert job["status"]["succeeded"] == 1
    table = kubectl.run("get", "job", "migrate").stdout
    assert "Complete" in table


def test_deleting_the_namespace_removes_its_objects(
    kubectl: Kubectl, sock_shop: Path, kube: KubeEmulator
) -> None:
    assert kube.store.namespace_count("sock-shop") >= 29
    kubectl.run("delete", "namespace", "sock-shop", "--timeout=30s")
    assert kubectl.run("get", "all", "-n", "sock-shop").stdout == ""
    assert kube.store.namespace_count("sock-shop") == 0
    missing = kubectl.run("get", "namespace", "sock-shop", check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


def test_get_prints_a_table_and_delete_removes(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '1'\n  b: '2'\n"
    )
    kubectl.run("apply", "--server-side", "-f", str(manifest))
    lines = kubectl.run("get", "configmaps").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"]
    assert lines[1].split()[:2] == ["settings", "2"]
    kubectl.run("delete", "configmap", "settings")
    assert "NotFound" in kubectl.run("get", "configmap", "settings", check=False).stderr
