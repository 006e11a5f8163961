"""Triggers (bot.notify.triggers): argocd-notifications semantics, oncePer, baseline,
debounce, the built-in catalog and parsing triggers from settings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.notify.expr import ExprSyntaxError
from bot.notify.triggers import (
    Condition,
    Trigger,
    evaluate_trigger,
    evaluate_triggers,
    parse_triggers,
    snapshot,
)
from bot.notify.triggers_catalog import (
    ARGO_CATALOG_NAMES,
    catalog_triggers,
    triggers_with_catalog,
)
from reconciler.errors import ConfigError

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
OLD = "2024-01-01T00:00:00Z"


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_app(
    *,
    sync: str = "Synced",
    health: str = "Healthy",
    phase: str | None = None,
    revision: str = "r1",
    created: str = OLD,
    ltt: str | None = None,
    started: str = iso(-120),
    finished: str = iso(-60),
    deleted: str | None = None,
    approval: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An Argo-shaped Application in the given state."""
    app: dict[str, Any] = {
        "metadata": {"name": "guestbook", "namespace": "argocd", "creationTimestamp": created},
        "spec": {"project": "default"},
        "status": {
            "sync": {"status": sync, "revision": revision},
            "health": {"status": health},
        },
    }
    if deleted:
        app["metadata"]["deletionTimestamp"] = deleted
    if ltt:
        app["status"]["health"]["lastTransitionTime"] = ltt
    if phase:
        app["status"]["operationState"] = {
            "phase": phase,
            "startedAt": started,
            "finishedAt": finished,
            "syncResult": {"revision": revision},
        }
        if approval:
            app["status"]["operationState"]["approval"] = approval
    return app


class Feed:
    """Evaluates triggers over a sequence of app states, persisting the state as JSON in
    between (as a caller would)."""

    def __init__(self, names: Iterable[str] | None = None, context: dict[str, Any] | None = None):
        catalog = catalog_triggers()
        self.triggers = [catalog[n] for n in names] if names else list(catalog.values())
        self.context = context or {}
        self.state: dict[str, Any] | None = None
        self.errors: list[str] = []

    def __call__(self, app: dict[str, Any], t: float = 0.0) -> list[str]:
        result = evaluate_triggers(
            self.triggers, app, self.context, T0 + timedelta(seconds=t), state=self.state
        )
        self.state = json.loads(json.dumps(result.state))
        self.errors.extend(result.errors)
        return [f.trigger for f in result.firings]


# -- the catalog: once per revision, not again -----------------------------------------------------
ON_REVISION: dict[str, Callable[[str], dict[str, Any]]] = {
    "on-deployed": lambda r: make_app(phase="Succeeded", revision=r, ltt=iso(-30)),
    "on-health-degraded": lambda r: make_app(phase="Succeeded", revision=r, health="Degraded"),
    "on-sync-failed": lambda r: make_app(phase="Failed", revision=r, health="Degraded"),
    "on-sync-running": lambda r: make_app(phase="Running", revision=r, health="Progressing"),
    "on-sync-status-unknown": lambda r: make_app(sync="Unknown", phase="Succeeded", revision=r),
    "on-sync-succeeded": lambda r: make_app(phase="Succeeded", revision=r),
}
QUIET = make_app(phase="Running", revision="r2", health="Progressing", sync="OutOfSync")


@pytest.mark.parametrize("name", sorted(ON_REVISION))
def test_catalog_trigger_fires_once_per_revision(name: str) -> None:
    feed, state_for = Feed([name]), ON_REVISION[name]
    quiet = make_app(
        health="Healthy",
        phase="Running" if name != "on-sync-running" else "Succeeded",
        revision="r2",
    )
    seen = [
        feed(state_for("r1")),
        feed(state_for("r2"), 10),
        feed(state_for("r2"), 20),
        feed(quiet, 30),
        feed(state_for("r2"), 40),
        feed(state_for("r3"), 50),
        feed(state_for("r3"), 60),
    ]
    assert seen == [[], [name], [], [], [], [name], []]


