"""The object store's state and its one write primitive.

Objects are kept per (group, kind) and (namespace, name) as immutable :class:`Entry` values:
the object dict (never mutated once committed) and its JSON encoding, so reads, lists and
watch events are served without copying or re-encoding. Every change goes through
:meth:`StoreState._commit` or :meth:`StoreState._remove`, which bump the single
resourceVersion counter shared by all kinds, keep the indexes (uid, owner references,
per-namespace counts), append to the watch history and queue the change for listeners.
Listeners run after the store lock is released, in commit order.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sandbox.kube.admission import Allocator
from sandbox.kube.errors import StoreError
from sandbox.kube.resources import CRD_GROUP, CRD_KIND, Registry, ResourceType, crd_resource_type
from sandbox.kube.watch import Event, History

Listener = Callable[[str, dict[str, Any]], None]
GroupKind = tuple[str, str]
NameKey = tuple[str, str]
ObjKey = tuple[str, str, str, str]


def dumps(obj: Any) -> bytes:
    """Compact JSON, as the server sends it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def rfc3339(seconds: float) -> str:
    """A timestamp in the format Kubernetes uses (second precision, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass(slots=True, frozen=True)
class Entry:
    """A committed object and its JSON encoding. Never mutate ``obj``."""

    obj: dict[str, Any]
    raw: bytes


def _owner_uids(obj: dict[str, Any]) -> set[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return {r["uid"] for r in refs if isinstance(r, dict) and isinstance(r.get("uid"), str)}


class StoreState:
    """Storage, indexes, resourceVersions, watch history and listener dispatch."""

    def __init__(self, registry: Registry | None = None, history_size: int = 10000) -> None:
        self.registry = registry or Registry()
        self.history = History(history_size)
        self.clock: Callable[[], float] = time.time
        self._lock = threading.RLock()
        self._data: dict[GroupKind, dict[NameKey, Entry]] = {}
        self._sorted: dict[GroupKind, list[NameKey]] = {}
        self._rv = 0
        self._by_uid: dict[str, ObjKey] = {}
        self._dependents: dict[str, set[ObjKey]] = {}
        self._ns_counts: dict[str, int] = {}
        self._alloc = Allocator()
        self._listeners: list[Listener] = []
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._dispatching = threading.Lock()

    # -- transactions and listeners ---------------------------------------------------

    @contextmanager
    def _txn(self) -> Iterator[None]:
        """Hold the store lock; deliver queued changes to listeners after releasing it."""
        with self._lock:
            yield
        self._dispatch()

    def _dispatch(self) -> None:
        while self._outbox:
            if not self._dispatching.acquire(blocking=False):
                return
            try:
                while self._outbox:
                    event_type, raw = self._outbox.popleft()
                    for listener in list(self._listeners):
                        try:
                            listener(event_type, json.loads(raw))
                        except Exception:  # a broken listener must not break the store
                            continue
            finally:
                self._dispatching.release()

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(type, copy)`` after every committed change, outside the lock."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- clock and counters -----------------------------------------------------------

    def now(self) -> str:
        """The current time as an RFC 3339 string."""
        return rfc3339(self.clock())

    @property
    def resource_version(self) -> int:
        """The latest committed resourceVersion."""
        return self._rv

    # -- reads ------------------------------------------------------------------------

    def entry(self, group: str, kind: str, namespace: str | None, name: str) -> Entry | None:
        """The committed entry of one object, or None."""
        bucket = self._data.get((group, kind))
        if bucket is None:
            return None
        return bucket.get((namespace or "", name))

    def entries(self, group: str, kind: str, namespace: str | None = None) -> list[Entry]:
        """Committed entries of a kind, sorted by (namespace, name), optionally one namespace."""
        with self._lock:
            bucket = self._data.get((group, kind))
            if not bucket:
                return []
            keys = self._sorted.get((group, kind))
            if keys is None:
                keys = sorted(bucket)
                self._sorted[(group, kind)] = keys
            if namespace is None:
                return [bucket[k] for k in keys]
            return [bucket[k] for k in keys if k[0] == namespace]

    def namespace_count(self, namespace: str) -> int:
        """How many objects live in a namespace."""
        return self._ns_counts.get(namespace, 0)

    def kind_count(self, group: str, kind: str) -> int:
        """How many objects of a kind exist."""
        return len(self._data.get((group, kind)) or ())

    def by_uid(self, uid: str) -> Entry | None:
        """The object with this uid, or None."""
        key = self._by_uid.get(uid)
        return self.entry(*key) if key else None

    def dependents(self, uid: str) -> list[ObjKey]:
        """Objects whose ownerReferences name this uid."""
        return sorted(self._dependents.get(uid) or ())

    def rtype_of(self, group: str, kind: str) -> ResourceType:
        """The served type of a (group, kind); 404 when it is not served."""
        rtype = self.registry.by_kind(group, kind)
        if rtype is None:
            raise StoreError(
                404, "NotFound", f"the server could not find kind {kind!r} in group {group!r}"
            )
        return rtype

    # -- writes -----------------------------------------------------------------------

    def _commit(self, rtype: ResourceType, new: dict[str, Any]) -> Entry:
        """Store ``new`` (whose top level and metadata the caller owns) with a fresh
        resourceVersion; emits ADDED or MODIFIED."""
        meta = new["metadata"]
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        gk = (rtype.group, rtype.kind)
        namespace = meta.get("namespace", "") if rtype.namespaced else ""
        key = (namespace, meta["name"])
        bucket = self._data.setdefault(gk, {})
        old = bucket.get(key)
        entry = Entry(new, dumps(new))
        bucket[key] = entry
        uid = meta.get("uid", "")
        objkey = (rtype.group, rtype.kind, namespace, meta["name"])
        if old is None:
            self._sorted.pop(gk, None)
            if namespace:
                self._ns_counts[namespace] = self._ns_counts.get(namespace, 0) + 1
            self._by_uid[uid] = objkey
            old_owners: set[str] = set()
        else:
            old_owners = _owner_uids(old.obj)
        new_owners = _owner_uids(new)
        if old_owners != new_owners:
            for owner in old_owners - new_owners:
                self._dependents.get(owner, set()).discard(objkey)
            for owner in new_owners - old_owners:
                self._dependents.setdefault(owner, set()).add(objkey)
        event_type = "ADDED" if old is None else "MODIFIED"
        self._emit(event_type, rtype, namespace, entry, old.obj if old else None)
        if gk == (CRD_GROUP, CRD_KIND):
            self._serve_crd(new)
        return entry

    def _serve_crd(self, crd: dict[str, Any]) -> None:
        served = crd_resource_type(crd)
        if served is not None and not (crd.get("metadata") or {}).get("deletionTimestamp"):
            self.registry.add_crd(crd["metadata"]["name"], served)

    def _emit(
        self,
        event_type: str,
        rtype: ResourceType,
        namespace: str,
        entry: Entry,
        prev: dict[str, Any] | None,
    ) -> None:
        self.history.append(
            Event(
                self._rv, event_type, rtype.group, rtype.kind, namespace, entry.obj, prev, entry.raw
            )
        )
        self._outbox.append((event_type, entry.raw))

    def _remove(self, rtype: ResourceType, namespace: str, name: str) -> Entry | None:
        """Delete an object for good (emits DELETED), then let lifecycle rules react."""
        gk = (rtype.group, rtype.kind)
        bucket = self._data.get(gk)
        key = (namespace if rtype.namespaced else "", name)
        old = bucket.pop(key, None) if bucket is not None else None
        if old is None:
            return None
        self._sorted.pop(gk, None)
        self._rv += 1
        gone = dict(old.obj)
        gone["metadata"] = dict(old.obj["metadata"], resourceVersion=str(self._rv))
        entry = Entry(gone, dumps(gone))
        if key[0]:
            self._ns_counts[key[0]] = self._ns_counts.get(key[0], 1) - 1
        uid = gone["metadata"].get("uid", "")
        self._by_uid.pop(uid, None)
        objkey = (rtype.group, rtype.kind, key[0], name)
        for owner in _owner_uids(gone):
            self._dependents.get(owner, set()).discard(objkey)
        self._emit("DELETED", rtype, key[0], entry, None)
        if gk == (CRD_GROUP, CRD_KIND):
            self.registry.remove_crd(name)
        self._after_remove(rtype, gone)
        return entry

    def _after_remove(self, rtype: ResourceType, gone: dict[str, Any]) -> None:
        """Hook: garbage collection and namespace/CRD finalization (see lifecycle)."""

    def _maybe_finish(self, rtype: ResourceType, namespace: str, name: str) -> None:
        """Hook: remove an object being deleted once nothing holds it (see lifecycle)."""

    def _clear(self) -> None:
        """Forget every object (the resourceVersion counter keeps counting)."""
        self._data = {}
        self._sorted = {}
        self._by_uid = {}
        self._dependents = {}
        self._ns_counts = {}
        self._alloc = Allocator()
        self.registry.reset()
        # a discontinuity: open watches and watches from before now get 410 Gone
        self._rv += 1
        self.history.reset(self._rv)
