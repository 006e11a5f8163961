"""reconciler.metrics: Argo-style metric names and labels, one series per app for
kajitori_app_info, counters and histograms, a registry per Metrics, parsed from the real
exposition format."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from reconciler.metrics import Metrics
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Automated,
    Destination,
    SyncPolicy,
)

Sample = tuple[str, dict[str, str], float]


def app(name: str = "guestbook", automated: bool = False) -> Application:
    return Application(
        name=name,
        spec=ApplicationSpec(
            source=ApplicationSource(
                repo_url="https://bot:s3cr3t-token@github.com/acme/manifests.git", path="gb"
            ),
            destination=Destination(namespace="web", server="https://kubernetes.default.svc"),
            project="team-a",
            sync_policy=SyncPolicy(automated=Automated() if automated else None),
        ),
    )


def samples(metrics: Metrics, name: str) -> list[Sample]:
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    text = body.decode()
    found = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found.append((sample.name, dict(sample.labels), sample.value))
    return found


def test_app_info_has_argo_labels_and_one_series_per_app() -> None:
    metrics = Metrics()
    metrics.set_app_info(app(automated=True), "OutOfSync", "Progressing", operation="sync")
    metrics.set_app_info(app(automated=True), "Synced", "Healthy")
    metrics.set_app_info(app("other"), "Unknown", "Missing")
    info = samples(metrics, "kajitori_app_info")
    assert len(info) == 2
    guestbook = next(labels for _, labels, _ in info if labels["name"] == "guestbook")
    assert guestbook == {
        "name": "guestbook",
        "namespace": "argocd",
        "project": "team-a",
        "repo": "https://bot:***@github.com/acme/manifests.git",
        "dest_server": "https://kubernetes.default.svc",
        "dest_namespace": "web",
        "sync_status": "Synced",
        "health_status": "Healthy",
        "operation": "",
        "autosync_enabled": "true",
    }
    assert all(value == 1.0 for _, _, value in info)
    body = metrics.exposition()[0].decode()
    assert "s3cr3t-token" not in body


def test_conditions_appear_and_disappear() -> None:
    metrics = Metrics()
    metrics.set_app_conditions(app(), ["SyncError", "ComparisonError"])
    assert {s[1]["type"] for s in samples(metrics, "kajitori_app_condition")} == {
        "SyncError",
        "ComparisonError",
    }
    metrics.set_app_conditions(app(), ["SyncError"])
    assert [s[1]["type"] for s in samples(metrics, "kajitori_app_condition")] == ["SyncError"]
    metrics.set_app_conditions(app(), [])
    assert samples(metrics, "kajitori_app_condition") == []


def test_remove_app_drops_its_info_and_conditions_but_keeps_counters() -> None:
    metrics = Metrics()
    metrics.set_app_info(app(), "Synced", "Healthy")
    metrics.set_app_conditions(app(), ["SyncError"])
    metrics.record_sync(app(), "Succeeded", 2.5)
    metrics.remove_app("guestbook")
    assert samples(metrics, "kajitori_app_info") == []
    assert samples(metrics, "kajitori_app_condition") == []
    assert len(samples(metrics, "kajitori_app_sync_total")) == 1


def test_sync_counter_by_phase_and_total_duration() -> None:
    metrics = Metrics()
    metrics.record_sync(app(), "Succeeded", 2.0)
    metrics.record_sync(app(), "Succeeded", 3.0)
    metrics.record_sync(app(), "Failed", 1.5)
    by_phase = {s[1]["phase"]: s[2] for s in samples(metrics, "kajitori_app_sync_total")}
    assert by_phase == {"Succeeded": 2.0, "Failed": 1.0}
    labels = samples(metrics, "kajitori_app_sync_total")[0][1]
    assert set(labels) == {"name", "namespace", "project", "dest_server", "phase"}
    [(_, _, seconds)] = samples(metrics, "kajitori_app_sync_duration_seconds_total")
    assert seconds == 6.5


def test_reconcile_histogram_uses_argo_buckets() -> None:
    metrics = Metrics()
    for seconds in (0.1, 0.3, 3.0, 30.0):
        metrics.record_reconcile(app(), seconds)
    buckets = {s[1]["le"]: s[2] for s in samples(metrics, "kajitori_app_reconcile_bucket")}
    assert buckets == {
        "0.25": 1.0,
        "0.5": 2.0,
        "1.0": 2.0,
        "2.0": 2.0,
        "4.0": 3.0,
        "8.0": 3.0,
        "16.0": 3.0,
        "+Inf": 4.0,
    }
    assert samples(metrics, "kajitori_app_reconcile_count")[0][2] == 4.0


def test_git_and_kubernetes_requests() -> None:
    metrics = Metrics()
    url = "https://x:pw@github.com/acme/manifests.git"
    metrics.record_git_request(url, 0.4)
    metrics.record_git_request(url, 1.2, failed=True)
    metrics.record_git_request(url, 0.1, request_type="ls-remote")
    requests = {s[1]["request_type"]: s[2] for s in samples(metrics, "kajitori_git_request_total")}
    assert requests == {"fetch": 2.0, "ls-remote": 1.0}
    assert samples(metrics, "kajitori_git_fetch_fail_total")[0][2] == 1.0
    assert all("pw" not in s[1]["repo"] for s in samples(metrics, "kajitori_git_request_total"))
    assert samples(metrics, "kajitori_git_request_duration_seconds_count")[0][2] == 2.0

    metrics.record_kube_request("PATCH", 200, "Deployment", app="guestbook")
    metrics.record_kube_request("patch", 200, "Deployment", app="guestbook")
    metrics.record_kube_request("get", 0, "ConfigMap")
    kube = {
        (s[1]["verb"], s[1]["response_code"], s[1]["resource_kind"], s[1]["name"]): s[2]
        for s in samples(metrics, "kajitori_app_k8s_request_total")
    }
    assert kube == {
        ("patch", "200", "Deployment", "guestbook"): 2.0,
        ("get", "0", "ConfigMap", ""): 1.0,
    }


def test_webhook_counter_and_cache_collector() -> None:
    @dataclass
    class Stats:
        resources: int = 3
        objects: int = 42
        events: int = 7

    stats = Stats()
    metrics = Metrics()
    metrics.watch_cache(lambda: stats)
    metrics.record_webhook("push", "unauthorized")
    assert samples(metrics, "kajitori_webhook_requests_total") == [
        ("kajitori_webhook_requests_total", {"event": "push", "result": "unauthorized"}, 1.0)
    ]
    assert samples(metrics, "kajitori_cluster_api_resource_objects")[0][2] == 42.0
    stats.objects = 50
    assert samples(metrics, "kajitori_cluster_api_resource_objects")[0][2] == 50.0
    assert samples(metrics, "kajitori_cluster_api_resources")[0][2] == 3.0
    assert samples(metrics, "kajitori_cluster_events_total")[0][2] == 7.0


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.record_sync(app(), "Succeeded")
    assert len(samples(first, "kajitori_app_sync_total")) == 1
    assert samples(second, "kajitori_app_sync_total") == []


def test_openmetrics_is_served_when_asked_for() -> None:
    metrics = Metrics()
    metrics.set_app_info(app(), "Synced", "Healthy")
    body, content_type = metrics.exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.decode().rstrip().endswith("# EOF")
