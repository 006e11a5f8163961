"""The resource types the emulator serves: the built-in kinds and those added by CRDs.

A :class:`ResourceType` is what discovery advertises for one kind (plural, scope, verbs, short
names, categories, subresources). The :class:`Registry` maps URL segments and (group, kind)
to types; CRDs add and remove entries while the server runs, so it is guarded by a lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


@dataclass(frozen=True)
class ResourceType:
    """One kind served under one group, with every version it is served at."""

    group: str
    versions: tuple[str, ...]
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    has_generation: bool = False
    custom: bool = False
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    scale_subresource: bool = False
    #: (version, its ``openAPIV3Schema`` as JSON, "" when it has none), for CRD-defined kinds
    schemas: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def version(self) -> str:
        """The preferred (storage) version."""
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        """The apiVersion string, e.g. ``apps/v1`` or ``v1``."""
        ver = version or self.version
        return f"{self.group}/{ver}" if self.group else ver

    def schema_json(self, version: str) -> str:
        """A CRD version's ``openAPIV3Schema`` as JSON ("" when it declares none)."""
        return next((text for ver, text in self.schemas if ver == version), "")

    @property
    def list_kind(self) -> str:
        """The kind of a list of these objects."""
        return f"{self.kind}List"


def _t(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    cats: tuple[str, ...] = (),
    status: bool = False,
    generation: bool = False,
    scale: bool = False,
) -> ResourceType:
    return ResourceType(
        group=group,
        versions=(version,),
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short,
        categories=cats,
        status_subresource=status,
        has_generation=generation,
        scale_subresource=scale,
    )


