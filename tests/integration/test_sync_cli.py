"""`kajitori sync`, `kajitori history` and `kajitori rollback` over a real Git repository
(sock-shop from the corpus, rendered with Kustomize) and the Kubernetes emulator."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import COMMAND_MODULES, main
from reconciler.cluster import Cluster
from reconciler.config import load_config
from reconciler.manifests import ManifestLoader
from reconciler.model import ResourceKey
from reconciler.source import GitSource
from reconciler.state import SQLiteStore
from reconciler.sync import SyncOperation
from reconciler.sync_runner import persist
from tests.integration.sync_helpers import writes

CONFIG = """\
apiVersion: kajitori.dev/v1alpha1
kind: Settings
controller:
  cacheDir: {cache}
  statePath: {state}
  waveDelay: 0s
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: sock-shop
spec:
  project: default
  source:
    repoURL: {repo}
    path: sock-shop
    targetRevision: main
  destination:
    server: https://kubernetes.default.svc
    namespace: sock-shop
  syncPolicy:
    syncOptions: [CreateNamespace=true]
  revisionHistoryLimit: 2
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: migrate
spec:
  source:
    repoURL: {repo}
    path: migrate
    targetRevision: main
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
  syncPolicy:
    syncOptions: [CreateNamespace=true]
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: auto
spec:
  project: default
  source:
    repoURL: {repo}
    path: sock-shop
  destination:
    server: https://kubernetes.default.svc
    namespace: sock-shop
  syncPolicy:
    automated: {{}}
    syncOptions: [CreateNamespace=true]
