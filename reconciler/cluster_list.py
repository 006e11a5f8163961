"""Listing for ``reconciler.cluster.Cluster``: which kinds are worth scanning, a list read page
by page, and the search for the objects an app tracks.

Kept apart from ``cluster.py`` (which imports ``kubernetes``) because none of it needs the
client: discovery's ``Resource`` objects are read through their attributes (``group``,
``kind``, ``verbs``, ``preferred``, ``namespaced``) and requests go through the callables the
Cluster passes in.

``find_tracked`` looks at every listable kind, since the tracking annotation can be on any of
them. Within a ``NamespaceScope`` it lists each namespaced kind once per listed namespace and
skips cluster-scoped kinds, so it works with a ServiceAccount that has only a Role in each
namespace. A kind that cannot be listed because it went away (404, 405, 410) is skipped; a
kind the account may not list (403) is not: an app whose leftovers cannot be seen would never
be pruned and nobody would know, so the search fails with an error naming every such kind and
namespace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from reconciler.cluster_scope import NamespaceScope, forbidden, where
from reconciler.errors import ClusterError
from reconciler.model import TRACKING_ANNOTATION

log = logging.getLogger("reconciler.cluster")

Objects = list[dict[str, Any]]
ListOne = Callable[[Any, "str | None"], Objects]

# Kinds never worth scanning for tracked objects: numerous, short-lived, never in Git.
UNTRACKED_KINDS: Final = frozenset({("", "Event"), ("events.k8s.io", "Event")})
LIST_PAGE: Final = 500
_NAMED_IN_ERRORS: Final = 6  # forbidden kinds named in one message, the rest counted


def with_type(obj: dict[str, Any], resource: Any) -> dict[str, Any]:
    """List items come without apiVersion and kind; put them back."""
    obj.setdefault("apiVersion", resource.group_version)
    obj.setdefault("kind", resource.kind)
    return obj


def listable(resources: Iterable[Any], scope: NamespaceScope) -> list[Any]:
    """The discovered resources to scan for tracked objects: one (the preferred version) per
    (group, kind) that can be listed, Events left out, and only namespaced kinds when the
    scope is a list of namespaces; sorted by (group, kind)."""
    chosen: dict[tuple[str, str], Any] = {}
    for resource in resources:
        group = resource.group or ""
        if "list" not in (resource.verbs or []) or (group, resource.kind) in UNTRACKED_KINDS:
            continue
        if not scope.cluster_wide and not resource.namespaced:
            continue
        current = chosen.get((group, resource.kind))
        if current is None or (resource.preferred and not current.preferred):
            chosen[(group, resource.kind)] = resource
    return sorted(chosen.values(), key=lambda r: (r.group or "", r.kind))


def read_pages(fetch: Callable[[str | None], dict[str, Any]], resource: Any) -> Objects:
    """Every item of a list read in pages: ``fetch(continue_token)`` returns one page."""
    items: Objects = []
    token: str | None = None
    while True:
        page = fetch(token)
        items.extend(with_type(item, resource) for item in page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue") or None
        if not token:
            return items


def find_tracked(
    app: str, resources: Sequence[Any], scope: NamespaceScope, list_one: ListOne
) -> Objects:
    """Every object of ``resources`` whose tracking annotation names ``app``, each once.
    ``list_one(resource, namespace)`` lists one kind in one namespace (None: all). Raises
    ClusterError (403) naming every kind and namespace the account may not list."""
    prefix = f"{app}:"
    found: dict[str, dict[str, Any]] = {}
    refused: list[str] = []
    for resource in resources:
        namespaces = scope.listing() if resource.namespaced else (None,)
        for namespace in namespaces:
            try:
                items = list_one(resource, namespace)
            except ClusterError as exc:
                if exc.code == 403:
                    refused.append(where(resource.kind, namespace, bool(resource.namespaced)))
                    continue
                if exc.code in (404, 405, 410):
                    log.debug("skipping %s while listing tracked objects: %s", resource.kind, exc)
                    continue
                raise
            for item in items:
                annotations = (item.get("metadata") or {}).get("annotations") or {}
                if str(annotations.get(TRACKING_ANNOTATION, "")).startswith(prefix):
                    uid = str(item["metadata"].get("uid") or id(item))
                    found.setdefault(uid, item)
    if refused:
        named = ", ".join(refused[:_NAMED_IN_ERRORS])
        more = len(refused) - _NAMED_IN_ERRORS
        what = named + (f" and {more} more" if more > 0 else "")
        message = forbidden("list", what, scope, plural=len(refused) > 1)
        raise ClusterError(
            f"cannot look for the objects of app {app}: {message}", code=403, reason="Forbidden"
        )
    return list(found.values())


__all__ = ["LIST_PAGE", "UNTRACKED_KINDS", "find_tracked", "listable", "read_pages", "with_type"]
