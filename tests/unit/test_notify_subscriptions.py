"""Subscriptions (bot.notify.subscriptions*): annotations in Argo CD's forms, global
subscriptions with label selectors, default triggers, overrides and the settings section."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.notify.notify_settings import parse_notification_settings
from bot.notify.subscriptions import (
    DEFAULT_TRIGGERS,
    Destination,
    NotificationSettings,
    destinations,
    subscribed_triggers,
    subscription_problems,
)
from bot.notify.subscriptions_annotations import read_annotations
from bot.notify.subscriptions_selector import SelectorError, parse_selector, selector_from
from bot.notify.templates_catalog import catalog_templates
from bot.notify.triggers_catalog import catalog_triggers
from reconciler.errors import ConfigError
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    AppProject,
)
from reconciler.model import (
    Destination as AppDestination,
)
from reconciler.settings import build_settings

SUB = "notifications.argoproj.io/subscribe"


def slack(*channels: str) -> list[Destination]:
    return [Destination("slack", c) for c in channels]


def app(
    name: str = "guestbook",
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    project: str = "default",
) -> dict[str, Any]:
    """An Argo-shaped Application dict."""
    return {
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
        "spec": {"project": project},
    }


def project(name: str = "default", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": annotations or {}}}


def settings(**section: Any) -> NotificationSettings:
    return parse_notification_settings(section)


# -- label selectors ---------------------------------------------------------------------------

LABELS = {"team": "web", "tier": "frontend", "app.kubernetes.io/part-of": "shop"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("team=web", True),
        ("team==web", True),
        ("team=api", False),
        ("team!=api", True),
        ("owner!=api", True),
        ("team in (web, api)", True),
        ("team in (api)", False),
        ("owner in (web)", False),
        ("team notin (api,db)", True),
        ("team notin (web)", False),
        ("owner notin (x)", True),
        ("tier", True),
        ("owner", False),
        ("!owner", True),
        ("!tier", False),
        ("team=web,tier in (frontend),!owner", True),
        ("team=web,tier=backend", False),
        ("app.kubernetes.io/part-of=shop", True),
    ],
)
def test_selector_semantics(selector: str, matches: bool) -> None:
    assert parse_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize(
    ("selector", "problem"),
    [
        ("team in (web", "unbalanced '('"),
        ("team=web,", "empty requirement"),
        ("team=we b", "not a label requirement"),
        ("team in ()", "set of values is empty"),
        ("-bad=x", "not a valid label key"),
        ("team=-x", "not a valid label value"),
    ],
)
def test_selector_errors_name_the_requirement(selector: str, problem: str) -> None:
    with pytest.raises(SelectorError, match=re.escape(problem)):
        parse_selector(selector)


def test_structured_selector() -> None:
    selector = selector_from(
        {
            "matchLabels": {"team": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["frontend", "edge"]},
                {"key": "owner", "operator": "DoesNotExist"},
            ],
        }
    )
    assert selector.matches(LABELS) and not selector.matches({"team": "web"})
    assert str(selector) == "team=web,tier in (frontend,edge),!owner"
    with pytest.raises(SelectorError, match="operator must be one of"):
        selector_from({"matchExpressions": [{"key": "a", "operator": "Gt"}]})


# -- annotations ------------------------------------------------------------------------------


def test_trigger_annotation_with_several_channels() -> None:
    a = app(annotations={f"{SUB}.on-sync-succeeded.slack": " chan1; #chan2 ;; chan1"})
    assert destinations(settings(), a, None, "on-sync-succeeded") == slack("chan1", "chan2")
    assert destinations(settings(), a, None, "on-sync-failed") == []


def test_service_only_annotation_uses_the_default_triggers() -> None:
    a = app(annotations={f"{SUB}.slack": "deploys"})
    assert set(subscribed_triggers(settings(), a)) == set(DEFAULT_TRIGGERS)
    custom = settings(defaultTriggers=["on-sync-running"])
    assert subscribed_triggers(custom, a) == {"on-sync-running": tuple(slack("deploys"))}
    per_service = settings(
        defaultTriggers=["on-sync-running"], **{"defaultTriggers.slack": ["on-created"]}
    )
    assert list(subscribed_triggers(per_service, a)) == ["on-created"]
    assert subscribed_triggers(settings(defaultTriggers=[]), a) == {}


def test_project_annotations_apply_to_every_app_of_the_project() -> None:
    proj = project("shop", {f"{SUB}.on-deployed.slack": "shop-deploys"})
    a = app(project="shop", annotations={f"{SUB}.on-deployed.slack": "mine"})
    assert destinations(settings(), a, proj, "on-deployed") == slack("mine", "shop-deploys")


def test_project_model_objects_work_too() -> None:
    spec = ApplicationSpec(
        source=ApplicationSource("https://x/r.git"), destination=AppDestination()
    )
    model_app = Application(
        "guestbook", spec, labels={"team": "web"}, annotations={f"{SUB}.on-created.slack": "a"}
    )
    model_project = AppProject("default", annotations={f"{SUB}.on-created.slack": "b"})
    assert destinations(settings(), model_app, model_project, "on-created") == slack("a", "b")


def test_subscriptions_yaml_annotation() -> None:
    value = """
