"""Prometheus metrics of the reconciler, named after Argo CD's (``argocd_`` becomes
``kajitori_``), so its dashboards and alerts carry over by changing the prefix:

=======================================  =========  ==========================================
metric                                    type       labels
=======================================  =========  ==========================================
kajitori_app_info                         gauge      name, namespace, project, repo, dest_server,
                                                     dest_namespace, sync_status, health_status,
                                                     operation, autosync_enabled
kajitori_app_condition                    gauge      name, namespace, project, type
kajitori_app_sync_total                   counter    name, namespace, project, dest_server, phase
kajitori_app_sync_duration_seconds_total  counter    name, namespace, project
kajitori_app_reconcile                    histogram  namespace, dest_server (seconds)
kajitori_app_k8s_request_total            counter    name, verb, resource_kind, response_code
kajitori_git_request_total                counter    repo, request_type
kajitori_git_request_duration_seconds     histogram  repo, request_type
kajitori_git_fetch_fail_total             counter    repo
kajitori_cluster_api_resources            gauge      (watched kinds in the live cache)
kajitori_cluster_api_resource_objects     gauge      (objects in the live cache)
kajitori_cluster_events_total             counter    (watch events the live cache applied)
kajitori_webhook_requests_total           counter    event, result
=======================================  =========  ==========================================

Everything lives in a ``CollectorRegistry`` of its own (never the process-global one), so a
test or a second controller can hold several ``Metrics``. The controller calls the small
``record_*``/``set_*`` methods; ``exposition(accept)`` renders the registry for ``/metrics``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Final, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from reconciler.config_fields import redact_url
from reconciler.model import Application

# Argo CD's buckets for argocd_app_reconcile, and sensible ones for Git requests.
RECONCILE_BUCKETS: Final = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
GIT_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0, 20.0)

_APP_INFO_LABELS: Final = (
    "name",
    "namespace",
    "project",
    "repo",
    "dest_server",
    "dest_namespace",
    "sync_status",
    "health_status",
    "operation",
    "autosync_enabled",
)


class CacheStats(Protocol):
    """What ``Metrics.watch_cache`` reads from the live cache at every scrape."""

    @property
    def resources(self) -> int: ...

    @property
    def objects(self) -> int: ...

    @property
    def events(self) -> int: ...


class _CacheCollector(Collector):
    """Reads the live cache's counters when Prometheus scrapes."""

    def __init__(self, stats: Callable[[], CacheStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        yield GaugeMetricFamily(
            "kajitori_cluster_api_resources",
            "Number of Kubernetes API resources (kinds) the live cache watches.",
            value=stats.resources,
        )
        yield GaugeMetricFamily(
            "kajitori_cluster_api_resource_objects",
            "Number of Kubernetes objects in the live cache.",
            value=stats.objects,
        )
        yield CounterMetricFamily(
            "kajitori_cluster_events",
            "Number of watch events the live cache applied.",
            value=stats.events,
        )


def _dest_server(app: Application) -> str:
    destination = app.spec.destination
    return destination.server or destination.name or "in-cluster"


class Metrics:
    """The reconciler's metrics in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self._lock = threading.Lock()
        self._info_labels: dict[str, tuple[str, ...]] = {}
        self._condition_labels: dict[str, set[tuple[str, ...]]] = {}
        self.app_info = Gauge(
            "kajitori_app_info",
            "Information about an application: its sync and health status.",
            _APP_INFO_LABELS,
            registry=reg,
        )
        self.app_condition = Gauge(
            "kajitori_app_condition",
            "The conditions an application currently has (1 while present).",
            ("name", "namespace", "project", "type"),
            registry=reg,
        )
        self.app_sync = Counter(
            "kajitori_app_sync",
            "Sync operations that ended, by phase.",
            ("name", "namespace", "project", "dest_server", "phase"),
            registry=reg,
        )
        self.app_sync_duration = Counter(
            "kajitori_app_sync_duration_seconds",
            "Time spent in sync operations, in seconds.",
            ("name", "namespace", "project"),
            registry=reg,
        )
        self.app_reconcile = Histogram(
            "kajitori_app_reconcile",
            "Application reconciliation (refresh and compare) duration in seconds.",
            ("namespace", "dest_server"),
            buckets=RECONCILE_BUCKETS,
            registry=reg,
        )
        self.k8s_request = Counter(
            "kajitori_app_k8s_request",
            "Kubernetes API requests, by verb, kind and response code (0: unreachable).",
            ("name", "verb", "resource_kind", "response_code"),
            registry=reg,
        )
        self.git_request = Counter(
            "kajitori_git_request",
            "Git requests (fetch, ls-remote) to repositories.",
            ("repo", "request_type"),
            registry=reg,
        )
        self.git_duration = Histogram(
            "kajitori_git_request_duration_seconds",
            "Git request duration in seconds.",
            ("repo", "request_type"),
            buckets=GIT_BUCKETS,
            registry=reg,
        )
        self.git_fetch_fail = Counter(
            "kajitori_git_fetch_fail",
            "Git fetches that failed.",
            ("repo",),
            registry=reg,
        )
        self.webhook_requests = Counter(
            "kajitori_webhook_requests",
            "Webhook and refresh requests received, by event and result.",
            ("event", "result"),
            registry=reg,
        )

    # -- applications --------------------------------------------------------------------

    def set_app_info(
        self,
        app: Application,
        sync_status: str,
        health_status: str,
        operation: str = "",
    ) -> None:
        """Publish an app's current status (replacing its previous ``kajitori_app_info``
        series). ``operation`` is "sync" while an operation runs, else ""."""
        automated = app.spec.sync_policy.automated is not None
        labels = (
            app.name,
            app.namespace,
            app.spec.project,
            redact_url(app.spec.source.repo_url),
            _dest_server(app),
            app.spec.destination.namespace,
            sync_status,
            health_status,
            operation,
            "true" if automated else "false",
        )
        with self._lock:
            old = self._info_labels.get(app.name)
            if old is not None and old != labels:
                self.app_info.remove(*old)
            self._info_labels[app.name] = labels
            self.app_info.labels(*labels).set(1)

    def set_app_conditions(self, app: Application, condition_types: Iterable[str]) -> None:
        """Publish the types of the conditions an app has now (SyncError, ComparisonError...);
        the ones it no longer has disappear."""
        wanted: set[tuple[str, ...]] = {
            (app.name, app.namespace, app.spec.project, kind) for kind in condition_types
        }
        with self._lock:
            current = self._condition_labels.get(app.name, set())
            for labels in current - wanted:
                self.app_condition.remove(*labels)
            for labels in wanted:
                self.app_condition.labels(*labels).set(1)
            self._condition_labels[app.name] = wanted

    def remove_app(self, name: str) -> None:
        """Forget the info and condition series of an app that was removed. Counters keep
        their history, as Prometheus counters should."""
        with self._lock:
            labels = self._info_labels.pop(name, None)
            if labels is not None:
                self.app_info.remove(*labels)
            for condition in self._condition_labels.pop(name, set()):
                self.app_condition.remove(*condition)

    def record_sync(self, app: Application, phase: str, duration: float | None = None) -> None:
        """Count a sync operation that ended in ``phase`` (Succeeded, Failed, Error) and add
        its duration in seconds."""
        self.app_sync.labels(
            app.name, app.namespace, app.spec.project, _dest_server(app), phase
        ).inc()
        if duration is not None and duration >= 0:
            self.app_sync_duration.labels(app.name, app.namespace, app.spec.project).inc(duration)

    def record_reconcile(self, app: Application, seconds: float) -> None:
        """Observe how long one refresh-and-compare of ``app`` took."""
        self.app_reconcile.labels(app.namespace, _dest_server(app)).observe(max(0.0, seconds))

    # -- outside systems -----------------------------------------------------------------

    def record_kube_request(self, verb: str, code: int, kind: str = "", app: str = "") -> None:
        """Count one Kubernetes API request (``code`` 0 when the server was unreachable)."""
        self.k8s_request.labels(app, verb.lower(), kind, str(code)).inc()

    def record_git_request(
        self,
        repo_url: str,
        seconds: float,
        request_type: str = "fetch",
        failed: bool = False,
    ) -> None:
        """Count and time one Git request; a failed fetch is counted as a failure too. The
        URL is shown with any credentials masked."""
        repo = redact_url(repo_url)
        self.git_request.labels(repo, request_type).inc()
        self.git_duration.labels(repo, request_type).observe(max(0.0, seconds))
        if failed and request_type == "fetch":
            self.git_fetch_fail.labels(repo).inc()

    def record_webhook(self, event: str, result: str) -> None:
        """Count a webhook or refresh request (``result``: accepted, unauthorized, ...)."""
        self.webhook_requests.labels(event, result).inc()

    def watch_cache(self, stats: Callable[[], CacheStats]) -> None:
        """Export the live cache's size and event count, read from ``stats`` at each scrape."""
        self.registry.register(_CacheCollector(stats))

    # -- exposition ----------------------------------------------------------------------

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The registry rendered for a scrape with this ``Accept`` header: (body, type)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


__all__ = ["GIT_BUCKETS", "RECONCILE_BUCKETS", "CacheStats", "Metrics"]
