"""The Helm chart (helm/kajitori) as Helm itself sees it: `helm lint`, `helm template` for
the defaults and each optional feature, every rendered object checked against the Kubernetes
OpenAPI schemas (kubernetes-validate, which ships them, so this runs offline), and
values.schema.json refusing bad values. The chart's install into the emulator with kajitori's
own sync engine is in test_helm_chart_install.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from reconciler.config import parse_config
from reconciler.errors import ConfigError
from tests.integration.helm_chart_helpers import (
    CHART,
    NAMESPACE,
    VARIANTS,
    config_text,
    notes,
    objects,
    only,
)

# The oldest Kubernetes the chart is checked against (Chart.yaml allows older ones, down to
# 1.25) and the newest whose schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())
# Kinds whose schema is not Kubernetes' own: the Prometheus Operator's ServiceMonitor is a CRD,
# and kubernetes-validate only ships the built-in API's schemas (nothing can be downloaded
# here). test_helm_chart_objects.py checks its shape against the Service instead.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_lint_passes_strict(variant: str) -> None:
    report = helm_python.lint(
        CHART, dict(VARIANTS[variant]), strict=True, namespace=NAMESPACE, kube_version="v1.30.0"
    )

    assert report["total_charts_linted"] == 1
    assert report["errors"] == []
    # Severity 1 is information ("icon is recommended"); warnings (2) and errors (3) fail.
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == []


def test_lint_reports_values_the_schema_refuses() -> None:
    report = helm_python.lint(CHART, {"replicas": "1"})

    assert any("/replicas" in error and "want integer" in error for error in report["errors"])


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_rendered_object_matches_the_kubernetes_schema(
    variant: str, kube_version: str
) -> None:
    rendered = objects(VARIANTS[variant])
    checked: list[str] = []
    for obj in rendered:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        # strict: an unknown or misspelled field is an error, as the API server's strict
        # field validation would make it.
        kubernetes_validate.validate(obj, kube_version, strict=True)
        checked.append(obj["kind"])

    assert {"Deployment", "ConfigMap", "Service", "ServiceAccount"} <= set(checked)
    assert len(checked) == len(rendered) - sum(
        (o["apiVersion"], o["kind"]) in CUSTOM_KINDS for o in rendered
    )


def test_the_schema_check_is_not_vacuous() -> None:
    deployment = only(objects(), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessprobe"] = container.pop("readinessProbe")  # a misspelled field

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=True)
    deployment["spec"]["replicas"] = "1"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=False)


def test_only_the_servicemonitor_has_no_builtin_schema() -> None:
    monitor = only(objects(VARIANTS["servicemonitor"]), "ServiceMonitor")

    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(monitor, KUBE_VERSIONS[0], strict=True)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"replicas": "1"}, "/replicas': got string, want integer"),
        ({"replicas": 2}, "/replicas': maximum"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"service": {"port": 70000}}, "/service/port"),
        ({"replica": 1}, "'replica' not allowed"),
        ({"rbac": {"namespaces": ["Team_A"]}}, "/rbac/namespaces/0"),
        (
            {"settings": {"controller": {"namespaces": ["shop", "-bad"]}}},
            "/settings/controller/namespaces/1",
        ),
        ({"applications": {"guestbook": {"project": "default"}}}, "/applications/guestbook"),
        ({"secretEnv": {"SLACK_BOT_TOKEN": 12}}, "/secretEnv/SLACK_BOT_TOKEN"),
        ({"persistence": {"size": "lots"}}, "/persistence/size"),
        ({"settings": {"controler": {}}}, "'controler' not allowed"),
    ],
)
def test_values_schema_refuses_bad_values(values: dict[str, Any], named: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as refused:
        objects(values)

    assert named in str(refused.value)


# -- the configuration file the ConfigMap carries --------------------------------------------

ENV = {
    name: "x"
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "GITHUB_TOKEN",
        "KAJITORI_REFRESH_TOKEN",
        "GIT_PASSWORD",
    )
}


def test_the_rendered_configuration_is_one_kajitori_accepts() -> None:
    text = config_text(objects(VARIANTS["everything"]))

    config = parse_config(text, "/etc/kajitori/config.yaml", env=ENV)

    assert list(config.applications) == ["guestbook"]
    app = config.app("guestbook")
    assert app.spec.project == "team"
    assert app.spec.destination.namespace == "team-a"
    assert app.annotations["notifications.argoproj.io/subscribe.on-deployed.slack"] == "deploys"
    assert config.project_of(app).name == "team"
    settings = config.settings
    assert settings.controller.reconciliation_interval == 60.0
    # the state and the Git cache live on the volumes the Deployment mounts
    assert settings.controller.state_path == Path("/var/lib/kajitori/state.db")
    assert settings.controller.cache_dir == Path("/var/cache/kajitori")
    assert settings.slack["mode"] == "http"
    assert settings.server.refresh_token is not None
    credential = settings.credential_for("https://github.com/acme/manifests.git")
    assert credential is not None and credential.password is not None
    assert credential.password.origin == "environment variable GIT_PASSWORD"


def test_the_default_configuration_has_only_settings() -> None:
    config = parse_config(config_text(objects()), "/etc/kajitori/config.yaml", env={})

    assert dict(config.applications) == {}
    assert list(config.projects) == ["default"]
    assert config.settings.controller.state_path == Path("/var/lib/kajitori/state.db")
    assert config.settings.logging.level == "info"


def test_a_secret_the_settings_reference_must_be_in_the_environment() -> None:
    text = config_text(objects(VARIANTS["everything"]))
    env = {name: value for name, value in ENV.items() if name != "GITHUB_TOKEN"}

    with pytest.raises(ConfigError) as failed:
        parse_config(text, "/etc/kajitori/config.yaml", env=env)

    assert "environment variable GITHUB_TOKEN is not set" in str(failed.value)


def test_a_state_path_set_in_the_values_wins() -> None:
    values = {"settings": {"controller": {"statePath": "/var/lib/kajitori/db/state.db"}}}
    config = parse_config(config_text(objects(values)), "/etc/kajitori/config.yaml", env={})

    assert config.settings.controller.state_path == Path("/var/lib/kajitori/db/state.db")
    assert config.settings.controller.cache_dir == Path("/var/cache/kajitori")


def test_notes_say_what_is_configured() -> None:
    everything = notes(VARIANTS["everything"])
    defaults = notes()

    assert "It manages 1 application(s): guestbook." in everything
    assert "GIT_PASSWORD, SLACK_BOT_TOKEN" in everything
    assert "https://kajitori.example.com/api/webhook/github" in everything
    assert "Slack runs in HTTP mode" in everything
    assert "only act in the namespaces team-a" in everything
    assert "No application is configured yet" in defaults
    assert "Slack is not configured" in defaults
    assert "xoxb-1" not in everything  # a secret value is never shown


# -- values.yaml ---------------------------------------------------------------------------


def _undocumented(node: yaml.Node, lines: list[str], documented: bool, path: str) -> list[str]:
    """Keys of ``node`` whose value is a leaf (not a mapping with keys) with no comment line
    right above them or above one of their parents."""
    missing: list[str] = []
    if not isinstance(node, yaml.MappingNode):
        return missing
    for key, value in node.value:
        line = key.start_mark.line
        commented = documented or (line > 0 and lines[line - 1].lstrip().startswith("#"))
        name = f"{path}.{key.value}" if path else str(key.value)
        if isinstance(value, yaml.MappingNode) and value.value:
            missing.extend(_undocumented(value, lines, commented, name))
        elif not commented:
            missing.append(name)
    return missing


def test_values_yaml_comments_every_value() -> None:
    text = (CHART / "values.yaml").read_text(encoding="utf-8")
    root = yaml.compose(text)

    assert root is not None
    assert _undocumented(root, text.splitlines(), False, "") == []


def test_values_yaml_and_the_schema_agree() -> None:
    with helm_python.Chart.load(CHART) as chart:
        schema = chart.schema
        defaults = chart.values
        chart.validate_schema(defaults)

    assert schema is not None
    assert set(defaults) <= set(schema["properties"])
    assert set(schema["properties"]) - set(defaults) == {"global"}
