"""The corpus apps, rendered as the reconciler renders them, deployed to the Kubernetes
emulator and compared: before deploying every object is missing, afterwards every object is
Synced (no false drift from server defaults or controllers), and a second comparison makes no
dry-run request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cluster import Cluster
from reconciler.compare import compare
from reconciler.compare_types import DryRunCache
from reconciler.model import (
    OUT_OF_SYNC,
    SYNCED,
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
)
from reconciler.render import render
from sandbox.kube import KubeEmulator

pytestmark = pytest.mark.corpus

# app (= path in the corpus repository) -> destination namespace, number of objects
APPS = {
    "guestbook": ("guestbook", 2),
    "kustomize-guestbook": ("kustomize-guestbook", 2),
    "helm-guestbook": ("helm-guestbook", 2),
    "sock-shop": ("sock-shop", 29),
}


@pytest.fixture
def cluster(kube: KubeEmulator, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig)
    yield connected
    connected.close()


def files_under(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def rendered(corpus: Path, name: str) -> tuple[Application, list[dict[str, Any]]]:
    namespace = APPS[name][0]
    repo = corpus / "argocd-example-apps"
    source = ApplicationSource("https://git.example.com/argocd-example-apps.git", name)
    app = Application(name, ApplicationSpec(source, Destination(namespace=namespace)))
    objects = render(
        source,
        files_under(repo / name),
        app_name=name,
        namespace=namespace,
        repo_files=files_under(repo),
    )
    return app, objects


def settled(cluster: Cluster, app: Application, objects: list[dict[str, Any]]) -> None:
    """Wait until the simulated controllers have rolled every workload out (all healthy)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if compare(app, objects, cluster).health_status == "Healthy":
            return
        time.sleep(0.2)
    raise AssertionError(f"{app.name} did not become Healthy")


@pytest.mark.parametrize("name", sorted(APPS))
def test_corpus_app_is_missing_then_synced_once_applied(
    kube: KubeEmulator, cluster: Cluster, corpus: Path, name: str
) -> None:
    app, objects = rendered(corpus, name)
    namespace, count = APPS[name]
    before = compare(app, objects, cluster)
    assert before.sync_status == OUT_OF_SYNC and before.health_status == "Missing"
    assert [r.live for r in before.resources] == [None] * count

    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for resource in before.resources:
        assert resource.desired is not None
        cluster.apply(resource.desired)
    settled(cluster, app, objects)

    cache = DryRunCache()
    after = compare(app, objects, cluster, cache=cache)
    drift = {str(r.key): r.diff for r in after.resources if r.status != SYNCED}
    assert (after.sync_status, drift, after.conditions) == (SYNCED, {}, [])
    assert len(after.resources) == count

    dry_runs = sum(1 for entry in kube.audit_log() if entry.get("dryRun"))
    assert compare(app, objects, cluster, cache=cache).sync_status == SYNCED
    assert sum(1 for entry in kube.audit_log() if entry.get("dryRun")) == dry_runs
