"""reconciler.livecache.LiveCache over reconciler.cluster_watch.ClusterWatch against the
Kubernetes emulator: list then watch, edits seen within 2 s, 410 Gone and broken watches
re-listed without losing state, deletes, unserved kinds, kinds added and removed at run time."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from reconciler.cluster import Cluster
from reconciler.cluster_watch import ClusterWatch
from reconciler.livecache import LiveCache, LiveChange
from reconciler.model import TRACKING_ANNOTATION, ResourceKey
from sandbox.kube import KubeEmulator
from sandbox.kube.control import Fault

NS = "default"
DEPLOY = ("apps", "Deployment")
CM = ("", "ConfigMap")


class Recorder:
    """Collects change callbacks and lets a test wait for one."""

    def __init__(self) -> None:
        self.changes: list[LiveChange] = []
        self._cond = threading.Condition()

    def __call__(self, change: LiveChange) -> None:
        with self._cond:
            self.changes.append(change)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[LiveChange], bool], timeout: float) -> LiveChange:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for change in self.changes:
                    if predicate(change):
                        return change
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching change within {timeout} s: {self.changes}")
                self._cond.wait(left)

    def for_key(self, key: ResourceKey) -> list[LiveChange]:
        with self._cond:
            return [c for c in self.changes if c.key == key]


@pytest.fixture
def cluster(kube: KubeEmulator, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig, "kajitori-sandbox")
    yield connected
    connected.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_cache(cluster: Cluster, recorder: Recorder) -> Iterator[Callable[..., LiveCache]]:
    caches: list[LiveCache] = []
    sources: list[ClusterWatch] = []

    def make(**options: Any) -> LiveCache:
        source = ClusterWatch(cluster, page_size=options.pop("page_size", 500))
        sources.append(source)
        options.setdefault("backoff_initial", 0.05)
        options.setdefault("backoff_max", 0.3)
        cache = LiveCache(source, on_change=recorder, **options)
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        cache.stop()
    for source in sources:
        source.close()


def tracked(app: str, key: ResourceKey) -> dict[str, str]:
    return {TRACKING_ANNOTATION: key.tracking_id(app)}


def config_map(api: Any, name: str, data: dict[str, str], app: str | None = None) -> None:
    """Create a ConfigMap with the kubernetes client (tracked by ``app`` when given)."""
    key = ResourceKey("", "ConfigMap", NS, name)
    meta = k8s.V1ObjectMeta(name=name, namespace=NS, annotations=tracked(app, key) if app else None)
    k8s.CoreV1Api(api).create_namespaced_config_map(NS, k8s.V1ConfigMap(metadata=meta, data=data))


def deployment(cluster: Cluster, name: str, app: str) -> None:
    """Create a Deployment tracked by ``app`` (server-side apply)."""
    key = ResourceKey("apps", "Deployment", NS, name)
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "annotations": tracked(app, key)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    cluster.apply(body)


def wait_until_available(api: Any, name: str, timeout: float = 10.0) -> None:
    """Wait until the simulated controllers stop writing the Deployment's status (Available),
    so a cache that lists afterwards has nothing left to be told about."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = k8s.AppsV1Api(api).read_namespaced_deployment(name, NS).status
        if status is not None and status.available_replicas == 1:
            return
        time.sleep(0.02)
    raise AssertionError(f"Deployment {name} not available within {timeout} s")


def cm_key(name: str) -> ResourceKey:
    return ResourceKey("", "ConfigMap", NS, name)


def test_lists_indexes_and_sees_client_edits_and_deletes_within_two_seconds(
    kube_api: Any, cluster: Cluster, make_cache: Callable[..., LiveCache], recorder: Recorder
) -> None:
    config_map(kube_api, "settings", {"mode": "a"}, app="guestbook")
    config_map(kube_api, "unmanaged", {"x": "1"})
    deployment(cluster, "web", app="guestbook")
    wait_until_available(kube_api, "web")
    cache = make_cache(page_size=1)  # the list is read one object per page
    cache.set_kinds([CM, DEPLOY])
    assert cache.wait_synced(5)
    assert cache.synced()
    assert cache.get(cm_key("settings"))["data"] == {"mode": "a"}  # type: ignore[index]
    names = {o["metadata"]["name"] for o in cache.objects_of("guestbook")}
    assert names == {"settings", "web"}
    assert cache.keys_of("guestbook") == {
        cm_key("settings"),
        ResourceKey("apps", "Deployment", NS, "web"),
    }
    assert {o["metadata"]["name"] for o in cache.list(*CM)} >= {"settings", "unmanaged"}
    assert recorder.changes == []  # the first list is not reported

    started = time.monotonic()
    k8s.CoreV1Api(kube_api).patch_namespaced_config_map("settings", NS, {"data": {"mode": "b"}})
    change = recorder.wait_for(
        lambda c: c.key == cm_key("settings") and (c.obj or {}).get("data") == {"mode": "b"}, 2.0
    )
    assert time.monotonic() - started < 2.0
    assert change.apps == frozenset({"guestbook"})
    assert change.previous is not None and change.previous["data"] == {"mode": "a"}
    assert cache.get(cm_key("settings"))["data"] == {"mode": "b"}  # type: ignore[index]

    k8s.CoreV1Api(kube_api).delete_namespaced_config_map("settings", NS)
    gone = recorder.wait_for(lambda c: c.key == cm_key("settings") and c.deleted, 2.0)
    assert gone.apps == frozenset({"guestbook"})
    assert cache.get(cm_key("settings")) is None
    assert {o["metadata"]["name"] for o in cache.objects_of("guestbook")} == {"web"}


