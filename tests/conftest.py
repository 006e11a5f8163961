"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORPUS = PROJECT_ROOT.parent / "shared" / "corpus"
CORPUS_SKIP_REASON = f"corpus absent: {CORPUS} (tests that read ../shared/corpus need it)"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus folder. Skips where it is absent; with KAJITORI_REQUIRE_CORPUS=1
    (set by .ci/run) its absence is a failure instead."""
    if not CORPUS.is_dir():
        if os.environ.get("KAJITORI_REQUIRE_CORPUS") == "1":
            pytest.fail(CORPUS_SKIP_REASON)
        pytest.skip(CORPUS_SKIP_REASON)
    return CORPUS
