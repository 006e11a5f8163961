"""Parsing one Argo CD ``AppProject`` document into :class:`reconciler.model.AppProject`.

As in Argo CD, an absent ``sourceRepos`` or ``destinations`` allows nothing, an absent
``clusterResourceWhitelist`` allows no cluster-scoped kind, and an absent
``namespaceResourceWhitelist`` (unlike an empty one) allows every namespaced kind. Project
features kajitori does not implement yet (roles, sync windows, signature keys, ...) are
refused with "not supported yet" rather than silently dropped, since several of them restrict
what may be deployed.
"""

from __future__ import annotations

from reconciler.config_app import parse_metadata
from reconciler.config_fields import Fields
from reconciler.model import AppProject, GroupKind, ProjectDestination

_UNSUPPORTED = {
    "roles": "project roles (kajitori's access rules live in the Settings rbac section)",
    "syncWindows": "sync windows",
    "orphanedResources": "orphaned resource monitoring",
    "signatureKeys": "commit signature verification",
    "sourceNamespaces": "applications in other namespaces",
    "destinationServiceAccounts": "destination service accounts",
    "permitOnlyProjectScopedClusters": "project-scoped clusters",
}

_SPEC_FIELDS = (
    "sourceRepos",
    "destinations",
    "description",
    "clusterResourceWhitelist",
    "clusterResourceBlacklist",
    "namespaceResourceWhitelist",
    "namespaceResourceBlacklist",
)


def _group_kinds(fields: Fields, key: str) -> tuple[GroupKind, ...]:
    result = []
    for entry in fields.items(key):
        entry.check_keys(("group", "kind"))
        result.append(
            GroupKind(group=entry.string("group"), kind=entry.string("kind", required=True))
        )
    return tuple(result)


def _destinations(fields: Fields) -> tuple[ProjectDestination, ...]:
    result = []
    for entry in fields.items("destinations"):
        entry.check_keys(("server", "name", "namespace"))
        destination = ProjectDestination(
            server=entry.string("server"),
            name=entry.string("name"),
            namespace=entry.string("namespace"),
        )
        if not destination.server and not destination.name:
            entry.problem(None, "server or name required")
        result.append(destination)
    return tuple(result)


def parse_project(doc: Fields) -> AppProject:
    """The AppProject in ``doc`` (a whole document). Problems go to ``doc.problems``; the
    result is meaningful only when none were added."""
    doc.check_keys(("apiVersion", "kind", "metadata", "spec"), ignored=("status",))
    name, _namespace, _labels, annotations = parse_metadata(doc)
    spec = doc.mapping("spec", required=True)
    if spec is None:
        return AppProject(name=name, source_repos=(), destinations=())
    spec.check_keys(_SPEC_FIELDS, _UNSUPPORTED)
    whitelist = (
        _group_kinds(spec, "namespaceResourceWhitelist")
        if spec.has("namespaceResourceWhitelist")
        else None
    )
    return AppProject(
        name=name,
        source_repos=spec.strings("sourceRepos"),
        destinations=_destinations(spec),
        cluster_resource_whitelist=_group_kinds(spec, "clusterResourceWhitelist"),
        cluster_resource_blacklist=_group_kinds(spec, "clusterResourceBlacklist"),
        namespace_resource_whitelist=whitelist,
        namespace_resource_blacklist=_group_kinds(spec, "namespaceResourceBlacklist"),
        description=spec.string("description"),
        annotations=annotations,
    )
