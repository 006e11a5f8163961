"""Create, update, patch and server-side apply, with kube-apiserver's bookkeeping.

Each write builds the would-be object, then :meth:`Writes._prepare_create` or
:meth:`Writes._prepare_update` fills in what the server owns: uid, creationTimestamp,
generation (bumped only when something outside metadata and status changed), defaults,
validation, managedFields (via the field manager) and the status-subresource split (writes to
the main resource keep the old status, writes to ``/status`` change only the status). An
update that changes nothing but managedFields timestamps is not committed, so its
resourceVersion stays. ``dry_run`` runs every step and commits nothing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

from sandbox.kube import fieldmanager
from sandbox.kube.admission import apply_defaults, crd_status
from sandbox.kube.errors import StoreError, bad_request, conflict, not_found
from sandbox.kube.resources import ResourceType
from sandbox.kube.state import Entry, StoreState, dumps
from sandbox.kube.validation import check_shape, validate

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_BOOKKEEPING = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _without_times(fields: Any) -> Any:
    if not isinstance(fields, list):
        return fields
    return [
        {k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e for e in fields
    ]


def same_object(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two objects differ at most in managedFields timestamps."""
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        if key != "metadata" and value != b[key]:
            return False
    meta_a, meta_b = a.get("metadata") or {}, b.get("metadata") or {}
    if meta_a.keys() != meta_b.keys():
        return False
    for key, value in meta_a.items():
        if key == "managedFields":
            if _without_times(value) != _without_times(meta_b[key]):
                return False
        elif value != meta_b[key]:
            return False
    return True


