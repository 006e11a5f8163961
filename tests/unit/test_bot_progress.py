"""bot.progress: operation states → groups, outcome and the running line."""

from __future__ import annotations

from typing import Any

from bot.progress import (
    ended_groups,
    group_results,
    needs_status_waves,
    outcome_of,
    read_progress,
    running_summary,
    waves_from_status,
)
from reconciler.model import ResourceKey


def result(kind: str, name: str, phase: str = "Sync", hook: str = "Succeeded", **extra: Any) -> Any:
    return {
        "group": "",
        "kind": kind,
        "namespace": "demo",
        "name": name,
        "status": "Synced",
        "hookPhase": hook,
        "syncPhase": phase,
        **extra,
    }


def state(*results: dict[str, Any], phase: str = "Running", finished: bool = False) -> Any:
    doc: dict[str, Any] = {
        "operation": {"sync": {"revision": "main", "dryRun": True}},
        "phase": phase,
        "message": "working",
        "startedAt": "2024-05-01T10:00:00Z",
        "syncResult": {"revision": "abc", "resources": list(results)},
    }
    if finished:
        doc["finishedAt"] = "2024-05-01T10:01:30Z"
    return doc


def test_read_progress_takes_phase_times_revision_and_results() -> None:
    progress = read_progress(state(result("ConfigMap", "a"), phase="Succeeded", finished=True))
    assert progress.completed and progress.over and not progress.retrying
    assert progress.revision == "abc" and progress.dry_run
    assert progress.results[0].key == ResourceKey("", "ConfigMap", "demo", "a")
    outcome = outcome_of(progress)
    assert outcome.finished_at is not None and outcome.started_at is not None
    assert (outcome.finished_at - outcome.started_at).total_seconds() == 90


def test_unreadable_entries_are_skipped_not_fatal() -> None:
    doc = state(result("ConfigMap", "a"))
    doc["syncResult"]["resources"] += ["junk", {"kind": 3, "syncPhase": None}]
    doc["startedAt"] = "yesterday"
    progress = read_progress(doc)
    assert [r.key.name for r in progress.results] == ["a", ""]  # "junk" skipped
    assert progress.started_at is None
    assert read_progress({}).results == ()


def test_running_with_finished_at_is_a_retry_wait() -> None:
    progress = read_progress(state(result("ConfigMap", "a"), finished=True))
    assert progress.retrying and progress.over and not progress.completed
    assert outcome_of(progress).retrying


def test_groups_by_phase_and_wave_in_the_order_they_began() -> None:
    progress = read_progress(
        state(
            result("Job", "migrate", "PreSync"),
            result("ConfigMap", "a"),
            result("Deployment", "web", syncWave=2),
            result("Service", "web"),
        )
    )
    waves = {
        ResourceKey("", "Service", "demo", "web"): 0,
        ResourceKey("", "ConfigMap", "demo", "a"): 0,
    }
    groups = group_results(progress, waves)
    assert [key for key, _ in groups] == [("PreSync", 0), ("Sync", 0), ("Sync", 2)]
    assert [r.key.name for r in groups[1][1]] == ["a", "web"]
    assert [key for key, _ in ended_groups(progress, groups)] == [("PreSync", 0), ("Sync", 0)]


def test_every_group_has_ended_once_the_operation_is_over() -> None:
    progress = read_progress(state(result("ConfigMap", "a"), phase="Failed", finished=True))
    groups = group_results(progress)
    assert ended_groups(progress, groups) == groups


def test_status_waves_are_needed_only_when_a_result_lacks_one() -> None:
    assert needs_status_waves(read_progress(state(result("ConfigMap", "a"))))
    assert not needs_status_waves(read_progress(state(result("ConfigMap", "a", syncWave="-1"))))
    assert read_progress(state(result("ConfigMap", "a", syncWave="-1"))).waves


def test_waves_from_status_reads_argo_resources() -> None:
    status = {
        "status": {
            "resources": [
                {
                    "group": "apps",
                    "kind": "Deployment",
                    "namespace": "demo",
                    "name": "web",
                    "syncWave": 3,
                },
                {"kind": "ConfigMap", "name": "no-wave"},
                "junk",
            ]
        }
    }
    assert waves_from_status(status) == {ResourceKey("apps", "Deployment", "demo", "web"): 3}
    assert waves_from_status({"status": None}) == {}


def test_running_summary_counts_and_escapes() -> None:
    failed = result("Deployment", "web", hook="Failed")
    progress = read_progress(state(result("ConfigMap", "a"), failed))
    line = running_summary(progress, ("Sync<x>", 1))
    assert "Sync&lt;x&gt; wave 1" in line and "1 resource done" in line and "1 failed" in line
    assert "starting" in running_summary(read_progress(state()), None)