"""


MIGRATE = """\
apiVersion: batch/v1
kind: Job
metadata:
  generateName: migrate-
  annotations:
    argocd.argoproj.io/hook: PreSync
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: migrate, image: busybox, command: [sleep, "40"]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: blue
"""


def git(work: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", "-C", str(work)]
    done = subprocess.run([*command, *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, corpus: Path) -> Path:
    work = tmp_path / "repo"
    shutil.copytree(corpus / "argocd-example-apps" / "sock-shop", work / "sock-shop")
    (work / "migrate").mkdir()
    (work / "migrate" / "app.yaml").write_text(MIGRATE)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "sock-shop as in the corpus")
    return work


@pytest.fixture
def config(tmp_path: Path, repo: Path) -> Path:
    path = tmp_path / "kajitori.yaml"
    path.write_text(CONFIG.format(cache=tmp_path / "cache", state=tmp_path / "state.db", repo=repo))
    return path


def run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def front_end_image(kubeconfig: Path) -> str:
    cluster = Cluster.from_kubeconfig(kubeconfig)
    try:
        live = cluster.get(ResourceKey("apps", "Deployment", "sock-shop", "front-end"))
    finally:
        cluster.close()
    assert live is not None
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"])


def test_the_commands_are_registered() -> None:
    assert {"reconciler.cli.sync", "reconciler.cli.history"} <= set(COMMAND_MODULES)


def test_sync_history_and_rollback(
    capsys: Any, kube: Any, kubeconfig: Path, config: Path, repo: Path, tmp_path: Path
) -> None:
    common = ("-c", str(config), "--kubeconfig", str(kubeconfig), "--poll-interval", "0.05")
    first_commit = git(repo, "rev-parse", "HEAD")

    code, out, err = run(capsys, "sync", "sock-shop", *common)
    assert (code, err) == (0, "")
    assert f"sync sock-shop to {first_commit[:12]} (sock-shop as in the corpus)" in out
    assert "dry run passed for 29 tasks" in out
    assert "Sync wave 0: 29 tasks" in out
    assert "deployment.apps/front-end: Running (created)" in out
    assert out.rstrip().endswith("resources: 30 Synced")  # with the namespace
    assert "Succeeded: successfully synced (all tasks run)" in out
    original = front_end_image(kubeconfig)

    deployment = repo / "sock-shop" / "base" / "front-end-dep.yaml"
    deployment.write_text(deployment.read_text().replace(original, "nginx:1.27"))
    git(repo, "commit", "-q", "-am", "try nginx")
    second_commit = git(repo, "rev-parse", "HEAD")
    assert run(capsys, "sync", "sock-shop", *common)[0] == 0
    assert front_end_image(kubeconfig) == "nginx:1.27"

    code, out, _ = run(capsys, "history", "sock-shop", "-c", str(config))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "DEPLOYED", "AT", "REVISION", "INITIATED", "BY"]
    assert [line.split()[:1] + line.split()[2:3] for line in lines[1:]] == [
        ["0", first_commit],
        ["1", second_commit],
    ]

    code, out, err = run(capsys, "rollback", "sock-shop", *common)
    assert (code, err) == (0, "")
    assert f"rolling back sock-shop to history entry 0 ({first_commit[:12]})" in out
    assert front_end_image(kubeconfig) == original
    with SQLiteStore(tmp_path / "state.db") as store:
        history = store.history("sock-shop")
        last = store.operation("sock-shop")
    assert [(e.id, e.revision) for e in history] == [(1, second_commit), (2, first_commit)]
    assert last is not None and last["operation"]["sync"]["syncStrategy"] == {"apply": {}}

    code, _, err = run(capsys, "rollback", "sock-shop", "7", *common)
    assert code == 2 and "history has no entry with ID 7 (known IDs: 1, 2)" in err


def test_rollback_is_refused_while_auto_sync_is_on(
    capsys: Any, kube: Any, kubeconfig: Path, config: Path
) -> None:
    common = ("-c", str(config), "--kubeconfig", str(kubeconfig), "--poll-interval", "0.05")
    assert run(capsys, "sync", "auto", *common)[0] == 0
    assert run(capsys, "sync", "auto", *common)[0] == 0

    code, _, err = run(capsys, "rollback", "auto", *common)

    assert code == 2
    assert "rollback cannot be initiated when auto-sync is enabled" in err


def test_sync_exits_1_when_the_sync_fails(
    capsys: Any, kube: Any, kubeconfig: Path, config: Path, repo: Path
) -> None:
    broken = repo / "sock-shop" / "base" / "carts-svc.yaml"
    broken.write_text(broken.read_text().replace("port: 80", "port: 99999"))
    git(repo, "commit", "-q", "-am", "a port out of range")

    code, out, _ = run(
        capsys, "sync", "sock-shop", "-c", str(config), "--kubeconfig", str(kubeconfig)
    )

    assert code == 1
    assert "Failed: one or more objects failed to apply (dry run)" in out
    assert "Service/sock-shop/carts" in out


def test_bad_resource_argument_is_named(capsys: Any, config: Path) -> None:
    code, _, err = run(capsys, "sync", "sock-shop", "-c", str(config), "--resource", "Service")
    assert code == 2
    assert "--resource 'Service': expected GROUP:KIND:NAME" in err


def test_a_timeout_terminates_the_operation(
    capsys: Any, kube: Any, kubeconfig: Path, config: Path
) -> None:
    kube.time_factor = 1.0  # the PreSync Job now sleeps 40 s
    common = ("-c", str(config), "--kubeconfig", str(kubeconfig), "--poll-interval", "0.05")

    code, out, _ = run(capsys, "sync", "migrate", *common, "--timeout", "0.5")

    assert code == 1
    assert "PreSync wave 0: 1 task" in out
    assert "Failed: Operation terminated" in out
    assert "settings" not in out  # the Sync wave never ran
    deleted = [w for w in writes(kube) if w["verb"] == "delete" and w["kind"] == "Job"]
    assert len(deleted) == 1


def test_an_interrupted_operation_is_resumed_by_the_next_sync(
    capsys: Any, kube: Any, kubeconfig: Path, config: Path, tmp_path: Path
) -> None:
    app = load_config(config).app("migrate")
    git_source = GitSource(tmp_path / "cache" / "repos")
    try:
        manifests = ManifestLoader(git_source).load(app)
    finally:
        git_source.close()
    cluster = Cluster.from_kubeconfig(kubeconfig)
    store = SQLiteStore(tmp_path / "state.db")
    try:
        operation = SyncOperation.start(
            app, manifests.objects, cluster, revision=manifests.commit.sha, wave_delay=0
        )
        operation.step()  # the PreSync Job is created ...
        persist(store, app, operation)  # ... and saved; then the process is killed
        operation.close()
    finally:
        store.close()
        cluster.close()
    common = ("-c", str(config), "--kubeconfig", str(kubeconfig), "--poll-interval", "0.05")

    code, out, _ = run(capsys, "sync", "migrate", *common)

    assert code == 0
    assert "resuming the interrupted operation of migrate" in out
    assert "Succeeded: successfully synced (all tasks run)" in out
    created = [w for w in writes(kube) if w["kind"] == "Job" and w["code"] == 201]
    assert len(created) == 1
    with SQLiteStore(tmp_path / "state.db") as reopened:
        assert [e.revision for e in reopened.history("migrate")] == [manifests.commit.sha]
