"""Approval gates over an in-memory cluster: a waiting operation touches nothing, its state
(approval, history, fingerprints) survives JSON, several gates in one wave ask one at a time,
terminate closes a pending approval, and a retry skips an on-change hook that already
succeeded in an earlier attempt."""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Mapping
from typing import Any

import pytest

from reconciler.errors import ClusterError
from reconciler.model import Backoff, ResourceKey, RetryStrategy
from reconciler.sync import SyncOperation
from reconciler.sync_approval import Approval, HookSummary, first_container
from reconciler.sync_hook_run import HookRecord
from reconciler.sync_types import OperationState, StateError, SyncRequest
from tests.unit.test_sync_operation import Clock, MemoryCluster, app

REVISION = "r" * 40


class CountingCluster(MemoryCluster):
    """MemoryCluster counting every call, with applies of ``refuse`` names failing once."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.refuse: set[str] = set()

    def get(self, key: ResourceKey, api_version: str | None = None) -> dict[str, Any] | None:
        self.calls += 1
        return super().get(key, api_version)

    def list_tracked(
        self, app: str, exclude: Collection[ResourceKey] = frozenset()
    ) -> list[dict[str, Any]]:
        self.calls += 1
        return super().list_tracked(app, exclude)

    def apply(
        self, obj: Mapping[str, Any], *, force: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        self.calls += 1
        name = obj["metadata"]["name"]
        if name in self.refuse and not dry_run:
            self.refuse.discard(name)
            raise ClusterError(f"configmaps {name!r} is refused", code=422)
        return super().apply(obj, force=force, dry_run=dry_run)


def config_hook(name: str, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A PreSync ConfigMap hook: no health check, so it succeeds once created."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "annotations": {
                "argocd.argoproj.io/hook": "PreSync",
                **(annotations or {}),
            },
        },
        "data": {"step": name},
    }


def config(name: str, wave: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
    }


GATED = {"kajitori.dev/approval": "required"}
ON_CHANGE = {"kajitori.dev/hook-run": "on-change"}


def test_a_waiting_operation_reads_and_writes_nothing_until_a_decision() -> None:
    cluster, clock = CountingCluster(), Clock()
    operation = SyncOperation.start(
        app(), [config_hook("gate", GATED)], cluster, revision=REVISION, clock=clock
    )
    state = operation.step()
    calls = cluster.calls
    assert state["approval"]["state"] == "Pending" and cluster.writes == []

    for _ in range(3):
        clock.now += 60
        assert operation.step() == state
    assert cluster.calls == calls
    assert operation.approval is not None and operation.approval.pending

    with pytest.raises(ValueError, match="needs the user"):
        operation.decide(state["approval"]["id"], True, "")
    operation.decide(state["approval"]["id"], True, "U1")
    assert operation.run(poll_interval=0, timeout=10)["phase"] == "Succeeded"
    assert cluster.writes == ["apply ConfigMap/gate"] * 2  # created, then its finalizer released


def test_two_gates_in_one_wave_ask_one_at_a_time_and_nothing_runs_before_both() -> None:
    cluster = CountingCluster()
    desired = [config_hook("first", GATED), config_hook("second", GATED), config("app", 1)]
    operation = SyncOperation.start(app(), desired, cluster, revision=REVISION, wave_delay=0)

    first = operation.step()["approval"]
    assert first["resource"] == "/ConfigMap/shop/first"
    operation.decide(first["id"], True, "U1")
    state = operation.step()
    second = state["approval"]

    assert second["resource"] == "/ConfigMap/shop/second" and second["id"] != first["id"]
    assert [a["state"] for a in state["approvalHistory"]] == ["Approved"]
    assert cluster.writes == []
    operation.decide(second["id"], True, "U2")
    while not operation.completed:
        operation.step()
    hooks_written, rest = cluster.writes[:4], cluster.writes[4:]
    assert sorted(hooks_written) == ["apply ConfigMap/first"] * 2 + ["apply ConfigMap/second"] * 2
    assert rest == ["apply ConfigMap/app"]
    restored = OperationState.from_dict(json.loads(json.dumps(operation.to_dict())))
    assert [a.decided_by for a in restored.approvals] == ["U1", "U2"]


def test_terminate_while_waiting_supersedes_the_approval() -> None:
    operation = SyncOperation.start(
        app(), [config_hook("gate", GATED)], MemoryCluster(), revision=REVISION
    )
    approval_id = operation.step()["approval"]["id"]

    state = operation.terminate()

    assert (state["phase"], state["message"]) == ("Failed", "Operation terminated")
    assert state["approval"]["state"] == "Superseded"
    assert state["approval"]["message"] == "the operation was terminated"
    assert operation.decide(approval_id, True, "U1").state == "Superseded"


def test_the_request_timeout_wins_over_the_operation_setting() -> None:
    clock = Clock()
    operation = SyncOperation.start(
        app(),
        [config_hook("gate", GATED)],
        MemoryCluster(),
        SyncRequest(approval_timeout=30),
        revision=REVISION,
        clock=clock,
        approval_timeout=7200,
    )
    state = operation.step()
    assert state["operation"]["sync"]["approvalTimeout"] == "30s"
    assert state["approval"]["expiresAt"] == "2023-11-14T22:13:50Z"

    clock.now += 30
    final = operation.step()

    assert (final["phase"], final["message"]) == ("Failed", "approval timed out")


def test_a_retry_skips_an_on_change_hook_that_succeeded_in_the_failed_attempt() -> None:
    cluster = CountingCluster()
    cluster.refuse = {"app"}
    retry = RetryStrategy(limit=1, backoff=Backoff(duration=0, factor=2, max_duration=0))
    desired = [config_hook("seed", ON_CHANGE), config("app", 1)]
    operation = SyncOperation.start(
        app(), desired, cluster, SyncRequest(retry=retry), revision=REVISION, wave_delay=0
    )

    state = operation.run(poll_interval=0, timeout=10)

    assert (state["phase"], state["retryCount"]) == ("Succeeded", 1)
    # the hook was created (and its finalizer released) in the first attempt only
    assert cluster.writes == ["apply ConfigMap/seed"] * 2 + ["apply ConfigMap/app"]
    seed = next(r for r in state["syncResult"]["resources"] if r["name"] == "seed")
    assert (seed["status"], seed["hookPhase"], seed["message"]) == (
        "Synced",
        "Skipped",
        "unchanged since rrrrrrr",
    )
    assert list(state["hookFingerprints"]) == ["/ConfigMap/shop/seed:PreSync"]


def test_known_fingerprints_skip_a_hook_without_creating_it() -> None:
    cluster = MemoryCluster()
    hook = config_hook("seed", ON_CHANGE)
    first = SyncOperation.start(app(), [hook], cluster, revision="a" * 40)
    done = first.run(poll_interval=0, timeout=10)
    known = {k: HookRecord(**v) for k, v in done["hookFingerprints"].items()}
    cluster.objects.clear()
    cluster.writes.clear()

    second = SyncOperation.start(app(), [hook], cluster, revision="b" * 40, hook_fingerprints=known)
    state = second.run(poll_interval=0, timeout=10)

    assert state["phase"] == "Succeeded"
    assert cluster.writes == []
    assert state["syncResult"]["resources"][0]["message"] == "unchanged since aaaaaaa"
    assert "hookFingerprints" not in state


def test_the_approval_state_survives_json_and_bad_states_are_named() -> None:
    state = OperationState(SyncRequest(approval_timeout=90), 1_700_000_000, id="op")
    hook = HookSummary("migrate-x", "Job", "shop", "PreSync", "img:1", ("sh",), ("-c", "true"))
    pending = Approval("a1", "batch/Job/shop/migrate-x", hook, 1_700_000_010, 1_700_003_610)
    state.put_approval(pending.decided("Approved", "U1", 1_700_000_020, "approved by U1"))
    state.put_approval(Approval("a2", "batch/Job/shop/seed", hook, 1_700_000_030, 1_700_000_090))
    state.hook_fingerprints["batch/Job/shop/migrate-:PreSync"] = HookRecord("sha256:ab", "r")

    data = json.loads(json.dumps(state.to_dict()))

    assert OperationState.from_dict(data) == state
    assert data["approval"]["id"] == "a2" and "decidedAt" not in data["approval"]
    assert data["approvalHistory"][0]["decidedAt"] == "2023-11-14T22:13:40Z"
    broken = copy.deepcopy(data)
    broken["approval"]["state"] = "Maybe"
    with pytest.raises(StateError, match=r"approval\.state: 'Maybe'"):
        OperationState.from_dict(broken)
    del broken["approval"]["id"]
    with pytest.raises(StateError, match="approval"):
        OperationState.from_dict(broken)


@pytest.mark.parametrize(
    ("obj", "image"),
    [
        ({"kind": "Pod", "spec": {"containers": [{"image": "pod:1"}]}}, "pod:1"),
        (
            {
                "kind": "CronJob",
                "spec": {
                    "jobTemplate": {
                        "spec": {"template": {"spec": {"containers": [{"image": "cron:1"}]}}}
                    }
                },
            },
            "cron:1",
        ),
        ({"kind": "ConfigMap", "data": {"a": "b"}}, None),
    ],
)
def test_the_first_container_is_found_where_each_kind_keeps_it(
    obj: dict[str, Any], image: str | None
) -> None:
    assert first_container(obj).get("image") == image


def test_superseding_an_operation_that_is_not_waiting_terminates_it() -> None:
    cluster = MemoryCluster()
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
        "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}},
    }
    operation = SyncOperation.start(
        app(), [job, config("app", 1)], cluster, revision=REVISION, wave_delay=0
    )
    operation.step()
    assert operation.step()["message"] == "waiting for completion of hook batch/Job/migrate"

    state = operation.supersede("superseded by a newer sync to 9c0ffee")

    assert (state["phase"], state["message"]) == (
        "Failed",
        "superseded by a newer sync to 9c0ffee",
    )
    assert "approval" not in state
    assert cluster.writes[-1] == "delete Job/migrate"
    assert "apply ConfigMap/app" not in cluster.writes
