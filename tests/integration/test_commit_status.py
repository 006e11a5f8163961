"""Commit statuses from sync events: the reporter on a real EventBus, the real GitHubClient
and PyGithub against the GitHub sandbox."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from github import Auth, Github

from reconciler.commit_status import CommitStatusReporter, describe, start_commit_statuses
from reconciler.events import (
    EventBus,
    HealthChanged,
    ResourceResult,
    SyncFailed,
    SyncRunning,
    SyncSucceeded,
)
from reconciler.github import GitHubClient
from reconciler.github_settings import github_settings
from reconciler.model import ResourceKey
from sandbox.github import GitHubSandbox

TOKEN = "ghp-STATUS-test-token-24680"
OWNER, NAME = "acme", "manifests"
REPO = f"{OWNER}/{NAME}"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GitHubSandbox]:
    with GitHubSandbox(tmp_path / "github", token=TOKEN) as gh:
        gh.create_repo(OWNER, NAME, files={"apps/web/deploy.yaml": "replicas: 1\n"})
        yield gh


@pytest.fixture
def sha(sandbox: GitHubSandbox) -> str:
    return sandbox.commit_files(OWNER, NAME, "main", {"apps/web/deploy.yaml": "replicas: 2\n"}, "c")


@pytest.fixture
def client(sandbox: GitHubSandbox) -> Iterator[GitHubClient]:
    github_client = GitHubClient(
        TOKEN,
        sandbox.url,
        repository_map={str(sandbox.repo_path(OWNER, NAME)): REPO},
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    yield github_client
    github_client.close()


@pytest.fixture
def bus() -> Iterator[EventBus]:
    event_bus = EventBus()
    yield event_bus
    event_bus.close()


def repos(sandbox: GitHubSandbox) -> dict[str, str]:
    bare = sandbox.repo_path(OWNER, NAME)
    return {"web": bare.as_uri(), "api": bare.as_uri(), "elsewhere": "https://gitlab.com/a/b.git"}


def reporter(sandbox: GitHubSandbox, client: GitHubClient) -> CommitStatusReporter:
    settings = github_settings(
        {
            "token": TOKEN,
            "statusContext": "kajitori",
            "statusTargetUrl": "https://kajitori.example/apps/{app}?revision={revision}",
        }
    )
    return CommitStatusReporter.from_settings(client, settings, repos(sandbox).get)


def statuses(sandbox: GitHubSandbox, sha: str) -> list[tuple[str, str, str, str]]:
    """(context, state, description, target_url), oldest first."""
    gh = Github(
        auth=Auth.Token(TOKEN),
        base_url=sandbox.url,
        seconds_between_requests=None,
        seconds_between_writes=None,
        retry=None,
    )
    found = [
        (s.context, s.state, s.description, s.target_url)
        for s in gh.get_repo(REPO).get_commit(sha).get_statuses()
    ]
    gh.close()
    return found[::-1]


def test_pending_then_success_on_the_synced_commit(
    sandbox: GitHubSandbox, client: GitHubClient, bus: EventBus, sha: str
) -> None:
    publisher = reporter(sandbox, client)
    subscription = publisher.subscribe(bus)
    resources = tuple(
        ResourceResult(ResourceKey("apps", "Deployment", "web", name), "Synced")
        for name in ("a", "b")
    )
    bus.publish(SyncRunning(app="web", time=NOW, revision=sha, initiated_by="ada"))
    bus.publish(HealthChanged(app="web", time=NOW, previous="Healthy", current="Progressing"))
    bus.publish(SyncSucceeded(app="web", time=NOW, revision=sha, resources=resources))
    assert bus.wait_idle(10)

    link = f"https://kajitori.example/apps/web?revision={sha}"
    assert statuses(sandbox, sha) == [
        ("kajitori/web", "pending", f"Syncing web to {sha[:7]} by ada", link),
        ("kajitori/web", "success", f"web synced to {sha[:7]} (2 resources)", link),
    ]
    assert (publisher.sent, publisher.failed, publisher.skipped) == (2, 0, 0)
    assert subscription.failed == 0
    gh = Github(auth=Auth.Token(TOKEN), base_url=sandbox.url, retry=None)
    combined = gh.get_repo(REPO).get_commit(sha).get_combined_status()
    assert combined.state == "success"
    gh.close()


def test_each_app_has_its_own_context_and_failures_say_why(
    sandbox: GitHubSandbox, client: GitHubClient, sha: str
) -> None:
    publisher = reporter(sandbox, client)
    publisher.handle(SyncRunning(app="web", time=NOW, revision=sha))
    publisher.handle(SyncRunning(app="api", time=NOW, revision=sha))
    publisher.handle(SyncSucceeded(app="web", time=NOW, revision=sha))
    publisher.handle(
        SyncFailed(app="api", time=NOW, revision=sha, message="Job  migrate\nfailed", retrying=True)
    )
    publisher.handle(SyncFailed(app="api", time=NOW, revision=sha, message="Job migrate failed"))
    found = [(context, state, text) for context, state, text, _ in statuses(sandbox, sha)]
    assert found == [
        ("kajitori/web", "pending", f"Syncing web to {sha[:7]}"),
        ("kajitori/api", "pending", f"Syncing api to {sha[:7]}"),
        ("kajitori/web", "success", f"web synced to {sha[:7]} (0 resources)"),
        ("kajitori/api", "pending", "api sync failed, will retry: Job migrate failed"),
        ("kajitori/api", "failure", "api sync failed: Job migrate failed"),
    ]
    gh = Github(auth=Auth.Token(TOKEN), base_url=sandbox.url, retry=None)
    assert gh.get_repo(REPO).get_commit(sha).get_combined_status().state == "failure"
    gh.close()


def test_github_failures_are_logged_and_counted_never_raised(
    sandbox: GitHubSandbox,
    client: GitHubClient,
    bus: EventBus,
    sha: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    publisher = reporter(sandbox, client)
    subscription = publisher.subscribe(bus)
    sandbox.inject_fault(path_prefix=f"/repos/{REPO}/statuses", count=1, status=503)
    bus.publish(SyncRunning(app="web", time=NOW, revision=sha))
    bus.publish(SyncSucceeded(app="web", time=NOW, revision=sha))
    assert bus.wait_idle(10)

    assert (publisher.sent, publisher.failed) == (1, 1)
    assert subscription.failed == 0 and subscription.delivered == 2
    assert [state for _, state, _, _ in statuses(sandbox, sha)] == ["success"]
    warning = [r for r in caplog.records if r.name == "reconciler.commit_status"]
    assert warning and "503" in warning[0].getMessage()
    assert TOKEN not in caplog.text


def test_events_without_a_github_commit_are_skipped(
    sandbox: GitHubSandbox, client: GitHubClient, sha: str
) -> None:
    publisher = reporter(sandbox, client)
    publisher.handle(SyncRunning(app="elsewhere", time=NOW, revision=sha))
    publisher.handle(SyncRunning(app="elsewhere", time=NOW, revision=sha))
    publisher.handle(SyncRunning(app="unknown-app", time=NOW, revision=sha))
    publisher.handle(SyncRunning(app="web", time=NOW, revision="main"))
    publisher.handle(HealthChanged(app="web", time=NOW, revision=sha))
    assert (publisher.sent, publisher.failed, publisher.skipped) == (0, 0, 4)
    assert statuses(sandbox, sha) == []
    assert not [c for c in sandbox.calls() if c["method"] == "POST"]


def test_descriptions() -> None:
    sha = "a" * 40
    assert describe(SyncRunning(app="web", time=NOW, revision=sha)) == (
        "pending",
        "Syncing web to aaaaaaa",
    )
    assert describe(SyncFailed(app="web", time=NOW, revision=sha, phase="Error")) == (
        "error",
        "web sync error: Error",
    )
    assert describe(HealthChanged(app="web", time=NOW)) is None


def test_started_only_when_the_settings_want_statuses(
    sandbox: GitHubSandbox, client: GitHubClient, bus: EventBus, sha: str
) -> None:
    off = github_settings({"token": TOKEN, "statuses": False})
    assert start_commit_statuses(bus, client, off, repos(sandbox).get) is None
    assert start_commit_statuses(bus, None, github_settings({}), repos(sandbox).get) is None
    assert bus.subscriptions == []
    on = github_settings({"token": TOKEN})
    started = start_commit_statuses(bus, client, on, repos(sandbox).get)
    assert started is not None and started.context_for("web") == "kajitori/web"
    bus.publish(SyncRunning(app="web", time=NOW, revision=sha))
    assert bus.wait_idle(10)
    assert [(c, s) for c, s, _, _ in statuses(sandbox, sha)] == [("kajitori/web", "pending")]
