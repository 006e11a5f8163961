"""The typed ``github`` settings section and repository URL naming (pure)."""

from __future__ import annotations

import textwrap

import pytest

from reconciler.config import parse_config
from reconciler.errors import ConfigError
from reconciler.github_settings import DEFAULT_BASE_URL, GitHubSettings, github_settings
from reconciler.github_urls import RepoUrlError, api_hosts, map_key, repo_full_name

SENTINEL = "ghp-SENTINEL-secret-value"
HEADER = "apiVersion: kajitori.dev/v1alpha1\nkind: Settings\n"


def typed(body: str, env: dict[str, str] | None = None) -> GitHubSettings:
    config = parse_config(HEADER + textwrap.dedent(body), "/etc/kajitori/config.yaml", env=env)
    return github_settings(config.settings, str(config.path))


def problems(section: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        github_settings(section, "config.yaml")
    return info.value.problems


def test_defaults_mean_no_api() -> None:
    settings = typed("controller: {}\n")
    assert settings == GitHubSettings()
    assert not settings.api_enabled and not settings.statuses
    assert settings.base_url == DEFAULT_BASE_URL and settings.status_context == "kajitori"
    assert settings.target_url("web") == ""


def test_a_full_section() -> None:
    settings = typed(
        """\
        github:
          token: {env: GH_TOKEN}
          baseUrl: https://ghe.example.com/api/v3/
          webhookSecret: hook-secret
          statusContext: deploys
          statusTargetUrl: https://kajitori.example.com/apps/{app}?p={project}&r={revision}
          appRepositories:
            web: acme/web
          repositoryMap:
            file:///srv/git/manifests.git: acme/manifests
          timeout: 30s
          retries: 2
        """,
        env={"GH_TOKEN": SENTINEL},
    )
    assert settings.api_enabled and settings.statuses
    assert settings.token is not None and settings.token.reveal() == SENTINEL
    assert settings.token.origin == "environment variable GH_TOKEN"
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.reveal() == "hook-secret"
    assert settings.base_url == "https://ghe.example.com/api/v3"
    assert settings.status_context == "deploys"
    assert settings.target_url("web", "default", "abc") == (
        "https://kajitori.example.com/apps/web?p=default&r=abc"
    )
    assert settings.app_repository("web") == "acme/web"
    assert settings.app_repository("api") is None
    assert settings.repository_map == {"file:///srv/git/manifests.git": "acme/manifests"}
    assert (settings.timeout, settings.retries) == (30.0, 2)
    assert SENTINEL not in repr(settings)


def test_statuses_can_be_turned_off() -> None:
    assert not github_settings({"token": "t", "statuses": False}).statuses
    assert github_settings({"token": "t"}).statuses


def test_every_problem_is_named_without_quoting_secrets() -> None:
    found = problems(
        {
            "token": 12345,
            "webhookSecret": "",
            "baseUrl": f"https://user:{SENTINEL}@ghe/api/v3",
            "statuses": True,
            "statusContext": "two words",
            "statusTargetUrl": "https://x/{application}",
            "appRepositories": {"web": "not a repo", "api": 3},
            "repositoryMap": {"/srv/x.git": "acme/x/y"},
            "timeout": "soon",
            "retries": 10,
            "tokn": "typo",
        }
    )
    text = "\n".join(found)
    assert all(line.startswith("config.yaml: github.") for line in found), found
    for expected in (
        "github.token: expected a string or {env: NAME}, got a number",
        "github.webhookSecret: must not be empty",
        "github.baseUrl: expected an http(s) URL without credentials",
        "github.statuses: commit statuses need github.token",
        "github.statusContext: expected a short name without spaces",
        "github.statusTargetUrl: unknown placeholder(s) {application}",
        "github.appRepositories.web: expected the application repository as owner/name",
        "github.appRepositories.api: expected a string",
        "github.repositoryMap./srv/x.git: expected the repository as owner/name",
        "github.timeout: expected a duration",
        "github.retries: must be at most 3, got 10",
        "github.tokn: unknown field (did you mean 'token'?)",
    ):
        assert expected in text, expected
    assert SENTINEL not in text and "12345" not in text


def test_api_hosts() -> None:
    assert "github.com" in api_hosts("https://api.github.com")
    assert api_hosts("https://ghe.example.com/api/v3") == {"ghe.example.com"}
    assert api_hosts("https://api.acme.ghe.com") == {"api.acme.ghe.com", "acme.ghe.com"}


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/web",
        "https://github.com/acme/web.git",
        "https://github.com/acme/web.git/",
        "https://token@github.com/acme/web",
        "ssh://git@github.com/acme/web.git",
        "git@github.com:acme/web.git",
        "github.com:acme/web",
    ],
)
def test_repo_full_name_of_github_com_urls(url: str) -> None:
    assert repo_full_name(url, DEFAULT_BASE_URL) == "acme/web"


def test_repo_full_name_from_the_map() -> None:
    mapping = {"/srv/git/acme/web.git": "acme/web", "https://mirror.example/web": "acme/web2"}
    assert repo_full_name("file:///srv/git/acme/web.git", DEFAULT_BASE_URL, mapping) == "acme/web"
    assert repo_full_name("/srv/git/acme/./web", DEFAULT_BASE_URL, mapping) == "acme/web"
    assert repo_full_name("https://MIRROR.example/web.git", DEFAULT_BASE_URL, mapping) == (
        "acme/web2"
    )
    assert map_key("file:///srv/a%20b.git") == "/srv/a b"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("/srv/git/other.git", "local repository"),
        ("file:///srv/git/other.git", "local repository"),
        ("https://gitlab.com/acme/web.git", "not on the configured GitHub"),
        ("https://github.com/acme", "owner/name"),
        ("https://github.com/acme/web/tree/main", "owner/name"),
    ],
)
def test_urls_naming_no_github_repository(url: str, message: str) -> None:
    with pytest.raises(RepoUrlError, match=message):
        repo_full_name(url, DEFAULT_BASE_URL)
