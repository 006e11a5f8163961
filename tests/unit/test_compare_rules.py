"""reconciler.compare_rules: hooks, desired-object checks, and the app's sync status and health."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.compare_rules import (
    app_health,
    app_sync_status,
    crd_scopes,
    invalid_reason,
    is_hook,
    scoped,
)
from reconciler.compare_types import Condition, ResourceStatus
from reconciler.health import Health
from reconciler.model import ResourceKey


def annotated(**annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": "x", "annotations": annotations}}


@pytest.mark.parametrize(
    ("annotations", "hook"),
    [
        ({}, False),
        ({"argocd.argoproj.io/hook": "PreSync"}, True),
        ({"argocd.argoproj.io/hook": "Skip"}, True),
        ({"helm.sh/hook": "pre-install,pre-upgrade"}, True),
        ({"helm.sh/hook": "test"}, True),
        ({"helm.sh/hook": "crd-install"}, False),
        ({"argocd.argoproj.io/sync-wave": "1"}, False),
    ],
)
def test_is_hook(annotations: dict[str, str], hook: bool) -> None:
    assert is_hook(annotated(**annotations)) is hook


def resource(
    name: str,
    status: str | None,
    health: str | None = None,
    *,
    live: bool = True,
    hook: bool = False,
    ignore_extraneous: bool = False,
    annotations: dict[str, str] | None = None,
) -> ResourceStatus:
    live_obj = {"metadata": {"name": name, "annotations": annotations or {}}} if live else None
    return ResourceStatus(
        ResourceKey("", "ConfigMap", "ns", name),
        status,
        Health(health) if health else None,
        {"metadata": {"name": name}},
        live_obj,
        hook=hook,
        requires_pruning=ignore_extraneous,
        ignore_extraneous=ignore_extraneous,
    )


def test_app_is_synced_when_every_resource_is_and_hooks_do_not_count() -> None:
    resources = [resource("a", "Synced"), resource("h", None, hook=True)]
    assert app_sync_status(resources, []) == "Synced"


def test_app_is_out_of_sync_when_one_resource_differs() -> None:
    assert app_sync_status([resource("a", "Synced"), resource("b", "OutOfSync")], []) == "OutOfSync"


def test_extraneous_object_marked_ignore_extraneous_leaves_the_app_synced() -> None:
    extraneous = resource("x", "OutOfSync", ignore_extraneous=True)
    assert app_sync_status([resource("a", "Synced"), extraneous], []) == "Synced"


def test_comparison_error_or_unknown_resource_makes_the_app_unknown() -> None:
    error = Condition("ComparisonError", "boom")
    assert app_sync_status([resource("a", "OutOfSync")], [error]) == "Unknown"
    assert app_sync_status([resource("a", "OutOfSync"), resource("b", "Unknown")], []) == "Unknown"


def test_warnings_do_not_change_the_sync_status() -> None:
    warning = Condition("SharedResourceWarning", "shared")
    assert app_sync_status([resource("a", "Synced")], [warning]) == "Synced"


def test_app_health_is_the_worst_leaving_out_hooks_missing_and_ignored() -> None:
    resources = [
        resource("a", "Synced", "Healthy"),
        resource("b", "Synced", "Progressing"),
        resource("gone", "OutOfSync", "Missing", live=False),
        resource("hook", None, "Degraded", hook=True),
        resource(
            "ignored",
            "Synced",
            "Degraded",
            annotations={"argocd.argoproj.io/ignore-healthcheck": "true"},
        ),
        resource("cm", "Synced"),
    ]
    assert app_health(resources) == "Progressing"


def test_app_health_is_missing_when_nothing_exists_and_healthy_when_nothing_is_desired() -> None:
    assert app_health([resource("a", "OutOfSync", "Missing", live=False)]) == "Missing"
    assert app_health([]) == "Healthy"


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}, ""),
        ({"kind": "ConfigMap", "metadata": {"name": "a"}}, "has no apiVersion or kind"),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}},
            "ConfigMap has no metadata.name",
        ),
        ("text", "is not a mapping"),
        (
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "p-"}},
            "Pod has no metadata.name",
        ),
        (
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "generateName": "migrate-",
                    "annotations": {"argocd.argoproj.io/hook": "PreSync"},
                },
            },
            "",
        ),
    ],
)
def test_invalid_reason(obj: Any, reason: str) -> None:
    assert invalid_reason(obj) == reason


def test_scoped_sets_or_removes_the_namespace_without_touching_the_argument() -> None:
    obj: dict[str, Any] = {"kind": "ClusterRole", "metadata": {"name": "r", "namespace": "oops"}}
    assert scoped(obj, "")["metadata"] == {"name": "r"}
    assert scoped(obj, "team")["metadata"] == {"name": "r", "namespace": "team"}
    assert obj["metadata"]["namespace"] == "oops"


def test_crd_scopes_reads_group_kind_and_scope() -> None:
    crd: dict[str, Any] = {
        "kind": "CustomResourceDefinition",
        "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget"}},
    }
    namespaced = {
        **crd,
        "spec": {**crd["spec"], "scope": "Namespaced", "names": {"kind": "Gadget"}},
    }
    assert crd_scopes([crd, namespaced]) == {
        ("example.com", "Widget"): False,
        ("example.com", "Gadget"): True,
    }
