"""GitHubClient (reconciler.github) through real PyGithub against the GitHub sandbox."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from github import Auth, Github

from reconciler.github import GitHubClient, GitHubError, PullRequestRef, truncate
from reconciler.github_settings import github_settings
from reconciler.settings import build_settings
from sandbox.github import GitHubSandbox

TOKEN = "ghp-CLIENT-test-token-0123456789"
OWNER, NAME = "acme", "manifests"
REPO = f"{OWNER}/{NAME}"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GitHubSandbox]:
    with GitHubSandbox(tmp_path / "github", token=TOKEN, login="kajitori-bot") as gh:
        gh.create_repo(OWNER, NAME, files={"apps/web/deploy.yaml": "replicas: 1\n"})
        yield gh


def make_client(sandbox: GitHubSandbox, token: str = TOKEN, **options: object) -> GitHubClient:
    options.setdefault("seconds_between_requests", None)
    options.setdefault("seconds_between_writes", None)
    bare = sandbox.repo_path(OWNER, NAME)
    return GitHubClient(
        token,
        sandbox.url,
        repository_map={bare.as_uri(): REPO},
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(sandbox: GitHubSandbox) -> Iterator[GitHubClient]:
    github_client = make_client(sandbox)
    yield github_client
    github_client.close()


@pytest.fixture
def branch(sandbox: GitHubSandbox) -> str:
    sandbox.commit_files(OWNER, NAME, "revert-web", {"apps/web/deploy.yaml": "replicas: 0\n"}, "r")
    return "revert-web"


def pygithub(sandbox: GitHubSandbox) -> Github:
    return Github(
        auth=Auth.Token(TOKEN),
        base_url=sandbox.url,
        seconds_between_requests=None,
        seconds_between_writes=None,
        retry=None,
    )


def test_repo_for_url_reads_every_url_form(sandbox: GitHubSandbox, client: GitHubClient) -> None:
    bare = sandbox.repo_path(OWNER, NAME)
    assert client.repo_for_url(bare.as_uri()) == REPO
    assert client.repo_for_url(str(bare)) == REPO
    assert client.repo_for_url(str(bare) + "/") == REPO
    with pytest.raises(GitHubError, match="repositoryMap"):
        client.repo_for_url("/srv/git/other.git")
    # The sandbox serves 127.0.0.1, so a github.com URL is on another GitHub.
    with pytest.raises(GitHubError, match="not on the configured GitHub"):
        client.repo_for_url("https://github.com/acme/manifests.git")
    public = GitHubClient(TOKEN)
    for url in (
        "https://github.com/acme/manifests.git",
        "https://github.com/acme/manifests/",
        "http://github.com/acme/manifests",
        "ssh://git@github.com/acme/manifests.git",
        "ssh://git@ssh.github.com:443/acme/manifests.git",
        "git@github.com:acme/manifests.git",
        "https://x-access-token:ghp_secret_in_url@github.com/acme/manifests.git",
    ):
        assert public.repo_for_url(url) == REPO, url
    with pytest.raises(GitHubError) as info:
        public.repo_for_url("https://bot:ghp_secret_in_url@gitlab.com/acme/manifests.git")
    assert "ghp_secret_in_url" not in str(info.value)
    with pytest.raises(GitHubError, match="owner/name"):
        public.repo_for_url("https://github.com/acme")
    enterprise = GitHubClient(TOKEN, "https://ghe.example.com/api/v3")
    assert enterprise.repo_for_url("git@ghe.example.com:platform/deploy.git") == "platform/deploy"
    with pytest.raises(GitHubError):
        enterprise.repo_for_url("https://github.com/acme/manifests.git")


def test_open_find_read_and_comment_on_a_pull_request(
    sandbox: GitHubSandbox, client: GitHubClient, branch: str
) -> None:
    body = "Reverts:\n- abc1234 bump web\n" + "x" * 70_000
    pull = client.open_pull_request(REPO, branch, "main", "Revert web", body)
    assert pull.created and pull.number >= 1
    assert pull.url.endswith(f"/{REPO}/pull/{pull.number}")
    # Opening it again (a retried rollback) hands back the open one.
    again = client.open_pull_request(REPO, branch, "main", "Revert web", "second")
    assert again == PullRequestRef(pull.number, pull.url, created=False)
    assert client.find_open_pull_requests(REPO, branch) == [again]
    assert client.find_open_pull_requests(REPO, f"{OWNER}:{branch}") == [again]
    assert client.find_open_pull_requests(REPO, "other") == []

    info = client.get_pull_request(REPO, pull.number)
    assert (info.state, info.merged, info.merge_commit_sha) == ("open", False, None)
    assert (info.head, info.base, info.title) == (branch, "main", "Revert web")
    comment_url = client.comment(REPO, pull.number, "Rolled back in the cluster already.")
    assert f"/pull/{pull.number}#issuecomment-" in comment_url

    gh = pygithub(sandbox)
    remote = gh.get_repo(REPO).get_pull(pull.number)
    assert remote.body is not None and remote.body.startswith("Reverts:\n- abc1234")
    assert len(remote.body) <= 65_000
    assert [c.body for c in remote.get_issue_comments()] == ["Rolled back in the cluster already."]
    merged = remote.merge(merge_method="merge")
    gh.close()

    info = client.get_pull_request(REPO, pull.number)
    assert (info.state, info.merged) == ("closed", True)
    assert info.merge_commit_sha == merged.sha
    assert client.find_open_pull_requests(REPO, branch) == []


def test_github_refusals_become_github_errors(client: GitHubClient, branch: str) -> None:
    with pytest.raises(GitHubError, match="not found") as info:
        client.get_pull_request(REPO, 999)
    assert info.value.status == 404 and not info.value.transient
    with pytest.raises(GitHubError, match="422") as info:
        client.open_pull_request(REPO, "no-such-branch", "main", "t", "b")
    assert info.value.status == 422
    with pytest.raises(GitHubError, match="not found"):
        client.get_pull_request("acme/missing", 1)


def test_commit_statuses(sandbox: GitHubSandbox, client: GitHubClient, branch: str) -> None:
    sha = sandbox.commit_files(OWNER, NAME, "main", {"apps/web/deploy.yaml": "replicas: 2\n"}, "c")
    client.set_commit_status(REPO, sha, "pending", "Syncing web", "https://kajitori.example/web")
    client.set_commit_status(REPO, sha, "success", "d" * 300, context="kajitori/web")
    gh = pygithub(sandbox)
    statuses = gh.get_repo(REPO).get_commit(sha).get_statuses()
    newest, oldest = list(statuses)
    gh.close()
    assert (oldest.state, oldest.context, oldest.target_url) == (
        "pending",
        "kajitori",
        "https://kajitori.example/web",
    )
    assert (newest.state, newest.context) == ("success", "kajitori/web")
    assert len(newest.description) == 140 and newest.description.endswith("…")
    with pytest.raises(GitHubError, match="invalid commit status state"):
        client.set_commit_status(REPO, sha, "done", "x")  # type: ignore[arg-type]
    with pytest.raises(GitHubError, match="full commit SHA"):
        client.set_commit_status(REPO, sha[:7], "success", "x")
    with pytest.raises(GitHubError, match="422"):
        client.set_commit_status(REPO, "0" * 40, "success", "x")


def test_a_5xx_is_retried_once_for_reads_and_never_for_writes(
    sandbox: GitHubSandbox, client: GitHubClient, branch: str
) -> None:
    sandbox.inject_fault(method="GET", path_prefix=f"/repos/{REPO}/pulls", count=1, status=502)
    assert client.find_open_pull_requests(REPO, branch) == []  # the retry got through

    sandbox.inject_fault(path_prefix=f"/repos/{REPO}/pulls", count=10, status=503)
    started = time.monotonic()
    with pytest.raises(GitHubError, match="503") as info:
        client.get_pull_request(REPO, 1)
    assert time.monotonic() - started < 3.0
    assert info.value.status == 503 and info.value.transient
    with pytest.raises(GitHubError, match="503"):
        client.open_pull_request(REPO, branch, "main", "t", "b")
    sandbox.clear_faults()

    calls = [(c["method"], c["path"], c["status"]) for c in sandbox.calls()]
    assert calls.count(("GET", f"/repos/{REPO}/pulls/1", 503)) == 2  # one retry, no storm
    assert calls.count(("POST", f"/repos/{REPO}/pulls", 503)) == 1  # a write is not repeated
    assert not any(method == "POST" and status == 201 for method, _, status in calls)


def test_timeouts_and_unreachable_servers(sandbox: GitHubSandbox) -> None:
    slow = make_client(sandbox, timeout=1, retries=0)
    sandbox.inject_fault(path_prefix=f"/repos/{REPO}/pulls", count=1, latency_ms=2500)
    started = time.monotonic()
    with pytest.raises(GitHubError, match="did not answer in time") as info:
        slow.get_pull_request(REPO, 1)
    assert time.monotonic() - started < 2.5 and info.value.status == 0
    slow.close()
    dead = GitHubClient(TOKEN, "http://127.0.0.1:9/api/v3", seconds_between_requests=None)
    with pytest.raises(GitHubError, match="cannot reach GitHub") as info:
        dead.get_pull_request(REPO, 1)
    assert info.value.transient


def test_the_token_never_appears_in_errors_logs_or_reprs(
    sandbox: GitHubSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "ghp-WRONG-token-9876543210"
    bad = make_client(sandbox, token=wrong)
    with pytest.raises(GitHubError, match="refused the token") as info:
        bad.get_pull_request(REPO, 1)
    assert info.value.status == 401
    assert wrong not in str(info.value) and wrong not in repr(bad)
    good = make_client(sandbox)
    sandbox.inject_fault(path_prefix="/", count=5, status=500, message=f"echo {TOKEN}")
    with pytest.raises(GitHubError) as info:
        good.get_pull_request(REPO, 1)
    assert TOKEN not in str(info.value) and "****" in str(info.value)
    assert TOKEN not in repr(good)
    assert TOKEN not in caplog.text and wrong not in caplog.text
    with pytest.raises(GitHubError, match="no GitHub token"):
        GitHubClient("")


def test_built_from_settings(sandbox: GitHubSandbox, branch: str) -> None:
    bare = sandbox.repo_path(OWNER, NAME)
    settings = build_settings(
        {
            "github": {
                "token": {"env": "GH_TOKEN"},
                "baseUrl": sandbox.url,
                "repositoryMap": {str(bare): REPO},
                "timeout": "5s",
                "retries": 0,
            }
        },
        env={"GH_TOKEN": TOKEN},
    )
    typed = github_settings(settings)
    client = GitHubClient.from_settings(
        typed, seconds_between_requests=None, seconds_between_writes=None
    )
    assert client.repo_for_url(bare.as_uri()) == REPO
    assert client.open_pull_request(REPO, branch, "main", "t", "b").created
    client.close()
    with pytest.raises(GitHubError, match="no GitHub token"):
        GitHubClient.from_settings(github_settings({}))


def test_truncate() -> None:
    assert truncate("  short  ", 10) == "short"
    assert truncate("x" * 20, 10) == "x" * 9 + "…"
