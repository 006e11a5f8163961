"""Run-on-change hooks, the pure parts: the fingerprint ignores what kajitori or the server
adds and sees what the hook runs; the identity survives generated names; the annotations are
read strictly by the plan; the store keeps records per app across reopening."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from reconciler.hooks import HOOK_FINALIZER, OPERATION_ANNOTATION, PlanError, prepared_hook
from reconciler.model import TRACKING_ANNOTATION, ResourceKey
from reconciler.plan import Resource, build_plan
from reconciler.plan_types import Task
from reconciler.state import SQLiteStore
from reconciler.sync_hook_run import (
    HookRecord,
    fingerprint,
    hook_identity,
    records_from_dict,
    skipped_message,
    unchanged_since,
)
from reconciler.sync_types import StateError

REVISION = "3f2a1bc9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3"


def migration(image: str = "migrations:41", **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "generateName": "migrate-",
            "namespace": "shop",
            "annotations": {
                "argocd.argoproj.io/hook": "PreSync",
                "kajitori.dev/hook-run": "on-change",
                **annotations,
            },
        },
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "m", "image": image, "command": ["migrate", "up"]}],
                }
            }
        },
    }


def planned(obj: dict[str, Any], started_at: int = 1_700_000_000) -> list[Task]:
    key = ResourceKey("batch", "Job", "shop", "") if obj["kind"] == "Job" else ResourceKey.of(obj)
    plan = build_plan(
        [Resource(key, target=obj)], prune=False, revision=REVISION, started_at=started_at
    )
    return list(plan.tasks)


def test_the_fingerprint_ignores_generated_names_kajitori_additions_and_server_fields() -> None:
    first = prepared_hook(migration(), "migrate-3f2a1bc-presync-1700000000")
    later = prepared_hook(
        migration(**{"kajitori.dev/approval": "required"}), "migrate-9c0ffee-presync-1800000000"
    )
    later["metadata"]["annotations"][TRACKING_ANNOTATION] = "shop:batch/Job:shop/migrate-x"
    later["metadata"]["annotations"][OPERATION_ANNOTATION] = "shop/abc/0"
    later["metadata"].update(resourceVersion="12", uid="u-1", generation=1)
    later["status"] = {"succeeded": 1}
    reordered = dict(reversed(list(copy.deepcopy(first).items())))

    assert HOOK_FINALIZER in first["metadata"]["finalizers"]
    assert fingerprint(first) == fingerprint(later) == fingerprint(reordered)
    assert fingerprint(first).startswith("sha256:") and len(fingerprint(first)) == 71


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o["spec"]["template"]["spec"]["containers"][0].update(image="migrations:42"),
        lambda o: o["spec"]["template"]["spec"]["containers"][0].update(command=["migrate"]),
        lambda o: o["metadata"]["annotations"].update(team="payments"),
        lambda o: o["metadata"].update(generateName="migrate-db-"),
    ],
)
def test_the_fingerprint_sees_what_the_hook_runs(change: Any) -> None:
    before = migration()
    after = copy.deepcopy(before)
    change(after)
    assert fingerprint(before) != fingerprint(after)


def test_the_identity_keeps_generate_name_and_phase_and_the_plan_reads_the_annotations() -> None:
    task = planned(migration())[0]
    named = migration()
    named["metadata"] = {**named["metadata"], "name": "migrate"}
    del named["metadata"]["generateName"]
    named_task = planned(named)[0]

    assert task.key.name == "migrate-3f2a1bc-presync-1700000000"
    assert hook_identity(task) == "batch/Job/shop/migrate-:PreSync"
    assert hook_identity(planned(migration(), started_at=1_800_000_000)[0]) == hook_identity(task)
    assert hook_identity(named_task) == "batch/Job/shop/migrate:PreSync"
    assert task.run_on_change and not task.approval_required
    gated = planned(migration(**{"kajitori.dev/approval": "required"}))[0]
    assert gated.approval_required


def test_unchanged_since_needs_an_on_change_hook_with_the_same_fingerprint() -> None:
    task = planned(migration())[0]
    assert task.target is not None
    record = HookRecord(fingerprint(task.target), REVISION)
    identity = hook_identity(task)

    assert unchanged_since(task, {identity: record}) == record
    assert unchanged_since(task, {}) is None
    assert unchanged_since(task, {identity: HookRecord("sha256:other", REVISION)}) is None
    always = planned(migration(**{"kajitori.dev/hook-run": "always"}))[0]
    assert not always.run_on_change
    assert unchanged_since(always, {hook_identity(always): record}) is None
    assert skipped_message(record) == "unchanged since 3f2a1bc"
    assert skipped_message(HookRecord("sha256:x", "")) == "unchanged since its last success"


@pytest.mark.parametrize(
    ("annotations", "problem"),
    [
        ({"kajitori.dev/hook-run": "sometimes"}, "unknown kajitori.dev/hook-run value 'sometimes'"),
        ({"kajitori.dev/approval": "yes"}, "unknown kajitori.dev/approval value 'yes'"),
    ],
)
def test_unknown_values_fail_the_plan_naming_the_object(
    annotations: dict[str, str], problem: str
) -> None:
    with pytest.raises(PlanError, match=problem) as raised:
        planned(migration(**annotations))
    assert str(raised.value).startswith("Job.batch/shop/migrate-*: ")


def test_a_gate_on_an_object_that_is_not_a_hook_fails_the_plan() -> None:
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "settings",
            "namespace": "shop",
            "annotations": {"kajitori.dev/approval": "required"},
        },
    }
    with pytest.raises(
        PlanError, match=r"ConfigMap/shop/settings: kajitori\.dev/approval: required"
    ):
        planned(config)
    config["metadata"]["annotations"] = {
        "kajitori.dev/approval": "none",
        "kajitori.dev/hook-run": "always",
    }
    assert len(planned(config)) == 1  # the explicit defaults are harmless anywhere


def test_records_read_back_and_bad_ones_are_named() -> None:
    data = {"batch/Job/shop/migrate-:PreSync": {"fingerprint": "sha256:ab", "revision": "r1"}}
    assert records_from_dict(data) == {
        "batch/Job/shop/migrate-:PreSync": HookRecord("sha256:ab", "r1")
    }
    with pytest.raises(StateError, match="fingerprint is missing"):
        records_from_dict({"x": {"revision": "r1"}})
    with pytest.raises(StateError, match="hookFingerprints must be an object"):
        records_from_dict(["x"])


def test_the_store_keeps_records_per_app_and_merges_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore(path) as store:
        store.save_hook_fingerprints(
            "shop",
            {"a:PreSync": HookRecord("sha256:1", "r1"), "b:PreSync": HookRecord("sha256:2", "r1")},
        )
        store.save_hook_fingerprints("shop", {"a:PreSync": HookRecord("sha256:3", "r2")})
        store.save_hook_fingerprints("other", {"a:PreSync": HookRecord("sha256:9", "r9")})
    with SQLiteStore(path) as store:
        assert store.hook_fingerprints("shop") == {
            "a:PreSync": HookRecord("sha256:3", "r2"),
            "b:PreSync": HookRecord("sha256:2", "r1"),
        }
        assert store.hook_fingerprints("other") == {"a:PreSync": HookRecord("sha256:9", "r9")}
        assert store.hook_fingerprints("nobody") == {}
