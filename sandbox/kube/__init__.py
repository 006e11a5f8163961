"""A Kubernetes API server emulator that kubectl and the official Python client accept.

``KubeEmulator`` (see :mod:`sandbox.kube.emulator`) serves discovery, OpenAPI, the built-in
kinds and CRD-defined ones with kube-apiserver's verbs and bookkeeping, runs simulated
controllers, and offers a control API under ``/_sandbox/`` (see README.md next to this file).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.kube.emulator import KubeEmulator

__all__ = ["KubeEmulator"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so that ``kajitori --help`` (which registers this package's
    # command) does not import the whole emulator.
    if name == "KubeEmulator":
        from sandbox.kube.emulator import KubeEmulator

        return KubeEmulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
