"""The Kubernetes emulator made to answer as namespaced RBAC would, for the tests of kajitori
limited to namespaces (``controller.namespaces``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from sandbox.kube import KubeEmulator
from sandbox.kube.control import Fault

FOREVER: Final = 1_000_000
FORBIDDEN: Final = (
    'forbidden: User "system:serviceaccount:kajitori:kajitori" cannot access this resource '
    "at the cluster scope"
)


def forbid_outside_namespaces(kube: KubeEmulator) -> Callable[[], int]:
    """Make the emulator refuse (403), as a ServiceAccount with only Roles is refused, every
    request that is not inside a namespace: lists and watches across all namespaces and
    anything cluster-scoped. Returns a function counting such requests made since."""
    kube.faults.add(Fault(namespace="", count=FOREVER, status=403, message=FORBIDDEN))

    def outside() -> int:
        left = sum(int(f["count"]) for f in kube.faults.pending() if f["namespace"] == "")
        return FOREVER - left

    return outside
