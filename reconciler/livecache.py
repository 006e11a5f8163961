"""A watch-based cache of the live objects of the kinds kajitori manages.

Reading every object on every poll does not scale and notices a manual edit only at the next
poll. ``LiveCache`` instead lists each watched kind once and then follows a watch from the
list's resourceVersion, one thread per kind (Kubernetes' list-then-watch, as client-go's
reflector and Argo CD's cluster cache do):

- Objects are indexed by ``ResourceKey``, by kind and by the app that owns them (the tracking
  annotation, ``reconciler.tracking.owner_app``).
- ``on_change(LiveChange)`` is called for every change seen after a kind's first list (a
  watch event, or a difference found by a re-list), so the controller can refresh the owning
  app within seconds. It runs on the kind's watch thread; several kinds call it concurrently,
  so it must be quick and thread-safe (queue work, do not do it).
- A watch the server ends normally (its timeout) is resumed from the last resourceVersion. A
  410 Gone (an expired resourceVersion) re-lists at once; any other failure (a dropped
  connection, a server error) re-lists after an exponential backoff (0.5 s doubling to 30 s).
  A re-list keeps the old objects until the new list is in, then applies the difference and
  reports it through ``on_change``: nothing is lost, nothing is reported twice.
- A kind the cluster does not serve (a CRD not installed yet) counts as synced and empty; it
  is looked up again, with discovery refreshed, on the same backoff.
- Kinds can be added and removed while running (``watch``, ``unwatch``, ``set_kinds``);
  ``synced()`` is True once every watched kind has been listed; ``stop()`` ends every watch.
- When the source is limited to namespaces (``WatchSource.namespaces``, from
  ``controller.namespaces``), each kind is listed and watched once per namespace, by a watcher
  of its own, and a cluster-scoped kind is not watched at all (it counts as synced and empty).
  Callers see no difference: they still watch a (group, kind).

Objects handed out are deep copies: callers may change them freely.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Final

from reconciler.jsoncopy import json_copy
from reconciler.livecache_watcher import KindWatcher
from reconciler.model import ResourceKey
from reconciler.tracking import owner_app
from reconciler.watch_types import DELETED, WatchedResource, WatchEvent, WatchSource

log = logging.getLogger(__name__)

GroupKind = tuple[str, str]
Obj = dict[str, Any]

DEFAULT_WATCH_TIMEOUT: Final = 300.0
BACKOFF_INITIAL: Final = 0.5
BACKOFF_MAX: Final = 30.0


@dataclass(frozen=True)
class LiveChange:
    """One object that changed: ``obj`` is it now (None once deleted), ``previous`` what the
    cache held before (None when new), ``apps`` the apps owning either."""

    key: ResourceKey
    obj: Obj | None
    previous: Obj | None
    apps: frozenset[str]

    @property
    def deleted(self) -> bool:
        return self.obj is None


@dataclass(frozen=True)
class KindStatus:
    """How the watch of one kind (in ``namespace``, "" for all) is doing; ``in_scope`` is
    False for a cluster-scoped kind, not watched within ``controller.namespaces``."""

    group: str
    kind: str
    synced: bool
    served: bool
    resource: WatchedResource | None
    objects: int
    relists: int
    last_error: str
    namespace: str = ""
    in_scope: bool = True


@dataclass(frozen=True)
class CacheStats:
    """Totals for metrics: watched kinds, cached objects, applied watch events, re-lists."""

    resources: int
    objects: int
    events: int
    relists: int


ChangeCallback = Callable[[LiveChange], None]


def _rv(obj: Obj | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


class LiveCache:
    """Live objects of the watched kinds, kept current by watches. See the module doc."""

    def __init__(
        self,
        source: WatchSource,
        *,
        on_change: ChangeCallback | None = None,
        watch_timeout: float = DEFAULT_WATCH_TIMEOUT,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.source = source
        self.on_change = on_change
        self.watch_timeout = watch_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.namespaces: tuple[str, ...] = tuple(source.namespaces)
        self._lock = threading.RLock()
        self._watchers: dict[GroupKind, tuple[KindWatcher, ...]] = {}
        self._objects: dict[ResourceKey, Obj] = {}
        self._owner: dict[ResourceKey, str] = {}
        self._by_kind: dict[GroupKind, set[ResourceKey]] = {}
        self._by_app: dict[str, set[ResourceKey]] = {}
        self._events = 0
        self._stopped = False

    # -- which kinds -------------------------------------------------------------------------

    def watch(self, group: str, kind: str) -> None:
        """Start caching (group, kind), e.g. ("apps", "Deployment"); no-op if already."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("the live cache is stopped")
            if (group, kind) in self._watchers:
                return
            watchers = tuple(
                KindWatcher(
                    self.source,
                    self,
                    group,
                    kind,
                    watch_timeout=self.watch_timeout,
                    backoff_initial=self.backoff_initial,
                    backoff_max=self.backoff_max,
                    namespace=namespace,
                )
                for namespace in self.namespaces or (None,)
            )
            self._watchers[(group, kind)] = watchers
            self._by_kind.setdefault((group, kind), set())
        for watcher in watchers:
            watcher.start()

    def unwatch(self, group: str, kind: str) -> None:
        """Stop caching (group, kind) and forget its objects (without change callbacks)."""
        with self._lock:
            watchers = self._watchers.pop((group, kind), ())
            for key in self._by_kind.pop((group, kind), set()):
                self._forget(key)
        for watcher in watchers:
            watcher.stop()

    def set_kinds(self, kinds: Iterable[GroupKind]) -> None:
        """Watch exactly ``kinds``: start the new ones, stop the ones no longer listed."""
        wanted = set(kinds)
        for group, kind in self.kinds() - wanted:
            self.unwatch(group, kind)
        for group, kind in sorted(wanted):
            self.watch(group, kind)

    def kinds(self) -> set[GroupKind]:
        with self._lock:
            return set(self._watchers)

    # -- readiness -----------------------------------------------------------------------------

    def _all_watchers(self) -> builtins.list[KindWatcher]:
        with self._lock:
            return [w for watchers in self._watchers.values() for w in watchers]

    def synced(self) -> bool:
        """True when every watched kind has been listed at least once."""
        return all(w.synced.is_set() for w in self._all_watchers())

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Block until ``synced()`` (True) or the timeout (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pending = [w for w in self._all_watchers() if not w.synced.is_set()]
            if not pending:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            pending[0].synced.wait(min(left, 0.5) if left is not None else 0.5)

    def status(self) -> builtins.list[KindStatus]:
        """One entry per watched kind (per kind and namespace within namespaces), sorted."""
        with self._lock:
            return [
                KindStatus(
                    group=w.group,
                    kind=w.kind,
                    synced=w.synced.is_set(),
                    served=w.served,
                    resource=w.resource,
                    objects=sum(
                        1
                        for k in self._by_kind.get(gk, ())
                        if w.namespace is None or k.namespace == w.namespace
                    ),
                    relists=w.relists,
                    last_error=w.last_error,
                    namespace=w.namespace or "",
                    in_scope=w.in_scope,
                )
                for gk, watchers in sorted(self._watchers.items())
                for w in watchers
            ]

    def stats(self) -> CacheStats:
        watchers = self._all_watchers()
        with self._lock:
            return CacheStats(
                resources=sum(1 for w in watchers if w.resource is not None and w.in_scope),
                objects=len(self._objects),
                events=self._events,
                relists=sum(w.relists for w in watchers),
            )

    # -- reads -----------------------------------------------------------------------------

    def get(self, key: ResourceKey) -> Obj | None:
        """The cached object (a copy), or None."""
        with self._lock:
            found = self._objects.get(key)
            return json_copy(found) if found is not None else None

    def list(self, group: str, kind: str, namespace: str | None = None) -> builtins.list[Obj]:
        """Cached objects of one kind (in one namespace), sorted by key."""
        with self._lock:
            keys = sorted(self._by_kind.get((group, kind), ()))
            return [
                json_copy(self._objects[k])
                for k in keys
                if namespace is None or k.namespace == namespace
            ]

    def objects_of(
        self, app: str, exclude: Collection[ResourceKey] = frozenset()
    ) -> builtins.list[Obj]:
        """Cached objects whose tracking annotation names ``app`` (and the object itself),
        but for the keys in ``exclude`` (never copied)."""
        with self._lock:
            keys = sorted(k for k in self._by_app.get(app, ()) if k not in exclude)
            return [json_copy(self._objects[k]) for k in keys]

    def keys_of(self, app: str) -> set[ResourceKey]:
        with self._lock:
            return set(self._by_app.get(app, ()))

    # -- lifecycle ---------------------------------------------------------------------------

    def stop(self, timeout: float = 5.0) -> None:
        """End every watch and wait up to ``timeout`` seconds for the threads."""
        with self._lock:
            self._stopped = True
        watchers = self._all_watchers()
        for watcher in watchers:
            watcher.stop()
        deadline = time.monotonic() + timeout
        for watcher in watchers:
            watcher.thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> LiveCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- updates (called by the kind watchers) -------------------------------------------------

    def _key(self, watcher: KindWatcher, obj: Obj) -> ResourceKey:
        meta = obj.get("metadata") or {}
        return ResourceKey(
            watcher.group, watcher.kind, str(meta.get("namespace") or ""), str(meta.get("name"))
        )

    def _store(self, key: ResourceKey, obj: Obj) -> Obj | None:
        previous = self._objects.get(key)
        self._forget(key)
        self._objects[key] = obj
        self._by_kind.setdefault((key.group, key.kind), set()).add(key)
        app = owner_app(obj, key)
        if app:
            self._owner[key] = app
            self._by_app.setdefault(app, set()).add(key)
        return previous

    def _forget(self, key: ResourceKey) -> Obj | None:
        previous = self._objects.pop(key, None)
        app = self._owner.pop(key, None)
        if app is not None:
            keys = self._by_app.get(app)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_app[app]
        return previous

    def _owned(self, key: ResourceKey, *objs: Obj | None) -> frozenset[str]:
        return frozenset(a for o in objs if o is not None if (a := owner_app(o, key)))

    def apply(self, watcher: KindWatcher, event: WatchEvent) -> None:
        """WatchSink: one watch event of ``watcher``'s kind."""
        key = self._key(watcher, event.obj)
        with self._lock:
            if watcher not in self._watchers.get((watcher.group, watcher.kind), ()):
                return  # unwatched meanwhile
            self._events += 1
            if event.type == DELETED:
                previous = self._forget(key)
                if previous is not None:
                    self._by_kind.get((key.group, key.kind), set()).discard(key)
                change = LiveChange(key, None, previous, self._owned(key, previous))
            else:
                previous = self._objects.get(key)
                if previous is not None and _rv(previous) == _rv(event.obj) and _rv(previous):
                    return  # already seen (a replay after re-watching)
                self._store(key, event.obj)
                change = LiveChange(key, event.obj, previous, self._owned(key, previous, event.obj))
        self._notify([change])

    def replace(self, watcher: KindWatcher, items: builtins.list[Obj], *, notify: bool) -> None:
        """WatchSink: install a fresh list of one kind (in the watcher's namespace); report
        the differences when ``notify``."""
        changes: builtins.list[LiveChange] = []
        gk = (watcher.group, watcher.kind)
        with self._lock:
            if watcher not in self._watchers.get(gk, ()):
                return
            fresh = {self._key(watcher, item): item for item in items}
            kept = {
                k
                for k in self._by_kind.get(gk, set())
                if watcher.namespace is not None and k.namespace != watcher.namespace
            }
            old_keys = set(self._by_kind.get(gk, set())) - kept
            for key in old_keys - set(fresh):
                previous = self._forget(key)
                changes.append(LiveChange(key, None, previous, self._owned(key, previous)))
            for key, obj in fresh.items():
                previous = self._objects.get(key)
                self._store(key, obj)
                if previous is None or _rv(previous) != _rv(obj):
                    changes.append(LiveChange(key, obj, previous, self._owned(key, previous, obj)))
            self._by_kind[gk] = kept | set(fresh)
        if notify:
            self._notify(changes)

    def _notify(self, changes: builtins.list[LiveChange]) -> None:
        callback = self.on_change
        if callback is None:
            return
        for change in changes:
            if change.obj is not None:  # the cache keeps the original
                change = LiveChange(change.key, json_copy(change.obj), change.previous, change.apps)
            try:
                callback(change)
            except Exception:
                log.exception("the live cache's change callback failed for %s", change.key)


__all__ = ["CacheStats", "ChangeCallback", "KindStatus", "LiveCache", "LiveChange"]
