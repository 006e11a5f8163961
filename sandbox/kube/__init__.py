"""A Kubernetes API server emulator that kubectl and the official Python client accept.

``KubeEmulator`` (see :mod:`sandbox.kube.emulator`) serves discovery, OpenAPI, the built-in
kinds and CRD-defined ones with kube-apiserver's verbs and bookkeeping, runs simulated
controllers, and offers a control API under ``/_sandbox/`` (see README.md next to this file).
"""

from __future__ import annotations

from sandbox.kube.emulator import KubeEmulator

__all__ = ["KubeEmulator"]
