"""Deletion as kube-apiserver and the garbage collector perform it.

An object with finalizers is not removed: it gets ``deletionTimestamp`` and stays until its
finalizers are gone. Propagation follows ``propagationPolicy``: Background removes the owner
and then its dependents (objects whose ownerReferences name its uid); Foreground keeps the
owner (finalizer ``foregroundDeletion``) until its dependents are gone; Orphan strips the
owner's references from its dependents. A dependent with another live owner only loses the
dangling reference. Deleting a Namespace marks it Terminating, deletes its contents and
removes it once empty; deleting a CRD deletes its custom resources and then stops serving
them. The garbage collection runs synchronously, inside the delete that caused it.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.errors import StoreError, conflict, not_found
from sandbox.kube.resources import CRD_GROUP, CRD_KIND, ResourceType, crd_resource_type
from sandbox.kube.state import Entry, StoreState, _owner_uids, dumps

PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
FOREGROUND = "foregroundDeletion"
PROPAGATIONS = ("Background", "Foreground", "Orphan")


class Lifecycle(StoreState):
    """Delete, deletecollection and garbage collection."""

    def delete_object(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        propagation: str | None = None,
        dry_run: bool = False,
        preconditions: dict[str, Any] | None = None,
    ) -> tuple[Entry, bool]:
        """DELETE one object; returns (entry, gone): ``gone`` False when it stays, being
        deleted (finalizers, foreground dependents, namespace contents)."""
        policy = propagation or "Background"
        if policy not in PROPAGATIONS:
            raise StoreError(
                422,
                "Invalid",
                f"DeleteOptions.propagationPolicy: Unsupported value: "
                f'"{policy}": supported values: "Background", "Foreground", "Orphan"',
            )
        with self._txn():
            entry = self.entry(rtype.group, rtype.kind, namespace if rtype.namespaced else "", name)
            if entry is None:
                raise not_found(rtype.group, rtype.plural, name)
            meta = entry.obj["metadata"]
            for field, key in (("uid", "uid"), ("resourceVersion", "resourceVersion")):
                wanted = (preconditions or {}).get(field)
                if wanted and wanted != meta.get(key):
                    raise conflict(
                        rtype.group,
                        rtype.plural,
                        name,
                        f"Precondition failed: {field} in precondition: {wanted}, "
                        f"{field} in object meta: {meta.get(key)}",
                    )
            if rtype.kind == "Namespace" and not rtype.custom and name in PROTECTED_NAMESPACES:
                raise StoreError(
                    403,
                    "Forbidden",
                    f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                    {"name": name, "kind": "namespaces"},
                )
            return self._delete(rtype, entry, policy, dry_run)

    def delete_collection(
        self,
        rtype: ResourceType,
        entries: list[Entry],
        propagation: str | None = None,
        dry_run: bool = False,
    ) -> list[Entry]:
        """DELETE on a collection: deletes each of ``entries`` (already selected)."""
        results = []
        with self._txn():
            for entry in entries:
                meta = entry.obj["metadata"]
                live = self.entry(rtype.group, rtype.kind, meta.get("namespace"), meta["name"])
                if live is None:
                    continue
                if rtype.kind == "Namespace" and meta["name"] in PROTECTED_NAMESPACES:
                    continue
                results.append(self._delete(rtype, live, propagation or "Background", dry_run)[0])
        return results

    def _live_dependents(self, uid: str) -> list[tuple[ResourceType, Entry]]:
        found = []
        for group, kind, namespace, name in self.dependents(uid):
            entry = self.entry(group, kind, namespace, name)
            rtype = self.registry.by_kind(group, kind)
            if entry is not None and rtype is not None:
                found.append((rtype, entry))
        return found

    def _has_content(self, rtype: ResourceType, obj: dict[str, Any]) -> bool:
        if rtype.custom:
            return False
        if rtype.kind == "Namespace":
            return self.namespace_count(obj["metadata"]["name"]) > 0
        if rtype.kind == CRD_KIND and rtype.group == CRD_GROUP:
            served = crd_resource_type(obj)
            return served is not None and self.kind_count(served.group, served.kind) > 0
        return False

    def _delete(
        self, rtype: ResourceType, entry: Entry, policy: str, dry_run: bool
    ) -> tuple[Entry, bool]:
        obj = entry.obj
        meta = obj["metadata"]
        uid = meta.get("uid", "")
        deps = self._live_dependents(uid) if policy != "Orphan" else []
        finalizers = list(meta.get("finalizers") or [])
        if policy == "Foreground" and deps and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        pending = bool(finalizers) or self._has_content(rtype, obj)
        if meta.get("deletionTimestamp"):
            return entry, False
        if dry_run:
            if not pending:
                return entry, True
            would = dict(
                obj, metadata=dict(meta, deletionTimestamp=self.now(), deletionGracePeriodSeconds=0)
            )
            return Entry(would, dumps(would)), False
        if policy == "Orphan":
            self._orphan(uid)
        if not pending:
            gone = self._remove(rtype, meta.get("namespace", ""), meta["name"])
            return (gone or entry), True
        new = dict(obj)
        new_meta = dict(meta, deletionTimestamp=self.now(), deletionGracePeriodSeconds=0)
        if finalizers:
            new_meta["finalizers"] = finalizers
        new["metadata"] = new_meta
        if rtype.kind == "Namespace" and not rtype.custom:
            new["status"] = dict(obj.get("status") or {}, phase="Terminating")
        self._commit(rtype, new)
        namespace = meta.get("namespace", "")
        if policy == "Foreground":
            for dep_type, dep in deps:
                self._delete_if_live(dep_type, dep, "Foreground")
        if rtype.kind == "Namespace" and not rtype.custom:
            self._delete_namespace_content(meta["name"])
        elif rtype.kind == CRD_KIND and rtype.group == CRD_GROUP:
            served = crd_resource_type(obj)
            served_type = served and self.registry.by_kind(served.group, served.kind)
            if served_type is not None:
                for item in self.entries(served_type.group, served_type.kind):
                    self._delete_if_live(served_type, item, "Background")
        self._maybe_finish(rtype, namespace, meta["name"])
        current = self.entry(rtype.group, rtype.kind, namespace, meta["name"])
        return (current, False) if current is not None else (entry, True)

    def _delete_if_live(self, rtype: ResourceType, entry: Entry, policy: str) -> None:
        meta = entry.obj["metadata"]
        live = self.entry(rtype.group, rtype.kind, meta.get("namespace"), meta["name"])
        if live is not None:
            self._delete(rtype, live, policy, False)

    def _delete_namespace_content(self, namespace: str) -> None:
        for rtype in self.registry.types():
            if not rtype.namespaced:
                continue
            for item in self.entries(rtype.group, rtype.kind, namespace):
                self._delete_if_live(rtype, item, "Background")

    def _orphan(self, uid: str) -> None:
        for rtype, dep in self._live_dependents(uid):
            self._drop_owner_refs(rtype, dep, {uid})

    def _drop_owner_refs(self, rtype: ResourceType, dep: Entry, uids: set[str]) -> None:
        meta = dep.obj["metadata"]
        refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") not in uids]
        new_meta = dict(meta)
        if refs:
            new_meta["ownerReferences"] = refs
        else:
            new_meta.pop("ownerReferences", None)
        self._commit(rtype, dict(dep.obj, metadata=new_meta))

    def _maybe_finish(self, rtype: ResourceType, namespace: str, name: str) -> None:
        """Remove an object being deleted once nothing holds it any more."""
        entry = self.entry(rtype.group, rtype.kind, namespace if rtype.namespaced else "", name)
        if entry is None:
            return
        meta = entry.obj["metadata"]
        if not meta.get("deletionTimestamp"):
            return
        finalizers = list(meta.get("finalizers") or [])
        if FOREGROUND in finalizers and not self._live_dependents(meta.get("uid", "")):
            finalizers.remove(FOREGROUND)
            new_meta = dict(meta)
            if finalizers:
                new_meta["finalizers"] = finalizers
            else:
                new_meta.pop("finalizers", None)
            if finalizers or self._has_content(rtype, entry.obj):
                self._commit(rtype, dict(entry.obj, metadata=new_meta))
                return
        if finalizers or self._has_content(rtype, entry.obj):
            return
        self._remove(rtype, namespace, name)

    def _after_remove(self, rtype: ResourceType, gone: dict[str, Any]) -> None:
        meta = gone["metadata"]
        uid = meta.get("uid", "")
        dependents = self._dependents.pop(uid, set())
        for group, kind, dep_ns, dep_name in sorted(dependents):
            dep = self.entry(group, kind, dep_ns, dep_name)
            dep_type = self.registry.by_kind(group, kind)
            if dep is None or dep_type is None:
                continue
            owners = _owner_uids(dep.obj)
            dangling = {o for o in owners if o not in self._by_uid}
            if owners - dangling:
                self._drop_owner_refs(dep_type, dep, dangling)
            else:
                self._delete(dep_type, dep, "Background", False)
        for owner in _owner_uids(gone):
            key = self._by_uid.get(owner)
            owner_type = key and self.registry.by_kind(key[0], key[1])
            if key and owner_type:
                self._maybe_finish(owner_type, key[2], key[3])
        namespace = meta.get("namespace", "") if rtype.namespaced else ""
        if namespace:
            ns_type = self.registry.by_kind("", "Namespace")
            if ns_type is not None:
                self._maybe_finish(ns_type, "", namespace)
        if rtype.custom:
            crd_type = self.registry.by_kind(CRD_GROUP, CRD_KIND)
            if crd_type is not None:
                self._maybe_finish(crd_type, "", f"{rtype.plural}.{rtype.group}")
