"""What the reconciler needs from a Kubernetes cluster, as a typing.Protocol.

``reconciler.cluster.Cluster`` implements it over the real ``kubernetes`` client; comparison
and the sync engine are written against this protocol so they can be exercised against other
implementations (a recording wrapper, a cluster that injects faults). The error classes live
here too, so an implementation can raise them without importing ``kubernetes``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final, Literal, Protocol

from reconciler.errors import ClusterError
from reconciler.model import ResourceKey

FIELD_MANAGER: Final = "kajitori"
Objects = list[dict[str, Any]]
PropagationPolicy = Literal["Foreground", "Background", "Orphan"]


class UnknownKindError(ClusterError):
    """The API server serves no resource for the object's group, version and kind (for
    example a custom resource whose CRD is not installed yet)."""


class ConflictError(ClusterError):
    """409: a server-side apply conflict with another field manager, or a stale write."""


class UnreachableError(ClusterError):
    """The API server could not be reached or did not answer in time (code 0)."""


class ClusterProtocol(Protocol):
    """A Kubernetes API as the reconciler uses it. Objects are plain JSON-like dicts carrying
    apiVersion and kind. Every method raises ClusterError (or a subclass) on failure."""

    def is_namespaced(self, group: str, kind: str) -> bool | None:
        """True/False from discovery; None when the cluster serves no such kind (after
        refreshing discovery once)."""
        ...

    def get(self, key: ResourceKey, api_version: str | None = None) -> dict[str, Any] | None:
        """The live object (in ``api_version``, else the preferred version), None if absent."""
        ...

    def list(
        self,
        group: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        api_version: str | None = None,
    ) -> Objects:
        """Objects of one kind, in one namespace or (None) everywhere; [] for a namespace
        that does not exist."""
        ...

    def list_tracked(self, app: str, exclude: Collection[ResourceKey] = frozenset()) -> Objects:
        """Every object, of every listable kind, whose tracking annotation names ``app``,
        except those whose key is in ``exclude`` (the caller has them already)."""
        ...

    def apply(
        self, obj: Mapping[str, Any], *, force: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        """Server-side apply of ``obj`` as field manager ``kajitori``; returns the object the
        server stored (or, with ``dry_run``, would store). ConflictError when another manager
        owns a field ``obj`` sets and ``force`` is False."""
        ...

    def delete(
        self,
        key: ResourceKey,
        *,
        propagation: PropagationPolicy = "Foreground",
        dry_run: bool = False,
    ) -> bool:
        """Delete an object; False when it was already gone."""
        ...
