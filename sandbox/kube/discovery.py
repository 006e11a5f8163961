"""Discovery documents: /version, /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>.

These are the legacy (non-aggregated) discovery formats; kubectl and the Python client's
DynamicClient fall back to them when the server answers ``application/json`` to a request for
aggregated discovery. Each resource lists its verbs, scope, kind, short names, categories and
singular name, followed by its ``/status`` and ``/scale`` (autoscaling/v1 Scale) subresources
where it has them.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from sandbox.kube.resources import ALL_VERBS, Registry, ResourceType

SCALE_GROUP, SCALE_VERSION = "autoscaling", "v1"  # the kind /scale subresources take

SERVER_VERSION: dict[str, str] = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kajitori",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def version() -> dict[str, str]:
    """The /version document."""
    return dict(SERVER_VERSION)


def api_versions(server_address: str) -> dict[str, Any]:
    """The /api document (the core group's versions)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    """The /apis document: every named group with its versions."""
    groups = registry.group_versions()
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, groups[name]) for name in sorted(groups) if name],
    }


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    """The /apis/<group> document, or None when the group is not served."""
    versions = registry.group_versions().get(group)
    if not group or not versions:
        return None
    return dict(_group(group, versions), kind="APIGroup", apiVersion="v1")


def _storage_hash(rtype: ResourceType) -> str:
    digest = hashlib.sha256(f"{rtype.group}/{rtype.version}/{rtype.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _verbs(rtype: ResourceType) -> list[str]:
    if rtype.kind == "Namespace" and not rtype.custom:
        return [v for v in ALL_VERBS if v != "deletecollection"]
    return list(ALL_VERBS)


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """The APIResourceList of one group/version, or None when it is not served."""
    types = [t for t in registry.types() if t.group == group and version in t.versions]
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rtype in sorted(types, key=lambda t: t.plural):
        entry: dict[str, Any] = {
            "name": rtype.plural,
            "singularName": rtype.singular,
            "namespaced": rtype.namespaced,
            "kind": rtype.kind,
            "verbs": _verbs(rtype),
            "storageVersionHash": _storage_hash(rtype),
        }
        if rtype.short_names:
            entry["shortNames"] = list(rtype.short_names)
        if rtype.categories:
            entry["categories"] = list(rtype.categories)
        resources.append(entry)
        if rtype.status_subresource:
            resources.append(
                {
                    "name": f"{rtype.plural}/status",
                    "singularName": "",
                    "namespaced": rtype.namespaced,
                    "kind": rtype.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if rtype.scale_subresource:
            resources.append(
                {
                    "name": f"{rtype.plural}/scale",
                    "singularName": "",
                    "namespaced": rtype.namespaced,
                    "group": SCALE_GROUP,
                    "version": SCALE_VERSION,
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
    gv = f"{group}/{version}" if group else version
    document: dict[str, Any] = {"kind": "APIResourceList", "groupVersion": gv}
    if group:
        document["apiVersion"] = "v1"
    document["resources"] = resources
    return document
