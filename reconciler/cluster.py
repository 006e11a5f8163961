"""The reconciler's edge to Kubernetes: the only module that imports ``kubernetes``.

``Cluster`` wraps a ``kubernetes.client.ApiClient``. Discovery goes through
``kubernetes.dynamic.DynamicClient`` (created on first use, so building a Cluster never
touches the network): which resource serves a (group, kind), whether it is namespaced, and the
preferred version; an unknown kind refreshes discovery once before it is reported, so CRDs
installed after start-up are found. Reads and writes return plain dicts.

With ``namespaces`` (``controller.namespaces``) the Cluster keeps to those namespaces
(``reconciler.cluster_scope``): a request for an object elsewhere, or for a cluster-scoped
one, is refused with ``OutOfScopeError`` before it is sent, a list "in every namespace" lists
each of them, and the search for tracked objects (``reconciler.cluster_list``) leaves
cluster-scoped kinds alone. A 403 on a read names the kind and the namespace and says the
account kajitori runs as lacks the permission. Every
``ApiException`` and urllib3 transport error is turned into ``ClusterError`` (or the
subclasses in ``reconciler.cluster_protocol``) with the HTTP code, the Status reason and a
message naming the object; Secret values are scrubbed from server messages.

Thread-safe: discovery is serialised by a lock; requests share urllib3's connection pool.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError
from kubernetes.dynamic.resource import Resource, ResourceList

from reconciler.cluster_list import LIST_PAGE, find_tracked, listable, read_pages, with_type
from reconciler.cluster_messages import describe, scrub_secret_values, status_of, undeclared_field
from reconciler.cluster_protocol import (
    FIELD_MANAGER,
    ConflictError,
    PropagationPolicy,
    UnknownKindError,
    UnreachableError,
)
from reconciler.cluster_scope import NamespaceScope, forbidden, where
from reconciler.errors import ClusterError
from reconciler.model import ResourceKey

Objects = list[dict[str, Any]]
_READS = ("get", "list", "watch")


class Cluster:
    """A Kubernetes API server, as ``reconciler.cluster_protocol.ClusterProtocol``, used only
    inside ``namespaces`` when some are given (module doc)."""

    def __init__(
        self,
        api_client: ApiClient,
        *,
        request_timeout: float = 30.0,
        namespaces: Sequence[str] = (),
    ) -> None:
        self._api = api_client
        self.scope = NamespaceScope.of(namespaces)
        self._timeout = request_timeout
        self._lock = threading.RLock()
        self._dynamic: Any = None
        self._discovery_dir: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def from_kubeconfig(
        cls,
        path: str | Path | None = None,
        context: str | None = None,
        *,
        namespaces: Sequence[str] = (),
    ) -> Cluster:
        """From a kubeconfig file (default: $KUBECONFIG or ~/.kube/config) and context."""
        configuration = k8s_client.Configuration()
        where = str(path) if path else "the default kubeconfig"
        try:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(path) if path else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, ValueError) as exc:
            what = f"context {context!r} of {where}" if context else where
            raise ClusterError(f"cannot load {what}: {exc}") from None
        return cls(k8s_client.ApiClient(configuration), namespaces=namespaces)

    @classmethod
    def in_cluster(cls, *, namespaces: Sequence[str] = ()) -> Cluster:
        """From the service account mounted into the pod kajitori runs in."""
        configuration = k8s_client.Configuration()
        try:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except ConfigException as exc:
            raise ClusterError(f"not running inside a Kubernetes pod: {exc}") from None
        return cls(k8s_client.ApiClient(configuration), namespaces=namespaces)

    @property
    def host(self) -> str:
        return str(self._api.configuration.host)

    def close(self) -> None:
        """Release the connection pool and the discovery cache."""
        self._api.close()  # type: ignore[no-untyped-call]
        if self._discovery_dir is not None:
            self._discovery_dir.cleanup()

    # -- discovery -------------------------------------------------------------------------

    def refresh_discovery(self) -> None:
        """Forget what discovery knows (after CRDs were installed or removed)."""
        with self._lock, self.mapped_errors("refresh API discovery", "the cluster"):
            self._client().resources.invalidate_cache()

    def is_namespaced(self, group: str, kind: str) -> bool | None:
        try:
            return bool(self.resource(group, kind).namespaced)
        except UnknownKindError:
            return None

    def preferred_version(self, group: str, kind: str) -> str:
        """The apiVersion (``group/version`` or ``v1``) the server prefers for a kind."""
        return str(self.resource(group, kind).group_version)

    def _client(self) -> Any:
        if self._dynamic is None:
            self._discovery_dir = tempfile.TemporaryDirectory(prefix="kajitori-discovery-")
            cache = os.path.join(self._discovery_dir.name, "discovery.json")
            self._dynamic = DynamicClient(  # type: ignore[no-untyped-call]
                self._api, cache_file=cache
            )
        return self._dynamic

    def resource(self, group: str, kind: str, version: str | None = None) -> Any:
        """The discovered Resource for (group, kind), in ``version`` or the preferred one."""
        what = f"{kind}.{group}" if group else kind
        with self._lock, self.mapped_errors("discover", what):
            prefix = "apis" if group else "api"
            try:
                found = self._client().resources.search(
                    prefix=prefix, group=group or None, api_version=version, kind=kind
                )
            except ResourceNotFoundError:
                found = []
        matches = [r for r in found if isinstance(r, Resource) and not isinstance(r, ResourceList)]
        matches = [r for r in matches if r.kind == kind and (r.group or "") == group]
        if version:
            matches = [r for r in matches if r.api_version == version]
        if not matches:
            served = f"{group}/{version}" if version and group else (version or group or "v1")
            raise UnknownKindError(
                f"the cluster serves no kind {kind} in {served}", code=404, reason="NotFound"
            )
        preferred = [r for r in matches if r.preferred]
        return (preferred or matches)[0]

    def resource_of(self, obj: Mapping[str, Any]) -> Any:
        """The discovered Resource for an object's apiVersion and kind."""
        api_version = str(obj.get("apiVersion") or "")
        kind = str(obj.get("kind") or "")
        if not api_version or not kind:
            raise ClusterError(f"{describe(obj)} has no apiVersion or kind", code=400)
        group, _, version = api_version.rpartition("/")
        return self.resource(group, kind, version)

    # -- reads -----------------------------------------------------------------------------

    def get(self, key: ResourceKey, api_version: str | None = None) -> dict[str, Any] | None:
        version = api_version.rpartition("/")[2] if api_version else None
        resource = self.resource(key.group, key.kind, version)
        namespace = key.namespace if resource.namespaced else None
        self.check_scope("get", str(key), namespace)
        path = resource.path(name=key.name, namespace=namespace)
        try:
            with self.mapped_errors("get", str(key)):
                return with_type(self.request("get", path), resource)
        except ClusterError as exc:
            if exc.code == 404:
                return None
            raise

    def list(
        self,
        group: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        api_version: str | None = None,
    ) -> Objects:
        version = api_version.rpartition("/")[2] if api_version else None
        resource = self.resource(group, kind, version)
        if not resource.namespaced:
            self.check_scope("list", kind, None)
            return self._list(resource, None, label_selector)
        if namespace:
            self.check_scope("list", where(kind, namespace), namespace)
        objects: Objects = []
        for scoped in (namespace,) if namespace else self.scope.listing():
            try:
                objects.extend(self._list(resource, scoped, label_selector))
            except ClusterError as exc:
                if exc.code != 404 or not scoped:
                    raise  # else the namespace does not exist (yet)
        return objects

    def list_tracked(self, app: str, exclude: Collection[ResourceKey] = frozenset()) -> Objects:
        with self._lock, self.mapped_errors("discover", "the API resources"):
            found = self._client().resources.search()
        resources = listable(
            (r for r in found if isinstance(r, Resource) and not isinstance(r, ResourceList)),
            self.scope,
        )
        found = find_tracked(app, resources, self.scope, lambda r, ns: self._list(r, ns, None))
        return [obj for obj in found if ResourceKey.of(obj) not in exclude] if exclude else found

    def _list(self, resource: Any, namespace: str | None, label_selector: str | None) -> Objects:
        path = resource.path(namespace=namespace)
        with self.mapped_errors("list", where(resource.kind, namespace, bool(resource.namespaced))):
            return read_pages(
                lambda token: self.request(
                    "get", path, label_selector=label_selector, limit=LIST_PAGE, _continue=token
                ),
                resource,
            )

    def check_scope(self, action: str, what: str, namespace: str | None) -> None:
        """Refuse (OutOfScopeError) a request outside ``controller.namespaces``."""
        if not self.scope.allows(namespace or ""):
            raise self.scope.refuse(action, what, namespace or "")

    # -- writes ----------------------------------------------------------------------------

    def apply(
        self, obj: Mapping[str, Any], *, force: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        try:
            resource = self.resource_of(obj)
        except UnknownKindError as error:
            raise UnknownKindError(
                f"apply {describe(obj)}: {error}", code=error.code, reason=error.reason
            ) from None
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name:
            raise ClusterError(f"{describe(obj)} has no metadata.name", code=400)
        namespace = str(meta.get("namespace") or "") if resource.namespaced else None
        if resource.namespaced and not namespace:
            raise ClusterError(f"{describe(obj)} is namespaced but has no namespace", code=400)
        key = ResourceKey(resource.group or "", resource.kind, namespace or "", name)
        action = "apply (dry run)" if dry_run else "apply"
        self.check_scope(action, str(key), namespace)
        body = dict(obj)
        if not resource.namespaced and "namespace" in meta:
            body["metadata"] = {k: v for k, v in meta.items() if k != "namespace"}
        try:
            with self.mapped_errors(action, str(key), secret=obj):
                return with_type(
                    self.request(
                        "patch",
                        resource.path(name=name, namespace=namespace),
                        body=body,
                        content_type="application/apply-patch+yaml",
                        field_manager=FIELD_MANAGER,
                        force_conflicts=force,
                        dry_run="All" if dry_run else None,
                    ),
                    resource,
                )
        except ClusterError as exc:
            if exc.code == 404 and not isinstance(exc, UnknownKindError):
                self._raise_if_kind_vanished(resource)
            raise

    def delete(
        self,
        key: ResourceKey,
        *,
        propagation: PropagationPolicy = "Foreground",
        dry_run: bool = False,
    ) -> bool:
        resource = self.resource(key.group, key.kind)
        namespace = key.namespace if resource.namespaced else None
        self.check_scope("delete", str(key), namespace)
        path = resource.path(name=key.name, namespace=namespace)
        try:
            with self.mapped_errors("delete", str(key)):
                self.request(
                    "delete",
                    path,
                    propagation_policy=propagation,
                    dry_run="All" if dry_run else None,
                )
        except ClusterError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    # -- plumbing, also for the modules beside this one (sync_cluster, cluster_watch) ---------

    @property
    def configuration(self) -> Any:
        """The client configuration (server, credentials) this cluster connects with."""
        return self._api.configuration

    def request(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        """One API request (``params`` as the client's ``request`` takes them); the JSON
        answer. Wrap it in ``mapped_errors``."""
        params = {name: value for name, value in params.items() if value is not None}
        response = self._client().request(
            method, path, serialize=False, _request_timeout=self._timeout, **params
        )
        data = json.loads(response.data or b"{}")
        return data if isinstance(data, dict) else {}

    def _raise_if_kind_vanished(self, resource: Any) -> None:
        self.refresh_discovery()
        self.resource(resource.group or "", resource.kind, resource.api_version)

    @contextmanager
    def mapped_errors(
        self, action: str, what: str, secret: Mapping[str, Any] | None = None
    ) -> Iterator[None]:
        """Turn kubernetes and urllib3 errors raised inside into ClusterError."""
        try:
            yield
        except ClusterError:
            raise
        except ApiException as exc:
            code = int(exc.status or 0)
            message, reason = status_of(exc.body, exc.status, exc.reason)
            if secret is not None:
                message = scrub_secret_values(message, secret)
            if code == 500 and undeclared_field(message):
                code, reason = 422, "Invalid"  # the manifest's fault: see undeclared_field
            error = ConflictError if code == 409 else ClusterError
            text = f"{action} {what}: {message}"
            if code == 403 and action in _READS:
                text = forbidden(action, what, self.scope, message)
            raise error(text, code=code, reason=reason) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise UnreachableError(
                f"{action} {what}: cannot reach the Kubernetes API at {self.host} "
                f"({type(exc).__name__})",
                code=0,
                reason="Unreachable",
            ) from None
        except ValueError as exc:  # raised by the client for a bad server address
            raise UnreachableError(
                f"{action} {what}: {exc}", code=0, reason="Unreachable"
            ) from None
