"""kajitori's health agrees with Argo CD on every real object of the gitops-engine corpus
(gitops-engine-health/expected.tsv; `none` means no health check for that kind)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from reconciler.health import ORDER, assess

pytestmark = pytest.mark.corpus


def _rows(corpus: Path) -> list[tuple[str, str]]:
    with (corpus / "gitops-engine-health" / "expected.tsv").open(newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        return [(row["file"], row["expected"]) for row in reader]


def test_every_row_of_expected_tsv(corpus: Path) -> None:
    folder = corpus / "gitops-engine-health"
    rows = _rows(corpus)
    assert len(rows) >= 25
    disagreements = []
    for file, expected in rows:
        health = assess(yaml.safe_load((folder / file).read_text()))
        got = "none" if health is None else str(health.status)
        if got != expected:
            disagreements.append(f"{file}: expected {expected}, got {got}")
    assert disagreements == []


def test_every_corpus_object_is_listed_and_assessed(corpus: Path) -> None:
    folder = corpus / "gitops-engine-health"
    listed = {file for file, _ in _rows(corpus)}
    assert listed == {path.name for path in folder.glob("*.yaml")}
    for file in sorted(listed):
        health = assess(yaml.safe_load((folder / file).read_text()))
        assert health is None or (health.status in ORDER and isinstance(health.message, str))
