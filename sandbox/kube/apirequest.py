"""Reading resource requests: bodies, identity checks, options, pagination.

Helpers of :mod:`sandbox.kube.api` that turn query parameters and bodies into the values the
store takes, raising 400 BadRequest (or 415 for media types the emulator cannot read, such as
protobuf) with a message naming what is wrong.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml

from sandbox.kube import protobuf
from sandbox.kube.errors import StoreError, bad_request
from sandbox.kube.httpmsg import Request
from sandbox.kube.resources import ResourceType
from sandbox.kube.state import Entry

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def decode_body(request: Request) -> Any:
    """The request body as JSON (or YAML, for YAML content types); 400 when malformed."""
    ctype = request.header("content-type").split(";")[0].strip().lower()
    if "protobuf" in ctype:
        return protobuf.decode(request.body)
    if "cbor" in ctype:
        raise StoreError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: "
            f'application/json, application/yaml (got "{ctype}")',
        )
    if not request.body.strip():
        raise bad_request("the request body is empty")
    try:
        return json.loads(request.body)
    except ValueError as err:
        if "yaml" not in ctype:
            raise bad_request(f"the request body is not valid JSON: {err}") from None
    try:
        return yaml.load(request.body, Loader=_YAML_LOADER)
    except yaml.YAMLError as err:
        raise bad_request(f"the request body is not valid YAML: {err}") from None


def check_identity(rtype: ResourceType, version: str, namespace: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    api_version, kind = body.get("apiVersion"), body.get("kind")
    served = {rtype.api_version(v) for v in rtype.versions}
    if api_version is not None and api_version not in served:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the "
            f"expected API version ({rtype.api_version(version)})"
        )
    if kind is not None and kind != rtype.kind:
        raise bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
        )
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise bad_request("metadata must be a JSON object")
    body_ns = (meta or {}).get("namespace")
    if rtype.namespaced and body_ns and body_ns != namespace:
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    return body


def field_manager(request: Request) -> str:
    manager = request.query.get("fieldManager", "")
    if manager:
        return manager
    agent = request.header("user-agent")
    return agent.split("/")[0].strip() or "unknown"


def dry_run(request: Request, options: dict[str, Any] | None = None) -> bool:
    values = [v for v in request.query.get("dryRun", "").split(",") if v]
    if options and isinstance(options.get("dryRun"), list):
        values.extend(str(v) for v in options["dryRun"])
    for value in values:
        if value != "All":
            raise bad_request(f'Invalid dryRun value "{value}": only "All" is supported')
    return bool(values)


def paginate(entries: list[Entry], request: Request, meta: dict[str, Any]) -> list[Entry]:
    """Apply ``limit`` and ``continue``; sets ``continue``/``remainingItemCount`` in meta."""
    token = request.query.get("continue")
    if token:
        try:
            start = tuple(json.loads(base64.urlsafe_b64decode(token.encode())))
        except ValueError:
            raise StoreError(
                410, "Expired", "the provided continue parameter is not valid"
            ) from None
        entries = [
            e
            for e in entries
            if (e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]) > start
        ]
    limit_text = request.query.get("limit", "")
    try:
        limit = int(limit_text) if limit_text else 0
    except ValueError:
        raise bad_request(f"invalid limit {limit_text!r}") from None
    if limit > 0 and len(entries) > limit:
        last = entries[limit - 1].obj["metadata"]
        key = [last.get("namespace", ""), last["name"]]
        meta["continue"] = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
        meta["remainingItemCount"] = len(entries) - limit
        entries = entries[:limit]
    return entries
