"""What a sync starts from: the desired objects keyed as the cluster sees them, their live
counterparts, the prune candidates, and the facts the sync options need (resources shared with
another app, the destination namespace, what is out of sync).

Keys follow ``reconciler.compare``: a desired object without a namespace gets the app's
destination namespace (``default`` when none) if discovery says its kind is namespaced (or a
CustomResourceDefinition among the desired objects does); a cluster-scoped one loses any
namespace. Live objects are read per (apiVersion, kind, namespace), one list when there are
several, so a large app costs a few requests. Prune candidates are the live objects whose
tracking annotation names this app and this very object, and that are no longer desired.

A full comparison (one server-side dry-run per existing object) is made only when
``ApplyOutOfSyncOnly`` needs to know what is out of sync; a plain sync does not pay for it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.cluster_protocol import ClusterProtocol, UnknownKindError
from reconciler.diff_ignore import rules_for
from reconciler.hooks import PlanError, describe, hook_spec
from reconciler.model import OUT_OF_SYNC, SYNC_OPTIONS_ANNOTATION, Application, ResourceKey
from reconciler.plan_types import Resource
from reconciler.sync_ignore import respect_ignore_differences
from reconciler.sync_options import SyncOptions, task_sync_options
from reconciler.tracking import owner_app, tracking_of

_GET_INSTEAD_OF_LIST = 3


@dataclass
class Inventory:
    """The inputs of ``reconciler.plan.build_plan`` plus what the sync options need.

    ``shared`` holds a message per desired object whose live copy is tracked by another app.
    ``out_of_sync`` is None unless a comparison was made (ApplyOutOfSyncOnly).
    """

    targets: list[Resource] = field(default_factory=list)
    prune_candidates: list[Resource] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    destination_namespace_exists: bool = True
    out_of_sync: set[ResourceKey] | None = None


def take_inventory(
    app: Application,
    desired: Sequence[Mapping[str, Any]],
    cluster: ClusterProtocol,
    app_options: SyncOptions,
) -> Inventory:
    """Read the cluster for one sync of ``app`` to ``desired``.

    Raises ``PlanError`` naming every desired object that is not an object at all (no
    apiVersion, kind or name), and ClusterError when the cluster cannot be read."""
    keyed = _keyed(app, desired, cluster)
    live = _fetch_live(cluster, keyed)
    inventory = Inventory()
    targets: dict[ResourceKey, Resource] = {}
    for key, obj, hook in keyed:
        found = live.get(key) if key.name else None
        target = obj
        if found is not None and not hook:
            owner = tracking_of(found)
            if owner is not None and owner.app != app.name and owner.key == key:
                inventory.shared.append(f"{key} is part of applications {app.name} and {owner.app}")
            target = _respecting_ignored(app, app_options, key, obj, found)
        targets[key] = Resource(key, target=target, live=found)
    inventory.targets = list(targets.values())
    for obj in cluster.list_tracked(app.name):
        key = ResourceKey.of(obj)
        if key in targets or owner_app(obj, key) != app.name:
            continue
        if hook_spec(obj, strict=False).hook:
            continue
        inventory.prune_candidates.append(Resource(key, live=obj))
    namespace = app.spec.destination.namespace
    if namespace and app_options.create_namespace:
        found_ns = cluster.get(ResourceKey("", "Namespace", "", namespace))
        inventory.destination_namespace_exists = found_ns is not None
    if _wants_out_of_sync_only(app_options, desired):
        inventory.out_of_sync = _out_of_sync(
            app, [obj for _, obj, hook in keyed if not hook], cluster
        )
    return inventory


def namespace_of(app: Application) -> str:
    """The namespace given to namespaced objects that name none."""
    return app.spec.destination.namespace or "default"


def _keyed(
    app: Application, desired: Sequence[Mapping[str, Any]], cluster: ClusterProtocol
) -> list[tuple[ResourceKey, dict[str, Any], bool]]:
    problems: list[str] = []
    scopes: dict[tuple[str, str], bool | None] = {}
    crd_scopes = _crd_scopes(desired)
    keyed: list[tuple[ResourceKey, dict[str, Any], bool]] = []
    for index, obj in enumerate(desired):
        problem = _invalid(obj)
        if problem:
            problems.append(f"desired object #{index + 1} ({describe(obj)}): {problem}")
            continue
        group = str(obj["apiVersion"]).rpartition("/")[0]
        kind = str(obj["kind"])
        if (group, kind) not in scopes:
            scopes[(group, kind)] = cluster.is_namespaced(group, kind)
        namespaced = scopes[(group, kind)]
        if namespaced is None:
            namespaced = crd_scopes.get((group, kind), True)
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or namespace_of(app)) if namespaced else ""
        key = ResourceKey(group, kind, namespace, str(meta.get("name") or ""))
        scoped = copy.deepcopy(dict(obj))
        scoped_meta = dict(scoped.get("metadata") or {})
        if namespace:
            scoped_meta["namespace"] = namespace
        else:
            scoped_meta.pop("namespace", None)
        scoped["metadata"] = scoped_meta
        keyed.append((key, scoped, hook_spec(scoped, strict=False).hook))
    if problems:
        raise PlanError(problems)
    return keyed


def _invalid(obj: Any) -> str:
    if not isinstance(obj, Mapping):
        return "is not a mapping"
    if not obj.get("apiVersion") or not obj.get("kind"):
        return "has no apiVersion or kind"
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not (meta.get("name") or meta.get("generateName")):
        return "has no metadata.name"
    return ""


def _crd_scopes(desired: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], bool]:
    scopes: dict[tuple[str, str], bool] = {}
    for obj in desired:
        if isinstance(obj, Mapping) and obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("group") and kind:
                scopes[(str(spec["group"]), str(kind))] = spec.get("scope") != "Cluster"
    return scopes


def _fetch_live(
    cluster: ClusterProtocol, keyed: list[tuple[ResourceKey, dict[str, Any], bool]]
) -> dict[ResourceKey, dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[ResourceKey]] = {}
    for key, obj, _ in keyed:
        if key.name:
            groups.setdefault((str(obj["apiVersion"]), key.kind, key.namespace), []).append(key)
    found: dict[ResourceKey, dict[str, Any]] = {}
    for (api_version, kind, namespace), keys in groups.items():
        try:
            if len(keys) <= _GET_INSTEAD_OF_LIST:
                for key in keys:
                    one = cluster.get(key, api_version)
                    if one is not None:
                        found[key] = one
                continue
            names = {key.name: key for key in keys}
            listed = cluster.list(keys[0].group, kind, namespace or None, api_version=api_version)
            for obj in listed:
                name = str((obj.get("metadata") or {}).get("name", ""))
                if name in names:
                    found[names[name]] = obj
        except UnknownKindError:
            continue  # not served yet (its CRD is in this sync): nothing live
    return found


def _respecting_ignored(
    app: Application,
    app_options: SyncOptions,
    key: ResourceKey,
    target: dict[str, Any],
    live: dict[str, Any],
) -> dict[str, Any]:
    options, _ = task_sync_options(app_options, target, live, str(key))
    if not options.respect_ignore_differences:
        return target
    rules = rules_for(app.spec.ignore_differences, key)
    return respect_ignore_differences(target, live, rules) if rules else target


def _wants_out_of_sync_only(app_options: SyncOptions, desired: Sequence[Mapping[str, Any]]) -> bool:
    if app_options.apply_out_of_sync_only:
        return True
    for obj in desired:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if "ApplyOutOfSyncOnly=true" in str(annotations.get(SYNC_OPTIONS_ANNOTATION, "")):
            return True
    return False


def _out_of_sync(
    app: Application, desired: list[dict[str, Any]], cluster: ClusterProtocol
) -> set[ResourceKey] | None:
    from reconciler.compare import compare  # the comparison machinery only when needed

    comparison = compare(app, desired, cluster)
    if any(condition.type == "ComparisonError" for condition in comparison.conditions):
        return None  # unsure what is in sync: apply everything rather than skip
    return {r.key for r in comparison.resources if r.status == OUT_OF_SYNC}
