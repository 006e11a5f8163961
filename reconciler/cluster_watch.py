"""List and watch over the ``kubernetes`` client: the live cache's edge to the API server.

Part of the Kubernetes edge with ``reconciler.cluster`` (the two modules that import
``kubernetes``). It works through the ``Cluster`` it is given: its discovery, its error mapping
and its client configuration (server, credentials, TLS). The requests themselves go through an
``ApiClient`` of its own built from that configuration, because every watch holds a
connection for minutes: with the Cluster's pool (cpu_count * 5 connections) twenty watched
kinds would crowd out the sync engine's requests and make urllib3 warn on every re-watch.
``Cluster`` has no public accessor for those parts yet, so its private ``_api``,
``_resource`` and ``_errors`` are used here (a public hook there would be better).

Within ``controller.namespaces`` (the Cluster's ``scope``) the live cache asks for one
namespace at a time (``/api/v1/namespaces/NS/configmaps``), so the pool grows with the number
of namespaces. A 403 names the kind and the namespace and says the account lacks permission.

Errors come out as ``ClusterError``; 410 Gone, whether as an HTTP status or as a watch
``ERROR`` event, as ``WatchExpired``.

A watch is a chunked HTTP response of JSON lines. ``_Stream`` reads it chunk by chunk, so an
event is seen as soon as the server flushes it, and ``close()`` shuts the socket down from
another thread, which is how ``LiveCache.stop()`` ends a watch blocked in a read.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

from kubernetes.client import ApiClient

from reconciler.cluster import Cluster
from reconciler.cluster_scope import where
from reconciler.errors import ClusterError
from reconciler.watch_types import (
    BOOKMARK,
    ListResult,
    WatchedResource,
    WatchEvent,
    WatchExpired,
)

log = logging.getLogger(__name__)

_LIST_PAGE: Final = 500
# Connections of the watch pool: one per watched kind, plus some for re-lists (times the
# number of namespaces when the watches are per namespace).
_POOL_SIZE: Final = 64
# How much longer than the server's own watch timeout a read may block before the
# connection is taken for dead (a half-open TCP connection sends nothing).
_READ_GRACE: Final = 30.0

RequestHook = Callable[[str, str, int], None]


class ClusterWatch:
    """``reconciler.watch_types.WatchSource`` over a ``Cluster``. ``on_request(verb, kind,
    code)`` is told of every list page and watch request (``Metrics.record_kube_request``);
    lists are read in pages of ``page_size`` objects. ``close()`` releases the connections.
    ``namespaces`` are the Cluster's (``controller.namespaces``)."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        connect_timeout: float = 10.0,
        list_timeout: float = 60.0,
        page_size: int = _LIST_PAGE,
        pool_size: int | None = None,
        on_request: RequestHook | None = None,
    ) -> None:
        self._cluster = cluster
        if pool_size is None:
            pool_size = _POOL_SIZE * max(1, len(cluster.scope.namespaces))
        configuration = copy.deepcopy(cluster.configuration)
        configuration.connection_pool_maxsize = max(pool_size, 1)
        self._api = ApiClient(configuration)
        self._connect_timeout = connect_timeout
        self._list_timeout = list_timeout
        self._on_request = on_request
        self._page_size = max(1, page_size)

    @property
    def namespaces(self) -> tuple[str, ...]:
        return self._cluster.scope.namespaces

    def _count(self, verb: str, kind: str, code: int) -> None:
        if self._on_request is not None:
            try:
                self._on_request(verb, kind, code)
            except Exception:
                log.exception("the Kubernetes request hook failed")

    def close(self) -> None:
        """Close the watch connection pool (stop the LiveCache first)."""
        self._api.close()  # type: ignore[no-untyped-call]

    def _get(self, path: str, timeout: Any, **query: Any) -> Any:
        """GET ``path`` with the query parameters that are not None; the unread response
        (ApiException for a non-2xx status)."""
        params = [(name, value) for name, value in query.items() if value is not None]
        request = self._api.param_serialize(
            "GET",
            path,
            query_params=params,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(*request, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()  # type: ignore[no-untyped-call]
            self._api.response_deserialize(response, {})  # raises ApiException
        return response.response

    def resolve(self, group: str, kind: str) -> WatchedResource:
        found = self._cluster.resource(group, kind)
        return WatchedResource(
            group=found.group or "",
            version=str(found.api_version),
            kind=str(found.kind),
            plural=str(found.name),
            namespaced=bool(found.namespaced),
        )

    def refresh_discovery(self) -> None:
        self._cluster.refresh_discovery()

    def _path(self, resource: WatchedResource, namespace: str | None) -> str:
        base = f"/apis/{resource.group}" if resource.group else "/api"
        inside = f"/namespaces/{namespace}" if namespace and resource.namespaced else ""
        return f"{base}/{resource.version}{inside}/{resource.plural}"

    def list(self, resource: WatchedResource, namespace: str | None = None) -> ListResult:
        path = self._path(resource, namespace)
        items: list[dict[str, Any]] = []
        token: str | None = None
        version = ""
        while True:
            try:
                with self._cluster.mapped_errors("list", _what(resource, namespace)):
                    response = self._get(
                        path,
                        (self._connect_timeout, self._list_timeout),
                        limit=self._page_size,
                        **{"continue": token},
                    )
                    page = json.loads(response.data or b"{}")
            except ClusterError as exc:
                self._count("list", resource.kind, exc.code)
                if exc.code == 410:
                    raise WatchExpired(str(exc), code=410, reason=exc.reason) from None
                raise
            self._count("list", resource.kind, 200)
            for item in page.get("items") or []:
                item.setdefault("apiVersion", resource.api_version)
                item.setdefault("kind", resource.kind)
                items.append(item)
            meta = page.get("metadata") or {}
            version = str(meta.get("resourceVersion") or version)
            token = meta.get("continue") or None
            if not token:
                return ListResult(items, version)

    def watch(
        self,
        resource: WatchedResource,
        resource_version: str,
        timeout_seconds: float,
        namespace: str | None = None,
    ) -> _Stream:
        seconds = max(1, int(timeout_seconds))
        try:
            with self._cluster.mapped_errors("watch", _what(resource, namespace)):
                response = self._get(
                    self._path(resource, namespace),
                    (self._connect_timeout, seconds + _READ_GRACE),
                    watch="true",
                    resourceVersion=resource_version or None,
                    allowWatchBookmarks="true",
                    timeoutSeconds=seconds,
                )
        except ClusterError as exc:
            self._count("watch", resource.kind, exc.code)
            if exc.code == 410:
                raise WatchExpired(str(exc), code=410, reason=exc.reason) from None
            raise
        self._count("watch", resource.kind, 200)
        return _Stream(self._cluster, resource, response)


def _what(resource: WatchedResource, namespace: str | None) -> str:
    """The kind and where it is read, for messages: "Deployment.apps in namespace shop"."""
    kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    return where(kind, namespace, resource.namespaced)


class _Stream:
    """One open watch response, iterated as WatchEvents."""

    def __init__(self, cluster: Cluster, resource: WatchedResource, response: Any) -> None:
        self._cluster = cluster
        self._resource = resource
        self._response = response
        self._closed = threading.Event()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._response.shutdown()
        except Exception:  # already closed or never connected: nothing to unblock
            log.debug("closing the watch of %s", self._resource, exc_info=True)

    def __iter__(self) -> Iterator[WatchEvent]:
        buffer = b""
        try:
            with self._cluster.mapped_errors("watch", str(self._resource)):
                for chunk in self._response.stream(amt=None, decode_content=True):
                    if self._closed.is_set():
                        return
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if line.strip():
                            yield self._event(line)
            if buffer.strip() and not self._closed.is_set():
                yield self._event(buffer)
        except ClusterError:
            if self._closed.is_set():
                return
            raise
        finally:
            self._response.release_conn()

    def _event(self, line: bytes) -> WatchEvent:
        try:
            data = json.loads(line)
        except ValueError:
            raise ClusterError(
                f"watch {self._resource}: the server sent a line that is not JSON", code=0
            ) from None
        kind = str(data.get("type") or "")
        obj = data.get("object") or {}
        if kind == "ERROR":
            code = int(obj.get("code") or 0)
            message = f"watch {self._resource}: {obj.get('message') or obj.get('reason')}"
            if code == 410:
                raise WatchExpired(message, code=410, reason=str(obj.get("reason") or "Expired"))
            raise ClusterError(message, code=code, reason=str(obj.get("reason") or ""))
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind != BOOKMARK:
            obj.setdefault("apiVersion", self._resource.api_version)
            obj.setdefault("kind", self._resource.kind)
        return WatchEvent(kind, obj, version)


__all__ = ["ClusterWatch", "RequestHook"]