def test_objects_handed_out_are_copies(kube_api: Any, make_cache: Callable[..., LiveCache]) -> None:
    config_map(kube_api, "settings", {"mode": "a"})
    cache = make_cache()
    cache.watch(*CM)
    assert cache.wait_synced(5)
    cache.get(cm_key("settings"))["data"]["mode"] = "changed"  # type: ignore[index]
    assert cache.get(cm_key("settings"))["data"] == {"mode": "a"}  # type: ignore[index]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_a_kubectl_edit_of_a_deployment_is_seen_within_two_seconds(
    kube_api: Any,
    cluster: Cluster,
    kubeconfig: Path,
    tmp_path: Path,
    make_cache: Callable[..., LiveCache],
    recorder: Recorder,
) -> None:
    deployment(cluster, "web", app="shop")
    cache = make_cache()
    cache.watch(*DEPLOY)
    assert cache.wait_synced(5)
    key = ResourceKey("apps", "Deployment", NS, "web")
    started = time.monotonic()
    editor = tmp_path / "editor.sh"  # what a person does in vi, done by sed
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 1$/replicas: 3/' \"$1\"\n")
    editor.chmod(0o755)
    result = subprocess.run(
        [
            *("kubectl", "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "kc")),
            *("-n", NS, "edit", "deployment/web"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ.get("PATH", ""), "KUBE_EDITOR": str(editor), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    change = recorder.wait_for(
        lambda c: c.key == key and ((c.obj or {}).get("spec") or {}).get("replicas") == 3,
        2.0 + (time.monotonic() - started),  # kubectl's own start-up does not count
    )
    assert change.apps == frozenset({"shop"})
    assert cache.get(key)["spec"]["replicas"] == 3  # type: ignore[index]


def test_410_from_the_emulator_relists_and_reports_what_changed(
    kube: KubeEmulator,
    kube_api: Any,
    make_cache: Callable[..., LiveCache],
    recorder: Recorder,
) -> None:
    config_map(kube_api, "before", {"v": "1"}, app="demo")
    cache = make_cache()
    cache.watch(*CM)
    assert cache.wait_synced(5)
    assert cache.get(cm_key("before")) is not None
    # A reset empties the emulator's watch history: the open watch gets an ERROR 410 event.
    kube.reset()
    gone = recorder.wait_for(lambda c: c.key == cm_key("before") and c.deleted, 3.0)
    assert gone.apps == frozenset({"demo"})
    assert cache.status()[0].relists >= 1
    config_map(kube_api, "after", {"v": "2"}, app="demo")
    recorder.wait_for(lambda c: c.key == cm_key("after") and not c.deleted, 2.0)
    assert [o["metadata"]["name"] for o in cache.objects_of("demo")] == ["after"]


def test_410_on_rewatch_relists_without_losing_or_repeating_state(
    kube: KubeEmulator,
    kube_api: Any,
    make_cache: Callable[..., LiveCache],
    recorder: Recorder,
) -> None:
    for name in ("a", "b", "c"):
        config_map(kube_api, name, {"v": name}, app="demo")
    cache = make_cache(watch_timeout=1)  # the server ends each watch after 1 s
    cache.watch(*CM)
    assert cache.wait_synced(5)
    # The next request for config maps, the re-watch, is answered 410 Gone.
    kube.faults.add(Fault(method="GET", resource="configmaps", status=410))
    deadline = time.monotonic() + 5
    while cache.status()[0].relists < 1:
        assert time.monotonic() < deadline, "no relist after a 410"
        time.sleep(0.05)
    assert cache.status()[0].synced
    assert {o["metadata"]["name"] for o in cache.objects_of("demo")} == {"a", "b", "c"}
    assert recorder.changes == []  # nothing changed, so nothing is reported
    k8s.CoreV1Api(kube_api).patch_namespaced_config_map("b", NS, {"data": {"v": "B"}})
    recorder.wait_for(lambda c: c.key == cm_key("b") and (c.obj or {})["data"] == {"v": "B"}, 2.0)
    assert len(recorder.for_key(cm_key("b"))) == 1


def test_a_broken_watch_is_relisted_after_backoff_and_changes_meanwhile_are_found(
    kube: KubeEmulator,
    kube_api: Any,
    make_cache: Callable[..., LiveCache],
    recorder: Recorder,
) -> None:
    config_map(kube_api, "a", {"v": "1"}, app="demo")
    cache = make_cache(watch_timeout=1)
    cache.watch(*CM)
    assert cache.wait_synced(5)
    # The re-watch and the first re-list fail with 500, so the cache backs off and retries.
    kube.faults.add(Fault(method="GET", resource="configmaps", status=500, count=2))
    while kube.faults.pending():
        time.sleep(0.05)
    k8s.CoreV1Api(kube_api).patch_namespaced_config_map("a", NS, {"data": {"v": "2"}})
    config_map(kube_api, "new", {"v": "n"}, app="demo")
    recorder.wait_for(lambda c: c.key == cm_key("a") and (c.obj or {})["data"] == {"v": "2"}, 3.0)
    recorder.wait_for(lambda c: c.key == cm_key("new") and not c.deleted, 3.0)
    status = cache.status()[0]
    assert status.relists >= 1 and status.synced
    assert {o["metadata"]["name"] for o in cache.objects_of("demo")} == {"a", "new"}


def test_a_kind_not_served_yet_is_synced_empty_and_found_once_its_crd_exists(
    kube_api: Any, cluster: Cluster, make_cache: Callable[..., LiveCache], recorder: Recorder
) -> None:
    cache = make_cache(watch_timeout=1)  # so the watch is renewed soon after the CRD goes
    crd_name = "widgets.example.com"
    cache.watch("example.com", "Widget")
    assert cache.wait_synced(5)
    status = cache.status()[0]
    assert not status.served and status.objects == 0
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": crd_name},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    cluster.apply(crd)
    deadline = time.monotonic() + 5
    while not cache.status()[0].served:
        assert time.monotonic() < deadline, "the new CRD was never found"
        time.sleep(0.05)
    key = ResourceKey("example.com", "Widget", NS, "w1")
    cluster.apply(
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1", "namespace": NS, "annotations": tracked("widgets", key)},
            "spec": {"size": 3},
        }
    )
    change = recorder.wait_for(lambda c: c.key == key, 3.0)
    assert change.apps == frozenset({"widgets"})
    assert cache.get(key)["spec"] == {"size": 3}  # type: ignore[index]
    # deleting the CRD deletes its objects; the kind is then not served again
    crd_key = ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", crd_name)
    assert cluster.delete(crd_key, propagation="Background")
    recorder.wait_for(lambda c: c.key == key and c.deleted, 3.0)
    deadline = time.monotonic() + 5
    while cache.status()[0].served:
        assert time.monotonic() < deadline, "the deleted CRD's kind still counts as served"
        time.sleep(0.05)
    assert cache.synced() and cache.list("example.com", "Widget") == []


def test_kinds_are_added_and_removed_at_run_time(
    kube_api: Any, cluster: Cluster, make_cache: Callable[..., LiveCache], recorder: Recorder
) -> None:
    config_map(kube_api, "settings", {"v": "1"}, app="demo")
    deployment(cluster, "web", app="demo")
    cache = make_cache()
    cache.set_kinds([CM])
    assert cache.wait_synced(5)
    assert cache.kinds() == {CM}
    assert {o["kind"] for o in cache.objects_of("demo")} == {"ConfigMap"}
    cache.set_kinds([CM, DEPLOY])
    assert cache.wait_synced(5)
    assert {o["kind"] for o in cache.objects_of("demo")} == {"ConfigMap", "Deployment"}
    cache.set_kinds([DEPLOY])
    assert cache.kinds() == {DEPLOY}
    assert {o["kind"] for o in cache.objects_of("demo")} == {"Deployment"}
    assert cache.list(*CM) == []
    k8s.CoreV1Api(kube_api).patch_namespaced_config_map("settings", NS, {"data": {"v": "2"}})
    time.sleep(0.5)
    assert recorder.for_key(cm_key("settings")) == []  # no longer watched
    stats = cache.stats()
    assert stats.resources == 1 and stats.objects == len(cache.list(*DEPLOY))


def test_an_object_carrying_another_objects_tracking_id_is_not_indexed_to_that_app(
    kube_api: Any, cluster: Cluster, make_cache: Callable[..., LiveCache]
) -> None:
    # a copied manifest: the annotation names ConfigMap "original", not this object
    meta = {"name": "copy", "namespace": NS, "annotations": tracked("demo", cm_key("original"))}
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {}})
    cache = make_cache()
    cache.watch(*CM)
    assert cache.wait_synced(5)
    assert cache.get(cm_key("copy")) is not None
    assert cache.objects_of("demo") == []


def test_stop_ends_idle_watches_promptly(make_cache: Callable[..., LiveCache]) -> None:
    cache = make_cache()
    cache.set_kinds([CM, DEPLOY, ("", "Secret")])
    assert cache.wait_synced(5)
    started = time.monotonic()
    cache.stop(timeout=5)
    assert time.monotonic() - started < 2.0
    assert not any(t.name.startswith("watch-") and t.is_alive() for t in threading.enumerate())
    with pytest.raises(RuntimeError):
        cache.watch(*CM)
