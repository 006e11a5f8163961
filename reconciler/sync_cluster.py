"""The writes a sync needs beyond ``ClusterProtocol``: create, replace (PUT) and writes with
server-side field validation turned off.

``ClusterProtocol`` offers server-side apply and delete, which is all a plain sync uses. Argo
CD's sync options need three more writes: ``Replace=true`` replaces an existing object (PUT)
or creates a missing one (POST), ``Validate=false`` asks the server not to reject unknown
fields (``fieldValidation=Ignore``), and removing the hook finalizer from an object kajitori
created with Replace needs an update. ``ExtraWrites`` names them; a cluster object that has
them is used as it is, and ``reconciler.cluster.Cluster`` gets them from ``KubeExtraWrites``.

``KubeExtraWrites`` uses the discovery, scope, request and error-mapping methods ``Cluster``
offers its sibling modules (``resource_of``, ``check_scope``, ``request``, ``mapped_errors``),
so that it neither imports ``kubernetes`` nor repeats the mapping of API errors to
``ClusterError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from reconciler.cluster_protocol import FIELD_MANAGER, ClusterProtocol
from reconciler.errors import ClusterError


@runtime_checkable
class ExtraWrites(Protocol):
    """Writes used by the Replace and Validate=false sync options and by finalizer removal.
    Every method raises ClusterError (or a subclass) on failure."""

    def create(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, validate: bool = True
    ) -> dict[str, Any]:
        """POST ``obj`` (409 AlreadyExists when it exists)."""
        ...

    def replace(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, validate: bool = True
    ) -> dict[str, Any]:
        """PUT ``obj`` over the live object; with a ``metadata.resourceVersion`` the write
        is refused (409) when the live object changed since."""
        ...

    def apply_unvalidated(
        self, obj: Mapping[str, Any], *, force: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        """Server-side apply as ``ClusterProtocol.apply`` with field validation Ignore."""
        ...


def extra_writes(cluster: ClusterProtocol) -> ExtraWrites | None:
    """The extra writes for ``cluster``: the cluster itself when it offers them, an adapter
    for ``reconciler.cluster.Cluster``, else None (the options that need them then fail
    with a message saying so)."""
    if isinstance(cluster, ExtraWrites):
        return cluster
    from reconciler.cluster import Cluster  # imported late: tests may run without kubernetes

    if isinstance(cluster, Cluster):
        return KubeExtraWrites(cluster)
    return None


class KubeExtraWrites:
    """``ExtraWrites`` over ``reconciler.cluster.Cluster``."""

    def __init__(self, cluster: Any) -> None:
        self._cluster = cluster

    def create(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, validate: bool = True
    ) -> dict[str, Any]:
        resource, name, namespace = self._target(obj)
        return self._write(
            "post",
            "create",
            resource,
            resource.path(namespace=namespace),
            obj,
            dry_run=dry_run,
            validate=validate,
            what=f"{resource.kind} {namespace + '/' if namespace else ''}{name}",
        )

    def replace(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, validate: bool = True
    ) -> dict[str, Any]:
        resource, name, namespace = self._target(obj)
        return self._write(
            "put",
            "replace",
            resource,
            resource.path(name=name, namespace=namespace),
            obj,
            dry_run=dry_run,
            validate=validate,
            what=f"{resource.kind} {namespace + '/' if namespace else ''}{name}",
        )

    def apply_unvalidated(
        self, obj: Mapping[str, Any], *, force: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        resource, name, namespace = self._target(obj)
        return self._write(
            "patch",
            "apply",
            resource,
            resource.path(name=name, namespace=namespace),
            obj,
            dry_run=dry_run,
            validate=False,
            what=f"{resource.kind} {namespace + '/' if namespace else ''}{name}",
            content_type="application/apply-patch+yaml",
            force_conflicts=force,
        )

    def _target(self, obj: Mapping[str, Any]) -> tuple[Any, str, str | None]:
        resource = self._cluster.resource_of(obj)
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name:
            raise ClusterError(f"{obj.get('kind', 'object')} has no metadata.name", code=400)
        namespace = str(meta.get("namespace") or "") if resource.namespaced else None
        if resource.namespaced and not namespace:
            raise ClusterError(f"{obj.get('kind')} {name} is namespaced but has no namespace")
        # controller.namespaces holds for these writes too (OutOfScopeError, nothing sent)
        self._cluster.check_scope("write", f"{resource.kind} {name}", namespace)
        return resource, name, namespace

    def _write(
        self,
        method: str,
        action: str,
        resource: Any,
        path: str,
        obj: Mapping[str, Any],
        *,
        dry_run: bool,
        validate: bool,
        what: str,
        **params: Any,
    ) -> dict[str, Any]:
        body = dict(obj)
        meta = body.get("metadata") or {}
        if not resource.namespaced and "namespace" in meta:
            body["metadata"] = {k: v for k, v in meta.items() if k != "namespace"}
        # As kubectl does for Argo CD: Strict unless Validate=false (the server's own default,
        # Warn, would drop an unknown field of a create or a replace without failing).
        query = [("fieldValidation", "Strict" if validate else "Ignore")]
        label = f"{action} (dry run)" if dry_run else action
        with self._cluster.mapped_errors(label, what, secret=obj):
            result: dict[str, Any] = self._cluster.request(
                method,
                path,
                body=body,
                field_manager=FIELD_MANAGER,
                dry_run="All" if dry_run else None,
                query_params=query,
                **params,
            )
        result.setdefault("apiVersion", resource.group_version)
        result.setdefault("kind", resource.kind)
        return result