def test_on_created_fires_once_for_a_new_app_and_never_again() -> None:
    feed, app = Feed(["on-created"]), make_app(created=iso(-5))
    assert [feed(app), feed(app, 60), feed(app, 3600)] == [["on-created"], [], []]


def test_on_created_does_not_fire_for_apps_that_existed_before() -> None:
    assert Feed(["on-created"])(make_app(created=OLD)) == []


def test_on_deleted_fires_once() -> None:
    feed = Feed(["on-deleted"])
    seen = [feed(make_app()), feed(make_app(deleted=iso(0)), 1), feed(make_app(deleted=iso(0)), 2)]
    assert seen == [[], ["on-deleted"], []]


def test_on_deployed_waits_for_healthy_after_the_sync() -> None:
    feed = Feed(["on-deployed"])
    feed(make_app(phase="Succeeded", revision="r1"))
    progressing = make_app(phase="Succeeded", revision="r2", health="Progressing")
    healthy = make_app(phase="Succeeded", revision="r2", ltt=iso(5))
    assert [feed(progressing, 1), feed(healthy, 5)] == [[], ["on-deployed"]]


def test_on_deployed_skips_health_that_changed_long_before_the_sync_finished() -> None:
    feed = Feed(["on-deployed"])
    feed(make_app(phase="Succeeded", revision="r1"))
    stale = make_app(
        phase="Succeeded", revision="r2", started=iso(-600), finished=iso(-60), ltt=iso(-300)
    )
    assert feed(stale, 1) == []


def test_on_deployed_fires_when_health_did_not_change_during_the_sync() -> None:
    feed = Feed(["on-deployed"])
    feed(make_app(phase="Succeeded", revision="r1"))
    configmaps_only = make_app(phase="Succeeded", revision="r2", started=iso(-120), ltt=iso(-3600))
    assert feed(configmaps_only, 1) == ["on-deployed"]


def test_on_deployed_without_a_health_transition_time_fires_like_argo_v1() -> None:
    feed = Feed(["on-deployed"])
    feed(make_app(phase="Succeeded", revision="r1"))
    assert feed(make_app(phase="Succeeded", revision="r2"), 1) == ["on-deployed"]


# -- baseline: no burst at start-up ----------------------------------------------------------------
def test_first_evaluation_of_an_existing_app_fires_nothing() -> None:
    degraded_failed_unknown = make_app(
        sync="Unknown", health="Degraded", phase="Failed", deleted=iso(0)
    )
    assert Feed()(degraded_failed_unknown) == []


def test_after_the_baseline_a_new_revision_fires() -> None:
    feed = Feed(["on-sync-failed"])
    feed(make_app(phase="Failed", revision="r1"))
    assert feed(make_app(phase="Failed", revision="r2"), 30) == ["on-sync-failed"]


def test_a_new_app_is_evaluated_without_baseline() -> None:
    assert Feed()(make_app(created=iso(-10), phase="Running", health="Progressing")) == [
        "on-created",
        "on-sync-running",
    ]


def test_an_edited_condition_starts_from_a_baseline() -> None:
    before = Trigger("t", (Condition("app.status.health.status == 'Degraded'", ("x",)),))
    after = Trigger("t", (Condition("app.status.health.status in ['Degraded']", ("x",)),))
    state = evaluate_trigger(before, make_app(), {}, T0, state=None).state
    assert evaluate_trigger(after, make_app(health="Degraded"), {}, T0, state=state).firings == ()


def test_a_restart_with_persisted_state_sends_nothing_again() -> None:
    feed = Feed(["on-sync-succeeded"])
    feed(make_app(phase="Succeeded", revision="r1"))
    feed(make_app(phase="Succeeded", revision="r2"), 10)
    restarted = Feed(["on-sync-succeeded"])
    restarted.state = json.loads(json.dumps(feed.state))
    assert restarted(make_app(phase="Succeeded", revision="r2"), 20) == []


