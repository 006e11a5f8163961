"""`kajitori diff APP -c FILE` over a real local Git repository and the Kubernetes emulator."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.cli import COMMAND_MODULES
from reconciler.cli import diff as diff_cli
from reconciler.cluster import Cluster
from reconciler.compare import compare
from reconciler.config import load_config
from sandbox.kube import KubeEmulator

CONFIG = """\
apiVersion: kajitori.dev/v1alpha1
kind: Settings
controller:
  cacheDir: {cache}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
spec:
  project: default
  source:
    repoURL: {repo}
    path: guestbook
    targetRevision: main
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
"""


def main(argv: list[str]) -> int:
    """The `kajitori` entry point limited to this subcommand."""
    parser = argparse.ArgumentParser(prog="kajitori")
    diff_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


@pytest.fixture
def config(tmp_path: Path, corpus: Path) -> Path:
    work = tmp_path / "repo"
    shutil.copytree(corpus / "argocd-example-apps" / "guestbook", work / "guestbook")
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", "-C", str(work)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "guestbook"], check=True)
    path = tmp_path / "kajitori.yaml"
    path.write_text(CONFIG.format(cache=tmp_path / "cache", repo=work))
    return path


def test_the_command_is_registered() -> None:
    assert "reconciler.cli.diff" in COMMAND_MODULES


def test_diff_before_deploying_shows_every_object_and_exits_1(
    kube: KubeEmulator, kubeconfig: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", "guestbook", "-c", str(config), "--kubeconfig", str(kubeconfig)]) == 1
    captured = capsys.readouterr()
    assert "+++ desired/Deployment.apps/guestbook/guestbook-ui" in captured.out
    assert "+++ desired/Service/guestbook/guestbook-ui" in captured.out
    assert "namespace guestbook does not exist yet" in captured.err


def test_diff_after_deploying_prints_nothing_and_exits_0(
    kube: KubeEmulator, kubeconfig: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = Cluster.from_kubeconfig(kubeconfig)
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "guestbook"}})
    app = load_config(config).app("guestbook")
    for resource in compare(app, _rendered(config), cluster).resources:
        assert resource.desired is not None
        cluster.apply(resource.desired)
    cluster.close()
    args = ["diff", "guestbook", "-c", str(config), "--kubeconfig", str(kubeconfig)]
    assert main([*args, "--context", "kajitori-sandbox"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Synced, 0 of 2 resources differ" in captured.err


def test_diff_of_an_unknown_app_exits_2(
    kubeconfig: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", "nope", "-c", str(config), "--kubeconfig", str(kubeconfig)]) == 2
    assert "nope" in capsys.readouterr().err


def test_diff_against_an_unreachable_cluster_exits_2(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "gone.yaml"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        "clusters: [{name: gone, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: u}}]\n"
    )
    assert main(["diff", "guestbook", "-c", str(config), "--kubeconfig", str(kubeconfig)]) == 2
    assert "cannot reach the Kubernetes API at http://127.0.0.1:9" in capsys.readouterr().err


def _rendered(config: Path) -> list[dict[str, object]]:
    from reconciler.manifests import ManifestLoader
    from reconciler.source import GitSource

    loaded = load_config(config)
    git = GitSource(config.parent / "cache" / "repos", loaded.settings.repositories)
    try:
        return list(ManifestLoader(git).load(loaded.app("guestbook")).objects)
    finally:
        git.close()


def test_diff_keeps_to_the_namespaces_of_the_settings(
    kube: KubeEmulator,
    kubeconfig: Path,
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With controller.namespaces, an object of the app in another namespace is reported by
    name, not read from the cluster (which a Role-only ServiceAccount could not do)."""
    work = tmp_path / "repo"
    (work / "guestbook" / "elsewhere.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray, namespace: elsewhere}\n"
    )
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", "-C", str(work)]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a stray object"], check=True)
    text = config.read_text()
    config.write_text(text.replace("controller:\n", "controller:\n  namespaces: [guestbook]\n"))

    assert main(["diff", "guestbook", "-c", str(config), "--kubeconfig", str(kubeconfig)]) == 2
    err = capsys.readouterr().err
    assert "ConfigMap/elsewhere/stray: namespace elsewhere is not in controller.namespaces" in err
