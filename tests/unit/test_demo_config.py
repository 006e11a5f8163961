"""The demo's manifest repository and configuration: an ordinary, valid kajitori setup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.notify.notify_settings import parse_notification_settings
from bot.settings import HTTP_MODE, parse_bot_settings
from reconciler.config import parse_config
from reconciler.github_settings import github_settings
from sandbox import demo_repo
from sandbox.demo_config import (
    ADMIN,
    DemoSecrets,
    DemoTargets,
    demo_config,
    demo_env,
)

TARGETS = DemoTargets(
    slack_api_url="http://127.0.0.1:4001/api/",
    github_api_url="http://127.0.0.1:4002/api/v3",
    repo_url="file:///tmp/demo/github/acme/demo-manifests.git",
    wave_delay=0.5,
    drift_debounce=3,
)


def objects(files: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for name, text in files.items():
        if name.endswith(".yaml"):
            for obj in yaml.safe_load_all(text):
                found[(obj["kind"], obj["metadata"]["name"])] = obj
    return found


def notes_of(obj: dict[str, Any]) -> dict[str, str]:
    notes: dict[str, str] = obj["metadata"].get("annotations", {})
    return notes


def test_the_demo_app_has_waves_a_gated_migration_and_a_web_deployment() -> None:
    found = objects(demo_repo.demo_files())
    assert set(found) == {
        ("Namespace", "demo"),
        ("ConfigMap", "web-config"),
        ("Job", "db-migrate"),
        ("Deployment", "web"),
        ("Service", "web"),
        ("Ingress", "web"),
    }
    waves = {key: notes_of(obj).get("argocd.argoproj.io/sync-wave") for key, obj in found.items()}
    assert waves[("Namespace", "demo")] == "-2"
    assert waves[("ConfigMap", "web-config")] == "-1"
    assert waves[("Deployment", "web")] == waves[("Service", "web")] == "0"
    assert waves[("Ingress", "web")] == "1"
    migration = notes_of(found[("Job", "db-migrate")])
    assert migration["argocd.argoproj.io/hook"] == "PreSync"
    assert migration["kajitori.dev/approval"] == "required"
    assert migration["kajitori.dev/hook-run"] == "on-change"
    web = found[("Deployment", "web")]
    assert web["spec"]["replicas"] == 2
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/web:1.0.0"
    assert all(
        obj["metadata"].get("namespace") == "demo"
        for key, obj in found.items()
        if key[0] != "Namespace"
    )


def test_a_release_changes_only_the_web_image() -> None:
    before, after = demo_repo.demo_files("1.0.0"), demo_repo.release_files("1.0.1")
    assert list(after) == ["demo/web.yaml"]
    assert after["demo/web.yaml"] == before["demo/web.yaml"].replace(
        "ghcr.io/acme/web:1.0.0", "ghcr.io/acme/web:1.0.1"
    )


@pytest.mark.parametrize(("now", "then"), [("1.0.0", "1.0.1"), ("2.9.19", "2.9.20")])
def test_next_version(now: str, then: str) -> None:
    assert demo_repo.next_version(now) == then


@pytest.mark.parametrize("bad", ["1.0", "v1.0.0", "latest", "1.0.0-rc1"])
def test_a_version_that_is_not_semver_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        demo_repo.next_version(bad)


def test_the_configuration_is_valid_and_wired_to_the_stand_ins() -> None:
    keys = DemoSecrets.generate()
    text = demo_config(TARGETS)
    for secret in vars(keys).values():
        assert secret not in text  # the file names environment variables only
    config = parse_config(text, Path("/tmp/demo/kajitori.yaml"), env=demo_env(keys))
    app = config.applications["demo"]
    assert app.spec.project == "demo" and "demo" in config.projects
    assert app.spec.source.repo_url == TARGETS.repo_url
    automated = app.spec.sync_policy.automated
    assert automated is not None and automated.prune and not automated.self_heal
    settings = config.settings
    assert settings.controller.wave_delay == 0.5
    assert settings.controller.state_path == Path("/tmp/demo/state/state.db")
    bot = parse_bot_settings(settings, apps=["demo"], projects=list(config.projects))
    assert bot.slack.mode == HTTP_MODE and bot.slack.api_url == TARGETS.slack_api_url
    assert bot.slack.bot_token is not None
    assert bot.slack.bot_token.reveal() == keys.slack_bot_token
    assert ADMIN in bot.rbac.projects["demo"].admins
    github = github_settings(settings)
    assert github.base_url == TARGETS.github_api_url and github.statuses
    assert github.repository_map == {TARGETS.repo_url: "acme/demo-manifests"}
    notifications = parse_notification_settings(settings.notifications)
    assert notifications.context["outOfSyncDebounceSeconds"] == 3
    (subscription,) = notifications.subscriptions
    assert [d.channel for d in subscription.recipients] == ["deploys"]
    assert {"on-approval-required", "on-deployed", "on-out-of-sync"} <= set(subscription.triggers)


def test_secrets_are_fresh_and_never_shown() -> None:
    first, second = DemoSecrets.generate(), DemoSecrets.generate()
    assert first.slack_bot_token != second.slack_bot_token
    assert first.slack_bot_token.startswith("xoxb-")
    assert repr(first) == "DemoSecrets(<redacted>)"
