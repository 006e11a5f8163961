"""``kajitori.dev/hook-run: on-change`` against the emulator: a migration whose spec did not
change since it last succeeded is skipped (no Job write reaches the API server), a changed one
runs, and with an approval gate the sync asks only when the migration will run. The records
go through the SQLite store as the controller keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cluster import Cluster
from reconciler.model import Application
from reconciler.state import SQLiteStore
from reconciler.sync import SyncOperation
from reconciler.sync_runner import persist
from tests.integration.sync_helpers import (
    REVISION,
    Obj,
    annotated,
    application,
    configmap,
    hook,
    job,
    names,
    results,
    wave,
    writes,
)

NS = "shop"
NEXT = "9c0ffee1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7"
LATER = "5eed5eed1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a"
IDENTITY = f"batch/Job/{NS}/migrate-:PreSync"


@pytest.fixture
def cluster(kube: Any, kubeconfig: Path) -> Iterator[Cluster]:
    connected = Cluster.from_kubeconfig(kubeconfig)
    connected.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.audit.clear()
    yield connected
    connected.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "state.db") as opened:
        yield opened


def migration(image: str = "shop-migrations:41", **extra: str) -> Obj:
    obj = job("migrate", "migrate", "up", generate=True)
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return annotated(hook(obj, "PreSync"), **{"kajitori.dev/hook-run": "on-change"}, **extra)


def manifests(hook_obj: Obj, mode: str) -> list[Obj]:
    return [hook_obj, configmap("config", mode=mode), wave(configmap("later"), 1)]


def sync_with(
    store: SQLiteStore, app: Application, desired: list[Obj], cluster: Cluster, revision: str
) -> dict[str, Any]:
    """One sync as the controller drives it: records in, state and records out."""
    operation = SyncOperation.start(
        app,
        desired,
        cluster,
        revision=revision,
        wave_delay=0,
        hook_fingerprints=store.hook_fingerprints(app.name),
    )
    operation.run(poll_interval=0.02, timeout=60)
    return persist(store, app, operation)


def job_writes(kube: Any) -> list[dict[str, Any]]:
    return [w for w in writes(kube) if w["kind"] == "Job"]


def test_an_unchanged_migration_is_skipped_and_a_changed_one_runs(
    kube: Any, cluster: Cluster, store: SQLiteStore
) -> None:
    app = application()
    first = sync_with(store, app, manifests(migration(), "blue"), cluster, REVISION)
    assert first["phase"] == "Succeeded"
    assert len([w for w in job_writes(kube) if w["code"] == 201]) == 1
    recorded = store.hook_fingerprints(app.name)
    assert list(recorded) == [IDENTITY]
    assert recorded[IDENTITY].revision == REVISION
    assert first["hookFingerprints"][IDENTITY]["fingerprint"] == recorded[IDENTITY].fingerprint

    kube.audit.clear()
    second = sync_with(store, app, manifests(migration(), "green"), cluster, NEXT)

    assert second["phase"] == "Succeeded"
    assert job_writes(kube) == []  # the migration never reached the API server
    assert names(writes(kube)) == ["ConfigMap/config", "ConfigMap/later"]
    skipped = [r for r in second["syncResult"]["resources"] if r["kind"] == "Job"]
    assert len(skipped) == 1
    assert skipped[0]["name"].startswith(f"migrate-{NEXT[:7]}-presync-")
    assert (skipped[0]["status"], skipped[0]["hookPhase"]) == ("Synced", "Skipped")
    assert skipped[0]["message"] == f"unchanged since {REVISION[:7]}"
    assert "hookFingerprints" not in second
    assert store.hook_fingerprints(app.name)[IDENTITY].revision == REVISION

    kube.audit.clear()
    third = sync_with(
        store, app, manifests(migration("shop-migrations:42"), "green"), cluster, LATER
    )

    assert third["phase"] == "Succeeded"
    created = [w["name"] for w in job_writes(kube) if w["code"] == 201]
    assert len(created) == 1 and created[0].startswith(f"migrate-{LATER[:7]}-presync-")
    assert results(third)[f"Job/{created[0]}:PreSync"]["hookPhase"] == "Succeeded"
    updated = store.hook_fingerprints(app.name)[IDENTITY]
    assert updated.revision == LATER
    assert updated.fingerprint != recorded[IDENTITY].fingerprint


def test_a_failed_run_is_not_remembered_so_the_next_sync_runs_it_again(
    kube: Any, cluster: Cluster, store: SQLiteStore
) -> None:
    app = application()
    failing = migration()
    failing["spec"]["template"]["spec"]["containers"][0]["command"] = ["false"]
    first = sync_with(store, app, manifests(failing, "blue"), cluster, REVISION)
    assert first["phase"] == "Failed"
    assert store.hook_fingerprints(app.name) == {}

    kube.audit.clear()
    second = sync_with(store, app, manifests(failing, "blue"), cluster, NEXT)

    assert second["phase"] == "Failed"
    assert len([w for w in job_writes(kube) if w["code"] == 201]) == 1


def test_an_on_change_migration_with_a_gate_asks_only_when_it_will_run(
    kube: Any, cluster: Cluster, store: SQLiteStore
) -> None:
    app = application()
    gate = {"kajitori.dev/approval": "required"}

    first = SyncOperation.start(
        app, manifests(migration(**gate), "blue"), cluster, revision=REVISION, wave_delay=0
    )
    pending = first.step()
    assert pending["approval"]["state"] == "Pending"
    first.decide(pending["approval"]["id"], True, "U024BE7LH")
    first.run(poll_interval=0.02, timeout=60)
    assert persist(store, app, first)["phase"] == "Succeeded"

    kube.audit.clear()
    unchanged = SyncOperation.start(
        app,
        manifests(migration(**gate), "green"),
        cluster,
        revision=NEXT,
        wave_delay=0,
        hook_fingerprints=store.hook_fingerprints(app.name),
    )
    state = unchanged.run(poll_interval=0.02, timeout=15)  # nobody is asked: it just ends

    assert state["phase"] == "Succeeded"
    assert "approval" not in state
    assert job_writes(kube) == []

    changed = SyncOperation.start(
        app,
        manifests(migration("shop-migrations:42", **gate), "green"),
        cluster,
        revision=LATER,
        wave_delay=0,
        hook_fingerprints=store.hook_fingerprints(app.name),
    )
    asked = changed.step()
    assert asked["approval"]["state"] == "Pending"
    assert asked["approval"]["hook"]["image"] == "shop-migrations:42"
    assert job_writes(kube) == []
    changed.supersede()
