"""Reading hook, delete-policy and wave annotations (reconciler.hooks)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from reconciler.hooks import (
    HOOK_FINALIZER,
    PlanError,
    csv_values,
    delete_policies,
    describe,
    hook_name,
    hook_spec,
    prepared_hook,
    sync_wave,
)


def job(name: str = "j", **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name} if name else {"generateName": "migrate-"}
    meta["namespace"] = "db"
    meta["annotations"] = annotations
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta}


HOOK = "argocd.argoproj.io/hook"
POLICY = "argocd.argoproj.io/hook-delete-policy"
WAVE = "argocd.argoproj.io/sync-wave"


def test_csv_values_trim_drop_empty_and_dedupe() -> None:
    assert csv_values(" PreSync, ,PostSync,PreSync ") == ("PreSync", "PostSync")


def test_plain_object_runs_in_sync() -> None:
    assert hook_spec(job()) == hook_spec(job(**{"helm.sh/hook": "crd-install"}))
    assert (hook_spec(job()).hook, hook_spec(job()).phases) == (False, ("Sync",))


def test_phases_come_in_execution_order() -> None:
    spec = hook_spec(job(**{HOOK: "SyncFail,PostSync,PreSync,Sync"}))
    assert spec.phases == ("PreSync", "Sync", "PostSync", "SyncFail")


def test_skip_alone_is_skipped() -> None:
    spec = hook_spec(job(**{HOOK: "Skip"}))
    assert (spec.skip, spec.hook, spec.applied) == (True, False, False)


def test_unknown_value_raises_but_live_objects_are_lenient() -> None:
    with pytest.raises(PlanError, match=r"Job.batch/db/j: unknown .*'PreSynk'"):
        hook_spec(job(**{HOOK: "PreSync,PreSynk"}))
    assert hook_spec(job(**{HOOK: "PreSync,PreSynk"}), strict=False).phases == ("PreSync",)


def test_empty_hook_value_is_an_error() -> None:
    with pytest.raises(PlanError, match=re.escape("unknown argocd.argoproj.io/hook value ''")):
        hook_spec(job(**{HOOK: " "}))


def test_live_object_with_only_unknown_types_stays_an_ignored_hook() -> None:
    spec = hook_spec(job(**{HOOK: "Whatever"}), strict=False)
    assert (spec.hook, spec.phases) == (True, ())


def test_helm_pre_delete_is_a_hook_that_sync_ignores() -> None:
    spec = hook_spec(job(**{"helm.sh/hook": "pre-delete"}))
    assert (spec.hook, spec.applied) == (True, False) and "pre-delete" in spec.notes[0]


def test_helm_mixed_values_keep_the_sync_ones() -> None:
    spec = hook_spec(job(**{"helm.sh/hook": "post-install,test"}))
    assert spec.phases == ("PostSync",) and "those values are ignored" in spec.notes[0]


def test_delete_policy_default_and_union_with_helm() -> None:
    assert delete_policies(job()) == ("BeforeHookCreation",)
    both = job(**{POLICY: "HookFailed", "helm.sh/hook-delete-policy": "hook-succeeded,hook-failed"})
    assert delete_policies(both) == ("HookFailed", "HookSucceeded")


def test_unknown_delete_policy_raises() -> None:
    with pytest.raises(PlanError, match=r"Job.batch/db/j: unknown .*hook-delete-policy value 'Ok'"):
        delete_policies(job(**{POLICY: "Ok"}))
    assert delete_policies(job(**{POLICY: "Ok"}), strict=False) == ("BeforeHookCreation",)


def test_wave_from_argo_then_helm_weight_then_zero() -> None:
    both = job(**{WAVE: "-3", "helm.sh/hook-weight": "7"})
    assert (sync_wave(both), sync_wave(job(**{"helm.sh/hook-weight": "7"})), sync_wave(job())) == (
        -3,
        7,
        0,
    )


@pytest.mark.parametrize("value", ["", "1.0", " 1", "1_000", "one", "+"])
def test_invalid_wave_raises_with_the_value(value: str) -> None:
    with pytest.raises(PlanError, match=re.escape(f"sync-wave {value!r} is not an integer")):
        sync_wave(job(**{WAVE: value}))


def test_invalid_wave_on_live_object_falls_back_like_argo() -> None:
    assert sync_wave(job(**{WAVE: "x", "helm.sh/hook-weight": "4"}), strict=False) == 4


def test_hook_name_for_generate_name() -> None:
    assert hook_name(job(""), "A1B2C3D4E5", "PreSync", 1700000000) == (
        "migrate-a1b2c3d-presync-1700000000"
    )
    assert hook_name(job("fixed"), "a1b2c3d4e5", "PreSync", 1) == "fixed"


def test_hook_without_any_name_is_an_error() -> None:
    nameless = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"namespace": "db"}}
    with pytest.raises(
        PlanError,
        match=re.escape(
            "Job.batch/db/<unnamed>: a hook needs metadata.name or metadata.generateName"
        ),
    ):
        hook_name(nameless, "abc", "Sync", 1)


def test_prepared_hook_is_a_copy_with_name_and_one_finalizer() -> None:
    original = job("", **{HOOK: "PreSync"})
    original["metadata"]["finalizers"] = ["keep"]
    prepared = prepared_hook(original, "migrate-x")
    again = prepared_hook(prepared, "migrate-x")
    assert again["metadata"]["finalizers"] == ["keep", HOOK_FINALIZER]
    assert prepared["metadata"]["name"] == "migrate-x" and original["metadata"]["finalizers"] == [
        "keep"
    ]


def test_describe_shows_generate_name() -> None:
    assert describe(job("")) == "Job.batch/db/migrate-*"


def test_empty_helm_hook_is_an_ignored_hook_with_a_note() -> None:
    spec = hook_spec(job(**{"helm.sh/hook": ""}))
    assert (spec.hook, spec.applied, spec.notes) == (
        True,
        False,
        ("Job.batch/db/j: empty helm.sh/hook; the object is not applied",),
    )
