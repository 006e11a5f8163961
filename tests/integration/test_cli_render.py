"""`kajitori render APP -c FILE` over a real local Git repository."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest
import yaml

from reconciler.cli import COMMAND_MODULES
from reconciler.cli import render as render_cli


def main(argv: list[str]) -> int:
    """The `kajitori` entry point limited to this subcommand (others are tested elsewhere)."""
    parser = argparse.ArgumentParser(prog="kajitori")
    render_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_the_command_is_registered() -> None:
    assert "reconciler.cli.render" in COMMAND_MODULES


CONFIG = """\
apiVersion: kajitori.dev/v1alpha1
kind: Settings
controller:
  cacheDir: {cache}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
spec:
  project: default
  source:
    repoURL: {repo}
    path: web
    targetRevision: main
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: broken
spec:
  source:
    repoURL: {repo}
    path: broken
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    work = tmp_path / "repo"
    (work / "web").mkdir(parents=True)
    (work / "broken").mkdir()
    (work / "web" / "app.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: two\nspec:\n  ports: [{port: 80}]\n"
    )
    (work / "broken" / "bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", "-C", str(work)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "apps"], check=True)
    path = tmp_path / "kajitori.yaml"
    path.write_text(CONFIG.format(cache=tmp_path / "cache", repo=work))
    return path


def test_render_prints_yaml_documents(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "web", "-c", str(config)]) == 0
    captured = capsys.readouterr()
    docs = list(yaml.safe_load_all(captured.out))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("ConfigMap", "one"),
        ("Service", "two"),
    ]
    assert captured.out.count("---\n") == 1
    assert "web: 2 objects" in captured.err and "(apps)" in captured.err
    assert (config.parent / "cache" / "repos").is_dir()


def test_render_errors_go_to_stderr_with_exit_1(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "broken", "-c", str(config)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "broken/bad.yaml:" in captured.err
    assert main(["render", "nope", "-c", str(config)]) == 1
    assert "nope" in capsys.readouterr().err
    assert main(["render", "web", "-c", str(config), "--revision", "no-such-branch"]) == 1
    assert "no-such-branch" in capsys.readouterr().err
