"""Prune tasks in sync plans: mirrored waves, PruneLast, Prune=false/confirm and disabled
pruning, as Argo CD handles them."""

from __future__ import annotations

from pathlib import Path

from reconciler.model import ResourceKey
from reconciler.plan import Resource
from reconciler.plan_types import PRUNE_NEEDS_CONFIRMATION, PRUNE_SKIPPED
from tests.unit.plan_helpers import gone, obj, order, plan, res, sock_shop


def test_prune_waves_are_mirrored() -> None:
    prunes = [
        gone(obj("ConfigMap", "w0")),
        gone(obj("Service", "w1", wave="1")),
        gone(obj("Deployment", "w3", "apps/v1", wave="3")),
    ]
    assert order(plan([res(obj("ConfigMap", "keep"))], prunes)) == [
        "Sync/0 ConfigMap/keep",
        "-Sync/0 Deployment/w3",
        "-Sync/1 Service/w1",
        "-Sync/3 ConfigMap/w0",
    ]


def test_prune_last_app_option_adds_a_final_wave() -> None:
    targets = [res(obj("ConfigMap", "a", wave="4"))]
    p = plan(targets, [gone(obj("Secret", "old"))], app_sync_options=["PruneLast=true"])
    assert order(p) == ["Sync/4 ConfigMap/a", "-Sync/5 Secret/old"]


def test_prune_last_object_option_only_moves_that_prune() -> None:
    prunes = [gone(obj("Secret", "last", options="PruneLast=true")), gone(obj("Secret", "now"))]
    assert order(plan([res(obj("ConfigMap", "a", wave="-2"))], prunes)) == [
        "Sync/-2 ConfigMap/a",
        "-Sync/0 Secret/now",
        "-Sync/1 Secret/last",
    ]


def test_prune_disabled_for_the_operation_is_skipped_not_dropped() -> None:
    p = plan([], [gone(obj("ConfigMap", "old"))], prune=False)
    assert p.tasks[0].prune_skip_message == "ignored (requires pruning)"
    assert [pr.code for pr in p.problems] == [PRUNE_SKIPPED]


def test_prune_false_on_object_is_skipped_with_argo_message() -> None:
    p = plan([], [gone(obj("ConfigMap", "keep-me", options="Prune=false"))])
    assert p.tasks[0].prune_skip_message == "ignored (no prune)"
    assert "ConfigMap/shop/keep-me" in p.problems_with(PRUNE_SKIPPED)[0].message


def test_object_prune_option_overrides_app_option() -> None:
    prunes = [gone(obj("ConfigMap", "yes", options="Prune=true")), gone(obj("ConfigMap", "no"))]
    p = plan([], prunes, app_sync_options=["Prune=false"])
    assert {t.key.name: t.prune_skip_message for t in p.tasks} == {
        "yes": "",
        "no": "ignored (no prune)",
    }


def test_prune_confirm_needs_confirmation() -> None:
    p = plan([], [gone(obj("Namespace", "precious", options="Prune=confirm"))])
    assert p.tasks[0].requires_confirmation and p.tasks[0].prune_skip_message == ""
    assert p.problems_with(PRUNE_NEEDS_CONFIRMATION)[0].key == ResourceKey(
        "", "Namespace", "", "precious"
    )


def test_hooks_and_skip_objects_are_never_pruned() -> None:
    prunes = [
        gone(obj("Job", "old-hook", "batch/v1", hook="PreSync")),
        gone(obj("ConfigMap", "s", hook="Skip")),
    ]
    assert plan([], prunes).tasks == ()


def test_sock_shop_pruned_entirely_is_one_prune_wave(corpus: Path) -> None:
    docs = sock_shop(corpus)
    p = plan([], [Resource(ResourceKey.of(doc, "sock-shop"), None, doc) for doc in docs])
    assert [(t.action, t.phase, t.wave) for t in p.tasks] == [("prune", "Sync", 0)] * 29
