"""The controller over the Kubernetes emulator and a real Git repository: automated sync of new
commits, the Argo-shaped status, events, refusal to retry a failed revision, the allowEmpty
guard, manual sync and rollback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.controller_api import OperationRefused, UnknownAppError
from reconciler.errors import SourceError
from reconciler.events import (
    AppAdded,
    HealthChanged,
    SyncFailed,
    SyncRunning,
    SyncStatusChanged,
    SyncSucceeded,
)
from reconciler.webhooks import parse_push
from tests.integration.controller_helpers import (
    Harness,
    Remote,
    app_yaml,
    config_of,
    configmap,
    created,
    deployment,
    hook_job,
    writes,
)

NS = "shop"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "repo")


def harness_for(kubeconfig: Path, tmp_path: Path, *apps: str, **options: Any) -> Harness:
    return Harness(kubeconfig, tmp_path, config_of(list(apps), tmp_path / "state.db", **options))


@pytest.fixture
def shop(kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote) -> Iterator[Harness]:
    remote.commit({"shop/app.yaml": [configmap("settings", color="blue"), deployment("web")]}, "v1")
    harness = harness_for(
        kubeconfig, tmp_path, app_yaml("shop", remote, namespace=NS, automated={"prune": True})
    )
    yield harness
    harness.close()


def test_a_new_commit_is_synced_by_auto_sync(kube: Any, shop: Harness, remote: Remote) -> None:
    first = shop.git.resolve(remote.url, "main")
    shop.start()
    shop.wait_phase("shop", "Succeeded", revision=first)
    shop.wait_synced("shop", first)

    second = remote.commit({"shop/app.yaml": [configmap("settings", color="green")]}, "v2: green")
    shop.controller.refresh("shop")
    state = shop.wait_phase("shop", "Succeeded", revision=second)
    status = shop.wait_synced("shop", second)

    live = shop.cluster.get(_key("", "ConfigMap", "settings"))
    assert live is not None and live["data"] == {"color": "green"}
    assert shop.cluster.get(_key("apps", "Deployment", "web")) is None  # pruned
    assert state["operation"]["initiatedBy"] == {"username": "", "automated": True}
    assert [h["revision"] for h in status["history"]] == [first, second]
    succeeded = shop.recorder.wait_for(SyncSucceeded, lambda e: e.revision == second)
    assert succeeded.commit is not None and succeeded.commit.title == "v2: green"
    assert succeeded.initiated_by == "automated"
    assert shop.recorder.of(SyncRunning, "shop")[-1].revision == second


def test_the_status_has_argo_cds_application_shape(
    kube: Any, shop: Harness, remote: Remote
) -> None:
    revision = shop.git.resolve(remote.url, "main")
    shop.start()
    shop.wait_phase("shop", "Succeeded", revision=revision)
    shop.wait(
        lambda: shop.status("shop")["status"]["health"]["status"] == "Healthy", what="Healthy"
    )
    app = shop.status("shop")

    assert app["apiVersion"] == "argoproj.io/v1alpha1" and app["kind"] == "Application"
    assert app["metadata"]["name"] == "shop" and app["metadata"]["creationTimestamp"]
    assert app["spec"]["syncPolicy"]["automated"] == {
        "prune": True,
        "selfHeal": False,
        "allowEmpty": False,
    }
    status = app["status"]
    assert status["sync"]["status"] == "Synced" and status["sync"]["revision"] == revision
    assert status["health"]["lastTransitionTime"]
    assert status["operationState"]["phase"] == "Succeeded"
    assert status["operationState"]["syncResult"]["revision"] == revision
    assert status["reconciledAt"] and status["conditions"] == []
    resources = {(r["kind"], r["name"]): r for r in status["resources"]}
    assert resources[("Deployment", "web")]["health"] == {"status": "Healthy"}
    assert resources[("ConfigMap", "settings")]["status"] == "Synced"
    assert shop.recorder.of(AppAdded, "shop")
    # Events reach subscribers on the bus's own thread, a moment after the status is saved.
    shop.wait(
        lambda: [e.current for e in shop.recorder.of(SyncStatusChanged, "shop")][-1:] == ["Synced"],
        what="SyncStatusChanged to Synced",
    )
    shop.wait(
        lambda: [e.current for e in shop.recorder.of(HealthChanged, "shop")][-1:] == ["Healthy"],
        what="HealthChanged to Healthy",
    )
    summary = shop.controller.apps()[0]
    assert (summary.name, summary.sync_status, summary.auto_sync) == ("shop", "Synced", True)
    logged = [e["type"] for e in shop.controller.runtime.events("shop")]
    assert logged[0] == "AppAdded" and "SyncSucceeded" in logged
    scrape = shop.metrics.exposition()[0].decode()
    info = [line for line in scrape.splitlines() if line.startswith("kajitori_app_info{")]
    assert len(info) == 1 and 'name="shop"' in info[0] and 'sync_status="Synced"' in info[0]
    assert 'kajitori_app_sync_total{dest_server="https://kubernetes.default.svc"' in scrape


def test_a_failed_auto_sync_is_not_retried_on_the_same_revision(
    kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote
) -> None:
    failing = [hook_job("migrate", "PreSync", "false"), configmap("settings")]
    first = remote.commit({"db/app.yaml": failing}, "v1: broken migration")
    harness = harness_for(
        kubeconfig,
        tmp_path,
        app_yaml("db", remote, namespace=NS, automated={}, retry={"limit": 0}),
        interval="1s",
    )
    try:
        harness.start()
        harness.wait_phase("db", "Failed", revision=first)
        harness.recorder.wait_for(SyncFailed, lambda e: not e.retrying)

        def sync_error() -> str:
            conditions = harness.status("db")["status"]["conditions"]
            return next((c["message"] for c in conditions if c["type"] == "SyncError"), "")

        message = harness.wait(sync_error, what="a SyncError condition")
        assert message.startswith(f"Failed last sync attempt to {first}")
        harness.controller.refresh_now("db")
        harness.controller.refresh_now("db")
        time.sleep(1.5)  # more polls at the 1 s interval
        assert len(created(kube, "Job", "migrate")) == 1
        assert harness.status("db")["status"]["sync"]["status"] == "OutOfSync"

        fixed = [hook_job("migrate", "PreSync", "true"), configmap("settings")]
        second = remote.commit({"db/app.yaml": fixed}, "v2: fixed migration")
        harness.controller.refresh("db")
        harness.wait_phase("db", "Succeeded", revision=second)
        harness.wait(lambda: not sync_error(), what="the SyncError condition to go")
    finally:
        harness.close()


def test_prune_would_delete_everything_without_allow_empty(
    kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote
) -> None:
    first = remote.commit({"web/app.yaml": [configmap("a"), configmap("b")]}, "v1")
    harness = harness_for(
        kubeconfig, tmp_path, app_yaml("web", remote, namespace=NS, automated={"prune": True})
    )
    try:
        harness.start()
        harness.wait_phase("web", "Succeeded", revision=first)
        remote.commit({"web/app.yaml": None, "web/README.md": "nothing here\n"}, "v2: empty")
        harness.controller.refresh_now("web")
        conditions = harness.status("web")["status"]["conditions"]
        assert {"type": "SyncError", "message": "auto-sync will wipe out all resources"} in [
            {"type": c["type"], "message": c["message"]} for c in conditions
        ]
        assert harness.cluster.get(_key("", "ConfigMap", "a")) is not None
    finally:
        harness.close()


def test_manual_sync_dry_run_and_refusals(kube: Any, shop: Harness, remote: Remote) -> None:
    with pytest.raises(OperationRefused, match="not running"):
        shop.controller.sync("shop", actor="U0ALICE")
    with pytest.raises(UnknownAppError):
        shop.controller.sync("nope", actor="U0ALICE")
    shop.controller.set_auto_sync("shop", False, actor="U0ALICE")
    shop.start()
    with pytest.raises(SourceError, match="no-such-branch"):
        shop.controller.sync("shop", actor="U0ALICE", revision="no-such-branch")
    progress: list[str] = []
    ticket = shop.controller.sync(
        "shop", actor="U0ALICE", dry_run=True, on_progress=lambda s: progress.append(s["phase"])
    )
    state = shop.wait_phase("shop", "Succeeded")
    assert state["operation"]["sync"]["dryRun"] is True
    assert state["operation"]["initiatedBy"]["username"] == "U0ALICE"
    assert ticket.revision == shop.git.resolve(remote.url, "main")
    assert progress[-1] == "Succeeded"
    assert writes(kube, "ConfigMap") == []  # a dry run writes nothing
    assert shop.controller.history("shop") == []
    audit = shop.controller.runtime.audit("shop")
    assert [(a.actor, a.action) for a in audit] == [
        ("U0ALICE", "disable auto-sync"),
        ("U0ALICE", "sync"),
    ]


def _key(group: str, kind: str, name: str) -> Any:
    from reconciler.model import ResourceKey

    return ResourceKey(group, kind, NS, name)


def test_a_push_refreshes_the_apps_of_that_branch_and_is_applied_within_2_s(
    kube: Any, shop: Harness, remote: Remote
) -> None:
    first = shop.git.resolve(remote.url, "main")
    shop.start()
    shop.wait_phase("shop", "Succeeded", revision=first)
    second = remote.commit({"shop/app.yaml": [configmap("settings", color="red")]}, "v2: red")

    def push(ref: str) -> Any:
        payload = {
            "ref": ref,
            "before": first,
            "after": second,
            "repository": {"full_name": "acme/apps", "clone_url": remote.url},
            "commits": [{"id": second, "modified": ["shop/app.yaml"]}],
        }
        return parse_push(json.dumps(payload).encode())

    assert shop.controller.on_push(push("refs/heads/other")) == []
    pushed_at = time.monotonic()
    assert shop.controller.on_push(push("refs/heads/main")) == ["shop"]
    shop.wait_phase("shop", "Succeeded", revision=second, timeout=2)
    assert time.monotonic() - pushed_at < 2.0
    live = shop.cluster.get(_key("", "ConfigMap", "settings"))
    assert live is not None and live["data"] == {"color": "red"}
