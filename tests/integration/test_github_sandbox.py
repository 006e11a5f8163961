"""The GitHub stand-in (sandbox/github.py) through the real PyGithub client over HTTP, with
the bare repositories checked through GitPython."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import pytest
from github import BadCredentialsException, Github, GithubException, UnknownObjectException
from github.Repository import Repository as GhRepository

from sandbox.github import GitHubSandbox
from tests.integration.github_helpers import (
    WebhookReceiver,
    push_change,
    serving_webhooks,
    verified_payload,
)
from tests.integration.github_helpers import client as github_client

OWNER, NAME = "acme", "manifests"
TOKEN = "ghp-test-token"


def client(sandbox: GitHubSandbox, token: str = TOKEN, **options: Any) -> Github:
    """A PyGithub client on the sandbox, without client-side throttling."""
    return github_client(sandbox, token, **options)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GitHubSandbox]:
    with GitHubSandbox(tmp_path / "github", token=TOKEN, login="kajitori-bot") as gh:
        gh.create_repo(OWNER, NAME, files={"apps/web/deploy.yaml": "replicas: 1\n"})
        yield gh


@pytest.fixture
def gh(sandbox: GitHubSandbox) -> Iterator[Github]:
    g = client(sandbox)
    yield g
    g.close()


@pytest.fixture
def repo(gh: Github) -> GhRepository:
    return gh.get_repo(f"{OWNER}/{NAME}")


@pytest.fixture
def clone(sandbox: GitHubSandbox, tmp_path: Path) -> git.Repo:
    return git.Repo.clone_from(str(sandbox.repo_path(OWNER, NAME)), tmp_path / "clone")


@pytest.fixture
def receiver(sandbox: GitHubSandbox) -> Iterator[WebhookReceiver]:
    with serving_webhooks(sandbox) as server:
        yield server


# -- users, repositories, refs -----------------------------------------------------------


def test_user_and_repository_point_at_a_cloneable_bare_repository(
    sandbox: GitHubSandbox, gh: Github, repo: GhRepository, tmp_path: Path
) -> None:
    assert gh.get_user().login == "kajitori-bot"
    assert repo.full_name == "acme/manifests"
    assert repo.default_branch == "main"
    assert repo.clone_url == sandbox.repo_path(OWNER, NAME).as_uri()
    copy = git.Repo.clone_from(repo.clone_url, tmp_path / "copy")
    assert (tmp_path / "copy" / "apps/web/deploy.yaml").read_text() == "replicas: 1\n"
    assert repo.get_branch("main").commit.sha == copy.head.commit.hexsha


def test_git_refs_are_created_read_and_deleted(repo: GhRepository, clone: git.Repo) -> None:
    main_sha = repo.get_branch("main").commit.sha
    created = repo.create_git_ref("refs/heads/rollback-1", main_sha)
    assert (created.ref, created.object.sha) == ("refs/heads/rollback-1", main_sha)
    assert repo.get_git_ref("heads/rollback-1").object.sha == main_sha
    assert "origin/rollback-1" in [r.name for r in clone.remotes.origin.fetch()]
    with pytest.raises(GithubException) as exists:
        repo.create_git_ref("refs/heads/rollback-1", main_sha)
    assert exists.value.status == 422
    created.delete()
    with pytest.raises(UnknownObjectException):
        _ = repo.get_git_ref("heads/rollback-1").object


def test_commit_shows_message_parents_and_files(repo: GhRepository, clone: git.Repo) -> None:
    sha = push_change(clone, "main", "apps/web/deploy.yaml", "replicas: 3\n", "Scale web to 3")
    commit = repo.get_commit(sha)
    assert commit.commit.message == "Scale web to 3"
    assert commit.commit.author.email == "dev@example.com"
    assert [p.sha for p in commit.parents] == [clone.head.commit.parents[0].hexsha]
    assert [(f.filename, f.status, f.additions, f.deletions) for f in commit.files] == [
        ("apps/web/deploy.yaml", "modified", 1, 1)
    ]
    assert repo.get_commit("main").sha == sha


# -- pull requests -----------------------------------------------------------------------


def test_pull_request_opened_listed_and_merged_into_the_bare_repository(
    sandbox: GitHubSandbox, repo: GhRepository, clone: git.Repo
) -> None:
    main_before = repo.get_branch("main").commit.sha
    repo.create_git_ref("refs/heads/revert-web", main_before)
    head = push_change(clone, "revert-web", "apps/web/deploy.yaml", "replicas: 2\n", "Revert web")

    pr = repo.create_pull(base="main", head="revert-web", title="Revert web", body="asked by ana")
    assert (pr.number, pr.state, pr.head.sha, pr.base.sha) == (1, "open", head, main_before)
    assert pr.head.ref == "revert-web" and pr.user.login == "kajitori-bot"
    assert pr.mergeable is True and pr.mergeable_state == "clean"
    assert pr.html_url.endswith("/acme/manifests/pull/1")

    listed = repo.get_pulls(state="open", head="acme:revert-web", base="main")
    assert [p.number for p in listed] == [1]
    assert list(repo.get_pulls(state="open", base="release")) == []

    result = pr.merge(merge_method="merge", sha=head)
    assert result.merged is True

    merged = repo.get_pull(1)
    assert merged.merged and merged.state == "closed" and merged.merged_by.login == "kajitori-bot"
    assert merged.merge_commit_sha == result.sha and merged.is_merged()
    assert [p.number for p in repo.get_pulls(state="closed")] == [1]
    assert list(repo.get_pulls(state="open")) == []

    bare = git.Repo(sandbox.repo_path(OWNER, NAME))
    main_after = bare.heads.main.commit
    assert main_after.hexsha == result.sha
    assert [p.hexsha for p in main_after.parents] == [main_before, head]
    with urllib.request.urlopen(merged.html_url) as page:
        html = page.read().decode()
    assert "Revert web #1" in html and "<b>merged</b>" in html
    assert bare.is_ancestor(bare.commit(head), main_after)
    assert str(main_after.message).startswith("Merge pull request #1 from acme/revert-web")


def test_squash_merge_writes_one_commit_with_the_head_changes(
    sandbox: GitHubSandbox, repo: GhRepository, clone: git.Repo
) -> None:
    main_before = repo.get_branch("main").commit.sha
    push_change(clone, "squash-me", "apps/web/a.yaml", "a: 1\n", "Add a")
    push_change(clone, "squash-me", "apps/web/b.yaml", "b: 1\n", "Add b")
    pr = repo.create_pull(base="main", head="squash-me", title="Add a and b")
    assert pr.commits == 2 and pr.changed_files == 2

    result = pr.merge(merge_method="squash")

    bare = git.Repo(sandbox.repo_path(OWNER, NAME))
    squashed = bare.heads.main.commit
    assert squashed.hexsha == result.sha
    assert [p.hexsha for p in squashed.parents] == [main_before]
    assert squashed.message.splitlines()[0] == "Add a and b (#1)"
    files = bare.git.ls_tree("-r", "--name-only", squashed.hexsha).split()
    assert {"apps/web/a.yaml", "apps/web/b.yaml"} <= set(files)


def test_conflicting_pull_request_is_not_mergeable_and_merge_answers_405(
    sandbox: GitHubSandbox, repo: GhRepository, clone: git.Repo
) -> None:
    push_change(clone, "one", "apps/web/deploy.yaml", "replicas: 5\n", "Five")
    push_change(clone, "two", "apps/web/deploy.yaml", "replicas: 7\n", "Seven")
    first = repo.create_pull(base="main", head="one", title="Five")
    second = repo.create_pull(base="main", head="two", title="Seven")
    first.merge()
    main_after_first = repo.get_branch("main").commit.sha

    again = repo.get_pull(second.number)
    assert again.mergeable is False and again.mergeable_state == "dirty"
    with pytest.raises(GithubException) as refused:
        again.merge()
    assert refused.value.status == 405
    assert refused.value.data["message"] == "Pull Request is not mergeable"
    assert repo.get_branch("main").commit.sha == main_after_first
    with pytest.raises(GithubException) as merged_twice:
        repo.get_pull(first.number).merge()
    assert merged_twice.value.status == 405


def test_merge_with_a_stale_head_sha_answers_409(repo: GhRepository, clone: git.Repo) -> None:
    old_head = push_change(clone, "moving", "apps/web/x.yaml", "x: 1\n", "x1")
    pr = repo.create_pull(base="main", head="moving", title="x")
    push_change(clone, "moving", "apps/web/x.yaml", "x: 2\n", "x2")
    with pytest.raises(GithubException) as stale:
        pr.merge(sha=old_head)
    assert stale.value.status == 409
    assert repo.get_pull(pr.number).merged is False


def test_pull_request_edit_close_reopen_and_comments(repo: GhRepository, clone: git.Repo) -> None:
    push_change(clone, "edit-me", "apps/web/e.yaml", "e: 1\n", "e")
    pr = repo.create_pull(base="main", head="edit-me", title="Draft title")
    pr.edit(title="Final title", body="Reverts abc123")
    pr.edit(state="closed")
    closed = repo.get_pull(pr.number)
    assert (closed.title, closed.body, closed.state, closed.merged) == (
        "Final title",
        "Reverts abc123",
        "closed",
        False,
    )
    with pytest.raises(GithubException) as refused:
        closed.merge()
    assert refused.value.status == 405
    pr.edit(state="open")
    assert repo.get_pull(pr.number).state == "open"

    pr.create_issue_comment("Rollback requested by <@U123> in #deploys")
    pr.create_issue_comment("Cluster is back on abc123")
    comments = list(repo.get_pull(pr.number).get_issue_comments())
    assert [c.body for c in comments] == [
        "Rollback requested by <@U123> in #deploys",
        "Cluster is back on abc123",
    ]
    assert comments[0].user.login == "kajitori-bot"
    assert repo.get_pull(pr.number).comments == 2


def test_duplicate_and_empty_pull_requests_answer_422(repo: GhRepository, clone: git.Repo) -> None:
    push_change(clone, "dup", "apps/web/d.yaml", "d: 1\n", "d")
    repo.create_pull(base="main", head="dup", title="First")
    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(base="main", head="acme:dup", title="Second")
    assert duplicate.value.status == 422
    assert duplicate.value.data["message"] == "Validation Failed"
    assert duplicate.value.data["errors"] == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "message": "A pull request already exists for acme:dup.",
        }
    ]
    assert str(duplicate.value.data["documentation_url"]).startswith("https://docs.github.com/")

    repo.create_git_ref("refs/heads/same", repo.get_branch("main").commit.sha)
    with pytest.raises(GithubException) as empty:
        repo.create_pull(base="main", head="same", title="Nothing")
    assert empty.value.status == 422
    assert empty.value.data["errors"][0]["message"] == "No commits between main and same"
    with pytest.raises(GithubException) as missing:
        repo.create_pull(base="main", head="no-such-branch", title="Ghost")
    assert missing.value.data["errors"] == [
        {"resource": "PullRequest", "field": "head", "code": "invalid"}
    ]


# -- commit statuses and pagination ------------------------------------------------------


def test_commit_statuses_created_listed_and_combined(repo: GhRepository) -> None:
    commit = repo.get_commit("main")
    commit.create_status("pending", "http://kajitori.local/apps/web", "Syncing", "kajitori/sync")
    commit.create_status("failure", "http://ci.local/1", "Lint failed", "ci/lint")
    commit.create_status("success", "http://kajitori.local/apps/web", "Synced", "kajitori/sync")

    statuses = list(commit.get_statuses())
    assert [(s.context, s.state) for s in statuses] == [
        ("kajitori/sync", "success"),
        ("ci/lint", "failure"),
        ("kajitori/sync", "pending"),
    ]
    assert statuses[0].creator.login == "kajitori-bot"
    assert statuses[0].target_url == "http://kajitori.local/apps/web"

    combined = commit.get_combined_status()
    assert combined.state == "failure" and combined.total_count == 2
    assert {(s.context, s.state) for s in combined.statuses} == {
        ("kajitori/sync", "success"),
        ("ci/lint", "failure"),
    }
    commit.create_status("success", context="ci/lint")
    assert commit.get_combined_status().state == "success"

    with pytest.raises(GithubException) as too_long:
        commit.create_status("success", description="x" * 141, context="kajitori/sync")
    assert too_long.value.status == 422


def test_long_lists_are_paginated_with_link_headers(sandbox: GitHubSandbox) -> None:
    g = client(sandbox, per_page=10)
    commit = g.get_repo(f"{OWNER}/{NAME}").get_commit("main")
    for number in range(25):
        commit.create_status("success", context=f"check-{number}")
    statuses = commit.get_statuses()
    assert statuses.totalCount == 25
    assert {s.context for s in statuses} == {f"check-{n}" for n in range(25)}
    pages = [
        c["query"].get("page")
        for c in sandbox.calls()
        if c["method"] == "GET" and c["path"].endswith("/statuses/" + commit.sha)
    ]
    assert {"2", "3"} <= set(pages)


# -- authentication and errors -----------------------------------------------------------


def test_bad_token_answers_401(sandbox: GitHubSandbox) -> None:
    with pytest.raises(BadCredentialsException) as bad:
        _ = client(sandbox, token="ghp-wrong").get_user().login
    assert bad.value.status == 401
    assert bad.value.data["message"] == "Bad credentials"


def test_unknown_repository_and_pull_request_answer_404(gh: Github, repo: GhRepository) -> None:
    with pytest.raises(UnknownObjectException) as no_repo:
        gh.get_repo("acme/nope")
    assert no_repo.value.data["message"] == "Not Found"
    with pytest.raises(UnknownObjectException):
        _ = repo.get_pull(99).title
    with pytest.raises(GithubException) as no_branch:
        repo.get_branch("nope")
    assert no_branch.value.status == 404


# -- fault injection and the call log ----------------------------------------------------


def test_injected_503_makes_pygithub_raise_and_is_logged_without_the_token(
    sandbox: GitHubSandbox, repo: GhRepository
) -> None:
    sandbox.inject_fault("GET", f"/repos/{OWNER}/{NAME}/pulls", count=1, status=503)
    with pytest.raises(GithubException) as unavailable:
        list(repo.get_pulls())
    assert unavailable.value.status == 503
    assert list(repo.get_pulls()) == []

    pulls_calls = [c for c in sandbox.calls() if c["path"] == f"/repos/{OWNER}/{NAME}/pulls"]
    assert [(c["status"], c["fault"]) for c in pulls_calls] == [(503, True), (200, False)]
    assert TOKEN not in json.dumps(sandbox.calls())


def test_default_retry_rides_out_a_transient_502(sandbox: GitHubSandbox) -> None:
    sandbox.inject_fault("GET", f"/repos/{OWNER}/{NAME}", count=2, status=502)
    g = client(sandbox, retry=Github.default_retry)
    assert g.get_repo(f"{OWNER}/{NAME}").name == NAME
    statuses = [c["status"] for c in sandbox.calls() if c["path"] == f"/repos/{OWNER}/{NAME}"]
    assert statuses == [502, 502, 200]


def test_control_api_over_http_adds_latency_and_resets(
    sandbox: GitHubSandbox, repo: GhRepository
) -> None:
    rule = {"method": "GET", "path_prefix": "/api/v3/repos/acme", "latency_ms": 300}
    request = urllib.request.Request(
        f"{sandbox.control_url}/faults",
        data=json.dumps(rule).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 201
    started = time.monotonic()
    assert repo.get_branch("main").name == "main"
    assert time.monotonic() - started >= 0.3

    bare = sandbox.repo_path(OWNER, NAME)
    reset = urllib.request.Request(f"{sandbox.control_url}/reset", data=b"{}", method="POST")
    with urllib.request.urlopen(reset) as answer:
        assert answer.status == 200
    assert sandbox.repositories() == [] and sandbox.calls() == []
    assert not bare.exists()
    with pytest.raises(UnknownObjectException):
        client(sandbox).get_repo(f"{OWNER}/{NAME}")


# -- push webhooks -----------------------------------------------------------------------


def test_merge_sends_a_signed_push_webhook(
    sandbox: GitHubSandbox, repo: GhRepository, clone: git.Repo, receiver: WebhookReceiver
) -> None:
    head = push_change(clone, "hotfix", "apps/web/deploy.yaml", "replicas: 4\n", "Hotfix")
    branch_push = verified_payload(*receiver.next_push())
    assert (branch_push["ref"], branch_push["created"]) == ("refs/heads/hotfix", True)
    assert branch_push["before"] == "0" * 40 and branch_push["after"] == head

    main_before = repo.get_branch("main").commit.sha
    merge_sha = repo.create_pull(base="main", head="hotfix", title="Hotfix").merge().sha

    payload = verified_payload(*receiver.next_push())
    assert payload["ref"] == "refs/heads/main"
    assert (payload["before"], payload["after"]) == (main_before, merge_sha)
    assert payload["repository"]["full_name"] == "acme/manifests"
    assert payload["repository"]["clone_url"] == sandbox.repo_path(OWNER, NAME).as_uri()
    assert [c["id"] for c in payload["commits"]] == [head, merge_sha]
    assert payload["commits"][0]["modified"] == ["apps/web/deploy.yaml"]
    assert payload["head_commit"]["id"] == merge_sha
    assert payload["pusher"]["name"] == "kajitori-bot"
    delivered = sandbox.wait_for_deliveries(2)
    assert [d["status"] for d in delivered] == [204, 204]
