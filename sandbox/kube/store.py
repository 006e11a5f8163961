"""The emulator's object store: what the HTTP server and the simulated controllers share.

:class:`Store` combines the state and write primitive (state), the write verbs (writes) and
deletion with garbage collection (lifecycle), and adds the small dict-in/dict-out interface
the simulated controllers use (``get``, ``list``, ``create``, ``update``, ``update_status``,
``patch_metadata``, ``delete``, ``add_listener``). Objects handed out are copies the caller
may mutate. Group "" is the core group. A new or reset store holds the namespaces a fresh
cluster has: default, kube-system, kube-public and kube-node-lease.
"""

from __future__ import annotations

import builtins
import json
from typing import Any

from sandbox.kube.errors import StoreError
from sandbox.kube.lifecycle import Lifecycle
from sandbox.kube.patching import Patching
from sandbox.kube.resources import Registry, ResourceType
from sandbox.kube.selectors import exact_field, parse_field_selector, parse_label_selector
from sandbox.kube.state import Entry

__all__ = ["DEFAULT_NAMESPACES", "Entry", "Store", "StoreError", "group_of"]

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CONTROLLER_MANAGER = "kube-controller-manager"


def _copy(entry: Entry) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(entry.raw)
    return copied


def group_of(api_version: str) -> str:
    """The group of an apiVersion ("" for the core group's "v1")."""
    return api_version.rpartition("/")[0]


class Store(Patching, Lifecycle):
    """Every object of the emulated cluster, with kube-apiserver's write semantics."""

    def __init__(self, registry: Registry | None = None, history_size: int = 10000) -> None:
        super().__init__(registry, history_size)
        self._seed()

    def _seed(self) -> None:
        ns_type = self.rtype_of("", "Namespace")
        for name in DEFAULT_NAMESPACES:
            self.create_object(ns_type, "", {"metadata": {"name": name}}, "kube-apiserver")

    def reset(self) -> None:
        """Empty the store (CRD types included) but for the default namespaces. The
        resourceVersion keeps counting; watches from before the reset get 410 Gone."""
        with self._txn():
            self._clear()
            self._seed()

    def close(self) -> None:
        """End every open watch (the server is stopping)."""
        self.history.close()

    # -- selection for list and watch ---------------------------------------------------

    def select(
        self,
        rtype: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[builtins.list[Entry], int]:
        """Entries matching the selectors (sorted by namespace, name) and the
        resourceVersion they were read at."""
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector)
        ns = namespace if rtype.namespaced else None
        with self._lock:
            rv = self._rv
            name = exact_field(field_selector, "metadata.name")
            if name is not None and (ns is not None or not rtype.namespaced):
                one = self.entry(rtype.group, rtype.kind, ns, name)
                items = [one] if one is not None else []
            else:
                items = self.entries(rtype.group, rtype.kind, ns)
        if labels is not None:
            items = [e for e in items if labels(e.obj)]
        if fields is not None:
            items = [e for e in items if fields(e.obj)]
        return items, rv

    # -- the controllers' interface ------------------------------------------------------

    def get(self, group: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """A copy of one object, or None."""
        entry = self.entry(group, kind, namespace, name)
        return _copy(entry) if entry is not None else None

    def create(self, obj: dict[str, Any], manager: str = CONTROLLER_MANAGER) -> dict[str, Any]:
        """Create ``obj`` (its apiVersion, kind and metadata.namespace say where), with the
        bookkeeping of an API create; its status is kept. Raises StoreError."""
        rtype = self._rtype_for(obj)
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        entry = self.create_object(rtype, namespace, obj, manager, from_api=False)
        return _copy(entry)

    def update(self, obj: dict[str, Any], manager: str = CONTROLLER_MANAGER) -> dict[str, Any]:
        """Replace an object (the status is kept as stored when the kind has a status
        subresource). A metadata.resourceVersion in ``obj`` must be current (409)."""
        rtype = self._rtype_for(obj)
        meta = obj.get("metadata") or {}
        entry = self.update_object(
            rtype, str(meta.get("namespace") or ""), str(meta.get("name") or ""), obj, manager
        )
        return _copy(entry)

    def update_status(
        self,
        group: str,
        kind: str,
        namespace: str | None,
        name: str,
        status: dict[str, Any],
        manager: str = CONTROLLER_MANAGER,
    ) -> dict[str, Any] | None:
        """Replace the status of an object (no generation bump); None when it is gone."""
        rtype = self.rtype_of(group, kind)
        body = {"metadata": {"name": name}, "status": status}
        try:
            entry = self.update_object(rtype, namespace or "", name, body, manager, "status")
        except StoreError as err:
            if err.code == 404:
                return None
            raise
        return _copy(entry)

    def patch_metadata(
        self,
        group: str,
        kind: str,
        namespace: str | None,
        name: str,
        labels: dict[str, str | None] | None = None,
        annotations: dict[str, str | None] | None = None,
        manager: str = CONTROLLER_MANAGER,
    ) -> dict[str, Any] | None:
        """Merge labels and annotations into an object (a None value removes the key);
        None when it is gone."""
        rtype = self.rtype_of(group, kind)
        meta: dict[str, Any] = {}
        if labels is not None:
            meta["labels"] = labels
        if annotations is not None:
            meta["annotations"] = annotations
        try:
            entry, _ = self.patch_object(
                rtype, namespace or "", name, "merge", {"metadata": meta}, manager
            )
        except StoreError as err:
            if err.code == 404:
                return None
            raise
        return _copy(entry)

    def delete(
        self,
        group: str,
        kind: str,
        namespace: str | None,
        name: str,
        propagation: str = "Background",
    ) -> None:
        """Delete an object (finalizers and propagation honoured); absent objects are
        ignored."""
        rtype = self.rtype_of(group, kind)
        try:
            self.delete_object(rtype, namespace or "", name, propagation)
        except StoreError as err:
            if err.code != 404:
                raise

    def _rtype_for(self, obj: dict[str, Any]) -> ResourceType:
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            raise StoreError(400, "BadRequest", "object has no apiVersion or kind")
        return self.rtype_of(group_of(api_version), kind)

    def list(
        self,
        group: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Copies of the objects of a kind (optionally one namespace, a label selector)."""
        rtype = self.registry.by_kind(group, kind)
        if rtype is None:
            return []
        items, _ = self.select(rtype, namespace, label_selector)
        return [_copy(e) for e in items]
