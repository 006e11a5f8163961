"""How a sync judges what it wrote, and the words it reports progress in."""

from __future__ import annotations

from typing import Any

from reconciler.cli.sync import parse_resource
from reconciler.hooks import HOOK_FINALIZER
from reconciler.model import ResourceKey
from reconciler.plan_types import Task
from reconciler.sync_exec import describe_key, kind_runs
from reconciler.sync_progress import (
    confirmation_message,
    failure_message,
    hook_progress,
    resource_progress,
    waiting_message,
)
from reconciler.sync_types import ResourceResult


def job(condition: str | None, **meta: Any) -> dict[str, Any]:
    status = {"conditions": [{"type": condition, "status": "True"}]} if condition else {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", **meta},
        "status": status,
    }


def task(kind: str, name: str, action: str = "apply", group: str = "") -> Task:
    key = ResourceKey(group, kind, "shop", name)
    live = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
    return Task("Sync", 0, 0, key, action, None if action == "prune" else live, live)


def test_a_hook_is_done_when_its_health_says_so() -> None:
    assert hook_progress(job("Complete"))[0] == "Succeeded"
    assert hook_progress(job("Failed"))[0] == "Failed"
    assert hook_progress(job(None))[0] == "Running"
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flag"}}
    assert hook_progress(configmap) == ("Succeeded", "flag created")


def test_a_hook_kept_by_its_finalizer_is_judged_on_its_real_state() -> None:
    deleting = {"deletionTimestamp": "2024-01-01T00:00:00Z"}
    assert hook_progress(job("Complete", finalizers=[HOOK_FINALIZER], **deleting))[0] == (
        "Succeeded"
    )
    assert hook_progress(job("Complete", **deleting))[0] == "Running"  # pending deletion


def test_an_earlier_wave_must_become_healthy() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}}
    assert resource_progress(service) == ("Succeeded", "")
    assert resource_progress(job("Failed"))[0] == "Failed"  # type: ignore[index]
    assert resource_progress(job(None)) is None


def test_messages_read_like_argo_cds() -> None:
    hooks = [task("Job", "a"), task("Job", "b"), task("Job", "c")]
    hooks = [
        Task("PreSync", 0, 0, t.key, "hook", t.target, None, hook_type="PreSync") for t in hooks
    ]
    assert waiting_message(hooks) == "waiting for completion of hook /Job/a and 2 more hooks"
    assert waiting_message([task("Deployment", "web", group="apps")]) == (
        "waiting for healthy state of apps/Deployment/web"
    )
    assert waiting_message(hooks[:1], deletion=True) == "waiting for deletion of /Job/a"
    prunes = [task("ConfigMap", "old", "prune"), task("ConfigMap", "older", "prune")]
    assert confirmation_message(prunes) == (
        "Waiting for pruning confirmation of v1/ConfigMap/old and 1 more resources"
    )
    failed = [ResourceResult(ResourceKey("", "ConfigMap", "shop", "c"), "Sync", message="denied")]
    assert failure_message("one or more objects failed to apply", failed) == (
        "one or more objects failed to apply, reason: ConfigMap/shop/c: denied"
    )


def test_applies_run_in_runs_of_one_kind() -> None:
    tasks = [
        task("ConfigMap", "a"),
        task("ConfigMap", "b"),
        task("Service", "s"),
        task("ConfigMap", "c"),
    ]
    assert [[t.name for t in run] for run in kind_runs(tasks)] == [["a", "b"], ["s"], ["c"]]
    assert describe_key(ResourceKey("apps", "Deployment", "shop", "web")) == "deployment.apps/web"


def test_resource_arguments() -> None:
    assert parse_resource("apps:Deployment:web") == ResourceKey("apps", "Deployment", "", "web")
    assert parse_resource(":Service:shop/web") == ResourceKey("", "Service", "shop", "web")
