"""The pure rules of comparison: which desired objects are hooks, which are malformed, how
an object is put in its namespace, which kinds the desired CRDs will serve, and how resource
results roll up into the app's sync status and health (Argo CD's rules for both)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from reconciler.compare_types import COMPARISON_ERROR, Condition, ResourceStatus
from reconciler.health import Health, aggregate
from reconciler.jsoncopy import json_copy
from reconciler.model import HELM_HOOK_ANNOTATION, HOOK_ANNOTATION, OUT_OF_SYNC, SYNCED, UNKNOWN

IGNORE_HEALTHCHECK_ANNOTATION: Final = "argocd.argoproj.io/ignore-healthcheck"


def is_hook(obj: Mapping[str, Any]) -> bool:
    """Whether an object is a sync hook (Argo CD's, Skip included, or a Helm hook other than
    crd-install), hence listed but not compared."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if str(annotations.get(HOOK_ANNOTATION, "")).strip():
        return True
    helm = {part.strip() for part in str(annotations.get(HELM_HOOK_ANNOTATION, "")).split(",")}
    return bool(helm - {"", "crd-install"})


def app_sync_status(resources: Sequence[ResourceStatus], conditions: Sequence[Condition]) -> str:
    """Unknown when something could not be compared (a ComparisonError, an Unknown resource);
    else OutOfSync when a non-hook resource differs, leaving out extraneous objects marked
    IgnoreExtraneous; else Synced."""
    compared = [r for r in resources if not r.hook]
    if any(c.type == COMPARISON_ERROR for c in conditions) or any(
        r.status == UNKNOWN for r in compared
    ):
        return UNKNOWN
    if any(r.status == OUT_OF_SYNC and not r.ignore_extraneous for r in compared):
        return OUT_OF_SYNC
    return SYNCED


def app_health(resources: Sequence[ResourceStatus]) -> str:
    """Argo CD's rule: worst of the resources' health, leaving out hooks, resources without
    health, Missing ones and those annotated ignore-healthcheck; Missing when the app has
    resources but none of them exists."""
    compared = [r for r in resources if not r.hook]
    if compared and all(r.live is None for r in compared):
        return "Missing"
    healths: list[Health | None] = []
    for resource in compared:
        annotations = ((resource.live or {}).get("metadata") or {}).get("annotations") or {}
        if str(annotations.get(IGNORE_HEALTHCHECK_ANNOTATION, "")).lower() == "true":
            continue
        if resource.health is not None and resource.health.status != "Missing":
            healths.append(resource.health)
    return aggregate(healths)


def resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def invalid_reason(obj: Mapping[str, Any]) -> str:
    """Why a desired object cannot be compared ("" when it can). Hooks may be named by
    ``generateName`` alone, as they get a fresh name at each sync."""
    if not isinstance(obj, Mapping):
        return "is not a mapping"
    if not obj.get("apiVersion") or not obj.get("kind"):
        return "has no apiVersion or kind"
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not name_of(obj):
        return f"{obj.get('kind')} has no metadata.name"
    return ""


def name_of(obj: Mapping[str, Any]) -> str:
    """metadata.name, or for a hook its generateName."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return ""
    name = str(meta.get("name") or "")
    if not name and is_hook(obj):
        name = str(meta.get("generateName") or "")
    return name


def scoped(obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """A copy of ``obj`` in ``namespace`` (none for "", as cluster-scoped objects have)."""
    result = json_copy(dict(obj))
    meta = result.setdefault("metadata", {})
    if namespace:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    return result


def crd_scopes(desired: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for the CustomResourceDefinitions among the desired."""
    scopes: dict[tuple[str, str], bool] = {}
    for obj in desired:
        if isinstance(obj, Mapping) and obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("group") and kind:
                scopes[(str(spec["group"]), str(kind))] = spec.get("scope") != "Cluster"
    return scopes
