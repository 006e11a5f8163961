"""reconciler.cluster_cached.CachedReads against the Kubernetes emulator: one full scan of
every kind per app, then the app's objects come from the live cache (new ones seen through the
watch), and compare reads an extraneous object again before offering it for pruning."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cluster import Cluster
from reconciler.cluster_cached import CachedReads
from reconciler.cluster_protocol import Objects
from reconciler.cluster_watch import ClusterWatch
from reconciler.compare import compare
from reconciler.livecache import LiveCache
from reconciler.model import (
    OUT_OF_SYNC,
    SYNCED,
    TRACKING_ANNOTATION,
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
    ResourceKey,
)

NS = "default"
APP = "shop"


class CountingCluster(Cluster):
    """The real cluster, counting the full scans (``list_tracked``) it is asked for."""

    scans = 0

    def list_tracked(self, app: str, exclude: Collection[ResourceKey] = frozenset()) -> Objects:
        self.scans += 1
        return super().list_tracked(app, exclude)


class StaleCache(LiveCache):
    """A live cache one watch event behind the cluster: it still holds ``ghost``."""

    def __init__(self, source: ClusterWatch, ghost: dict[str, Any]) -> None:
        super().__init__(source)
        self.ghost = ghost

    def objects_of(
        self, app: str, exclude: Collection[ResourceKey] = frozenset()
    ) -> list[dict[str, Any]]:
        return [*super().objects_of(app, exclude), self.ghost]


@pytest.fixture
def cluster(kube: Any, kubeconfig: Path) -> Iterator[CountingCluster]:
    connected = CountingCluster.from_kubeconfig(kubeconfig)
    assert isinstance(connected, CountingCluster)
    yield connected
    connected.close()


@pytest.fixture
def cache(cluster: Cluster) -> Iterator[LiveCache]:
    source = ClusterWatch(cluster)
    live = LiveCache(source, backoff_initial=0.05, backoff_max=0.3)
    yield live
    live.stop()
    source.close()


def tracked(kind: str, name: str, app: str = APP) -> dict[str, Any]:
    """A ConfigMap or Secret whose tracking annotation names ``app``."""
    key = ResourceKey("", kind, NS, name)
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": NS,
            "annotations": {TRACKING_ANNOTATION: key.tracking_id(app)},
        },
        "data": {"k": "dg==" if kind == "Secret" else "v"},
    }


def names(objects: Objects) -> list[str]:
    return sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)


def until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.02)


def application() -> Application:
    return Application(
        APP,
        ApplicationSpec(
            source=ApplicationSource("https://git.example.com/apps.git", "shop"),
            destination=Destination(namespace=NS, server="https://kubernetes.default.svc"),
        ),
    )


def test_one_full_scan_then_the_cache_answers_and_follows_new_objects(
    cluster: CountingCluster, cache: LiveCache
) -> None:
    cluster.apply(tracked("ConfigMap", "settings"))
    cluster.apply(tracked("Secret", "left-from-an-older-commit"))
    cluster.apply(tracked("ConfigMap", "of-another-app", app="other"))
    reads = CachedReads(cluster, cache)

    first = reads.list_tracked(APP)
    assert names(first) == ["ConfigMap/settings", "Secret/left-from-an-older-commit"]
    assert cluster.scans == 1
    assert {("", "ConfigMap"), ("", "Secret")} <= cache.kinds()  # watched from now on
    assert cache.wait_synced(5)

    assert names(reads.list_tracked(APP)) == names(first)
    assert (cluster.scans, reads.full_scans, reads.cached_answers) == (1, 1, 1)

    cluster.apply(tracked("Secret", "made-by-hand-with-the-annotation"))
    until(lambda: len(reads.list_tracked(APP)) == 3)
    assert cluster.scans == 1

    assert names(reads.list_tracked("other")) == ["ConfigMap/of-another-app"]
    assert cluster.scans == 2  # another app: its own first scan


def test_compare_over_the_cache_offers_only_what_still_exists_for_pruning(
    cluster: CountingCluster,
) -> None:
    desired = tracked("ConfigMap", "settings")
    cluster.apply(desired)
    cluster.apply(tracked("ConfigMap", "old"))
    source = ClusterWatch(cluster)
    stale = StaleCache(source, tracked("ConfigMap", "pruned-a-moment-ago"))
    try:
        reads = CachedReads(cluster, stale)
        compare(application(), [desired], reads)  # the full scan, which starts the watches
        assert stale.wait_synced(5)

        result = compare(application(), [desired], reads)
        assert reads.cached_answers == 1  # answered from the cache, ghost included
        assert [str(r.key) for r in result.resources if r.requires_pruning] == [
            "ConfigMap/default/old"
        ]
        assert result.sync_status == OUT_OF_SYNC

        assert cluster.delete(ResourceKey("", "ConfigMap", NS, "old"))
        result = compare(application(), [desired], reads)  # at once: the cache may lag
        assert not [r for r in result.resources if r.requires_pruning]
        assert result.sync_status == SYNCED
    finally:
        stale.stop()
        source.close()
