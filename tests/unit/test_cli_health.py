"""`kajitori health -f FILE`: one line per object, and clear errors on bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from reconciler.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "health"

MULTI = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 1}
spec: {replicas: 1, paused: true}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
# an empty document is skipped
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status:
  conditions: [{type: Failed, status: "True", message: backoff limit reached}]
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, text: str, name: str = "objects.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_one_line_per_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["health", "-f", write(tmp_path, MULTI)], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "Deployment/web: Suspended — Deployment is paused",
        "ConfigMap/settings: no health check",
        "Job/migrate: Degraded — backoff limit reached",
    ]


def test_status_without_message_has_no_dash(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["health", "-f", str(FIXTURES / "deployment-healthy.yaml")], capsys)
    assert (code, out) == (0, "Deployment/web: Healthy\n")


def test_reads_stdin_and_several_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO((FIXTURES / "pvc-pending.yaml").read_text()))
    argv = ["health", "-f", "-", "-f", str(FIXTURES / "workflow-failed.yaml")]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert out.splitlines() == [
        "PersistentVolumeClaim/data: Progressing — Waiting for the claim to be bound",
        "Workflow/etl-x7k2p: Degraded — child 'etl-x7k2p-1234' failed",
    ]


def test_kind_list_is_expanded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = """\
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: a}, status: {phase: Bound}}
- {apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: b}, status: {phase: Lost}}
"""
    code, out, _ = run(["health", "-f", write(tmp_path, text)], capsys)
    assert code == 0
    assert out.splitlines() == [
        "PersistentVolumeClaim/a: Healthy",
        "PersistentVolumeClaim/b: Degraded — The bound volume was lost",
    ]


def test_json_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}}'
    code, out, _ = run(["health", "-f", write(tmp_path, text, "svc.json")], capsys)
    assert (code, out) == (0, "Service/api: Healthy\n")


def test_malformed_object_is_reported_not_fatal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["health", "-f", str(FIXTURES / "deployment-malformed.yaml")], capsys)
    assert code == 0
    assert out == (
        "Deployment/web: Unknown — malformed object: "
        "status.updatedReplicas should be an integer, not a string\n"
    )


def test_yaml_error_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n"
    path = write(tmp_path, text, "broken.yaml")
    code, out, err = run(["health", "-f", path], capsys)
    assert code == 1
    assert out == ""
    assert err.startswith(f"kajitori health: {path}:5: invalid YAML: ")


def test_yaml_error_in_later_document_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MULTI + "---\nkind: Pod\n  bad: indent\n"
    path = write(tmp_path, text, "later.yaml")
    code, out, err = run(["health", "-f", path], capsys)
    assert (code, out) == (1, "")
    assert f"{path}:{len(MULTI.splitlines()) + 3}: invalid YAML" in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "nope.yaml")
    code, out, err = run(["health", "-f", path], capsys)
    assert (code, out) == (1, "")
    assert err == f"kajitori health: {path}: cannot read: No such file or directory\n"


def test_document_that_is_not_an_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n- a\n- b\n")
    code, out, err = run(["health", "-f", path], capsys)
    assert (code, out) == (1, "")
    assert err == (
        f"kajitori health: {path}:5: document 2: "
        "expected a Kubernetes object (a mapping), got list\n"
    )


def test_document_without_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "apiVersion: v1\nmetadata: {name: x}\n")
    code, _, err = run(["health", "-f", path], capsys)
    assert code == 1
    assert err == f"kajitori health: {path}:1: document 1: the object has no kind\n"


def test_bad_file_among_good_ones_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = str(FIXTURES / "pvc-bound.yaml")
    bad = write(tmp_path, "kind: [\n", "bad.yaml")
    code, out, err = run(["health", "-f", good, "-f", bad], capsys)
    assert (code, out) == (1, "")
    assert bad in err


def test_file_option_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["health"])
    assert exit_info.value.code == 2
    assert "-f/--filename" in capsys.readouterr().err
