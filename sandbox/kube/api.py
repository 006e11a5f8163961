"""The resource endpoints: /api/v1/… and /apis/<group>/<version>/…, every verb.

A request is parsed into a :class:`Target` (type, version, namespace, name, subresource),
checked against the pending faults, served by the store, and — when it mutates — written to
the audit log with its outcome. Successful reads are served from the store's pre-encoded JSON.
Writes go through server-side field validation (:mod:`sandbox.kube.fieldvalidation`), whose
warnings become ``Warning`` headers; ``/scale`` is served by :mod:`sandbox.kube.scale`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandbox.kube.apirequest import check_identity, decode_body, dry_run, field_manager, paginate
from sandbox.kube.control import AuditLog, Faults, inflict
from sandbox.kube.errors import StoreError, bad_request, not_found
from sandbox.kube.fieldvalidation import FieldValidation, directive
from sandbox.kube.httpmsg import Request, Response, json_response, raw_response
from sandbox.kube.patching import PATCH_TYPES
from sandbox.kube.resources import ResourceType
from sandbox.kube.scale import ScaleAPI
from sandbox.kube.state import Entry, dumps
from sandbox.kube.store import Store
from sandbox.kube.table import table
from sandbox.kube.watcher import watch_response

MUTATING = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass
class Target:
    """What a resource URL names."""

    rtype: ResourceType
    version: str
    namespace: str
    name: str
    subresource: str | None
    watch: bool


def not_found_path(path: str) -> StoreError:
    """404 for a URL that names nothing the server serves."""
    return StoreError(
        404, "NotFound", f"the server could not find the requested resource ({path})", {}
    )


def parse_target(store: Store, path: str) -> Target:
    """The target of a resource URL; 404 when it names no served resource."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise not_found_path(path)
    watch = False
    if rest[0] == "watch":
        watch, rest = True, rest[1:]
    namespace = ""
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and (t := store.registry.by_plural(group, version, rest[2])) is not None
        and t.namespaced
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise not_found_path(path)
    rtype = store.registry.by_plural(group, version, rest[0])
    if rtype is None:
        raise not_found_path(path)
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else None
    if namespace and not rtype.namespaced:
        raise not_found_path(path)
    if rtype.namespaced and name and not namespace:
        raise not_found_path(path)
    if sub is not None and not (
        (sub == "status" and rtype.status_subresource)
        or (sub == "scale" and rtype.scale_subresource)
    ):
        raise not_found_path(path)
    return Target(rtype, version, namespace, name, sub, watch)


def wants_table(request: Request) -> bool:
    """True when the client asks for the Table format."""
    return "as=Table" in request.header("accept")


def encode(target: Target, entry: Entry) -> bytes:
    """An entry's JSON at the requested version."""
    rtype = target.rtype
    if target.version == rtype.version:
        return entry.raw
    obj = json.loads(entry.raw)
    obj["apiVersion"] = rtype.api_version(target.version)
    return dumps(obj)


def _objects(target: Target, entries: list[Entry]) -> list[dict[str, Any]]:
    if target.version == target.rtype.version:
        return [e.obj for e in entries]
    return [json.loads(encode(target, e)) for e in entries]


def _validation(request: Request, target: Target, options_kind: str) -> FieldValidation:
    """The field validation of a write (422 for an unknown ``fieldValidation`` value)."""
    return FieldValidation(
        directive(request.query, options_kind),
        target.rtype,
        target.version,
        request.body,
        request.header("content-type").lower(),
    )


def _warned(response: Response, check: FieldValidation) -> Response:
    response.warnings = check.warnings
    return response


