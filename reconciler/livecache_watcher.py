"""The list-then-watch loop of one kind (in one namespace), for ``reconciler.livecache``.

``KindWatcher`` lists its kind, in its namespace or in all of them, then watches from the
list's resourceVersion, and hands every list and event to its sink. A watch the server ends
normally is resumed from the last resourceVersion; 410 Gone re-lists at once; any other
failure re-lists after ``Backoff``. A kind the cluster does not serve (a CRD not installed
yet, or deleted since: a 404) is reported to the sink as an empty list and looked up again
(discovery refreshed) on the same backoff.
A watcher given a namespace whose kind turns out to be cluster-scoped is outside
``controller.namespaces``: it reports an empty list once and ends, without a request.

A 403 (the account may not list or watch the kind there) is retried on the backoff like any
failure, but logged as an error naming the kind, the namespace and the missing permission
once, not at every retry.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from reconciler.cluster_protocol import UnknownKindError
from reconciler.errors import ClusterError
from reconciler.watch_types import (
    BOOKMARK,
    WatchedResource,
    WatchEvent,
    WatchExpired,
    WatchSource,
    WatchStream,
)

log = logging.getLogger("reconciler.livecache")


class WatchSink(Protocol):
    """Where a KindWatcher puts what it learns."""

    def replace(self, watcher: KindWatcher, items: list[dict[str, Any]], *, notify: bool) -> None:
        """A complete, fresh list of the watcher's kind; report differences when ``notify``."""
        ...

    def apply(self, watcher: KindWatcher, event: WatchEvent) -> None:
        """One ADDED, MODIFIED or DELETED event."""
        ...


class Backoff:
    """Exponential backoff: ``initial`` doubling up to ``maximum``; ``reset`` after success."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum = initial, maximum
        self.current = 0.0

    def next(self) -> float:
        self.current = self.initial if not self.current else min(self.maximum, self.current * 2)
        return self.current

    def reset(self) -> None:
        self.current = 0.0


class KindWatcher:
    """The list-then-watch loop of one (group, kind), in ``namespace`` (None: all), on its
    own daemon thread. It reads through ``source`` and hands what it learns to ``sink`` (the
    LiveCache). ``in_scope`` turns False when a namespace was given and the kind is
    cluster-scoped."""

    def __init__(
        self,
        source: WatchSource,
        sink: WatchSink,
        group: str,
        kind: str,
        *,
        watch_timeout: float,
        backoff_initial: float,
        backoff_max: float,
        namespace: str | None = None,
    ) -> None:
        self.source = source
        self.sink = sink
        self.watch_timeout = watch_timeout
        self.group, self.kind = group, kind
        self.namespace = namespace
        self.resource: WatchedResource | None = None
        self.synced = threading.Event()
        self.served = True
        self.in_scope = True
        self.relists = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._stream: WatchStream | None = None
        self._backoff = Backoff(backoff_initial, backoff_max)
        name = f"watch-{kind}.{group}" if group else f"watch-{kind}"
        self.thread = threading.Thread(
            target=self._run, name=f"{name}@{namespace}" if namespace else name, daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    def _run(self) -> None:
        version: str | None = None
        while not self._stop.is_set():
            try:
                if self.resource is None:
                    self.resource = self.source.resolve(self.group, self.kind)
                    self.served = True
                if self.namespace is not None and not self.resource.namespaced:
                    self._out_of_scope()
                    return
                if version is None:
                    version = self._list(self.resource)
                version = self._follow(self.resource, version)
            except WatchExpired as exc:
                log.info("watch of %s expired (%s); listing again", self._what(), exc)
                version = None
                self.relists += 1
            except UnknownKindError as exc:
                self._not_served(str(exc))
                version = None
                self._wait()
                self._refresh_discovery()
            except Exception as exc:
                repeated = str(exc) == self.last_error
                self.last_error = str(exc)
                delay = self._backoff.next()
                gone = isinstance(exc, ClusterError) and exc.code == 404
                level = logging.WARNING if isinstance(exc, ClusterError) else logging.ERROR
                level = logging.INFO if gone else level
                if isinstance(exc, ClusterError) and exc.code == 403:
                    level = logging.DEBUG if repeated else logging.ERROR
                log.log(
                    level,
                    "watch of %s failed: %s; listing again in %.1f s",
                    self._what(),
                    exc,
                    delay,
                    exc_info=not isinstance(exc, ClusterError),
                )
                version = None
                self.relists += 1
                self._stop.wait(delay)
                if gone:  # the kind went away (its CRD was deleted): look it up again
                    self.resource = None
                    self._refresh_discovery()

    def _what(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind} in namespace {self.namespace}" if self.namespace else kind

    def _list(self, resource: WatchedResource) -> str:
        listed = self.source.list(resource, self.namespace)
        self.sink.replace(self, listed.items, notify=self.synced.is_set())
        self.synced.set()
        self.last_error = ""
        self._backoff.reset()
        return listed.resource_version

    def _follow(self, resource: WatchedResource, version: str) -> str:
        """Watch from ``version`` until the server ends the watch; the version to resume."""
        started = time.monotonic()
        stream = self.source.watch(resource, version, self.watch_timeout, self.namespace)
        with self._lock:
            self._stream = stream
        if self._stop.is_set():
            stream.close()
        seen = 0
        try:
            for event in stream:
                if self._stop.is_set():
                    break
                seen += 1
                version = event.resource_version or version
                if event.type != BOOKMARK:
                    self.sink.apply(self, event)
        finally:
            with self._lock:
                self._stream = None
            stream.close()
        if not seen and time.monotonic() - started < 1.0 and not self._stop.is_set():
            # the server ends our watches at once: do not spin
            self._stop.wait(self._backoff.next())
        elif seen:
            self._backoff.reset()
        return version

    def _out_of_scope(self) -> None:
        log.debug("%s is cluster-scoped: not watched within the namespaces", self._what())
        self.in_scope = False
        self.last_error = ""
        self.sink.replace(self, [], notify=self.synced.is_set())
        self.synced.set()

    def _not_served(self, message: str) -> None:
        if self.served:
            log.info("%s is not served by the cluster (yet): %s", self._what(), message)
        self.served = False
        self.resource = None
        self.last_error = message
        self.sink.replace(self, [], notify=self.synced.is_set())
        self.synced.set()

    def _wait(self) -> None:
        self._stop.wait(self._backoff.next())

    def _refresh_discovery(self) -> None:
        if self._stop.is_set():
            return
        try:
            self.source.refresh_discovery()
        except ClusterError as exc:
            log.debug("refreshing discovery failed: %s", exc)


__all__ = ["Backoff", "KindWatcher", "WatchSink"]
