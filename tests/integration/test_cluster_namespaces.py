"""kajitori limited to a list of namespaces (``controller.namespaces``), against the Kubernetes
emulator made to answer as namespaced RBAC would: every request that is not inside a namespace
(a list across all namespaces, anything cluster-scoped) is 403 Forbidden.

Within the namespaces, Cluster, the live cache and compare still find tracked objects, see
edits and report objects outside the scope by name, without ever sending a request the RBAC
would refuse; without the setting the same 403s are errors that say what is missing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from reconciler.cluster import Cluster
from reconciler.cluster_scope import OutOfScopeError
from reconciler.cluster_watch import ClusterWatch
from reconciler.compare import compare
from reconciler.errors import ClusterError
from reconciler.livecache import LiveCache
from reconciler.model import (
    OUT_OF_SYNC,
    TRACKING_ANNOTATION,
    UNKNOWN,
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
    ResourceKey,
)
from reconciler.sync_cluster import extra_writes
from sandbox.kube import KubeEmulator
from sandbox.kube.control import Fault
from tests.integration.rbac_helpers import FOREVER, forbid_outside_namespaces

APP = "shop"
SCOPE = ("shop", "web")
Obj = dict[str, Any]


def tracked(
    kind: str, name: str, namespace: str = "", app: str = APP, api_version: str = "v1", **extra: Any
) -> Obj:
    """An object of ``api_version`` with the fields in ``extra``, tracked by ``app``."""
    group = api_version.rpartition("/")[0]
    key = ResourceKey(group, kind, namespace, name)
    meta: Obj = {"name": name, "annotations": {TRACKING_ANNOTATION: key.tracking_id(app)}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


@pytest.fixture
def admin(kube: KubeEmulator, kubeconfig: Path) -> Iterator[Cluster]:
    """A cluster-wide client that sets the scene before the RBAC faults are added."""
    connected = Cluster.from_kubeconfig(kubeconfig)
    for name in (*SCOPE, "other"):
        connected.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield connected
    connected.close()


@pytest.fixture
def scoped(admin: Cluster, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig, namespaces=SCOPE)
    yield connected
    connected.close()


@pytest.fixture
def scene(admin: Cluster) -> None:
    """Tracked objects inside the scope, in another namespace and cluster-scoped."""
    admin.apply(tracked("ConfigMap", "settings", "shop", data={"v": "1"}))
    admin.apply(tracked("Secret", "left-over", "web", data={"k": "dg=="}))
    admin.apply(tracked("ConfigMap", "elsewhere", "other", data={"v": "1"}))
    admin.apply(tracked("ConfigMap", "of-another-app", "shop", app="other"))
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    admin.apply(
        tracked("ClusterRole", "reader", api_version="rbac.authorization.k8s.io/v1", rules=rules)
    )


def names(objects: list[Obj]) -> list[str]:
    return sorted(str(ResourceKey.of(obj)) for obj in objects)


def test_tracked_objects_are_found_inside_the_namespaces_only(
    kube: KubeEmulator, admin: Cluster, scoped: Cluster, scene: None
) -> None:
    assert names(admin.list_tracked(APP)) == [  # what a cluster-wide search finds
        "ClusterRole.rbac.authorization.k8s.io/reader",
        "ConfigMap/other/elsewhere",
        "ConfigMap/shop/settings",
        "Secret/web/left-over",
    ]
    outside = forbid_outside_namespaces(kube)

    found = scoped.list_tracked(APP)

    assert names(found) == ["ConfigMap/shop/settings", "Secret/web/left-over"]
    assert outside() == 0  # nothing cluster-wide or cluster-scoped was even asked for
    listed = scoped.list("", "ConfigMap")  # "every namespace" means every listed one
    assert {o["metadata"]["namespace"] for o in listed} == {"shop"}


def test_requests_outside_the_namespaces_are_refused_before_they_are_sent(
    kube: KubeEmulator, scoped: Cluster, scene: None
) -> None:
    outside = forbid_outside_namespaces(kube)
    kube.faults.add(Fault(namespace="other", count=FOREVER, status=500))
    elsewhere = ResourceKey("", "ConfigMap", "other", "elsewhere")
    writes = extra_writes(scoped)
    assert writes is not None
    attempts: list[Callable[[], object]] = [
        lambda: scoped.get(elsewhere),
        lambda: scoped.delete(elsewhere),
        lambda: scoped.list("", "ConfigMap", "other"),
        lambda: scoped.apply(tracked("ConfigMap", "new", "other")),
        lambda: scoped.get(ResourceKey("", "Namespace", "", "shop")),
        lambda: scoped.list("rbac.authorization.k8s.io", "ClusterRole"),
        # the writes of Replace=true and Validate=false (reconciler.sync_cluster) too
        lambda: writes.create(tracked("ConfigMap", "new", "other")),
        lambda: writes.replace(tracked("ConfigMap", "elsewhere", "other")),
        lambda: writes.apply_unvalidated(tracked("ConfigMap", "new", "other")),
    ]
    messages = []
    for attempt in attempts:
        with pytest.raises(OutOfScopeError) as refused:
            attempt()
        assert (refused.value.code, refused.value.reason) == (403, "OutOfScope")
        messages.append(str(refused.value))

    assert messages[0] == (
        "get ConfigMap/other/elsewhere: namespace other is not in controller.namespaces "
        "(shop, web): kajitori may not read or write there"
    )
    assert messages[3].startswith("apply ConfigMap/other/new: namespace other is not in")
    assert messages[4].startswith("get Namespace/shop: it is cluster-scoped, and controller")
    assert outside() == 0
    assert [f["count"] for f in kube.faults.pending() if f["namespace"] == "other"] == [FOREVER]


def test_a_403_inside_the_namespaces_names_the_kind_the_namespace_and_the_permission(
    kube: KubeEmulator, scoped: Cluster, scene: None
) -> None:
    kube.faults.add(Fault(resource="secrets", namespace="web", count=FOREVER, status=403))

    with pytest.raises(ClusterError) as failed:
        scoped.list_tracked(APP)

    message = str(failed.value)
    assert failed.value.code == 403
    assert message.startswith("cannot look for the objects of app shop: list Secret in namespace")
    assert "web: forbidden: the account kajitori runs as (its ServiceAccount) lacks" in message
    assert "grant it in the Role of that namespace" in message
    with pytest.raises(ClusterError) as read:
        scoped.get(ResourceKey("", "Secret", "web", "left-over"))
    assert str(read.value).startswith("get Secret/web/left-over: forbidden: the account")


def test_without_namespaces_the_same_rbac_is_a_clear_error_not_silence(
    kube: KubeEmulator, admin: Cluster, scene: None
) -> None:
    forbid_outside_namespaces(kube)

    with pytest.raises(ClusterError) as failed:
        admin.list_tracked(APP)

    message = str(failed.value)
    assert failed.value.code == 403
    assert "list ConfigMap in all namespaces, " in message
    assert "lacks permission to list them; grant them in a ClusterRole" in message
    assert "limit kajitori to the namespaces it may use with controller.namespaces" in message


def application(namespace: str = "shop") -> Application:
    return Application(
        APP,
        ApplicationSpec(
            source=ApplicationSource("https://git.example.com/apps.git", "shop"),
            destination=Destination(namespace=namespace, server="https://kubernetes.default.svc"),
        ),
    )


def test_compare_reports_desired_objects_outside_the_namespaces_by_name(
    kube: KubeEmulator, scoped: Cluster, scene: None
) -> None:
    outside = forbid_outside_namespaces(kube)
    desired = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    ]

    result = compare(application(), desired, scoped)

    by_key = {str(r.key): r for r in result.resources}
    assert by_key["ConfigMap/shop/new"].status == OUT_OF_SYNC
    assert by_key["ConfigMap/shop/new"].message == ""  # no Namespace read to say it is missing
    assert by_key["ConfigMap/other/x"].status == UNKNOWN
    assert by_key["Namespace/shop"].status == UNKNOWN
    assert by_key["Secret/web/left-over"].requires_pruning  # the leftover is offered
    assert [c.message for c in result.conditions] == [
        "ConfigMap/other/x: namespace other is not in controller.namespaces (shop, web): "
        "kajitori may not read or write there",
        "Namespace/shop: it is cluster-scoped, and controller.namespaces (shop, web) limits "
        "kajitori to those namespaces",
    ]
    assert {c.type for c in result.conditions} == {"ComparisonError"}
    assert outside() == 0


# -- the live cache --------------------------------------------------------------------------


@pytest.fixture
def make_cache() -> Iterator[Callable[[Cluster], LiveCache]]:
    made: list[tuple[LiveCache, ClusterWatch]] = []

    def make(cluster: Cluster) -> LiveCache:
        source = ClusterWatch(cluster)
        cache = LiveCache(source, backoff_initial=0.05, backoff_max=0.3)
        made.append((cache, source))
        return cache

    yield make
    for cache, source in made:
        cache.stop()
        source.close()


def test_the_live_cache_watches_each_kind_per_namespace(
    kube: KubeEmulator,
    kube_api: Any,
    scoped: Cluster,
    scene: None,
    make_cache: Callable[[Cluster], LiveCache],
) -> None:
    outside = forbid_outside_namespaces(kube)
    cache = make_cache(scoped)
    changes: list[Any] = []
    cache.on_change = changes.append
    cache.set_kinds(
        [("", "ConfigMap"), ("", "Secret"), ("rbac.authorization.k8s.io", "ClusterRole")]
    )

    assert cache.wait_synced(5)
    assert cache.kinds() == {
        ("", "ConfigMap"),
        ("", "Secret"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
    }
    status = {(s.kind, s.namespace): s for s in cache.status()}
    assert set(status) == {
        (kind, ns) for kind in ("ConfigMap", "Secret", "ClusterRole") for ns in SCOPE
    }
    assert not any(s.in_scope for (kind, _), s in status.items() if kind == "ClusterRole")
    assert status[("ConfigMap", "shop")].objects == 2 and status[("Secret", "web")].objects == 1
    assert names(cache.objects_of(APP)) == ["ConfigMap/shop/settings", "Secret/web/left-over"]
    assert cache.get(ResourceKey("", "ConfigMap", "other", "elsewhere")) is None

    edited = time.monotonic()
    k8s.CoreV1Api(kube_api).patch_namespaced_config_map("settings", "shop", {"data": {"v": "2"}})
    deadline = edited + 2.0
    while not any((c.obj or {}).get("data") == {"v": "2"} for c in changes):
        assert time.monotonic() < deadline, "the edit was not seen within 2 s"
        time.sleep(0.02)
    assert cache.get(ResourceKey("", "ConfigMap", "shop", "settings"))["data"] == {"v": "2"}  # type: ignore[index]
    assert outside() == 0
    cache.unwatch("", "ConfigMap")
    assert cache.list("", "ConfigMap") == [] and len(cache.list("", "Secret")) >= 1


def test_without_namespaces_the_live_cache_reports_the_missing_permission(
    kube: KubeEmulator, admin: Cluster, make_cache: Callable[[Cluster], LiveCache]
) -> None:
    forbid_outside_namespaces(kube)
    cache = make_cache(admin)
    cache.watch("", "ConfigMap")

    assert not cache.wait_synced(1)
    (status,) = cache.status()
    assert status.last_error.startswith(
        "list ConfigMap in all namespaces: forbidden: the account kajitori runs as"
    )
    assert "controller.namespaces" in status.last_error
