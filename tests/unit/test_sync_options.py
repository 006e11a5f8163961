"""Parsing and merging Argo CD sync options (reconciler.sync_options)."""

from __future__ import annotations

from typing import Any

from reconciler.sync_options import (
    DEFAULT_SYNC_OPTIONS,
    deletion_approved,
    parse_sync_options,
    task_sync_options,
)

ALL_OPTIONS = [
    "Prune=confirm",
    "Delete=false",
    "Validate=false",
    "SkipDryRunOnMissingResource=true",
    "CreateNamespace=true",
    "ServerSideApply=true",
    "Replace=true",
    "Force=true",
    "PruneLast=true",
    "ApplyOutOfSyncOnly=true",
    "RespectIgnoreDifferences=true",
    "FailOnSharedResource=true",
    "PrunePropagationPolicy=orphan",
    "ClientSideApplyMigration=false",
]


def with_options(value: str) -> dict[str, Any]:
    return {
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"argocd.argoproj.io/sync-options": value}},
    }


def test_defaults_are_argo_defaults() -> None:
    d = DEFAULT_SYNC_OPTIONS
    assert (d.prune, d.validate, d.server_side_apply, d.prune_propagation_policy) == (
        "true",
        True,
        False,
        "foreground",
    )


def test_every_option_is_understood() -> None:
    options, problems = parse_sync_options(ALL_OPTIONS)
    assert problems == []
    assert options == DEFAULT_SYNC_OPTIONS.merged(options)
    assert (options.prune, options.delete, options.validate, options.replace) == (
        "confirm",
        "false",
        False,
        True,
    )
    assert options.prune_propagation_policy == "orphan" and not options.client_side_apply_migration
    assert len(options.explicit) == len(ALL_OPTIONS)


def test_unknown_name_and_value_are_reported() -> None:
    options, problems = parse_sync_options(
        ["Validate=False", "Frobnicate=true", "Prune", "PrunePropagationPolicy=sideways"]
    )
    assert options == DEFAULT_SYNC_OPTIONS
    assert problems == [
        "syncOptions: sync option 'Validate=False' has an unknown value "
        "(expected Validate=true or false)",
        "syncOptions: unknown sync option 'Frobnicate=true'",
        "syncOptions: unknown sync option 'Prune'",
        "syncOptions: sync option 'PrunePropagationPolicy=sideways' has an unknown value "
        "(expected PrunePropagationPolicy=foreground or background or orphan)",
    ]


def test_later_entries_win() -> None:
    options, _ = parse_sync_options(["Replace=true", "Replace=false"])
    assert options.replace is False and options.is_set("replace")


def test_app_only_option_on_object_is_reported_and_ignored() -> None:
    options, problems = parse_sync_options(["CreateNamespace=true"], scope="object", where="X")
    assert not options.create_namespace
    assert problems == [
        "X: sync option 'CreateNamespace=true' only takes effect in the Application's "
        "spec.syncPolicy.syncOptions; ignored on an object"
    ]


def test_object_overrides_only_what_it_sets() -> None:
    app, _ = parse_sync_options(["ServerSideApply=true", "Prune=false"])
    obj, _ = parse_sync_options(["Prune=true"], scope="object")
    merged = app.merged(obj)
    assert (merged.server_side_apply, merged.prune) == (True, "true")


def test_task_options_read_target_for_apply_and_live_for_prune() -> None:
    app, _ = parse_sync_options(["Prune=false"])
    prune, _ = task_sync_options(app, None, with_options("Prune=true"), "live")
    apply, problems = task_sync_options(
        app, with_options("Validate=false , Bogus=1"), with_options("Prune=true"), "target"
    )
    assert (prune.prune, apply.prune, apply.validate) == ("true", "false", False)
    assert problems == ["target: unknown sync option 'Bogus=1'"]


def test_replace_or_force_on_live_object_counts_unless_target_says_otherwise() -> None:
    live = with_options("Replace=true,Force=true")
    carried, _ = task_sync_options(DEFAULT_SYNC_OPTIONS, with_options(""), live, "t")
    refused, _ = task_sync_options(DEFAULT_SYNC_OPTIONS, with_options("Replace=false"), live, "t")
    assert (carried.replace, carried.force, refused.replace, refused.force) == (
        True,
        True,
        False,
        True,
    )


def test_deletion_approved_needs_a_time_at_or_after_start() -> None:
    start = 1700000000  # 2023-11-14T22:13:20Z
    key = "argocd.argoproj.io/deletion-approved"
    assert deletion_approved({key: "2023-11-14T22:13:20Z"}, start)
    assert not deletion_approved({key: "2023-11-14T22:13:19Z"}, start)
    assert deletion_approved({key: "2023-11-15T00:13:20+02:00"}, start)
    assert not deletion_approved({key: "yesterday"}, start)
    assert not deletion_approved({key: "2023-11-15T00:00:00"}, start)  # no zone
    assert not deletion_approved({}, start)
