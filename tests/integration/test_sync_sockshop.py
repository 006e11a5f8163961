"""sock-shop (29 objects from the corpus) synced into an empty emulator, then updated, then
pruned, checked through the emulator's audit log."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cluster import Cluster
from reconciler.model import TRACKING_ANNOTATION, ResourceKey
from reconciler.sync_types import SyncRequest
from tests.integration.sync_helpers import Obj, application, dry_runs, results, sync, writes

NS = "sock-shop"


@pytest.fixture
def cluster(kube: Any, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig)
    yield connected
    connected.close()


@pytest.fixture
def sock_shop(corpus: Path) -> list[Obj]:
    folder = corpus / "argocd-example-apps" / "sock-shop" / "base"
    return [
        doc
        for path in sorted(folder.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def test_sock_shop_from_empty_creates_29_objects_and_its_namespace(
    kube: Any, cluster: Cluster, sock_shop: list[Obj]
) -> None:
    app = application("sock-shop", NS, "CreateNamespace=true")
    state = sync(app, sock_shop, cluster)

    assert (state["phase"], state["message"]) == (
        "Succeeded",
        "successfully synced (all tasks run)",
    )
    written = writes(kube)
    assert [(w["kind"], w["name"], w["code"]) for w in written[:1]] == [("Namespace", NS, 201)]
    assert len(written) == 30 and all(w["code"] == 201 for w in written)
    assert all(w["fieldManager"] == "kajitori" for w in written)
    # every object was dry-run first (in "default", as its namespace did not exist yet), and
    # the namespace was created only after the whole dry-run
    audit = kube.audit_log()
    first_write = next(i for i, entry in enumerate(audit) if not entry["dryRun"])
    assert all(entry["dryRun"] for entry in audit[:first_write])
    assert {entry["name"] for entry in audit[:first_write]} == {w["name"] for w in written[1:]}
    assert {entry["namespace"] for entry in dry_runs(kube)} == {NS, "default"}
    # kind order inside the wave: every Service before every Deployment before the Ingress
    kinds = [w["kind"] for w in written[1:]]
    assert kinds == ["Service"] * 14 + ["Deployment"] * 14 + ["Ingress"]
    deployments = cluster.list("apps", "Deployment", NS)
    assert len(deployments) == 14
    annotations = deployments[0]["metadata"]["annotations"]
    key = ResourceKey.of(deployments[0])
    assert annotations[TRACKING_ANNOTATION] == key.tracking_id("sock-shop")
    namespace = cluster.get(ResourceKey("", "Namespace", "", NS))
    assert namespace is not None
    assert TRACKING_ANNOTATION not in (namespace["metadata"].get("annotations") or {})
    assert len(state["syncResult"]["resources"]) == 30
    assert state["syncResult"]["revision"] == "3f2a1bc9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3"


def test_sock_shop_update_changes_only_what_changed(
    kube: Any, cluster: Cluster, sock_shop: list[Obj]
) -> None:
    app = application("sock-shop", NS, "CreateNamespace=true")
    sync(app, sock_shop, cluster)
    changed = copy.deepcopy(sock_shop)
    front_end = next(
        o for o in changed if o["kind"] == "Deployment" and o["metadata"]["name"] == "front-end"
    )
    front_end["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "weaveworksdemos/front-end:0.3.13"
    )
    before = cluster.get(ResourceKey("apps", "Deployment", NS, "carts"))
    kube.audit.clear()

    state = sync(app, changed, cluster, revision="b" * 40)

    assert state["phase"] == "Succeeded"
    by_name = results(state)
    assert by_name["Deployment/front-end:Sync"]["message"] == "deployment.apps/front-end configured"
    assert by_name["Deployment/carts:Sync"]["message"] == "deployment.apps/carts unchanged"
    assert [w for w in writes(kube) if w["kind"] == "Namespace"] == []  # exists: not created again
    live = cluster.get(ResourceKey("apps", "Deployment", NS, "front-end"))
    assert live is not None
    assert live["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.3.13")
    after = cluster.get(ResourceKey("apps", "Deployment", NS, "carts"))
    assert before is not None and after is not None
    assert after["metadata"]["generation"] == before["metadata"]["generation"]


def test_apply_out_of_sync_only_writes_only_the_changed_object(
    kube: Any, cluster: Cluster, sock_shop: list[Obj]
) -> None:
    app = application("sock-shop", NS, "CreateNamespace=true", "ApplyOutOfSyncOnly=true")
    sync(app, sock_shop, cluster)
    changed = copy.deepcopy(sock_shop)
    service = next(
        o for o in changed if o["kind"] == "Service" and o["metadata"]["name"] == "carts"
    )
    service["metadata"].setdefault("labels", {})["tier"] = "backend"
    kube.audit.clear()

    state = sync(app, changed, cluster, revision="c" * 40)

    assert state["phase"] == "Succeeded"
    assert [(w["kind"], w["name"]) for w in writes(kube)] == [("Service", "carts")]


def test_sock_shop_prune_needs_prune_and_never_touches_the_namespace(
    kube: Any, cluster: Cluster, sock_shop: list[Obj]
) -> None:
    app = application("sock-shop", NS, "CreateNamespace=true")
    sync(app, sock_shop, cluster)
    kept = [o for o in sock_shop if o["metadata"]["name"] not in ("user", "user-db")]
    assert len(kept) == 25

    without_prune = sync(app, kept, cluster, revision="d" * 40)
    skipped = {k: r for k, r in results(without_prune).items() if r["status"] == "PruneSkipped"}
    assert sorted(skipped) == [
        "Deployment/user-db:Sync",
        "Deployment/user:Sync",
        "Service/user-db:Sync",
        "Service/user:Sync",
    ]
    assert {r["message"] for r in skipped.values()} == {"ignored (requires pruning)"}
    assert cluster.get(ResourceKey("apps", "Deployment", NS, "user")) is not None
    kube.audit.clear()

    pruned = sync(app, kept, cluster, SyncRequest(prune=True), revision="d" * 40)

    assert pruned["phase"] == "Succeeded"
    deleted = [(w["kind"], w["name"]) for w in writes(kube) if w["verb"] == "delete"]
    assert sorted(deleted) == [
        ("Deployment", "user"),
        ("Deployment", "user-db"),
        ("Service", "user"),
        ("Service", "user-db"),
    ]
    by_name = results(pruned)
    assert [
        by_name[f"{kind}/{name}:Sync"]["status"]
        for kind in ("Service", "Deployment")
        for name in ("user", "user-db")
    ] == ["Pruned"] * 4
    assert cluster.get(ResourceKey("apps", "Deployment", NS, "user")) is None
    assert cluster.get(ResourceKey("", "Namespace", "", NS)) is not None
    assert len(cluster.list("apps", "Deployment", NS)) == 12