- trigger: [on-sync-succeeded, on-sync-failed]
  destinations:
    - service: slack
      recipients: [ops, '#dev']
    - service: email
      recipients: [ops@example.com]
- destinations:
    - service: slack
      recipients: [fallback]
"""
    a = app(annotations={"notifications.argoproj.io/subscriptions": value})
    found = subscribed_triggers(settings(defaultTriggers=["on-deployed"]), a)
    assert found == {
        "on-sync-succeeded": tuple(slack("ops", "dev")),
        "on-sync-failed": tuple(slack("ops", "dev")),
        "on-deployed": tuple(slack("fallback")),
    }


def test_legacy_project_annotation() -> None:
    proj = project(
        annotations={
            "on-sync-failed.recipients.argocd-notifications.argoproj.io": "slack:oncall,email:x@y",
            "recipients.argocd-notifications.argoproj.io": "slack:all",
        }
    )
    found = subscribed_triggers(settings(defaultTriggers=["on-deployed"]), app(), proj)
    assert found == {"on-sync-failed": tuple(slack("oncall")), "on-deployed": tuple(slack("all"))}
    # Only projects read the legacy form.
    legacy_on_app = app(annotations={"recipients.argocd-notifications.argoproj.io": "slack:x"})
    assert subscribed_triggers(settings(), legacy_on_app) == {}


def test_other_services_are_left_alone() -> None:
    a = app(annotations={f"{SUB}.on-deployed.email": "a@b.c", f"{SUB}.on-deployed.teams": "t"})
    assert subscribed_triggers(settings(), a) == {}
    assert subscription_problems(settings(), a) == []


def test_annotation_problems_name_the_object_and_annotation() -> None:
    a = app(
        annotations={
            f"{SUB}.on-deploy.slack": "x",
            f"{SUB}.on-deployed.slack": " ; ",
            "notifications.argoproj.io/subscriptions": "- trigger: 3\n  destinations: []",
        }
    )
    problems = subscription_problems(settings(), a)
    assert problems == [
        f"Application guestbook: annotation {SUB}.on-deployed.slack: lists no recipient",
        "Application guestbook: annotation notifications.argoproj.io/subscriptions[0]: "
        "trigger must be a name or a list of names",
        f"Application guestbook: annotation {SUB}.on-deploy.slack: unknown trigger 'on-deploy'",
    ]
    assert subscribed_triggers(settings(), a) == {}


def test_read_annotations_skips_unrelated_keys() -> None:
    found = read_annotations({"argocd.argoproj.io/sync-wave": "1", f"{SUB}.slack": "c"}, where="x")
    assert [(s.trigger, s.destination) for s in found.subscriptions] == [(None, slack("c")[0])]


# -- global subscriptions -----------------------------------------------------------------------


def test_global_subscription_with_selector() -> None:
    s = settings(
        subscriptions=[
            {"recipients": ["slack:web"], "triggers": ["on-deployed"], "selector": "team=web"},
            {
                "recipients": ["slack:not-test"],
                "triggers": ["on-deployed"],
                "selector": "env!=test",
            },
            {"recipients": ["everyone"], "triggers": ["on-sync-failed"]},
        ]
    )
    web = app(labels={"team": "web"})
    api_test = app("api", labels={"team": "api", "env": "test"})
    assert destinations(s, web, None, "on-deployed") == slack("web", "not-test")
    assert destinations(s, api_test, None, "on-deployed") == []
    assert destinations(s, api_test, None, "on-sync-failed") == slack("everyone")


def test_per_app_and_per_project_subscriptions_in_settings() -> None:
    s = settings(
        subscriptions=[
            {"recipients": ["slack:checkout"], "apps": ["checkout"]},
            {
                "recipients": ["slack:payments"],
                "projects": ["payments"],
                "triggers": ["on-created"],
            },
        ]
    )
    checkout = app("checkout", project="payments")
    other = app("ledger", project="payments")
    assert set(subscribed_triggers(s, checkout)) == {*DEFAULT_TRIGGERS, "on-created"}
    assert subscribed_triggers(s, other) == {"on-created": tuple(slack("payments"))}
    assert subscribed_triggers(s, app("guestbook")) == {}


def test_destinations_are_deduplicated_across_sources() -> None:
    s = settings(
        subscriptions=[{"recipients": ["slack:#deploys", "deploys"], "triggers": ["on-deployed"]}]
    )
    a = app(annotations={f"{SUB}.on-deployed.slack": "deploys;other"})
    proj = project(annotations={f"{SUB}.on-deployed.slack": "#other"})
    assert destinations(s, a, proj, "on-deployed") == slack("deploys", "other")


# -- the settings section ------------------------------------------------------------------------


def test_defaults_without_a_section() -> None:
    s = parse_notification_settings(None)
    assert s.default_triggers == DEFAULT_TRIGGERS and s.subscriptions == () and s.context == {}
    assert set(s.triggers) == set(catalog_triggers()) and set(s.templates) == set(
        catalog_templates()
    )


def test_argocd_configmap_data_can_be_pasted() -> None:
    data = {
        "context": "argocdUrl: https://kajitori.example.com\n",
        "defaultTriggers": "- on-sync-status-unknown\n",
        "trigger.on-deployed": (
            "- when: app.status.sync.status == 'Synced'\n  send: [app-deployed]\n"
        ),
        "template.app-deployed": "message: |\n  {{.app.metadata.name}} is live\n",
        "subscriptions": (
            "- recipients:\n  - slack:test2\n  triggers:\n  - on-deployed\n  selector: test=true\n"
        ),
    }
    s = parse_notification_settings(build_settings({"notifications": data}).notifications)
    assert s.context == {"argocdUrl": "https://kajitori.example.com"}
    assert s.default_triggers == ("on-sync-status-unknown",)
    assert s.triggers["on-deployed"].conditions[0].when == "app.status.sync.status == 'Synced'"
    assert (
        s.templates["app-deployed"].render({"app": {"metadata": {"name": "g"}}}).message
        == "g is live"
    )
    assert "app-sync-failed" in s.templates and "on-sync-failed" in s.triggers
    assert destinations(s, app(labels={"test": "true"}), None, "on-deployed") == slack("test2")


def test_kajitori_nested_form_and_overrides() -> None:
    s = settings(
        triggers={"on-shipped": [{"when": "true", "send": ["shipped"]}]},
        templates={"shipped": {"message": "shipped {{ app.metadata.name }}"}},
        subscriptions=[{"recipients": ["slack:x"], "triggers": ["on-shipped"]}],
    )
    assert destinations(s, app(), None, "on-shipped") == slack("x")
    assert (
        s.templates["shipped"].render({"app": {"metadata": {"name": "g"}}}).message == "shipped g"
    )


def test_every_problem_in_the_section_is_named() -> None:
    with pytest.raises(ConfigError) as err:
        parse_notification_settings(
            {
                "context": {"argocdUrl": ["x"]},
                "defaultTriggers": ["on-deploy"],
                "defaultTriggers.email": ["on-deployed"],
                "triggers": {"on-x": [{"when": "true", "send": ["app-deploy"]}]},
                "templates": {"t": {"message": "{{ oops"}},
                "subscriptions": [
                    {
                        "recipients": ["email:a@b", "slack:"],
                        "triggers": ["on-sync-faild"],
                        "selector": "a in (",
                        "owner": "me",
                    },
                    "slack:x",
                ],
                "service.slack": "token: $slack-token",
                "subscription": [],
            },
            source="kajitori.yaml",
        )
    problems = err.value.problems
    expected = [
        "kajitori.yaml: notifications.service.slack: Slack itself is configured in the 'slack' "
        "section of the settings",
        "kajitori.yaml: notifications.subscription: unknown field (did you mean 'subscriptions'?)",
        "kajitori.yaml: notifications.templates: template 't' field message: TemplateSyntaxError",
        "kajitori.yaml: notifications.triggers.on-x[0].send: unknown template 'app-deploy' "
        "(did you mean 'app-deployed'?)",
        "kajitori.yaml: notifications.defaultTriggers: unknown trigger 'on-deploy'",
        "kajitori.yaml: notifications.defaultTriggers.email: service 'email' is not supported",
        "kajitori.yaml: notifications.subscriptions[0].owner: unknown field",
        "kajitori.yaml: notifications.subscriptions[0].recipients[0]: service 'email' is not "
        "supported",
        "kajitori.yaml: notifications.subscriptions[0].recipients[1]: names no channel",
        "kajitori.yaml: notifications.subscriptions[0].triggers: unknown trigger 'on-sync-faild' "
        "(did you mean 'on-sync-failed'?)",
        "kajitori.yaml: notifications.subscriptions[0].selector: unbalanced '('",
        "kajitori.yaml: notifications.subscriptions[1]: must be a mapping",
        "kajitori.yaml: notifications.context.argocdUrl: must be a string, number or boolean",
    ]
    assert len(problems) == len(expected)
    for problem, prefix in zip(problems, expected, strict=True):
        assert problem.startswith(prefix), (problem, prefix)


def test_trigger_errors_come_from_the_trigger_parser_with_the_section_named() -> None:
    with pytest.raises(
        ConfigError, match=r"notifications\.triggers: trigger 'on-x' condition \[0\]"
    ):
        settings(triggers={"on-x": [{"when": "(", "send": ["app-deployed"]}]})


def test_secrets_are_refused_in_context_without_showing_them() -> None:
    raw = build_settings(
        {"notifications": {"context": {"token": {"env": "TOKEN"}}}}, env={"TOKEN": "s3cr3t"}
    ).notifications
    with pytest.raises(ConfigError) as err:
        parse_notification_settings(raw)
    assert "context.token: secrets are not allowed" in str(err.value)
    assert "s3cr3t" not in str(err.value)


def test_settings_methods_and_structured_selectors() -> None:
    s = settings(
        triggers={"on-deployed.prod": [{"when": "true", "send": ["app-deployed"]}]},
        subscriptions=[
            {
                "recipients": ["slack:prod"],
                "triggers": ["on-deployed.prod"],
                "selector": {
                    "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]
                },
            }
        ],
    )
    prod = app(labels={"env": "prod"}, annotations={f"{SUB}.on-deployed.prod.slack": "team"})
    assert s.destinations(prod, None, "on-deployed.prod") == slack("team", "prod")
    assert s.subscribed_triggers(app(labels={"env": "dev"})) == {}
