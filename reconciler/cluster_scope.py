"""Where kajitori may read and write: every namespace, or only those of ``controller.namespaces``.

The Helm chart can give kajitori a Role in each of a list of namespaces and nothing
cluster-wide. A ServiceAccount bound that way is refused every request that is not inside one
of those namespaces: listing a kind across all namespaces, and reading or writing anything
cluster-scoped (Namespaces, CRDs, ClusterRoles). ``NamespaceScope`` is that list as kajitori
sees it: ``reconciler.cluster.Cluster`` refuses a request outside it before sending it (an
``OutOfScopeError`` naming the object and the setting, instead of the API server's 403), lists
namespaced kinds one listed namespace at a time and leaves cluster-scoped kinds alone; the
live cache watches each kind per listed namespace. An empty scope is cluster-wide.

A 403 the server does send (RBAC narrower than the scope, or a cluster-wide install without a
ClusterRole) is worded by ``forbidden`` for reads: it names the kind and the namespace and
says that the account kajitori runs as lacks the permission, and how to grant it.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from reconciler.errors import ClusterError

OUT_OF_SCOPE: Final = "OutOfScope"
SETTING: Final = "controller.namespaces"


class OutOfScopeError(ClusterError):
    """A request for an object outside ``controller.namespaces``, refused by kajitori itself
    (code 403, reason ``OutOfScope``) without asking the API server."""


@dataclass(frozen=True)
class NamespaceScope:
    """The namespaces kajitori may use; empty means all of them and cluster-scoped kinds."""

    namespaces: tuple[str, ...] = ()

    @classmethod
    def of(cls, namespaces: Iterable[str]) -> NamespaceScope:
        """A scope over ``namespaces`` in their order, each once."""
        return cls(tuple(dict.fromkeys(namespaces)))

    @property
    def cluster_wide(self) -> bool:
        return not self.namespaces

    def allows(self, namespace: str) -> bool:
        """Whether an object in ``namespace`` ("" for a cluster-scoped one) may be used."""
        return self.cluster_wide or namespace in self.namespaces

    def listing(self) -> tuple[str | None, ...]:
        """The namespaces to list a namespaced kind in: None (all) when cluster-wide."""
        return self.namespaces or (None,)

    def describe(self) -> str:
        return ", ".join(self.namespaces) if self.namespaces else "all namespaces"

    def refusal(self, namespace: str) -> str:
        """Why an object in ``namespace`` ("" when cluster-scoped) is out of this scope."""
        if namespace:
            return (
                f"namespace {namespace} is not in {SETTING} ({self.describe()}): kajitori may "
                "not read or write there"
            )
        return (
            f"it is cluster-scoped, and {SETTING} ({self.describe()}) limits kajitori "
            "to those namespaces"
        )

    def refuse(self, action: str, what: str, namespace: str) -> OutOfScopeError:
        """The error for ``action`` on ``what`` (an object or a kind) in ``namespace``."""
        return OutOfScopeError(
            f"{action} {what}: {self.refusal(namespace)}", code=403, reason=OUT_OF_SCOPE
        )


def where(kind: str, namespace: str | None, namespaced: bool = True) -> str:
    """``kind`` with the namespace a read covers, for messages: "ConfigMap in namespace shop",
    "ConfigMap in all namespaces" or, cluster-scoped, just "Namespace"."""
    if not namespaced:
        return kind
    return f"{kind} in namespace {namespace}" if namespace else f"{kind} in all namespaces"


def forbidden(
    action: str, what: str, scope: NamespaceScope, detail: str = "", *, plural: bool = False
) -> str:
    """The message of a 403 on a read (``action`` get, list or watch of ``what``, named with
    ``where``; ``plural`` when it names several): the account lacks the permission, and how to
    grant it in this scope."""
    if scope.cluster_wide:
        grant = (
            "grant it in a ClusterRole, or limit kajitori to the namespaces it may use with "
            f"{SETTING} (the Helm chart sets it from rbac.namespaces)"
        )
    else:
        grant = "grant it in the Role of that namespace (the Helm chart's rbac.readRules)"
    if plural:
        grant = grant.replace("grant it", "grant them").replace("that namespace", "each namespace")
    server = f" (the API server said: {detail})" if detail else ""
    return (
        f"{action} {what}: forbidden: the account kajitori runs as (its ServiceAccount) lacks "
        f"permission to {action} {'them' if plural else 'it'}; {grant}{server}"
    )


def scope_of(cluster: object) -> NamespaceScope:
    """The scope of ``cluster`` (its ``scope`` attribute), cluster-wide when it has none."""
    scope = getattr(cluster, "scope", None)
    return scope if isinstance(scope, NamespaceScope) else NamespaceScope()


__all__ = [
    "OUT_OF_SCOPE",
    "NamespaceScope",
    "OutOfScopeError",
    "forbidden",
    "scope_of",
    "where",
]
