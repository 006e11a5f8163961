"""`kajitori check -c FILE`: a summary and exit 0 for a valid file, every problem and exit 1
otherwise."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from reconciler.cli import COMMAND_MODULES
from reconciler.cli.check import check, register

VALID = """\
apiVersion: kajitori.dev/v1alpha1
kind: Settings
repositories:
  - url: https://github.com/example/
    password: {env: GIT_TOKEN}
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: team}
spec:
  sourceRepos: ["https://github.com/example/*"]
  destinations: [{server: https://kubernetes.default.svc, namespace: "*"}]
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: guestbook}
spec:
  project: team
  source: {repoURL: https://github.com/example/apps, path: guestbook}
  destination: {server: https://kubernetes.default.svc, namespace: guestbook}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: sock-shop}
spec:
  source: {repoURL: https://github.com/example/apps, path: sock-shop}
  destination: {server: https://kubernetes.default.svc, namespace: sock-shop}
"""

INVALID = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: guestbook}
spec:
  source: {path: guestbook}
  destination: {server: https://kubernetes.default.svc}
  syncPolicy: {automated: {prune: "yes"}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: guestbook}
spec:
  source: {repoURL: https://github.com/example/apps}
  destination: {server: https://kubernetes.default.svc}
"""


def run_check(tmp_path: Path, text: str, env: dict[str, str]) -> tuple[int, str, str]:
    path = tmp_path / "apps.yaml"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = check(path, env, out, err)
    return code, out.getvalue(), err.getvalue()


def test_valid_file_prints_a_summary(tmp_path: Path) -> None:
    code, out, err = run_check(tmp_path, VALID, {"GIT_TOKEN": "token-SENTINEL"})
    assert (code, out, err) == (0, "2 applications, 2 projects OK\n", "")


def test_invalid_file_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    code, out, err = run_check(tmp_path, INVALID, {})
    path = tmp_path / "apps.yaml"
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{path}: document 1 (Application guestbook): spec.source.repoURL: required (line 5)",
        f"{path}: document 1 (Application guestbook): spec.syncPolicy.automated.prune: "
        "expected a boolean, got 'yes' (line 7)",
        f"{path}: document 2 (Application guestbook): metadata.name: duplicate application name "
        "'guestbook' (first defined in document 1) (line 11)",
        f"{path}: 3 problems found",
    ]


def test_secrets_come_from_the_given_environment_and_are_never_printed(tmp_path: Path) -> None:
    code, out, err = run_check(tmp_path, VALID, {})
    assert code == 1
    assert "repositories[0].password.env: environment variable GIT_TOKEN is not set" in err
    bad = VALID.replace("{env: GIT_TOKEN}", "[token-SENTINEL]")
    code, out, err = run_check(tmp_path, bad, {})
    assert code == 1 and "SENTINEL" not in out + err


def test_missing_file(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert check(tmp_path / "nope.yaml", {}, out, err) == 1
    assert f"{tmp_path / 'nope.yaml'}: file not found" in err.getvalue()


def test_registered_subcommand_reads_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "reconciler.cli.check" in COMMAND_MODULES
    parser = argparse.ArgumentParser(prog="kajitori")
    register(parser.add_subparsers())
    path = tmp_path / "apps.yaml"
    path.write_text(VALID, encoding="utf-8")
    monkeypatch.setenv("GIT_TOKEN", "from-process-env")
    args = parser.parse_args(["check", "-c", str(path)])
    assert args.handler(args) == 0
    assert capsys.readouterr().out == "2 applications, 2 projects OK\n"
    with pytest.raises(SystemExit):
        parser.parse_args(["check"])  # -c is required


def test_through_the_kajitori_entry_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main

    path = tmp_path / "apps.yaml"
    path.write_text(INVALID, encoding="utf-8")
    assert main(["check", "-c", str(path)]) == 1
    assert capsys.readouterr().err.endswith(f"{path}: 3 problems found\n")
