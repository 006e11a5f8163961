"""What survives a restart (a new Controller on the same SQLite file): an operation in flight
resumes without running its PreSync Job again, one that cannot be resumed ends with a clear
message, and run-time switches keep their value, author and time."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_config
from reconciler.events import AppAdded, AppRemoved, SyncFailed, SyncRunning
from reconciler.state import SQLiteStore
from tests.integration.controller_helpers import (
    Harness,
    Remote,
    app_yaml,
    config_of,
    config_text,
    configmap,
    created,
    deployment,
    hook_job,
)

NS = "shop"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "repo")


def make(kubeconfig: Path, tmp_path: Path, remote: Remote, **automated: Any) -> Harness:
    app = app_yaml("shop", remote, namespace=NS, automated=automated or {})
    return Harness(kubeconfig, tmp_path, config_of([app], tmp_path / "state.db"))


def hook_running(operation: dict[str, Any] | None) -> bool:
    """Whether the operation state shows its Job hook running."""
    results = ((operation or {}).get("syncResult") or {}).get("resources") or []
    return any(r.get("kind") == "Job" and r.get("hookPhase") == "Running" for r in results)


def test_a_restart_during_a_presync_hook_resumes_without_a_second_job(
    kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote
) -> None:
    # sleep 20 takes 1 s at the emulator's time factor: long enough to restart meanwhile
    objects = [hook_job("migrate", "PreSync", "sleep", "20"), configmap("settings")]
    objects.append(deployment("web"))
    revision = remote.commit({"shop/app.yaml": objects}, "v1 with a migration")
    harness = make(kubeconfig, tmp_path, remote)
    try:
        harness.start()
        harness.wait(lambda: hook_running(harness.controller.operation("shop")), what="the hook")
        started_at = (harness.controller.operation("shop") or {})["startedAt"]

        harness.restart()
        state = harness.wait_phase("shop", "Succeeded", revision=revision, timeout=20)

        assert state["startedAt"] == started_at  # the same operation, resumed
        assert len(created(kube, "Job", "migrate")) == 1
        assert created(kube, "ConfigMap", "settings") and created(kube, "Deployment", "web")
        resumed = harness.recorder.wait_for(SyncRunning, lambda e: "resumed" in e.message)
        assert resumed.revision == revision
        assert [h.revision for h in harness.controller.history("shop")] == [revision]
    finally:
        harness.close()


def test_an_operation_that_cannot_be_resumed_ends_with_a_clear_message(
    kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote
) -> None:
    remote.commit({"shop/app.yaml": [configmap("settings")]}, "v1")
    gone = "0123456789abcdef0123456789abcdef01234567"
    with SQLiteStore(tmp_path / "state.db") as store:
        store.save_operation(
            "shop",
            {
                "operation": {"sync": {"revision": "main"}, "initiatedBy": {"automated": True}},
                "phase": "Running",
                "message": "waiting for completion of hook batch/Job/migrate",
                "startedAt": "2024-05-01T10:00:00Z",
                "syncResult": {"revision": gone, "resources": []},
            },
        )
    harness = make(kubeconfig, tmp_path, remote)
    try:
        harness.start()
        failed = harness.recorder.wait_for(SyncFailed)
        assert failed.phase == "Error" and failed.revision == gone
        operation = harness.controller.operation("shop")
        assert operation is not None and operation["phase"] == "Error"
        assert operation["message"].startswith(
            f"could not resume the operation after a restart: the manifests of revision {gone}"
        )
        # the app is not stuck: auto-sync goes on with Git's revision
        harness.wait_phase("shop", "Succeeded", revision=harness.git.resolve(remote.url, "main"))
    finally:
        harness.close()


def test_run_time_switches_are_persisted_with_who_and_when(
    kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote
) -> None:
    remote.commit({"shop/app.yaml": [configmap("settings")]}, "v1")
    harness = make(kubeconfig, tmp_path, remote, selfHeal=False)
    try:
        controller = harness.start()
        assert controller.auto_sync_enabled("shop") and not controller.self_heal_enabled("shop")
        off = controller.set_auto_sync("shop", False, actor="U0ALICE")
        on = controller.set_self_heal("shop", True, actor="cli:bob")

        controller = harness.restart()
        assert controller.auto_sync_enabled("shop") is False
        assert controller.self_heal_enabled("shop") is True
        overrides = controller.app_status("shop")["status"]["overrides"]
        assert overrides == {
            "autoSync": {"enabled": False, "changedBy": "U0ALICE", "changedAt": off.changed_at},
            "selfHeal": {"enabled": True, "changedBy": "cli:bob", "changedAt": on.changed_at},
        }
        assert "automated" not in controller.app_status("shop")["spec"].get("syncPolicy", {})
        assert controller.apps()[0].auto_sync is False
        actions = [(a.actor, a.action) for a in controller.runtime.audit("shop")]
        assert actions == [("U0ALICE", "disable auto-sync"), ("cli:bob", "enable self-heal")]
    finally:
        harness.close()


def test_apps_added_and_removed_between_runs_are_announced(
    kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote
) -> None:
    remote.commit({"shop/app.yaml": [configmap("a")], "web/app.yaml": [configmap("b")]}, "v1")
    harness = make(kubeconfig, tmp_path, remote)
    try:
        harness.start()
        assert [e.app for e in harness.recorder.of(AppAdded)] == ["shop"]
        created_at = harness.status("shop")["metadata"]["creationTimestamp"]
        harness.restart()
        assert harness.status("shop")["metadata"]["creationTimestamp"] == created_at
        assert [e.app for e in harness.recorder.of(AppAdded)] == ["shop"]  # not again

        web = app_yaml("web", remote, namespace="web", automated={})
        harness.config = config_of([web], tmp_path / "state.db")
        harness.restart()
        assert [e.app for e in harness.recorder.of(AppRemoved)] == ["shop"]
        assert [e.app for e in harness.recorder.of(AppAdded)] == ["shop", "web"]
        assert harness.controller.app_names() == ["web"]
    finally:
        harness.close()


def test_a_controller_killed_with_sigkill_during_a_hook_is_resumed_by_the_next(
    kube: Any, kubeconfig: Path, tmp_path: Path, remote: Remote
) -> None:
    # sleep 40 takes 2 s at the emulator's time factor: the process dies while it runs
    objects = [hook_job("migrate", "PreSync", "sleep", "40"), configmap("settings")]
    revision = remote.commit({"shop/app.yaml": objects}, "v1 with a migration")
    app = app_yaml("shop", remote, namespace=NS, automated={})
    config_path = tmp_path / "kajitori.yaml"
    config_path.write_text(config_text([app], tmp_path / "state.db"))
    code = (
        "from tests.integration.controller_helpers import serve; serve(*__import__('sys').argv[1:])"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(kubeconfig), str(tmp_path / "child"), str(config_path)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with SQLiteStore(tmp_path / "state.db") as store:

            def hook_runs() -> bool:
                assert child.poll() is None, child.stderr.read() if child.stderr else ""
                return hook_running(store.operation("shop"))

            deadline = time.monotonic() + 30
            while not hook_runs():
                assert time.monotonic() < deadline, "the killed controller never ran the hook"
                time.sleep(0.05)
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            assert (store.operation("shop") or {}).get("phase") == "Running"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stderr is not None:
            child.stderr.close()

    harness = Harness(kubeconfig, tmp_path, load_config(config_path))
    try:
        harness.start()
        harness.wait_phase("shop", "Succeeded", revision=revision, timeout=20)
        assert len(created(kube, "Job", "migrate")) == 1
        assert harness.recorder.wait_for(SyncRunning, lambda e: "resumed" in e.message)
    finally:
        harness.close()