# -- flapping health -------------------------------------------------------------------------------
def test_flapping_health_notifies_once_per_revision() -> None:
    feed = Feed(["on-health-degraded", "on-health-recovered"])
    states = ["Healthy", "Degraded", "Healthy", "Degraded", "Healthy", "Degraded"]
    fired = [
        feed(make_app(phase="Succeeded", revision="r1", health=h), i * 30)
        for i, h in enumerate(states)
    ]
    assert fired == [[], ["on-health-degraded"], ["on-health-recovered"], [], [], []]


def test_degraded_again_on_a_new_revision_notifies_again() -> None:
    feed = Feed(["on-health-degraded"])
    feed(make_app(phase="Succeeded", revision="r1"))
    feed(make_app(phase="Succeeded", revision="r1", health="Degraded"), 10)
    assert feed(make_app(phase="Succeeded", revision="r2", health="Degraded"), 20) == [
        "on-health-degraded"
    ]


def test_recovery_through_progressing_still_counts() -> None:
    feed = Feed(["on-health-recovered"])
    seq = [("r1", "Healthy"), ("r1", "Degraded"), ("r2", "Progressing"), ("r2", "Healthy")]
    assert [
        feed(make_app(phase="Succeeded", revision=r, health=h), i) for i, (r, h) in enumerate(seq)
    ] == [[], [], [], ["on-health-recovered"]]


def test_an_ordinary_deploy_is_not_a_recovery() -> None:
    feed = Feed(["on-health-recovered"])
    seq = [("r1", "Healthy"), ("r2", "Progressing"), ("r2", "Healthy")]
    assert [
        feed(make_app(phase="Succeeded", revision=r, health=h), i) for i, (r, h) in enumerate(seq)
    ] == [[], [], []]


def test_a_new_app_becoming_healthy_is_not_a_recovery() -> None:
    feed = Feed(["on-health-recovered"])
    seq = ["Missing", "Progressing", "Healthy"]
    assert [
        feed(make_app(created=iso(-5), phase="Succeeded", health=h), i) for i, h in enumerate(seq)
    ] == [[], [], []]


def test_missing_after_healthy_then_healthy_is_a_recovery() -> None:
    feed = Feed(["on-health-recovered"])
    seq = [("r1", "Healthy"), ("r1", "Missing"), ("r2", "Healthy")]
    assert [
        feed(make_app(phase="Succeeded", revision=r, health=h), i) for i, (r, h) in enumerate(seq)
    ] == [[], [], ["on-health-recovered"]]


def test_snapshot_keeps_the_last_settled_health() -> None:
    assert snapshot(make_app(health="Progressing"), {"status": {"health": {"status": "Degraded"}}})[
        "status"
    ]["health"] == {"status": "Degraded"}


# -- drift (on-out-of-sync): debounced -------------------------------------------------------------
def test_out_of_sync_fires_after_the_default_debounce_and_once() -> None:
    feed, drift = Feed(["on-out-of-sync"]), make_app(sync="OutOfSync")
    feed(make_app())
    assert [feed(drift, 0), feed(drift, 60), feed(drift, 121), feed(drift, 300)] == [
        [],
        [],
        ["on-out-of-sync"],
        [],
    ]


def test_short_drift_fixed_by_self_heal_is_not_reported() -> None:
    feed = Feed(["on-out-of-sync"])
    feed(make_app())
    seq = [
        (make_app(sync="OutOfSync"), 0),
        (make_app(), 10),
        (make_app(sync="OutOfSync"), 100),
        (make_app(), 130),
    ]
    assert [feed(a, t) for a, t in seq] == [[], [], [], []]


