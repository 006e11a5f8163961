"""Operation settings and sync options in sync plans: strategy apply, selective sync,
ApplyOutOfSyncOnly, CreateNamespace, per-object options."""

from __future__ import annotations

import pytest

from reconciler.model import ResourceKey
from reconciler.plan_types import UNKNOWN_SYNC_OPTION
from tests.unit.plan_helpers import CREATE_FRESH, gone, obj, order, plan, res, shop_app


def test_apply_strategy_skips_hooks() -> None:
    p = plan(shop_app(), strategy="apply")
    assert p.skip_hooks and not any(t.is_hook for t in p.tasks) and len(p.tasks) == 10


def test_selective_sync_keeps_only_selected_and_skips_hooks() -> None:
    prunes = [gone(obj("ConfigMap", "old")), gone(obj("ConfigMap", "other"))]
    selected = {
        ResourceKey("apps", "Deployment", "", "cart"),
        ResourceKey("", "ConfigMap", "shop", "old"),
    }
    assert order(plan(shop_app(), prunes, selected=selected)) == [
        "-Sync/0 ConfigMap/old",
        "Sync/1 Deployment/cart",
    ]


def test_apply_out_of_sync_only_drops_synced_existing_objects() -> None:
    live = obj("ConfigMap", "same")
    targets = [
        res(obj("ConfigMap", "same"), live),
        res(obj("ConfigMap", "changed"), obj("ConfigMap", "changed")),
        res(obj("ConfigMap", "new")),
        res(obj("Job", "hook", "batch/v1", hook="Sync"), obj("Job", "hook", "batch/v1")),
    ]
    out_of_sync = {
        ResourceKey("", "ConfigMap", "shop", "changed"),
        ResourceKey("", "ConfigMap", "shop", "new"),
    }
    with_option = plan(
        targets, app_sync_options=["ApplyOutOfSyncOnly=true"], out_of_sync=out_of_sync
    )
    assert [t.key.name for t in with_option.tasks] == ["changed", "new", "hook"]
    assert len(plan(targets, out_of_sync=out_of_sync).tasks) == 4


def test_create_namespace_adds_a_presync_task() -> None:
    p = plan([res(obj("ConfigMap", "c", ns="fresh"))], **CREATE_FRESH)
    assert order(p) == ["PreSync/0 Namespace/fresh", "Sync/0 ConfigMap/c"]
    assert p.namespace_task is p.tasks[0]


def test_create_namespace_not_needed_when_declared_or_existing() -> None:
    declared = plan([res(obj("Namespace", "fresh"))], **CREATE_FRESH)
    existing = plan([], app_sync_options=["CreateNamespace=true"], destination_namespace="fresh")
    assert (declared.namespace_task, order(declared), existing.tasks) == (
        None,
        ["Sync/0 Namespace/fresh"],
        (),
    )


def test_unknown_sync_options_are_reported_not_fatal() -> None:
    target = obj("ConfigMap", "c", options="Replace=true,Frobnicate=yes")
    p = plan([res(target)], app_sync_options=["Validate=nope"])
    assert [pr.code for pr in p.problems] == [UNKNOWN_SYNC_OPTION, UNKNOWN_SYNC_OPTION]
    assert p.tasks[0].options.replace and p.tasks[0].options.validate


def test_object_options_override_app_options_per_task() -> None:
    targets = [
        res(obj("ConfigMap", "a", options="ServerSideApply=false")),
        res(obj("ConfigMap", "b")),
    ]
    p = plan(targets, app_sync_options=["ServerSideApply=true"])
    assert [t.options.server_side_apply for t in p.tasks] == [False, True]


def test_single_wave_plan_is_not_multi_step() -> None:
    assert not plan([res(obj("ConfigMap", "a")), res(obj("Secret", "b"))]).multi_step


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="strategy"):
        plan([], strategy="force")