ALL = ("all",)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t("", "v1", "Namespace", "namespaces", False, ("ns",), status=True),
    _t("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _t("", "v1", "Secret", "secrets"),
    _t("", "v1", "Service", "services", short=("svc",), cats=ALL, status=True),
    _t("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
    _t("", "v1", "Pod", "pods", short=("po",), cats=ALL, status=True),
    _t("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), status=True),
    _t("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), status=True),
    _t("", "v1", "Endpoints", "endpoints", short=("ep",)),
    _t("", "v1", "Event", "events", short=("ev",)),
    _t("", "v1", "LimitRange", "limitranges", short=("limits",)),
    _t("", "v1", "ResourceQuota", "resourcequotas", short=("quota",), status=True),
    _t(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short=("deploy",),
        cats=ALL,
        status=True,
        generation=True,
        scale=True,
    ),
    _t(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short=("rs",),
        cats=ALL,
        status=True,
        generation=True,
        scale=True,
    ),
    _t(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short=("sts",),
        cats=ALL,
        status=True,
        generation=True,
        scale=True,
    ),
    _t(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        short=("ds",),
        cats=ALL,
        status=True,
        generation=True,
    ),
    _t("batch", "v1", "Job", "jobs", cats=ALL, status=True, generation=True),
    _t("batch", "v1", "CronJob", "cronjobs", short=("cj",), cats=ALL, status=True, generation=True),
    _t(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        short=("ing",),
        status=True,
        generation=True,
    ),
    _t("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, generation=True),
    _t(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        short=("netpol",),
        generation=True,
    ),
    _t(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short=("pdb",),
        status=True,
        generation=True,
    ),
    _t(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        cats=ALL,
        status=True,
        generation=True,
    ),
    _t("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _t("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _t("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    _t("coordination.k8s.io", "v1", "Lease", "leases"),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        status=True,
        generation=True,
    ),
)

CRD_GROUP = "apiextensions.k8s.io"
CRD_KIND = "CustomResourceDefinition"


def crd_resource_type(crd: dict[str, Any]) -> ResourceType | None:
    """The type a CRD object defines, or None when its spec is unusable."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return None
    names = spec.get("names") or {}
    group = spec.get("group")
    plural = names.get("plural") if isinstance(names, dict) else None
    kind = names.get("kind") if isinstance(names, dict) else None
    if not (isinstance(group, str) and isinstance(plural, str) and isinstance(kind, str)):
        return None
    versions: list[str] = []
    status_sub = False
    columns: tuple[dict[str, Any], ...] = ()
    schemas: list[tuple[str, str]] = []
    storage_first: list[str] = []
    for entry in spec.get("versions") or []:
        if not isinstance(entry, dict) or not entry.get("served", True):
            continue
        vname = entry.get("name")
        if not isinstance(vname, str):
            continue
        (storage_first if entry.get("storage") else versions).append(vname)
        validation = entry.get("schema")
        schema = validation.get("openAPIV3Schema") if isinstance(validation, dict) else None
        schemas.append((vname, json.dumps(schema, sort_keys=True) if schema else ""))
        subs = entry.get("subresources")
        if isinstance(subs, dict) and "status" in subs:
            status_sub = True
        cols = entry.get("additionalPrinterColumns")
        if isinstance(cols, list) and not columns:
            columns = tuple(c for c in cols if isinstance(c, dict))
    all_versions = tuple(storage_first + versions)
    if not all_versions:
        return None
    short = names.get("shortNames") or []
    cats = names.get("categories") or []
    return ResourceType(
        group=group,
        versions=all_versions,
        kind=kind,
        plural=plural,
        singular=str(names.get("singular") or kind.lower()),
        namespaced=spec.get("scope", "Namespaced") != "Cluster",
        short_names=tuple(str(s) for s in short if isinstance(s, str)),
        categories=tuple(str(c) for c in cats if isinstance(c, str)),
        status_subresource=status_sub,
        has_generation=True,
        custom=True,
        printer_columns=columns,
        schemas=tuple(schemas),
    )


class Registry:
    """The served resource types, looked up by URL or by (group, kind)."""

    def __init__(self, builtins: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._lock = threading.Lock()
        self._builtins = tuple(builtins)
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        self._by_plural: dict[tuple[str, str], ResourceType] = {}
        self._crd_owner: dict[str, tuple[str, str]] = {}
        self._generation = 0
        self.reset()

    def reset(self) -> None:
        """Forget every CRD-defined type."""
        with self._lock:
            self._by_kind = {(t.group, t.kind): t for t in self._builtins}
            self._by_plural = {(t.group, t.plural): t for t in self._builtins}
            self._crd_owner = {}
            self._generation += 1

    @property
    def generation(self) -> int:
        """Changes whenever the set of types changes (lets caches of discovery expire)."""
        return self._generation

    def add_crd(self, crd_name: str, rtype: ResourceType) -> bool:
        """Serve a CRD's type (replacing what that CRD served before). False when its
        names clash with a type served by something else."""
        with self._lock:
            clash = self._by_plural.get((rtype.group, rtype.plural))
            if clash is not None and self._crd_owner.get(crd_name) != (clash.group, clash.kind):
                return False
            self._drop_locked(crd_name)
            self._by_kind[(rtype.group, rtype.kind)] = rtype
            self._by_plural[(rtype.group, rtype.plural)] = rtype
            self._crd_owner[crd_name] = (rtype.group, rtype.kind)
            self._generation += 1
            return True

    def remove_crd(self, crd_name: str) -> ResourceType | None:
        """Stop serving what a CRD defined; returns the type it served."""
        with self._lock:
            removed = self._drop_locked(crd_name)
            self._generation += 1
            return removed

    def _drop_locked(self, crd_name: str) -> ResourceType | None:
        key = self._crd_owner.pop(crd_name, None)
        if key is None:
            return None
        rtype = self._by_kind.pop(key, None)
        if rtype is not None:
            self._by_plural.pop((rtype.group, rtype.plural), None)
        return rtype

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        """The type of a (group, kind), or None."""
        return self._by_kind.get((group, kind))

    def by_plural(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at /…/<group>/<version>/<plural>, or None."""
        rtype = self._by_plural.get((group, plural))
        if rtype is None or version not in rtype.versions:
            return None
        return rtype

    def types(self) -> list[ResourceType]:
        """Every served type (a snapshot)."""
        with self._lock:
            return list(self._by_kind.values())

    def group_versions(self) -> dict[str, list[str]]:
        """Served groups (core "" included) and their versions, preferred version first."""
        groups: dict[str, list[str]] = {}
        for rtype in self.types():
            versions = groups.setdefault(rtype.group, [])
            for ver in rtype.versions:
                if ver not in versions:
                    versions.append(ver)
        return groups
