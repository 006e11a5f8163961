"""The vocabulary between the live cache and the Kubernetes watch edge.

``reconciler.livecache.LiveCache`` is written against ``WatchSource`` so it never imports
``kubernetes``; ``reconciler.cluster_watch.ClusterWatch`` implements it over the real client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from reconciler.errors import ClusterError

ADDED: Final = "ADDED"
MODIFIED: Final = "MODIFIED"
DELETED: Final = "DELETED"
BOOKMARK: Final = "BOOKMARK"


@dataclass(frozen=True)
class WatchedResource:
    """One API resource as discovery describes it: (group, version, plural) and its kind."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True)
class ListResult:
    """A complete list of one resource and the resourceVersion to watch from."""

    items: list[dict[str, Any]] = field(default_factory=list)
    resource_version: str = ""


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: ADDED, MODIFIED, DELETED or BOOKMARK (``obj`` is then a stub), with
    the resourceVersion to resume from after it."""

    type: str
    obj: dict[str, Any]
    resource_version: str


class WatchExpired(ClusterError):
    """410 Gone: the server no longer has events from the requested resourceVersion (or a
    list's continue token expired). The only way on is a fresh list."""


class WatchStream(Protocol):
    """An open watch. Iterating blocks until the next event; the iteration ends when the
    server ends the watch (its timeout) and raises ClusterError when it breaks
    (WatchExpired for 410 Gone). ``close()`` may be called from another thread and makes the
    iteration end quietly."""

    def __iter__(self) -> Iterator[WatchEvent]: ...

    def close(self) -> None: ...


class WatchSource(Protocol):
    """List and watch for the live cache, in one namespace or (None) in all of them. Errors
    are ClusterError (UnknownKindError when the cluster serves no such kind).

    ``namespaces`` are the namespaces the source may read (``controller.namespaces``); empty
    means all of them, and cluster-scoped kinds too. The live cache then watches each
    namespaced kind once per namespace and no cluster-scoped kind."""

    @property
    def namespaces(self) -> tuple[str, ...]: ...

    def resolve(self, group: str, kind: str) -> WatchedResource:
        """The preferred resource serving (group, kind)."""
        ...

    def refresh_discovery(self) -> None:
        """Forget discovery, so a CRD installed since is found."""
        ...

    def list(self, resource: WatchedResource, namespace: str | None = None) -> ListResult:
        """Every object of ``resource`` in ``namespace`` (None: all namespaces, or a
        cluster-scoped kind), as one consistent snapshot."""
        ...

    def watch(
        self,
        resource: WatchedResource,
        resource_version: str,
        timeout_seconds: float,
        namespace: str | None = None,
    ) -> WatchStream:
        """Changes after ``resource_version`` (in ``namespace`` as for ``list``); the server
        ends the watch after ``timeout_seconds``."""
        ...


__all__ = [
    "ADDED",
    "BOOKMARK",
    "DELETED",
    "MODIFIED",
    "ListResult",
    "WatchEvent",
    "WatchExpired",
    "WatchSource",
    "WatchStream",
    "WatchedResource",
]
