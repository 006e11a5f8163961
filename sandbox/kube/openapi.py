"""OpenAPI v3 documents, as much as kubectl needs of them.

kubectl 1.32 reads ``/openapi/v3`` (an index of group/version documents) and, before an apply,
a group/version document to learn whether the server validates fields itself: it looks for
the PATCH operation tagged with the kind's ``x-kubernetes-group-version-kind`` and checks that
it takes a ``fieldValidation`` query parameter (the emulator does validate: see
:mod:`sandbox.kube.fieldvalidation`). The documents here describe each served resource's
paths and operations with their parameters, ``/status`` and ``/scale`` (autoscaling/v1 Scale)
included. They deliberately carry no component
schemas for the kinds: kubectl then uses its compiled-in knowledge of the built-in types
(e.g. merge keys for client-side apply) instead of a schema that would say less.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sandbox.kube.resources import Registry, ResourceType

_COMMON = ("pretty",)
_WRITE = ("dryRun", "fieldManager", "fieldValidation")
_PATCH = (*_WRITE, "force")
_LIST = (
    "labelSelector",
    "fieldSelector",
    "resourceVersion",
    "resourceVersionMatch",
    "limit",
    "continue",
    "timeoutSeconds",
    "watch",
    "allowWatchBookmarks",
    "sendInitialEvents",
)
_DELETE = ("dryRun", "gracePeriodSeconds", "propagationPolicy", "orphanDependents")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def index(registry: Registry) -> dict[str, Any]:
    """The /openapi/v3 document: one entry per served group/version."""
    paths: dict[str, Any] = {}
    for group, versions in sorted(registry.group_versions().items()):
        for version in versions:
            doc = group_version_document(registry, group, version)
            if doc is None:
                continue
            digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64]
            key = _gv_path(group, version)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest.upper()}"}
    return {"paths": paths}


def _params(names: tuple[str, ...], path_params: tuple[str, ...]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in path_params
    ]
    params.extend(
        {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for n in (*_COMMON, *names)
    )
    return params


def _operation(
    rtype: ResourceType,
    version: str,
    action: str,
    params: list[dict[str, Any]],
    op_id: str,
    gvk: tuple[str, str, str] | None = None,
) -> dict[str, Any]:
    group, ver, kind = gvk or (rtype.group, version, rtype.kind)
    return {
        "operationId": op_id,
        "parameters": params,
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "version": ver, "kind": kind},
    }


def _resource_paths(rtype: ResourceType, version: str) -> dict[str, Any]:
    prefix = "/" + _gv_path(rtype.group, version)
    if rtype.namespaced:
        collection = f"{prefix}/namespaces/{{namespace}}/{rtype.plural}"
        scope: tuple[str, ...] = ("namespace",)
    else:
        collection = f"{prefix}/{rtype.plural}"
        scope = ()
    item = f"{collection}/{{name}}"
    named = (*scope, "name")
    op = f"{rtype.kind}{version.capitalize()}"
    paths: dict[str, Any] = {
        collection: {
            "get": _operation(rtype, version, "list", _params(_LIST, scope), f"list{op}"),
            "post": _operation(rtype, version, "post", _params(_WRITE, scope), f"create{op}"),
            "delete": _operation(
                rtype,
                version,
                "deletecollection",
                _params(_DELETE + _LIST, scope),
                f"deleteCollection{op}",
            ),
        },
        item: {
            "get": _operation(rtype, version, "get", _params((), named), f"read{op}"),
            "put": _operation(rtype, version, "put", _params(_WRITE, named), f"replace{op}"),
            "patch": _operation(rtype, version, "patch", _params(_PATCH, named), f"patch{op}"),
            "delete": _operation(rtype, version, "delete", _params(_DELETE, named), f"delete{op}"),
        },
    }
    if rtype.status_subresource:
        paths[f"{item}/status"] = {
            "get": _operation(rtype, version, "get", _params((), named), f"read{op}Status"),
            "put": _operation(rtype, version, "put", _params(_WRITE, named), f"replace{op}Status"),
            "patch": _operation(
                rtype, version, "patch", _params(_PATCH, named), f"patch{op}Status"
            ),
        }
    if rtype.scale_subresource:
        scale = ("autoscaling", "v1", "Scale")
        paths[f"{item}/scale"] = {
            "get": _operation(rtype, version, "get", _params((), named), f"read{op}Scale", scale),
            "put": _operation(
                rtype, version, "put", _params(_WRITE, named), f"replace{op}Scale", scale
            ),
            "patch": _operation(
                rtype, version, "patch", _params(_WRITE, named), f"patch{op}Scale", scale
            ),
        }
    return paths


def group_version_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group/version, or None when it is not served."""
    types = [t for t in registry.types() if t.group == group and version in t.versions]
    if not types:
        return None
    paths: dict[str, Any] = {}
    for rtype in sorted(types, key=lambda t: t.plural):
        paths.update(_resource_paths(rtype, version))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (kajitori emulator)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def document_for_path(registry: Registry, path: str) -> dict[str, Any] | None:
    """The document for a path below /openapi/v3/ (``api/v1`` or ``apis/<g>/<v>``)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) == 2 and parts[0] == "api":
        return group_version_document(registry, "", parts[1])
    if len(parts) == 3 and parts[0] == "apis":
        return group_version_document(registry, parts[1], parts[2])
    return None
