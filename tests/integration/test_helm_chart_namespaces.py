"""The chart's namespaced RBAC mode (rbac.namespaces) carried into kajitori's own settings:
the rendered configuration limits kajitori to the namespaces it has a Role in, with no extra
value, and `kajitori check` then refuses an Application deploying elsewhere."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest

from reconciler.config import parse_config
from reconciler.errors import ConfigError
from tests.integration.helm_chart_helpers import (
    APPS,
    VARIANTS,
    config_text,
    merged,
    notes,
    objects,
)

PATH = "/etc/kajitori/config.yaml"


def settings_of(values: dict[str, Any]) -> Any:
    """The controller settings kajitori reads from the chart rendered with ``values``."""
    return parse_config(config_text(objects(values)), PATH, env={}).settings.controller


def test_rbac_namespaces_become_the_controllers_namespaces() -> None:
    controller = settings_of(VARIANTS["namespaced-rbac"])

    assert controller.namespaces == ("team-a", "team-b")  # in order, deduplicated


def test_cluster_wide_rbac_leaves_kajitori_cluster_wide() -> None:
    assert settings_of({}).namespaces == ()
    assert "namespaces" not in config_text(objects())


def test_explicit_namespaces_within_the_roles_win() -> None:
    values = merged(
        VARIANTS["namespaced-rbac"], {"settings": {"controller": {"namespaces": ["team-b"]}}}
    )

    assert settings_of(values).namespaces == ("team-b",)


def test_explicit_namespaces_confine_a_cluster_wide_install() -> None:
    values = {"settings": {"controller": {"namespaces": ["shop"]}}}

    assert settings_of(values).namespaces == ("shop",)
    assert "ClusterRole" in {obj["kind"] for obj in objects(values)}


def test_a_namespace_without_a_role_fails_the_render() -> None:
    values = merged(
        VARIANTS["namespaced-rbac"],
        {"settings": {"controller": {"namespaces": ["team-a", "payments"]}}},
    )

    with pytest.raises(helm_python.HelmError) as failed:
        objects(values)

    message = str(failed.value)
    assert "settings.controller.namespaces lists payments" in message
    assert "rbac.namespaces (team-a, team-b)" in message


def test_an_application_outside_the_roles_namespaces_is_refused_by_kajitori() -> None:
    values = {
        "applications": APPS,  # guestbook deploys into team-a
        "projects": VARIANTS["everything"]["projects"],
        "rbac": {"namespaces": ["team-b"]},
    }

    with pytest.raises(ConfigError) as refused:
        parse_config(config_text(objects(values)), PATH, env={})

    message = str(refused.value)
    assert "(Application guestbook): spec.destination.namespace" in message
    assert "'team-a', which is not in controller.namespaces (team-b)" in message


def test_notes_say_kajitori_keeps_to_the_namespaces() -> None:
    text = notes(VARIANTS["namespaced-rbac"])

    assert "only act in the namespaces team-a, team-b" in text
    assert "settings.controller.namespaces" in text
