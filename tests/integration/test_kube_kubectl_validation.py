"""kubectl (1.32) against the emulator: server-side field validation as ``--validate`` asks
for it, and ``kubectl scale`` through the /scale subresource."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sandbox.kube import KubeEmulator
from tests.integration.test_kube_kubectl import Kubectl

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")

TYPO = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replica: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
"""


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path / "kube-cache")


@pytest.fixture
def typo(tmp_path: Path) -> Path:
    path = tmp_path / "web.yaml"
    path.write_text(TYPO)
    return path


def test_apply_validates_strictly_by_default(
    kubectl: Kubectl, typo: Path, kube: KubeEmulator
) -> None:
    for flags in ((), ("--validate=strict",)):
        refused = kubectl.run("apply", *flags, "-f", str(typo), check=False)
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            f'Error from server (BadRequest): error when creating "{typo}": Deployment in '
            'version "v1" cannot be handled as a Deployment: strict decoding error: '
            'unknown field "spec.replica"'
        )
    assert kube.store.get("apps", "Deployment", "default", "web") is None
    assert [r["verb"] for r in kube.audit_log()] == ["create", "create"]


def test_validate_false_passes_and_warn_prints_the_servers_warning(
    kubectl: Kubectl, typo: Path, kube: KubeEmulator
) -> None:
    created = kubectl.run("create", "--validate=warn", "-f", str(typo))
    assert 'Warning: unknown field "spec.replica"' in created.stderr
    live = kube.store.get("apps", "Deployment", "default", "web")
    assert live is not None and "replica" not in live["spec"]
    applied = kubectl.run("apply", "--validate=false", "-f", str(typo))
    assert "deployment.apps/web configured" in applied.stdout
    assert "unknown field" not in applied.stderr
    # client-side apply of an existing object sends a strategic merge patch: refused with 422
    refused = kubectl.run("apply", "-f", str(typo), check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("The request is invalid: patch: Invalid value: ")
    assert refused.stderr.strip().endswith('strict decoding error: unknown field "spec.replica"')


def test_server_side_apply_refuses_an_undeclared_field_even_unvalidated(
    kubectl: Kubectl, typo: Path
) -> None:
    for flags in ((), ("--validate=false",)):
        refused = kubectl.run("apply", "--server-side", *flags, "-f", str(typo), check=False)
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            "Error from server: failed to create typed patch object (default/web; apps/v1, "
            "Kind=Deployment): .spec.replica: field not declared in schema"
        )


def test_kubectl_scale(kubectl: Kubectl, typo: Path, kube: KubeEmulator) -> None:
    typo.write_text(TYPO.replace("replica: 3", "replicas: 2"))
    kubectl.run("apply", "--server-side", "-f", str(typo))
    scaled = kubectl.run("scale", "deployment", "web", "--replicas=3")
    assert scaled.stdout.strip() == "deployment.apps/web scaled"
    deployment = kubectl.json("get", "deploy", "web", "--show-managed-fields")
    assert deployment["spec"]["replicas"] == 3
    owners = {
        (e["manager"], e.get("subresource")): e["fieldsV1"]
        for e in deployment["metadata"]["managedFields"]
    }
    assert owners[("kubectl", "scale")] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in owners[("kubectl", None)]["f:spec"]
    # --current-replicas reads the Scale and replaces it with its resourceVersion
    kubectl.run("scale", "deployment/web", "--current-replicas=3", "--replicas=1")
    stale = kubectl.run(
        "scale", "deployment/web", "--current-replicas=3", "--replicas=4", check=False
    )
    assert stale.returncode == 1 and "Expected replicas to be 3, was 1" in stale.stderr
    assert kubectl.json("get", "deploy", "web")["spec"]["replicas"] == 1
    verbs = [(r["verb"], r["subresource"]) for r in kube.audit_log() if r["subresource"]]
    assert verbs == [("patch", "scale"), ("update", "scale")]