def test_drift_rearms_after_the_app_is_synced_again() -> None:
    feed = Feed(["on-out-of-sync"], context={"outOfSyncDebounceSeconds": "30"})
    feed(make_app())
    seq = [
        ("OutOfSync", 0),
        ("OutOfSync", 31),
        ("Synced", 40),
        ("OutOfSync", 50),
        ("OutOfSync", 81),
    ]
    assert [feed(make_app(sync=s), t) for s, t in seq] == [
        [],
        ["on-out-of-sync"],
        [],
        [],
        ["on-out-of-sync"],
    ]


def test_out_of_sync_during_a_running_sync_is_not_drift() -> None:
    feed = Feed(["on-out-of-sync"])
    feed(make_app())
    running = make_app(sync="OutOfSync", phase="Running", health="Progressing")
    assert [feed(running, 0), feed(running, 600)] == [[], []]


def test_debounce_accepts_a_duration_text() -> None:
    trigger = Trigger(
        "t", (Condition("app.status.sync.status == 'OutOfSync'", ("x",), debounce="'1m'"),)
    )
    state = evaluate_trigger(trigger, make_app(), {}, T0, state=None).state
    state = evaluate_trigger(trigger, make_app(sync="OutOfSync"), {}, T0, state=state).state
    assert (
        len(
            evaluate_trigger(
                trigger, make_app(sync="OutOfSync"), {}, T0 + timedelta(seconds=61), state=state
            ).firings
        )
        == 1
    )


# -- approval --------------------------------------------------------------------------------------
def pending(resource: str, started: str = iso(-30)) -> dict[str, Any]:
    return make_app(
        phase="Running",
        health="Progressing",
        started=started,
        approval={"state": "Pending", "resource": resource},
    )


def test_approval_required_fires_once_per_request() -> None:
    feed = Feed(["on-approval-required"])
    feed(make_app())
    seq = [
        pending("batch/Job/db/migrate"),
        pending("batch/Job/db/migrate"),
        pending("batch/Job/db/seed"),
    ]
    assert [feed(a, i) for i, a in enumerate(seq)] == [
        ["on-approval-required"],
        [],
        ["on-approval-required"],
    ]


def test_approved_request_does_not_fire() -> None:
    feed = Feed(["on-approval-required"])
    feed(make_app())
    approved = make_app(
        phase="Running", approval={"state": "Approved", "resource": "batch/Job/db/migrate"}
    )
    assert feed(approved, 1) == []


# -- generic semantics -----------------------------------------------------------------------------
def cond_trigger(when: str, once_per: str | None = None) -> Trigger:
    return Trigger("t", (Condition(when, ("tmpl",), once_per=once_per, description="d"),))


def run_states(trigger: Trigger, apps: list[dict[str, Any]]) -> list[int]:
    state: dict[str, Any] | None = None
    counts: list[int] = []
    for i, app in enumerate(apps):
        result = evaluate_trigger(trigger, app, {}, T0 + timedelta(seconds=i), state=state)
        state, counts = result.state, [*counts, len(result.firings)]
    return counts


def test_without_once_per_a_true_false_true_flip_fires_again() -> None:
    healthy, degraded = make_app(), make_app(health="Degraded")
    assert run_states(
        cond_trigger("app.status.health.status == 'Degraded'"),
        [healthy, degraded, degraded, healthy, degraded],
    ) == [0, 1, 0, 0, 1]


def test_once_per_values_are_remembered_while_false() -> None:
    t = cond_trigger("app.status.health.status == 'Degraded'", "app.status.sync.revision")
    apps = [
        make_app(),
        make_app(health="Degraded"),
        make_app(),
        make_app(health="Degraded"),
        make_app(health="Degraded", revision="r2"),
    ]
    assert run_states(t, apps) == [0, 1, 0, 0, 1]


def test_once_per_nil_is_the_go_nil_text() -> None:
    t = cond_trigger("true", "app.status.nothing")
    result = evaluate_trigger(t, make_app(created=iso(0)), {}, T0, state=None)
    assert result.firings[0].once_per == "<nil>"


