"""The ``/scale`` subresource of Deployments, StatefulSets and ReplicaSets (autoscaling/v1).

A ``Scale`` is a view of its parent: ``spec.replicas``, ``status.replicas`` and
``status.selector`` (the label selector as a string, ``app=web,tier in (a,b)``), with the
parent's name, namespace, uid, resourceVersion and creationTimestamp. GET reads it; PUT and
PATCH (merge, JSON and strategic merge patch, as kubectl and the Python client send) change
the parent's ``spec.replicas`` under one lock. As on the real server the writer, recorded
with ``subresource: scale``, takes ``spec.replicas`` over in ``managedFields`` from whoever
owned it, and a ``metadata.resourceVersion`` in the body is a precondition (409 when stale).
Server-side apply to /scale is not served (415).
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.kube import patch
from sandbox.kube.apirequest import decode_body, dry_run, field_manager
from sandbox.kube.errors import StoreError, bad_request, invalid, not_found
from sandbox.kube.fieldvalidation import FieldValidation, directive
from sandbox.kube.httpmsg import Request, Response, json_response
from sandbox.kube.jsonvalue import copy_json
from sandbox.kube.resources import ResourceType
from sandbox.kube.store import Store
from sandbox.kube.typeschema import SCALE_GROUP, SCALE_VERSION

SCALE_API_VERSION = f"{SCALE_GROUP}/{SCALE_VERSION}"
_PATCHES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
}
_SCALE_META = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


def selector_string(selector: Any) -> str:
    """A label selector as the API server prints it: requirements sorted by key,
    ``k=v``, ``k in (a,b)``, ``k notin (a)``, ``k``, ``!k``; "" for none."""
    if not isinstance(selector, dict):
        return ""
    parts: list[tuple[str, str]] = []
    labels = selector.get("matchLabels")
    for key, value in labels.items() if isinstance(labels, dict) else ():
        parts.append((str(key), f"{key}={value}"))
    expressions = selector.get("matchExpressions")
    for expr in expressions if isinstance(expressions, list) else ():
        if not isinstance(expr, dict):
            continue
        key, operator = str(expr.get("key", "")), expr.get("operator")
        values = ",".join(sorted(str(v) for v in expr.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(str(operator))
        if text is not None:
            parts.append((key, text))
    return ",".join(text for _, text in sorted(parts, key=lambda p: p[0]))


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The Scale of a Deployment, StatefulSet or ReplicaSet."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    scale_spec: dict[str, Any] = {}
    if spec.get("replicas"):  # omitted when 0, as autoscaling/v1 does
        scale_spec["replicas"] = spec["replicas"]
    scale_status: dict[str, Any] = {"replicas": int(status.get("replicas") or 0)}
    selector = selector_string(spec.get("selector"))
    if selector:
        scale_status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": SCALE_API_VERSION,
        "metadata": {k: meta[k] for k in _SCALE_META if k in meta},
        "spec": scale_spec,
        "status": scale_status,
    }


def _replicas(scale: dict[str, Any], name: str) -> int:
    spec = scale.get("spec")
    value = spec.get("replicas", 0) if isinstance(spec, dict) else 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"Scale: spec.replicas must be an integer, not {json.dumps(value)}")
    if value < 0:
        raise invalid(
            "Scale",
            SCALE_GROUP,
            name,
            [("spec.replicas", f"Invalid value: {value}: must be greater than or equal to 0")],
        )
    return value


def _check_body(body: Any, name: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if api_version not in (None, "", SCALE_API_VERSION):
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({SCALE_API_VERSION})"
        )
    if kind not in (None, "", "Scale"):
        raise bad_request(f"the kind in the data ({kind}) does not match the expected kind (Scale)")
    meta = body.get("metadata")
    body_name = meta.get("name") if isinstance(meta, dict) else None
    if body_name and body_name != name:
        raise bad_request(
            f"the name of the object ({body_name}) does not match the name on the URL ({name})"
        )
    return body


class ScaleAPI:
    """Serves ``…/<deployments|statefulsets|replicasets>/<name>/scale``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Response:
        """GET: the current Scale."""
        entry = self.store.entry(rtype.group, rtype.kind, namespace, name)
        if entry is None:
            raise not_found(rtype.group, rtype.plural, name)
        return json_response(scale_of(entry.obj))

    def write(self, request: Request, rtype: ResourceType, namespace: str, name: str) -> Response:
        """PUT or PATCH: set the parent's replicas; answers the new Scale."""
        if request.method == "PUT":
            mode = directive(request.query, "UpdateOptions")
            patch_type = None
        else:
            mode = directive(request.query, "PatchOptions")
            ctype = request.header("content-type").split(";")[0].strip().lower()
            patch_type = _PATCHES.get(ctype)
            if patch_type is None:
                raise StoreError(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    f'include: {", ".join(sorted(_PATCHES))} (got "{ctype}")',
                )
        body = decode_body(request)
        check = FieldValidation(
            mode, rtype, SCALE_VERSION, request.body, request.header("content-type"), scale=True
        )
        warnings = check.warnings

        def change(live: dict[str, Any]) -> dict[str, Any]:
            current = scale_of(live)
            if patch_type is None:
                scale = check.check_object(_check_body(body, name))
            else:
                scale = _check_body(self._patched(current, patch_type, body), name)
                scale = check.check_patched(patch_type, body, scale)
            replicas = _replicas(scale, name)
            parent: dict[str, Any] = copy_json(live)
            parent.setdefault("spec", {})["replicas"] = replicas
            meta = scale.get("metadata")
            precondition = meta.get("resourceVersion") if isinstance(meta, dict) else None
            if precondition:
                parent["metadata"]["resourceVersion"] = precondition
            else:
                parent["metadata"].pop("resourceVersion", None)
            return parent

        entry = self.store.update_with(
            rtype, namespace, name, change, field_manager(request), "scale", dry_run(request)
        )
        response = json_response(scale_of(entry.obj))
        response.warnings = warnings
        return response

    @staticmethod
    def _patched(current: dict[str, Any], patch_type: str, body: Any) -> Any:
        try:
            if patch_type == "merge":
                return patch.merge_patch(current, body)
            if patch_type == "json":
                return patch.json_patch(current, body)
            if not isinstance(body, dict):
                raise bad_request("a strategic merge patch must be a JSON object")
            return patch.strategic_merge_patch(current, body)
        except patch.PatchError as err:
            raise StoreError(422, "Invalid", f"the patch could not be applied: {err}") from None
