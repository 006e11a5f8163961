"""SyncOperation's own rules, over an in-memory ClusterProtocol: the wave delay never blocks,
an unreachable cluster is waited out, a failing progress callback changes nothing, and a
restored operation needs a readable state."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

import pytest

from reconciler.errors import ClusterError
from reconciler.model import (
    TRACKING_ANNOTATION,
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
    ResourceKey,
)
from reconciler.sync import SyncOperation
from reconciler.sync_progress import SyncEvent
from reconciler.sync_types import StateError

CLUSTER_SCOPED = {("", "Namespace")}
Objects = list[dict[str, Any]]


class MemoryCluster:
    """A ClusterProtocol keeping objects in a dict; ``fail_reads`` makes gets unreachable."""

    def __init__(self) -> None:
        self.objects: dict[ResourceKey, dict[str, Any]] = {}
        self.writes: list[str] = []
        self.fail_reads = False
        self.version = 0

    def is_namespaced(self, group: str, kind: str) -> bool | None:
        return (group, kind) not in CLUSTER_SCOPED

    def get(self, key: ResourceKey, api_version: str | None = None) -> dict[str, Any] | None:
        if self.fail_reads:
            raise ClusterError("cannot reach the Kubernetes API", code=0)
        found = self.objects.get(key)
        return copy.deepcopy(found) if found else None

    def list(
        self,
        group: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        api_version: str | None = None,
    ) -> Objects:
        return [
            copy.deepcopy(o)
            for k, o in self.objects.items()
            if (k.group, k.kind) == (group, kind) and namespace in (None, k.namespace)
        ]

    def list_tracked(self, app: str, exclude: Collection[ResourceKey] = frozenset()) -> Objects:
        return [
            copy.deepcopy(o)
            for o in self.objects.values()
            if str(o["metadata"].get("annotations", {}).get(TRACKING_ANNOTATION, "")).startswith(
                f"{app}:"
            )
            and ResourceKey.of(o) not in exclude
        ]

    def apply(
        self, obj: Mapping[str, Any], *, force: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        stored = copy.deepcopy(dict(obj))
        if dry_run:
            return stored
        self.version += 1
        stored["metadata"]["resourceVersion"] = str(self.version)
        self.objects[ResourceKey.of(stored)] = stored
        self.writes.append(f"apply {stored['kind']}/{stored['metadata']['name']}")
        return copy.deepcopy(stored)

    def delete(
        self, key: ResourceKey, *, propagation: Any = "Foreground", dry_run: bool = False
    ) -> bool:
        if dry_run:
            return key in self.objects
        self.writes.append(f"delete {key.kind}/{key.name}")
        return self.objects.pop(key, None) is not None


def app() -> Application:
    return Application(
        "shop",
        ApplicationSpec(
            source=ApplicationSource("https://git.example.com/a.git", "shop"),
            destination=Destination(namespace="shop"),
        ),
    )


def configmap(name: str, wave: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_wave_delay_is_waited_out_between_steps_not_inside_one() -> None:
    cluster, clock = MemoryCluster(), Clock()
    desired = [configmap("first", 0), configmap("second", 1)]
    operation = SyncOperation.start(
        app(), desired, cluster, revision="r" * 40, clock=clock, wave_delay=2.0
    )

    operation.step()
    assert cluster.writes == ["apply ConfigMap/first"]
    assert operation.seconds_until_due() == 2.0
    operation.step()
    assert cluster.writes == ["apply ConfigMap/first"]  # too early: nothing happened
    clock.now += 2.0
    state = operation.step()
    assert cluster.writes == ["apply ConfigMap/first", "apply ConfigMap/second"]
    assert state["phase"] == "Succeeded"
    assert state["startedAt"] == "2023-11-14T22:13:20Z"


def test_an_unreachable_cluster_is_waited_out() -> None:
    cluster, clock = MemoryCluster(), Clock()
    desired = [configmap("first", 0), configmap("second", 1)]
    operation = SyncOperation.start(
        app(), desired, cluster, revision="r" * 40, clock=clock, wave_delay=0
    )
    operation.step()
    cluster.fail_reads = True

    state = operation.step()

    assert state["phase"] == "Running"
    assert state["message"].startswith("cannot reach the cluster, trying again:")
    cluster.fail_reads = False
    assert operation.step()["phase"] == "Succeeded"


def test_a_failing_progress_callback_does_not_break_the_sync() -> None:
    def broken(event: SyncEvent) -> None:
        raise RuntimeError("printer died")

    operation = SyncOperation.start(
        app(), [configmap("only", 0)], MemoryCluster(), revision="r" * 40, on_event=broken
    )
    assert operation.step()["phase"] == "Succeeded"


def test_invalid_desired_objects_fail_the_operation_naming_them() -> None:
    nameless = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}
    operation = SyncOperation.start(
        app(), [configmap("ok", 0), nameless], MemoryCluster(), revision="r"
    )

    state = operation.step()

    assert state["phase"] == "Failed"
    assert state["message"] == (
        "one or more synchronization tasks are not valid: "
        "desired object #2 (ConfigMap/<unnamed>): has no metadata.name"
    )


def test_a_bad_sync_wave_fails_the_operation_naming_the_object() -> None:
    bad = configmap("odd", 0)
    bad["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "first"
    state = SyncOperation.start(app(), [bad], MemoryCluster(), revision="r").step()
    assert state["phase"] == "Failed"
    assert (
        "ConfigMap/shop/odd: argocd.argoproj.io/sync-wave 'first' is not an integer"
        in state["message"]
    )


def test_restoring_needs_a_readable_state() -> None:
    with pytest.raises(StateError, match="startedAt is missing"):
        SyncOperation.restore({"operation": {"sync": {}}}, app(), [], MemoryCluster())


def test_a_restored_terminating_operation_ends_terminated() -> None:
    cluster = MemoryCluster()
    operation = SyncOperation.start(app(), [configmap("a", 0)], cluster, revision="r")
    saved = operation.to_dict()
    saved["phase"] = "Terminating"

    state = SyncOperation.restore(saved, app(), [configmap("a", 0)], cluster).step()

    assert (state["phase"], state["message"]) == ("Failed", "Operation terminated")
    assert cluster.writes == []


def test_a_restored_retry_waits_for_its_backoff() -> None:
    cluster, clock = MemoryCluster(), Clock()
    operation = SyncOperation.start(app(), [configmap("a", 0)], cluster, revision="r", clock=clock)
    saved = operation.to_dict()
    saved.update(phase="Running", retryCount=2, finishedAt="2023-11-14T22:13:20Z")
    saved["operation"]["retry"] = {"limit": 5, "backoff": {"duration": "10s", "factor": 2}}

    restored = SyncOperation.restore(saved, app(), [configmap("a", 0)], cluster, clock=clock)
    assert restored.seconds_until_due() == 20.0  # the second retry: 10 s x 2
    assert restored.step()["phase"] == "Running" and cluster.writes == []
    clock.now += 20
    assert restored.step()["phase"] == "Succeeded"
    assert cluster.writes == ["apply ConfigMap/a"]
