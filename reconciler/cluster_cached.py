"""Refresh-time reads that answer "which objects does this app own?" from the live cache.

Finding an app's objects that are no longer in Git (to offer them for pruning) means looking at
every kind the cluster serves, since the tracking annotation can be on any of them:
``Cluster.list_tracked`` lists them all, which on a real cluster is a hundred or more requests
per app per refresh. ``CachedReads`` is the ``ClusterProtocol`` the refresher uses instead:

- ``list_tracked(app)`` answers from ``LiveCache.objects_of(app)`` once the app has had one
  full scan in this process and every watched kind is synced. The full scan (the first refresh
  after start, or whenever a watched kind is not listed yet) also starts watches for every kind
  it found the app's objects in, so objects of a kind that has since left Git stay in view.
  Kinds kajitori itself creates are watched after the refresh that first sees them desired.
- Everything else (``get``, ``list``, the server-side dry-runs and writes) goes to the cluster:
  the desired objects are read fresh, so a comparison right after a sync never sees an object
  older than the sync's own write. The cache can lag the cluster by a watch event, so each
  object answered from it is read again (one gone, or no longer the app's, is left out): a
  just-pruned object is never offered for pruning twice. The comparer passes its desired keys
  in ``exclude``, so these reads are of the few objects that have left Git.

The sync engine keeps the full scan (``reconciler.sync_inventory``): pruning decides on it.

Within ``controller.namespaces`` the full scan and the cache both keep to those namespaces;
``scope`` is the wrapped cluster's, so the comparer knows it too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping
from typing import Any

from reconciler.cluster_protocol import ClusterProtocol, Objects, PropagationPolicy
from reconciler.cluster_scope import scope_of
from reconciler.livecache import LiveCache
from reconciler.model import ResourceKey
from reconciler.tracking import owner_app

log = logging.getLogger(__name__)


class CachedReads:
    """``cluster`` with ``list_tracked`` served by ``cache`` (module doc)."""

    def __init__(self, cluster: ClusterProtocol, cache: LiveCache) -> None:
        self.cluster = cluster
        self.cache = cache
        self.scope = scope_of(cluster)
        self._lock = threading.Lock()
        self._scanned: set[str] = set()
        self.full_scans = 0
        self.cached_answers = 0

    def list_tracked(self, app: str, exclude: Collection[ResourceKey] = frozenset()) -> Objects:
        with self._lock:
            scanned = app in self._scanned
        if scanned and self.cache.synced():
            with self._lock:
                self.cached_answers += 1
            return self._confirmed(app, self.cache.objects_of(app, exclude))
        found = self.cluster.list_tracked(app)  # everything: the kinds to watch come from it
        keyed = [(ResourceKey.of(obj), obj) for obj in found]
        wanted = [obj for key, obj in keyed if key not in exclude]
        try:
            for group, kind in sorted({(k.group, k.kind) for k, _ in keyed} - self.cache.kinds()):
                self.cache.watch(group, kind)
        except RuntimeError:  # the cache was stopped: shutting down, keep scanning
            return wanted
        with self._lock:
            self._scanned.add(app)
            self.full_scans += 1
        log.debug("app %s: full scan found %d tracked object(s)", app, len(found))
        return wanted

    def _confirmed(self, app: str, cached: Objects) -> Objects:
        """``cached`` as the cluster has them now: each read again, and one that is gone or
        no longer tracked by ``app`` left out."""
        confirmed: Objects = []
        for obj in cached:
            key = ResourceKey.of(obj)
            fresh = self.cluster.get(key, str(obj.get("apiVersion") or "") or None)
            if fresh is not None and owner_app(fresh, key) == app:
                confirmed.append(fresh)
        return confirmed

    # -- the rest goes to the cluster ------------------------------------------------------

    def is_namespaced(self, group: str, kind: str) -> bool | None:
        return self.cluster.is_namespaced(group, kind)

    def get(self, key: ResourceKey, api_version: str | None = None) -> dict[str, Any] | None:
        return self.cluster.get(key, api_version)

    def list(
        self,
        group: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        api_version: str | None = None,
    ) -> Objects:
        return self.cluster.list(group, kind, namespace, label_selector, api_version)

    def apply(
        self, obj: Mapping[str, Any], *, force: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        return self.cluster.apply(obj, force=force, dry_run=dry_run)

    def delete(
        self,
        key: ResourceKey,
        *,
        propagation: PropagationPolicy = "Foreground",
        dry_run: bool = False,
    ) -> bool:
        return self.cluster.delete(key, propagation=propagation, dry_run=dry_run)
