"""Operations of several apps on one controller: a hook that hangs in one app holds no worker,
so the others sync meanwhile even with a single worker; one app never runs two operations;
rollback pauses auto-sync and skips hooks; terminate stops a hanging operation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.controller_api import OperationRefused
from reconciler.events import SyncFailed, SyncSucceeded
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


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "repo")


def test_three_apps_do_not_block_each_other_when_one_hook_hangs(
    kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote
) -> None:
    remote.commit(
        {
            "stuck/app.yaml": [hook_job("migrate", "PreSync", "sleep", "3600"), configmap("a")],
            "blue/README.md": "later\n",
            "green/README.md": "later\n",
        },
        "the stuck app",
    )
    names = ("stuck", "blue", "green")
    apps = [app_yaml(name, remote, namespace=name, automated={}) for name in names]
    harness = Harness(kubeconfig, tmp_path, config_of(apps, tmp_path / "state.db", workers=1))
    try:
        harness.start()

        def hanging() -> bool:
            message = str((harness.controller.operation("stuck") or {}).get("message"))
            return message == "waiting for completion of hook batch/Job/migrate"

        harness.wait(hanging, timeout=20, what="the stuck app's hook to run")
        revision = remote.commit(
            {
                "blue/app.yaml": [configmap("b"), deployment("blue")],
                "green/app.yaml": [configmap("c"), deployment("green")],
            },
            "two more apps",
        )
        harness.controller.refresh("blue")
        harness.controller.refresh("green")
        for name in ("blue", "green"):
            harness.wait_phase(name, "Succeeded", revision=revision, timeout=30)
            harness.wait_synced(name, revision)
        assert hanging() and harness.phase("stuck") == "Running"
        with pytest.raises(OperationRefused, match="already running"):
            harness.controller.sync("stuck", actor="U0ALICE")
        assert [s.operation_phase for s in harness.controller.apps()] == ["", "", "Running"]

        assert harness.controller.terminate("stuck", actor="U0ALICE") is True
        # Read the end from the event, not the stored phase: the branch moved on meanwhile (the
        # second commit), so auto-sync may at once start a new operation for the new revision.
        ended = harness.recorder.wait_for(SyncFailed, lambda e: e.app == "stuck", timeout=15)
        assert (ended.phase, ended.message) == ("Failed", "Operation terminated")
        assert harness.cluster.get(ResourceKey("", "ConfigMap", "stuck", "a")) is None
    finally:
        harness.close()


def test_rollback_pauses_auto_sync_and_skips_hooks(
    kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote
) -> None:
    hook = hook_job("migrate", "PreSync", "true")
    first = remote.commit({"shop/app.yaml": [hook, configmap("settings", v="1")]}, "v1")
    app = app_yaml("shop", remote, namespace="shop", automated={})
    harness = Harness(kubeconfig, tmp_path, config_of([app], tmp_path / "state.db"))
    try:
        controller = harness.start()
        harness.wait_phase("shop", "Succeeded", revision=first)
        second = remote.commit({"shop/app.yaml": [hook, configmap("settings", v="2")]}, "v2")
        controller.refresh("shop")
        harness.wait_phase("shop", "Succeeded", revision=second)
        assert len(created(kube, "Job", "migrate")) == 2
        assert [h.id for h in controller.history("shop")] == [0, 1]

        ticket = controller.rollback("shop", actor="U0ALICE")
        assert (ticket.revision, ticket.previous_revision) == (first, second)
        state = harness.wait_phase("shop", "Succeeded", revision=first)
        assert state["operation"]["sync"]["syncStrategy"] == {"apply": {}}
        assert state["operation"]["initiatedBy"]["username"] == "U0ALICE"
        assert len(created(kube, "Job", "migrate")) == 2  # no hook ran
        live = harness.cluster.get(ResourceKey("", "ConfigMap", "shop", "settings"))
        assert live is not None and live["data"] == {"v": "1"}
        assert controller.auto_sync_enabled("shop") is False
        override = controller.app_status("shop")["status"]["overrides"]["autoSync"]
        assert override["changedBy"] == "U0ALICE" and override["enabled"] is False

        controller.refresh_now("shop")  # Git is ahead, but auto-sync stays paused
        assert harness.status("shop")["status"]["sync"]["status"] == "OutOfSync"
        assert harness.phase("shop") == "Succeeded"
        assert len(harness.recorder.of(SyncSucceeded, "shop")) == 3
        with pytest.raises(OperationRefused, match="no entry with ID 7"):
            controller.rollback("shop", actor="U0ALICE", history_id=7)
    finally:
        harness.close()