class ResourceAPI:
    """Serves resource URLs from a store; records mutations in the audit log."""

    def __init__(self, store: Store, audit: AuditLog, faults: Faults) -> None:
        self.store = store
        self.audit = audit
        self.faults = faults
        self.scales = ScaleAPI(store)

    def handle(self, request: Request) -> Response:
        """Serve one resource request (errors are raised as StoreError)."""
        target = parse_target(self.store, request.path)
        verb = MUTATING.get(request.method)
        if verb is None:
            if request.method != "GET":
                raise StoreError(
                    405,
                    "MethodNotAllowed",
                    f"the server does not allow this method on the requested "
                    f"resource ({request.method})",
                )
            self._fault(request, target)
            if target.subresource == "scale":
                return self.scales.get(target.rtype, target.namespace, target.name)
            return self._read(request, target)
        if verb == "delete" and not target.name:
            verb = "deletecollection"
        record: dict[str, Any] = {
            "verb": verb,
            "group": target.rtype.group,
            "version": target.version,
            "kind": target.rtype.kind,
            "resource": target.rtype.plural,
            "subresource": target.subresource,
            "namespace": target.namespace or None,
            "name": target.name or None,
            "dryRun": bool(request.query.get("dryRun")),
            "fieldManager": request.query.get("fieldManager") or None,
        }
        if verb == "patch":
            record["patchType"] = request.header("content-type").split(";")[0].strip()
        try:
            self._fault(request, target)
            response = self._write(request, target, verb, record)
        except StoreError as err:
            record["code"] = err.code
            self.audit.record(**record)
            raise
        record["code"] = response.status
        self.audit.record(**record)
        return response

    def _fault(self, request: Request, target: Target) -> None:
        fault = self.faults.take(
            request.method, target.rtype.plural, target.rtype.group, target.namespace, target.name
        )
        if fault is not None:
            inflict(fault, target.rtype.plural, target.name)

    # -- reads ---------------------------------------------------------------------------

    def _read(self, request: Request, target: Target) -> Response:
        store, rtype = self.store, target.rtype
        if target.name:
            entry = store.entry(rtype.group, rtype.kind, target.namespace, target.name)
            if entry is None:
                raise not_found(rtype.group, rtype.plural, target.name)
            if wants_table(request):
                return json_response(
                    table(
                        rtype,
                        _objects(target, [entry]),
                        entry.obj["metadata"]["resourceVersion"],
                        request.query.get("includeObject", "Metadata"),
                    )
                )
            return raw_response(encode(target, entry))
        if target.watch or request.flag("watch"):
            return watch_response(store, target, request)
        entries, rv = store.select(
            rtype,
            target.namespace or None,
            request.query.get("labelSelector"),
            request.query.get("fieldSelector"),
        )
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        entries = paginate(entries, request, meta)
        if wants_table(request):
            doc = table(
                rtype,
                _objects(target, entries),
                str(rv),
                request.query.get("includeObject", "Metadata"),
            )
            doc["metadata"] = meta
            return json_response(doc)
        head = {
            "kind": rtype.list_kind,
            "apiVersion": rtype.api_version(target.version),
            "metadata": meta,
        }
        prefix = dumps(head)[:-1] + b',"items":['
        return raw_response(prefix + b",".join(encode(target, e) for e in entries) + b"]}")

    # -- writes --------------------------------------------------------------------------

    def _write(
        self, request: Request, target: Target, verb: str, record: dict[str, Any]
    ) -> Response:
        store, rtype = self.store, target.rtype
        if target.subresource == "scale":
            if verb not in ("update", "patch"):
                raise StoreError(
                    405,
                    "MethodNotAllowed",
                    f"the server does not allow this method on the requested resource "
                    f"({request.method})",
                )
            return self.scales.write(request, rtype, target.namespace, target.name)
        if verb == "create":
            if target.name or target.subresource:
                raise StoreError(
                    405,
                    "MethodNotAllowed",
                    "POST is not allowed on a named object; use PUT or PATCH",
                )
            check = _validation(request, target, "CreateOptions")
            body = check_identity(
                target.rtype, target.version, target.namespace, decode_body(request)
            )
            body = check.check_object(body)
            entry = store.create_object(
                rtype, target.namespace, body, field_manager(request), dry_run(request)
            )
            record["name"] = entry.obj["metadata"].get("name")
            return _warned(raw_response(encode(target, entry), 201), check)
        if not target.name and verb != "deletecollection":
            raise StoreError(405, "MethodNotAllowed", f"{request.method} needs an object name")
        if verb == "update":
            check = _validation(request, target, "UpdateOptions")
            body = check_identity(
                target.rtype, target.version, target.namespace, decode_body(request)
            )
            body = check.check_object(body)
            entry = store.update_object(
                rtype,
                target.namespace,
                target.name,
                body,
                field_manager(request),
                target.subresource,
                dry_run(request),
            )
            return _warned(raw_response(encode(target, entry)), check)
        if verb == "patch":
            return self._patch(request, target)
        return self._delete(request, target, verb)

    def _patch(self, request: Request, target: Target) -> Response:
        check = _validation(request, target, "PatchOptions")
        ctype = request.header("content-type").split(";")[0].strip().lower()
        patch_type = PATCH_TYPES.get(ctype)
        if patch_type is None:
            raise StoreError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an "
                f"unknown format - accepted media types include: "
                f'{", ".join(sorted(PATCH_TYPES))} (got "{ctype}")',
            )
        body = decode_body(request)
        if patch_type == "apply":
            body = check_identity(target.rtype, target.version, target.namespace, body)
        manager = (
            request.query.get("fieldManager", "")
            if patch_type == "apply"
            else (field_manager(request))
        )
        entry, created = self.store.patch_object(
            target.rtype,
            target.namespace,
            target.name,
            patch_type,
            body,
            manager,
            request.flag("force"),
            target.subresource,
            dry_run(request),
            check,
        )
        return _warned(raw_response(encode(target, entry), 201 if created else 200), check)

    def _delete(self, request: Request, target: Target, verb: str) -> Response:
        options: dict[str, Any] = {}
        if request.body.strip():
            decoded = decode_body(request)
            if not isinstance(decoded, dict):
                raise bad_request("DeleteOptions must be a JSON object")
            options = decoded
        policy = request.query.get("propagationPolicy") or options.get("propagationPolicy")
        orphan = request.query.get("orphanDependents") or options.get("orphanDependents")
        if policy is None and str(orphan).lower() == "true":
            policy = "Orphan"
        is_dry_run = dry_run(request, options)
        rtype = target.rtype
        if verb == "deletecollection":
            entries, _ = self.store.select(
                rtype,
                target.namespace or None,
                request.query.get("labelSelector"),
                request.query.get("fieldSelector"),
            )
            deleted = self.store.delete_collection(rtype, entries, policy, is_dry_run)
            head = {
                "kind": rtype.list_kind,
                "apiVersion": rtype.api_version(target.version),
                "metadata": {"resourceVersion": str(self.store.resource_version)},
            }
            prefix = dumps(head)[:-1] + b',"items":['
            return raw_response(prefix + b",".join(encode(target, e) for e in deleted) + b"]}")
        preconditions = options.get("preconditions")
        entry, gone = self.store.delete_object(
            rtype,
            target.namespace,
            target.name,
            policy,
            is_dry_run,
            preconditions if isinstance(preconditions, dict) else None,
        )
        if not gone:
            return raw_response(encode(target, entry))
        details: dict[str, Any] = {
            "name": target.name,
            "kind": rtype.plural,
            "uid": entry.obj["metadata"].get("uid", ""),
        }
        if rtype.group:
            details["group"] = rtype.group
        return json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }
        )