def _framed(rtype: ResourceType, body: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """A new top-level object: apiVersion, kind and metadata first, as the server orders."""
    new: dict[str, Any] = {"apiVersion": rtype.api_version(), "kind": rtype.kind, "metadata": meta}
    for key, value in body.items():
        if key not in new:
            new[key] = value
    return new


class Writes(StoreState):
    """The write verbs on top of the store state."""

    def _generate_name(self, rtype: ResourceType, namespace: str, prefix: str) -> str:
        for _ in range(100):
            name = prefix + "".join(random.choice(_NAME_CHARS) for _ in range(5))
            if self.entry(rtype.group, rtype.kind, namespace, name) is None:
                return name
        raise StoreError(500, "InternalError", f"could not generate a unique name for {prefix!r}")

    def _check_namespace(self, rtype: ResourceType, namespace: str, name: str) -> None:
        if not rtype.namespaced:
            return
        if not namespace:
            raise bad_request(
                "the server could not find the requested resource: a namespace "
                f"is required for {rtype.plural}"
            )
        ns = self.entry("", "Namespace", None, namespace)
        if ns is None:
            raise not_found("", "namespaces", namespace)
        if ns.obj["metadata"].get("deletionTimestamp"):
            raise StoreError(
                403,
                "Forbidden",
                f'{rtype.plural} "{name}" is forbidden: unable to create new content in '
                f"namespace {namespace} because it is being terminated",
                {"kind": rtype.plural},
            )

    def _prepare_create(
        self,
        rtype: ResourceType,
        body: dict[str, Any],
        namespace: str,
        manager: str,
        now: str,
        from_api: bool = True,
        managed: bool = True,
    ) -> dict[str, Any]:
        """The object a create would store (not yet committed). ``managed`` False means
        managedFields were already computed (server-side apply)."""
        check_shape(rtype, body)
        meta_in = body.get("metadata")
        if meta_in is None:
            meta_in = {}
        if not isinstance(meta_in, dict):
            raise bad_request(f"{rtype.kind}: metadata must be an object")
        meta = dict(meta_in)
        new = _framed(rtype, body, meta)
        if rtype.namespaced:
            meta["namespace"] = namespace
            self._check_namespace(rtype, namespace, str(meta.get("name") or ""))
        else:
            meta.pop("namespace", None)
        if from_api and meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        for key in _BOOKKEEPING:
            meta.pop(key, None)
        if not meta.get("name") and isinstance(meta.get("generateName"), str):
            meta["name"] = self._generate_name(rtype, namespace, meta["generateName"])
        name = meta.get("name")
        if (
            isinstance(name, str)
            and name
            and self.entry(rtype.group, rtype.kind, namespace, name) is not None
        ):
            raise StoreError(
                409,
                "AlreadyExists",
                f'{_qualified(rtype)} "{name}" already exists',
                {"name": name, "group": rtype.group, "kind": rtype.plural},
            )
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now
        if rtype.has_generation:
            meta["generation"] = 1
        if from_api and rtype.status_subresource:
            new.pop("status", None)
        new = apply_defaults(rtype, new, None, self._alloc)
        if rtype.kind == "CustomResourceDefinition" and not rtype.custom:
            new["status"] = crd_status(new)
        validate(rtype, new, None)
        if managed:
            new = fieldmanager.record_update(None, new, manager, now)
        return new

    def _prepare_update(
        self,
        rtype: ResourceType,
        old: dict[str, Any],
        body: dict[str, Any],
        manager: str,
        now: str,
        subresource: str | None = None,
        managed: bool = True,
    ) -> dict[str, Any] | None:
        """The object an update would store, or None when nothing would change."""
        old_meta = old["metadata"]
        check_shape(rtype, body)
        meta_in = body.get("metadata")
        if not isinstance(meta_in, dict):
            raise bad_request(f"{rtype.kind}: metadata must be an object")
        meta = dict(meta_in)
        name = old_meta["name"]
        rv = meta.get("resourceVersion")
        if rv not in (None, "") and str(rv) != old_meta.get("resourceVersion"):
            raise conflict(
                rtype.group,
                rtype.plural,
                name,
                "the object has been modified; "
                "please apply your changes to the latest version and try again",
            )
        uid = meta.get("uid")
        if uid not in (None, "") and uid != old_meta.get("uid"):
            raise conflict(
                rtype.group,
                rtype.plural,
                name,
                f"Precondition failed: UID in precondition: {uid}, UID in object "
                f"meta: {old_meta.get('uid')}",
            )
        for key in _BOOKKEEPING:
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta["name"] = name
        if rtype.namespaced:
            meta["namespace"] = old_meta.get("namespace", "")
        else:
            meta.pop("namespace", None)
        if "managedFields" not in meta_in and "managedFields" in old_meta:
            meta["managedFields"] = old_meta["managedFields"]
        new = _framed(rtype, body, meta)
        if subresource == "status":
            status = new.get("status")
            new = dict(old, metadata=dict(old_meta))
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        else:
            if rtype.status_subresource:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            if old_meta.get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
                if added:
                    raise StoreError(
                        422,
                        "Invalid",
                        f'{rtype.kind} "{name}" is invalid: metadata.finalizers: Forbidden: no '
                        "new finalizers can be added if the object is being deleted",
                    )
            new = apply_defaults(rtype, new, old, self._alloc)
            if rtype.kind == "CustomResourceDefinition" and not rtype.custom:
                new["status"] = crd_status(new)
            validate(rtype, new, old)
        if managed:
            new = fieldmanager.record_update(old, new, manager, now, subresource)
        if same_object(new, old):
            return None
        meta = new["metadata"] = dict(new["metadata"])
        if rtype.has_generation and _spec_part(new) != _spec_part(old):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
        return new

    def _finish(self, rtype: ResourceType, new: dict[str, Any], dry_run: bool) -> Entry:
        """Commit (or, for a dry run, only encode) a prepared object. An object being
        deleted whose last finalizer went away is removed instead."""
        if dry_run:
            return Entry(new, dumps(new))
        entry = self._commit(rtype, new)
        meta = new["metadata"]
        if meta.get("deletionTimestamp"):
            self._maybe_finish(rtype, meta.get("namespace", ""), meta["name"])
        return entry

    # -- the verbs ----------------------------------------------------------------------

    def create_object(
        self,
        rtype: ResourceType,
        namespace: str,
        body: dict[str, Any],
        manager: str,
        dry_run: bool = False,
        from_api: bool = True,
    ) -> Entry:
        """POST: create ``body`` (409 when the name is taken, 404 without its namespace)."""
        with self._txn():
            new = self._prepare_create(rtype, body, namespace, manager, self.now(), from_api)
            return self._finish(rtype, new, dry_run)

    def _live(self, rtype: ResourceType, namespace: str, name: str) -> Entry:
        entry = self.entry(rtype.group, rtype.kind, namespace if rtype.namespaced else "", name)
        if entry is None:
            raise not_found(rtype.group, rtype.plural, name)
        return entry

    def update_object(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: dict[str, Any],
        manager: str,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Entry:
        """PUT: replace an object (409 on a stale resourceVersion)."""
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        return self.update_with(
            rtype, namespace, name, lambda _: body, manager, subresource, dry_run
        )

    def update_with(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        manager: str,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Entry:
        """Update an object with the body ``change(live object)`` returns, reading and
        writing under one lock (a subresource such as /scale rewrites the live object; a
        ``metadata.resourceVersion`` in the body is still a precondition)."""
        with self._txn():
            old = self._live(rtype, namespace, name)
            body = change(old.obj)
            new = self._prepare_update(rtype, old.obj, body, manager, self.now(), subresource)
            if new is None:
                return old
            return self._finish(rtype, new, dry_run)


def _qualified(rtype: ResourceType) -> str:
    return f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural
