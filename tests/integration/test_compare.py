"""reconciler.compare and reconciler.cluster against the Kubernetes emulator, over real HTTP
with the real `kubernetes` client (objects are applied through Cluster or the client)."""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from reconciler.cluster import Cluster
from reconciler.cluster_protocol import UnknownKindError
from reconciler.compare import compare
from reconciler.compare_types import COMPARISON_ERROR, Comparison, DryRunCache
from reconciler.model import (
    COMPARE_OPTIONS_ANNOTATION,
    OUT_OF_SYNC,
    SYNCED,
    TRACKING_ANNOTATION,
    UNKNOWN,
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
    IgnoreDifferences,
    ResourceKey,
)

Obj = dict[str, Any]
NS = "guestbook"
IMAGE = "gcr.io/google-samples/gb-frontend:v5"
DEPLOYMENT = ResourceKey("apps", "Deployment", NS, "guestbook-ui")


@pytest.fixture
def cluster(kube: Any, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig)
    yield connected
    connected.close()


@pytest.fixture
def guestbook(corpus: Path) -> list[Obj]:
    folder = corpus / "argocd-example-apps" / "guestbook"
    return [
        doc
        for path in sorted(folder.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    ]


def application(name: str = "guestbook", *ignore: IgnoreDifferences) -> Application:
    return Application(
        name,
        ApplicationSpec(
            source=ApplicationSource("https://git.example.com/apps.git", "guestbook"),
            destination=Destination(namespace=NS, server="https://kubernetes.default.svc"),
            ignore_differences=ignore,
        ),
    )


def deploy(cluster: Cluster, app: Application, objects: Sequence[Obj]) -> Comparison:
    """Apply what a comparison says is desired (namespace first), as a sync would."""
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    result = compare(app, objects, cluster)
    for resource in result.resources:
        if resource.desired is not None:
            cluster.apply(resource.desired, force=True)
    return result


def with_image(objects: Sequence[Obj], image: str) -> list[Obj]:
    changed = copy.deepcopy(list(objects))
    for obj in changed:
        if obj["kind"] == "Deployment":
            obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return changed


def dry_runs(kube: Any) -> int:
    return sum(1 for entry in kube.audit_log() if entry.get("dryRun"))


def settle(cluster: Cluster, key: ResourceKey, timeout: float = 20.0) -> None:
    """Wait until the simulated controllers stop writing to an object (its resourceVersion
    holds still for a moment)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        live = cluster.get(key)
        version = str((live or {}).get("metadata", {}).get("resourceVersion", ""))
        if version and version == last:
            return
        last = version
        time.sleep(0.3)
    raise AssertionError(f"{key} kept changing for {timeout} s")


def test_guestbook_applied_then_compared_is_synced(cluster: Cluster, guestbook: list[Obj]) -> None:
    app = application()
    deploy(cluster, app, guestbook)
    result = compare(app, guestbook, cluster)
    assert (result.sync_status, result.conditions) == (SYNCED, [])
    assert {str(r.key): r.status for r in result.resources} == {
        "Deployment.apps/guestbook/guestbook-ui": SYNCED,
        "Service/guestbook/guestbook-ui": SYNCED,
    }


def test_guestbook_before_its_namespace_exists_is_missing(
    cluster: Cluster, guestbook: list[Obj]
) -> None:
    result = compare(application(), guestbook, cluster)
    assert result.sync_status == OUT_OF_SYNC
    assert result.health_status == "Missing"
    assert all(r.message == "namespace guestbook does not exist yet" for r in result.resources)


def test_changed_image_is_out_of_sync_with_a_diff_of_that_line_only(
    cluster: Cluster, guestbook: list[Obj]
) -> None:
    app = application()
    deploy(cluster, app, guestbook)
    result = compare(app, with_image(guestbook, "gcr.io/google-samples/gb-frontend:v6"), cluster)
    deployment = result.resource(DEPLOYMENT)
    assert result.sync_status == OUT_OF_SYNC and deployment is not None
    changes = [line for line in deployment.diff.splitlines() if line[:1] in "+-"]
    assert changes == [
        "--- live/Deployment.apps/guestbook/guestbook-ui",
        "+++ desired/Deployment.apps/guestbook/guestbook-ui",
        f"-      - image: {IMAGE}",
        "+      - image: gcr.io/google-samples/gb-frontend:v6",
    ]
    assert [r.status for r in result.resources if r.key.kind == "Service"] == [SYNCED]


def hpa_scaled(cluster: Cluster, kube_api: Any, objects: Sequence[Obj]) -> list[Obj]:
    """Deploy with 2 replicas, then scale to 5 as the HPA controller would."""
    scaled = copy.deepcopy(list(objects))
    for obj in scaled:
        if obj["kind"] == "Deployment":
            obj["spec"]["replicas"] = 2
    deploy(cluster, application(), scaled)
    k8s.AppsV1Api(kube_api).patch_namespaced_deployment(
        DEPLOYMENT.name, NS, {"spec": {"replicas": 5}}, field_manager="kube-controller-manager"
    )
    return scaled


def test_hpa_scaled_deployment_is_out_of_sync_without_ignore_rules(
    cluster: Cluster, kube_api: Any, guestbook: list[Obj]
) -> None:
    scaled = hpa_scaled(cluster, kube_api, guestbook)
    result = compare(application(), scaled, cluster)
    deployment = result.resource(DEPLOYMENT)
    assert deployment is not None and deployment.status == OUT_OF_SYNC
    assert "-  replicas: 5" in deployment.diff.splitlines()


@pytest.mark.parametrize(
    "rule",
    [
        IgnoreDifferences(kind="Deployment", group="apps", json_pointers=("/spec/replicas",)),
        IgnoreDifferences(
            kind="Deployment", group="apps", managed_fields_managers=("kube-controller-manager",)
        ),
        IgnoreDifferences(kind="Deployment", group="apps", jq_path_expressions=(".spec.replicas",)),
    ],
    ids=["jsonPointers", "managedFieldsManagers", "jqPathExpressions"],
)
def test_hpa_scaled_deployment_stays_synced_with_ignore_differences(
    cluster: Cluster, kube_api: Any, guestbook: list[Obj], rule: IgnoreDifferences
) -> None:
    scaled = hpa_scaled(cluster, kube_api, guestbook)
    result = compare(application("guestbook", rule), scaled, cluster)
    assert result.sync_status == SYNCED, [r.diff for r in result.resources]


def secret(password: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": NS},
        "type": "Opaque",
        "stringData": {"username": "guestbook-admin", "password": password},
    }


def test_changed_secret_shows_as_changed_and_its_values_never_appear(cluster: Cluster) -> None:
    app = application()
    deploy(cluster, app, [secret("first-Passw0rd")])
    assert compare(app, [secret("first-Passw0rd")], cluster).sync_status == SYNCED
    result = compare(app, [secret("second-Passw0rd")], cluster)
    assert result.sync_status == OUT_OF_SYNC
    text = result.resources[0].diff
    assert "-  password: ++++++++++++" in text.splitlines()
    assert "+  password: ++++++++" in text.splitlines()
    for value in ("first-Passw0rd", "second-Passw0rd", "guestbook-admin"):
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text


def config_map(name: str, annotations: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "data": {"k": "v"},
    }


def test_only_objects_this_app_tracks_for_themselves_are_prune_candidates(
    cluster: Cluster, guestbook: list[Obj]
) -> None:
    app = application()
    deploy(cluster, app, guestbook)
    own = ResourceKey("", "ConfigMap", NS, "left-behind")
    cluster.apply(config_map("left-behind", {TRACKING_ANNOTATION: own.tracking_id("guestbook")}))
    other = ResourceKey("", "ConfigMap", NS, "of-other-app")
    cluster.apply(config_map("of-other-app", {TRACKING_ANNOTATION: other.tracking_id("shop")}))
    copied = ResourceKey("", "ConfigMap", NS, "original")
    cluster.apply(config_map("copy", {TRACKING_ANNOTATION: copied.tracking_id("guestbook")}))
    cluster.apply(config_map("by-hand", {}))

    result = compare(app, guestbook, cluster)
    pruning = [str(r.key) for r in result.resources if r.requires_pruning]
    assert pruning == ["ConfigMap/guestbook/left-behind"]
    assert result.sync_status == OUT_OF_SYNC
    assert {r.key.name for r in result.resources} == {"guestbook-ui", "left-behind"}


def test_desired_object_tracked_by_another_app_gives_a_shared_resource_warning(
    cluster: Cluster,
) -> None:
    key = ResourceKey("", "ConfigMap", NS, "settings")
    deploy(cluster, application("shop"), [config_map("settings", {})])
    result = compare(application(), [config_map("settings", {})], cluster)
    assert [c.type for c in result.conditions] == ["SharedResourceWarning"]
    assert f"{key} is part of applications guestbook and shop" == result.conditions[0].message
    assert compare(application(), [], cluster).resources == []
    assert [r.requires_pruning for r in compare(application("shop"), [], cluster).resources] == [
        True
    ]


def test_ignore_extraneous_leaves_the_app_synced(cluster: Cluster, guestbook: list[Obj]) -> None:
    app = application()
    deploy(cluster, app, guestbook)
    key = ResourceKey("", "ConfigMap", NS, "generated")
    cluster.apply(
        config_map(
            "generated",
            {
                TRACKING_ANNOTATION: key.tracking_id("guestbook"),
                COMPARE_OPTIONS_ANNOTATION: "IgnoreExtraneous",
            },
        )
    )
    result = compare(app, guestbook, cluster)
    extraneous = result.resource(key)
    assert extraneous is not None and extraneous.requires_pruning and extraneous.ignore_extraneous
    assert result.sync_status == SYNCED


def test_hooks_are_listed_but_not_compared(cluster: Cluster, guestbook: list[Obj]) -> None:
    app = application()
    deploy(cluster, app, guestbook)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": []}}},
    }
    generated = copy.deepcopy(job)
    generated["metadata"] = {
        "generateName": "smoke-test-",
        "annotations": {"argocd.argoproj.io/hook": "PostSync"},
    }
    result = compare(app, [*guestbook, job, generated], cluster)
    hooks = [r for r in result.resources if r.hook]
    assert [(r.key.name, r.status) for r in hooks] == [("migrate", None), ("smoke-test-", None)]
    assert (result.sync_status, result.conditions) == (SYNCED, [])


def test_unknown_kind_is_a_comparison_error_naming_the_object(cluster: Cluster) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    result = compare(application(), [widget], cluster)
    assert result.sync_status == UNKNOWN
    assert [c.type for c in result.conditions] == [COMPARISON_ERROR]
    assert "Widget.example.com/guestbook/w" in result.conditions[0].message
    with pytest.raises(UnknownKindError, match="Widget"):
        cluster.apply(widget)


def test_custom_resource_of_a_crd_in_the_same_app_is_out_of_sync_not_an_error(
    cluster: Cluster,
) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    result = compare(application(), [crd, widget], cluster)
    pending = result.resource(ResourceKey("example.com", "Widget", "", "w"))
    assert (result.sync_status, result.conditions) == (OUT_OF_SYNC, [])
    assert pending is not None and pending.status == OUT_OF_SYNC
    assert "will be served once its CustomResourceDefinition is synced" in pending.message


def test_dry_run_results_are_cached_until_the_live_object_changes(
    kube: Any, cluster: Cluster, guestbook: list[Obj]
) -> None:
    app = application()
    deploy(cluster, app, guestbook)
    settle(cluster, DEPLOYMENT)
    cache = DryRunCache()
    compare(app, guestbook, cluster, cache=cache)
    before = dry_runs(kube)
    assert compare(app, guestbook, cluster, cache=cache).sync_status == SYNCED
    assert dry_runs(kube) == before
    patched = with_image(guestbook, IMAGE + "-patched")[0]
    cluster.apply({**patched, "metadata": {"name": DEPLOYMENT.name, "namespace": NS}}, force=True)
    result = compare(app, guestbook, cluster, cache=cache)
    assert result.sync_status == OUT_OF_SYNC
    assert dry_runs(kube) > before


def test_unreachable_cluster_gives_an_unknown_comparison(
    guestbook: list[Obj], tmp_path: Path
) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
        "current-context": "gone",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    unreachable = Cluster.from_kubeconfig(path)
    result = compare(application(), guestbook, unreachable)
    assert result.sync_status == UNKNOWN
    assert result.conditions[0].type == COMPARISON_ERROR
    assert "127.0.0.1:9" in result.conditions[0].message
