"""Approval gates against the emulator: a hook annotated ``kajitori.dev/approval: required``
holds the sync before it is created; approve runs it and the sync goes on, reject and timeout
fail the sync after its SyncFail hooks, a restart keeps waiting, and two decisions are one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cluster import Cluster
from reconciler.model import ResourceKey, RetryStrategy
from reconciler.state import SQLiteStore
from reconciler.sync import SyncOperation
from reconciler.sync_approval import ApprovalError
from reconciler.sync_progress import EVENT_APPROVAL_DECIDED, EVENT_APPROVAL_REQUESTED, SyncEvent
from reconciler.sync_runner import persist, resumable
from tests.integration.sync_helpers import (
    REVISION,
    Obj,
    annotated,
    application,
    configmap,
    deployment,
    hook,
    job,
    names,
    results,
    roundtrip,
    wave,
    writes,
)

NS = "shop"
GATED = {"kajitori.dev/approval": "required"}


class Clock:
    """An injected clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cluster(kube: Any, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig)
    connected.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.audit.clear()
    yield connected
    connected.close()


def migration() -> Obj:
    job_obj = job("migrate", "sh", "-c", "sleep 1", generate=True)
    container = job_obj["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "registry.example.com/shop-migrations:42"
    container["args"] = ["--to", "latest"]
    container["env"] = [{"name": "DB_PASSWORD", "value": "hunter2"}]
    return annotated(hook(job_obj, "PreSync"), **GATED)


def desired() -> list[Obj]:
    return [
        migration(),
        configmap("config", mode="blue"),
        wave(deployment("web"), 1),
        hook(configmap("sync-failed", reason="gate"), "SyncFail"),
    ]


def start(cluster: Cluster, clock: Clock, **options: Any) -> SyncOperation:
    return SyncOperation.start(
        application(), desired(), cluster, revision=REVISION, wave_delay=0, clock=clock, **options
    )


def wait_for_approval(operation: SyncOperation) -> dict[str, Any]:
    state = operation.step()
    assert state["phase"] == "Running"
    assert state["approval"]["state"] == "Pending"
    return state


def job_creations(kube: Any) -> list[str]:
    return [w["name"] for w in writes(kube) if w["kind"] == "Job" and w["code"] == 201]


def test_the_gate_holds_the_sync_before_the_hook_is_created_and_approve_runs_it(
    kube: Any, cluster: Cluster
) -> None:
    events: list[SyncEvent] = []
    clock = Clock()
    operation = start(cluster, clock, on_event=events.append)

    state = wait_for_approval(operation)

    name = f"migrate-{REVISION[:7]}-presync-{int(clock.now)}"
    approval = state["approval"]
    assert state["message"] == f"waiting for approval of batch/Job/{name}"
    assert approval["resource"] == f"batch/Job/{NS}/{name}"
    assert approval["requestedAt"] == "2023-11-14T22:13:20Z"
    assert approval["expiresAt"] == "2023-11-14T23:13:20Z"  # the default hour
    assert approval["hook"] == {
        "name": name,
        "kind": "Job",
        "namespace": NS,
        "phase": "PreSync",
        "image": "registry.example.com/shop-migrations:42",
        "command": ["sh", "-c", "sleep 1"],
        "args": ["--to", "latest"],
    }
    assert "hunter2" not in str(state)
    assert writes(kube) == []  # nothing written before a person decided
    requested = [e for e in events if e.kind == EVENT_APPROVAL_REQUESTED]
    assert len(requested) == 1 and requested[0].approval is not None
    assert requested[0].approval.id == approval["id"]

    assert operation.step() == state  # waiting: the same state, nothing written
    assert writes(kube) == []

    decision = operation.decide(approval["id"], True, "U024BE7LH")
    assert (decision.state, decision.decided_by) == ("Approved", "U024BE7LH")
    final = operation.run(poll_interval=0.02, timeout=60)

    assert final["phase"] == "Succeeded"
    assert final["approval"]["state"] == "Approved"
    assert final["approval"]["decidedBy"] == "U024BE7LH"
    written = names(writes(kube))
    assert job_creations(kube) == [name]
    assert written.index(f"Job/{name}") < written.index("ConfigMap/config")
    assert written.index("ConfigMap/config") < written.index("Deployment/web")
    assert "ConfigMap/sync-failed" not in written
    assert results(final)[f"Job/{name}:PreSync"]["hookPhase"] == "Succeeded"
    decided = [e.approval for e in events if e.kind == EVENT_APPROVAL_DECIDED]
    assert [(a.state, a.id) for a in decided if a] == [("Approved", approval["id"])]
    assert cluster.get(ResourceKey("apps", "Deployment", NS, "web")) is not None


def test_reject_fails_the_sync_runs_syncfail_and_applies_nothing_after_the_gate(
    kube: Any, cluster: Cluster
) -> None:
    retry = RetryStrategy(limit=3)  # a rejection is final: never retried
    app = application("shop", NS, retry=retry)
    operation = SyncOperation.start(
        app, desired(), cluster, revision=REVISION, wave_delay=0, clock=Clock()
    )
    state = wait_for_approval(operation)

    decision = operation.decide(state["approval"]["id"], False, "U0REJECT1")
    final = operation.run(poll_interval=0.02, timeout=60)

    assert decision.state == "Rejected"
    assert (final["phase"], final["message"]) == ("Failed", "rejected by U0REJECT1")
    assert final["retryCount"] == 0
    assert final["approval"]["state"] == "Rejected"
    assert final["approval"]["decidedBy"] == "U0REJECT1"
    assert names(writes(kube)) == ["ConfigMap/sync-failed", "ConfigMap/sync-failed"]
    assert results(final)["ConfigMap/sync-failed:SyncFail"]["hookPhase"] == "Succeeded"
    assert job_creations(kube) == []


def test_no_decision_within_the_timeout_fails_the_sync(kube: Any, cluster: Cluster) -> None:
    clock = Clock()
    operation = start(cluster, clock, approval_timeout=600)
    state = wait_for_approval(operation)
    assert state["approval"]["expiresAt"] == "2023-11-14T22:23:20Z"

    clock.now += 599
    assert operation.step()["phase"] == "Running"
    clock.now += 1
    final = operation.run(poll_interval=0.02, timeout=60)

    assert (final["phase"], final["message"]) == ("Failed", "approval timed out")
    assert final["approval"]["state"] == "TimedOut"
    assert names(writes(kube)) == ["ConfigMap/sync-failed", "ConfigMap/sync-failed"]
    late = operation.decide(state["approval"]["id"], True, "U0LATE")  # too late: unchanged
    assert late.state == "TimedOut"
    assert operation.step()["phase"] == "Failed"


def test_a_restart_while_waiting_keeps_waiting_and_a_later_approval_runs_the_hook(
    kube: Any, cluster: Cluster, kubeconfig: Path, tmp_path: Path
) -> None:
    app = application()
    clock = Clock()
    with SQLiteStore(tmp_path / "state.db") as store:
        first = start(cluster, clock)
        state = wait_for_approval(first)
        persist(store, app, first)
        first.close()  # the process dies here

    restarted = Cluster.from_kubeconfig(kubeconfig)
    try:
        with SQLiteStore(tmp_path / "state.db") as store:
            saved = resumable(store, app)
            assert saved is not None and saved.pending_approval is not None
            second = SyncOperation.restore(
                saved, app, desired(), restarted, wave_delay=0, clock=clock
            )
            assert second.step()["approval"]["state"] == "Pending"
            assert writes(kube) == []
            second.decide(state["approval"]["id"], True, "U024BE7LH")
            persist(store, app, second)
            final = second.run(poll_interval=0.02, timeout=60)
            persist(store, app, second)
            assert roundtrip(store.operation(app.name) or {})["phase"] == "Succeeded"
    finally:
        restarted.close()

    assert final["phase"] == "Succeeded"
    assert final["approval"]["id"] == state["approval"]["id"]
    assert len(job_creations(kube)) == 1
    assert "Deployment/web" in names(writes(kube))


def test_two_decisions_make_one_and_a_wrong_id_is_refused(kube: Any, cluster: Cluster) -> None:
    operation = start(cluster, Clock())
    state = wait_for_approval(operation)
    approval_id = state["approval"]["id"]

    first = operation.decide(approval_id, True, "U0FIRST")
    second = operation.decide(approval_id, False, "U0SECOND")  # another approver, too late
    again = operation.decide(approval_id, True, "U0FIRST")  # a double click
    with pytest.raises(ApprovalError, match="no approval 'not-an-id'"):
        operation.decide("not-an-id", True, "U0FIRST")
    final = operation.run(poll_interval=0.02, timeout=60)

    assert first == second == again
    assert (first.state, first.decided_by) == ("Approved", "U0FIRST")
    assert final["phase"] == "Succeeded"
    assert len(job_creations(kube)) == 1


def test_a_newer_sync_supersedes_a_pending_one(kube: Any, cluster: Cluster) -> None:
    operation = start(cluster, Clock())
    state = wait_for_approval(operation)

    final = operation.supersede("superseded by a newer sync to 9c0ffee")

    assert (final["phase"], final["message"]) == (
        "Failed",
        "superseded by a newer sync to 9c0ffee",
    )
    assert final["approval"]["state"] == "Superseded"
    assert operation.decide(state["approval"]["id"], True, "U0LATE").state == "Superseded"
    assert writes(kube) == []