def test_firing_carries_templates_description_and_a_unique_key() -> None:
    firing = evaluate_trigger(
        cond_trigger("true", "app.metadata.name"), make_app(created=iso(0)), {}, T0, state=None
    ).firings[0]
    assert (
        firing.send,
        firing.description,
        firing.key.startswith("t:[0]."),
        firing.key.endswith(":guestbook"),
    ) == (("tmpl",), "d", True, True)


def test_several_conditions_fire_independently() -> None:
    t = Trigger(
        "t",
        (
            Condition("app.status.health.status == 'Degraded'", ("a",)),
            Condition("app.status.sync.status == 'OutOfSync'", ("b",)),
        ),
    )
    state = evaluate_trigger(t, make_app(), {}, T0, state=None).state
    result = evaluate_trigger(t, make_app(health="Degraded", sync="OutOfSync"), {}, T0, state=state)
    assert [f.send for f in result.firings] == [("a",), ("b",)]


def test_evaluation_errors_do_not_fire_and_are_reported() -> None:
    t = cond_trigger("app.status.operationState.phase == 'Running'")
    result = evaluate_trigger(t, make_app(created=iso(0)), {}, T0, state=None)
    assert (result.firings, "trigger 't' condition [0] when" in result.errors[0]) == ((), True)


def test_a_non_bool_when_does_not_fire() -> None:
    result = evaluate_trigger(
        cond_trigger("app.metadata.name"), make_app(created=iso(0)), {}, T0, state=None
    )
    assert (result.firings, "not a bool" in result.errors[0]) == ((), True)


def test_input_state_is_not_modified_and_output_is_json() -> None:
    state: dict[str, Any] = {"version": 1, "triggers": {}}
    result = evaluate_triggers(catalog_triggers().values(), make_app(), {}, T0, state=state)
    assert (state, json.loads(json.dumps(result.state)) == result.state) == (
        {"version": 1, "triggers": {}},
        True,
    )


def test_other_triggers_records_are_kept() -> None:
    state = {"triggers": {"elsewhere": {"conditions": {"[0].x": {"active": True}}}}}
    assert (
        "elsewhere"
        in evaluate_trigger(cond_trigger("true"), make_app(), {}, T0, state=state).state["triggers"]
    )


def test_malformed_state_is_treated_as_a_baseline() -> None:
    state = {"triggers": {"t": {"conditions": "garbage"}}}
    assert evaluate_trigger(cond_trigger("true"), make_app(), {}, T0, state=state).firings == ()


def test_once_per_history_is_bounded() -> None:
    t = cond_trigger("true", "app.status.sync.revision")
    state: dict[str, Any] | None = None
    for i in range(130):
        state = evaluate_trigger(
            t, make_app(revision=f"r{i}"), {}, T0 + timedelta(seconds=i), state=state
        ).state
    assert (
        state is not None
        and len(
            state["triggers"]["t"]["conditions"][next(iter(state["triggers"]["t"]["conditions"]))][
                "sent"
            ]
        )
        == 100
    )


def test_extra_variables_and_app_project_are_visible() -> None:
    t = cond_trigger("appProject.metadata.name == 'default' and flags.on")
    result = evaluate_trigger(
        t,
        make_app(created=iso(0)),
        {},
        T0,
        state=None,
        app_project={"metadata": {"name": "default"}},
        variables={"flags": {"on": True}},
    )
    assert len(result.firings) == 1


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        evaluate_trigger(cond_trigger("true"), make_app(), {}, datetime(2024, 1, 1), state=None)


# -- parsing triggers from settings ----------------------------------------------------------------
def test_parse_argo_style_yaml_string() -> None:
    triggers = parse_triggers(
        {
            "trigger.on-sync-status-unknown": "- when: app.status.sync.status == 'Unknown'\n"
            "  send: [app-sync-status, github-commit-status]\n"
        }
    )
    assert triggers["on-sync-status-unknown"].conditions[0].send == (
        "app-sync-status",
        "github-commit-status",
    )


