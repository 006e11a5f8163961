"""Order and content of sync plans (reconciler.plan), checked against Argo CD's rules: phases,
waves, kind order, dependencies, hooks and annotation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.hooks import HOOK_FINALIZER, PlanError
from reconciler.model import ResourceKey
from reconciler.plan import Resource, build_plan, kind_order
from reconciler.plan_types import HOOK_IGNORED
from tests.unit.plan_helpers import CRD_API, obj, order, plan, res, shop_app, sock_shop


def test_realistic_app_runs_in_argo_order() -> None:
    assert order(plan(shop_app())) == [
        "PreSync/0 Namespace/shop",
        "PreSync/0 Job/schema-migrate-a1b2c3d-presync-1700000000",
        "Sync/-2 CustomResourceDefinition/widgets.example.com",
        "Sync/-2 Widget/default-widget",
        "Sync/-1 Secret/shop-db",
        "Sync/-1 ConfigMap/shop-config",
        "Sync/0 ServiceAccount/shop",
        "Sync/0 Service/cart",
        "Sync/1 Deployment/api",
        "Sync/1 Deployment/cart",
        "Sync/2 Ingress/shop",
        "PostSync/0 Job/smoke-test",
        "SyncFail/0 Job/notify-failure-a1b2c3d-syncfail-1700000000",
    ]


def test_realistic_app_groups_leave_sync_fail_hooks_out() -> None:
    p = plan(shop_app())
    assert [(phase, wave, len(tasks)) for phase, wave, tasks in p.groups()] == [
        ("PreSync", 0, 2),
        ("Sync", -2, 2),
        ("Sync", -1, 2),
        ("Sync", 0, 2),
        ("Sync", 1, 2),
        ("Sync", 2, 1),
        ("PostSync", 0, 1),
    ]
    assert [t.key.name for t in p.sync_fail_tasks] == ["notify-failure-a1b2c3d-syncfail-1700000000"]
    assert p.multi_step and not p.skip_hooks and p.problems == ()


def test_realistic_app_hook_details() -> None:
    p = plan(shop_app())
    migrate = p.tasks[1]
    assert (migrate.action, migrate.hook_type, migrate.delete_policies) == (
        "hook",
        "PreSync",
        ("HookSucceeded",),
    )
    assert migrate.target is not None
    assert migrate.target["metadata"]["finalizers"] == [HOOK_FINALIZER]
    assert p.find("batch/Job/shop/smoke-test:PostSync") is p.tasks[11]
    assert p.tasks[11].delete_policies == ("BeforeHookCreation",)
    assert p.tasks[-1].delete_policies == ("HookSucceeded", "HookFailed")
    assert p.tasks[3].skip_dry_run_if_missing and not p.tasks[4].skip_dry_run_if_missing


def test_kind_order_within_a_wave_then_name() -> None:
    targets = [
        res(obj("Deployment", "b", "apps/v1")),
        res(obj("Widget", "a", "example.com/v1")),
        res(obj("Deployment", "a", "apps/v1")),
        res(obj("ConfigMap", "z")),
        res(obj("Service", "m")),
    ]
    assert order(plan(targets)) == [
        "Sync/0 ConfigMap/z",
        "Sync/0 Service/m",
        "Sync/0 Deployment/a",
        "Sync/0 Deployment/b",
        "Sync/0 Widget/a",
    ]


def test_kind_order_values_match_argo() -> None:
    assert (kind_order("Namespace"), kind_order("APIService"), kind_order("Widget")) == (-35, -1, 0)


def test_waves_sort_numerically_with_negatives() -> None:
    targets = [
        res(obj("ConfigMap", "ten", wave="10")),
        res(obj("ConfigMap", "two", wave="2")),
        res(obj("ConfigMap", "minus", wave="-5")),
        res(obj("ConfigMap", "default")),
    ]
    assert [t.key.name for t in plan(targets).tasks] == ["minus", "default", "two", "ten"]


def test_namespace_moves_ahead_of_earlier_wave_that_needs_it() -> None:
    targets = [
        res(obj("Namespace", "late", wave="5")),
        res(obj("ConfigMap", "early", ns="late", wave="-3")),
    ]
    assert order(plan(targets)) == ["Sync/-3 Namespace/late", "Sync/-3 ConfigMap/early"]


def test_namespace_moves_into_presync_for_a_hook() -> None:
    job = obj("Job", "migrate", "batch/v1", ns="db", hook="PreSync")
    targets = [res(obj("Namespace", "db")), res(job)]
    assert order(plan(targets)) == ["PreSync/0 Namespace/db", "PreSync/0 Job/migrate"]


def test_namespace_that_is_not_needed_earlier_stays() -> None:
    targets = [res(obj("Namespace", "other")), res(obj("ConfigMap", "c", ns="shop"))]
    assert order(plan(targets)) == ["Sync/0 Namespace/other", "Sync/0 ConfigMap/c"]


def test_crd_moves_ahead_of_its_custom_resource() -> None:
    crd = obj("CustomResourceDefinition", "gadgets.example.com", CRD_API)
    crd["spec"] = {"group": "example.com", "names": {"kind": "Gadget"}}
    cr = obj("Gadget", "g1", "example.com/v1", wave="-1")
    other = obj("Widget", "w1", "example.com/v1", wave="-2")
    assert order(plan([res(crd), res(cr), res(other)])) == [
        "Sync/-2 Widget/w1",
        "Sync/-1 CustomResourceDefinition/gadgets.example.com",
        "Sync/-1 Gadget/g1",
    ]


def test_helm_hooks_map_to_phases_and_weight_to_wave() -> None:
    targets = [
        res(obj("Job", "pre", "batch/v1", helm="pre-install,pre-upgrade", weight="-5")),
        res(obj("Job", "post", "batch/v1", helm="post-upgrade")),
        res(obj("CustomResourceDefinition", "x.example.com", CRD_API, helm="crd-install")),
    ]
    assert order(plan(targets)) == [
        "PreSync/-5 Job/pre",
        "Sync/0 CustomResourceDefinition/x.example.com",
        "PostSync/0 Job/post",
    ]


def test_helm_test_hook_is_ignored_and_reported() -> None:
    p = plan([res(obj("Pod", "test-connection", helm="test"))])
    assert p.tasks == ()
    assert "test is not a sync hook" in p.problems_with(HOOK_IGNORED)[0].message


def test_argo_hook_annotation_wins_over_helm() -> None:
    job = obj("Job", "j", "batch/v1", hook="PostSync", helm="pre-install")
    assert order(plan([res(job)])) == ["PostSync/0 Job/j"]


def test_skip_is_not_applied_but_skip_with_others_is_dropped() -> None:
    targets = [
        res(obj("ConfigMap", "skipped", hook="Skip")),
        res(obj("Job", "both", "batch/v1", hook="Skip,PreSync")),
    ]
    assert order(plan(targets)) == ["PreSync/0 Job/both"]


def test_comma_list_makes_one_task_per_phase() -> None:
    job = obj("Job", "", "batch/v1", hook="PostSync, PreSync,PostSync")
    assert order(plan([res(job)])) == [
        "PreSync/0 Job/gen-a1b2c3d-presync-1700000000",
        "PostSync/0 Job/gen-a1b2c3d-postsync-1700000000",
    ]


def test_generate_name_is_deterministic_and_original_untouched() -> None:
    job = obj("Job", "", "batch/v1", hook="PreSync")
    first, again = plan([res(job)]).tasks[0], plan([res(job)]).tasks[0]
    assert (
        first.target == again.target
        and first.result_key == "batch/Job/shop/gen-a1b2c3d-presync-1700000000:PreSync"
    )
    assert "name" not in job["metadata"] and "finalizers" not in job["metadata"]


def test_short_revision_is_used_whole() -> None:
    job = obj("Job", "", "batch/v1", hook="Sync")
    p = build_plan([res(job)], prune=False, revision="HEAD", started_at=12)
    assert p.tasks[0].key.name == "gen-head-sync-12"


def test_named_hook_keeps_its_name_and_live_object() -> None:
    job = obj("Job", "migrate", "batch/v1", hook="PreSync")
    live = obj("Job", "migrate", "batch/v1", hook="PreSync")
    task = plan([res(job, live)]).tasks[0]
    assert (task.key.name, task.live is live, task.deletes_before_creation) == (
        "migrate",
        True,
        True,
    )


def test_post_delete_hook_is_not_run_by_sync() -> None:
    p = plan([res(obj("Job", "cleanup", "batch/v1", hook="PostDelete"))])
    assert p.tasks == () and "runs only when the Application is deleted" in p.problems[0].message


def test_invalid_wave_raises_naming_object_and_value() -> None:
    with pytest.raises(PlanError, match=r"ConfigMap/shop/bad: argocd.argoproj.io/sync-wave 'one'"):
        plan([res(obj("ConfigMap", "bad", wave="one"))])


def test_unknown_hook_type_raises_naming_object() -> None:
    with pytest.raises(
        PlanError, match=r"Job.batch/shop/j: unknown argocd.argoproj.io/hook value 'Presync'"
    ):
        plan([res(obj("Job", "j", "batch/v1", hook="Presync"))])


def test_every_bad_object_is_listed() -> None:
    targets = [
        res(obj("ConfigMap", "a", wave="1.5")),
        res(obj("Job", "b", "batch/v1", hook="PreSync", policy="Always", wave="x")),
        res(obj("ConfigMap", "fine")),
    ]
    with pytest.raises(PlanError) as raised:
        plan(targets)
    assert raised.value.problems == [
        "ConfigMap/shop/a: argocd.argoproj.io/sync-wave '1.5' is not an integer"
        ' (for example "-1" or "2")',
        "Job.batch/shop/b: unknown argocd.argoproj.io/hook-delete-policy value 'Always'"
        " (expected HookSucceeded, HookFailed, BeforeHookCreation, Never)",
        "Job.batch/shop/b: argocd.argoproj.io/sync-wave 'x' is not an integer"
        ' (for example "-1" or "2")',
    ]


def test_sock_shop_from_the_corpus_is_one_wave_services_first(corpus: Path) -> None:
    docs = sock_shop(corpus)
    p = plan([Resource(ResourceKey.of(doc, "sock-shop"), doc) for doc in docs])
    kinds = [t.key.kind for t in p.tasks]
    assert (len(p.tasks), [g[:2] for g in p.groups()], p.multi_step) == (29, [("Sync", 0)], False)
    assert kinds == ["Service"] * 14 + ["Deployment"] * 14 + ["Ingress"]
    assert [t.key.name for t in p.tasks[:2]] == ["carts", "carts-db"]
