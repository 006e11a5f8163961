"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from sandbox.kube import KubeEmulator

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


# -- the Kubernetes API emulator (sandbox/kube) -------------------------------------------

KUBE_TIME_FACTOR = 0.05


@pytest.fixture(scope="session")
def kube_emulator() -> Iterator[KubeEmulator]:
    """One emulator per test process, on a free port, with simulated controllers running
    20 times faster than their documented delays. Prefer the ``kube`` fixture, which resets
    it for each test."""
    from sandbox.kube import KubeEmulator

    with KubeEmulator(time_factor=KUBE_TIME_FACTOR) as emulator:
        yield emulator


@pytest.fixture
def kube(kube_emulator: KubeEmulator) -> KubeEmulator:
    """The session's emulator, reset: default namespaces only, empty audit log, no faults,
    the test time factor."""
    kube_emulator.reset()
    kube_emulator.time_factor = KUBE_TIME_FACTOR
    return kube_emulator


@pytest.fixture
def kubeconfig(kube: KubeEmulator, tmp_path: Path) -> Path:
    """A kubeconfig file for the (reset) emulator, context ``kajitori-sandbox``."""
    return kube.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube_api(kubeconfig: Path) -> Iterator[ApiClient]:
    """A ``kubernetes.client.ApiClient`` configured from the emulator's kubeconfig."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=configuration
    )
    api = client.ApiClient(configuration)
    try:
        yield api
    finally:
        api.close()  # type: ignore[no-untyped-call]