def test_parse_already_loaded_lists_and_bare_names() -> None:
    triggers = parse_triggers(
        {"mine": [{"when": True, "send": ["t"], "oncePer": "app.metadata.name", "debounce": 30}]}
    )
    assert (triggers["mine"].conditions[0].when, triggers["mine"].conditions[0].debounce) == (
        "true",
        "30",
    )


def problems(mapping: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_triggers(mapping, source="settings.yaml")
    return info.value.problems


def test_parse_error_names_trigger_condition_field_and_column() -> None:
    (problem,) = problems({"trigger.bad": "- when: app.status ==\n  send: [x]\n"})
    assert (
        problem.startswith(
            "settings.yaml: trigger 'bad' condition [0]: field 'when': invalid expression"
        )
        and "column 14" in problem
    )


def test_parse_reports_every_problem() -> None:
    found = problems(
        {
            "trigger.a": "- send: [x]",
            "trigger.b": [{"when": "true", "send": []}],
            "trigger.c": [{"when": "true", "send": ["x"], "oncePr": "y"}],
        }
    )
    assert [p.split(": ", 2)[1:] for p in found] == [
        ["trigger 'a' condition [0]", "field 'when' is required"],
        ["trigger 'b' condition [0]", "field 'send' must be a non-empty list of template names"],
        [
            "trigger 'c' condition [0]",
            "unknown field 'oncePr' (known: when, send, oncePer, description, debounce)",
        ],
    ]


def test_parse_reports_bad_yaml_with_its_line() -> None:
    assert "(line 3, column 2)" in problems({"trigger.y": "- when: true\n  send: [x]\n bad\n"})[0]


def test_parse_rejects_an_empty_trigger_and_bad_names() -> None:
    assert (
        len(problems({"trigger.empty": [], "trigger.bad name": [{"when": "true", "send": ["x"]}]}))
        == 2
    )


def test_parse_rejects_a_duplicate_definition() -> None:
    assert (
        "defined twice"
        in problems(
            {"trigger.x": [{"when": "true", "send": ["a"]}], "x": [{"when": "true", "send": ["a"]}]}
        )[0]
    )


def test_parse_checks_once_per_syntax() -> None:
    assert (
        "field 'oncePer'"
        in problems({"t": [{"when": "true", "send": ["a"], "oncePer": "app."}]})[0]
    )


def test_condition_compiles_at_construction() -> None:
    with pytest.raises(ExprSyntaxError):
        Condition("app ==", ("x",))


def test_user_trigger_overrides_the_catalog() -> None:
    merged = triggers_with_catalog(
        parse_triggers({"trigger.on-deployed": "- when: 'false'\n  send: [mine]\n"})
    )
    assert (merged["on-deployed"].conditions[0].send, "on-sync-failed" in merged) == (
        ("mine",),
        True,
    )


def test_catalog_has_argo_eight_and_kajitori_three() -> None:
    assert set(catalog_triggers()) == {
        *ARGO_CATALOG_NAMES,
        "on-out-of-sync",
        "on-health-recovered",
        "on-approval-required",
    }


def test_catalog_once_per_matches_argo() -> None:
    once = {
        n: t.conditions[0].once_per
        for n, t in catalog_triggers().items()
        if n in ARGO_CATALOG_NAMES
    }
    assert once == {
        n: "app.metadata.name"
        if n in ("on-created", "on-deleted")
        else "app.status.operationState?.syncResult?.revision"
        for n in ARGO_CATALOG_NAMES
    }


def test_catalog_template_names_follow_argo() -> None:
    assert {t.conditions[0].send for t in catalog_triggers().values()} >= {
        ("app-deployed",),
        ("app-sync-failed",),
        ("app-created",),
    }
