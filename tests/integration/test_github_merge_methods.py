"""The GitHub stand-in's three merge methods (merge commit, squash, rebase) through the real
PyGithub client: the base branch's new commits (read back with GitPython from the bare
repository), the pull request's fields, and the signed push webhook each merge sends.

The pull requests are opened by one user (``dev-ana``) and merged by another (``lead-bo``),
and main moves on after the feature branch leaves it, so that who is author and who is
committer, and which parent each new commit gets, are all visible."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import git
import pytest
from github import Github, GithubException
from github.PullRequest import PullRequest as GhPull
from github.Repository import Repository as GhRepository

from sandbox.github import GitHubSandbox
from tests.integration.github_helpers import (
    ACTOR,
    WebhookReceiver,
    client,
    push_change,
    serving_webhooks,
)

OWNER, NAME = "acme", "manifests"
MERGER, MERGER_TOKEN = "lead-bo", "ghp-merger-token"
OPENER, OPENER_TOKEN = "dev-ana", "ghp-opener-token"
AUTHORED_AT = datetime.fromisoformat("2023-03-04T05:06:07+09:00")
AUTHORED = f"{int(AUTHORED_AT.timestamp())} +0900"  # git's raw date format
MAIN = "refs/heads/main"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GitHubSandbox]:
    with GitHubSandbox(tmp_path / "github", token=MERGER_TOKEN, login=MERGER) as gh:
        gh.add_user(OPENER, OPENER_TOKEN)
        gh.create_repo(OWNER, NAME, files={"apps/web/deploy.yaml": "replicas: 1\n"})
        yield gh


@pytest.fixture
def receiver(sandbox: GitHubSandbox) -> Iterator[WebhookReceiver]:
    with serving_webhooks(sandbox) as server:
        yield server


@pytest.fixture
def merger(sandbox: GitHubSandbox) -> Iterator[GhRepository]:
    g = client(sandbox, MERGER_TOKEN)
    yield g.get_repo(f"{OWNER}/{NAME}")
    g.close()


@pytest.fixture
def opener(sandbox: GitHubSandbox) -> Iterator[Github]:
    g = client(sandbox, OPENER_TOKEN)
    yield g
    g.close()


@pytest.fixture
def clone(sandbox: GitHubSandbox, tmp_path: Path) -> git.Repo:
    return git.Repo.clone_from(str(sandbox.repo_path(OWNER, NAME)), tmp_path / "clone")


@pytest.fixture
def bare(sandbox: GitHubSandbox) -> git.Repo:
    return git.Repo(sandbox.repo_path(OWNER, NAME))


def feature_branch(clone: git.Repo, sandbox: GitHubSandbox) -> tuple[list[str], str]:
    """Two commits on ``feature`` (dated AUTHORED), then an unrelated commit on main; the
    feature commits and main's head."""
    first = push_change(
        clone, "feature", "apps/web/a.yaml", "a: 1\n", "Add a", author_date=AUTHORED
    )
    second = push_change(
        clone, "feature", "apps/web/b.yaml", "b: 1\n", "Add b\n\nBecause b.", author_date=AUTHORED
    )
    main = sandbox.commit_files(OWNER, NAME, "main", {"README.md": "hello\n"}, "Readme")
    return [first, second], main


def open_pull(opener: Github, head: str, title: str) -> GhPull:
    return opener.get_repo(f"{OWNER}/{NAME}").create_pull(base="main", head=head, title=title)


def message(commit: git.Commit) -> str:
    return str(commit.message).rstrip("\n")


def test_merge_commit_joins_base_and_head_as_the_merging_user(
    sandbox: GitHubSandbox,
    merger: GhRepository,
    opener: Github,
    clone: git.Repo,
    bare: git.Repo,
    receiver: WebhookReceiver,
) -> None:
    feature, main_before = feature_branch(clone, sandbox)
    number = open_pull(opener, "feature", "Add a and b").number

    result = merger.get_pull(number).merge(merge_method="merge")

    head = bare.heads.main.commit
    assert result.merged and head.hexsha == result.sha
    assert [p.hexsha for p in head.parents] == [main_before, feature[-1]]
    assert (head.author.name, head.author.email) == (MERGER, f"{MERGER}@users.noreply.github.com")
    assert (head.committer.name, head.committer.email) == ("GitHub", "noreply@github.com")
    assert message(head) == "Merge pull request #1 from acme/feature\n\nAdd a and b"
    pull = merger.get_pull(number)
    assert pull.merged and pull.state == "closed" and pull.merged_by.login == MERGER
    assert pull.merge_commit_sha == result.sha and pull.mergeable is None

    payload = receiver.push_to(MAIN, result.sha)
    assert payload["before"] == main_before and payload["forced"] is False
    commits = [(c["id"], c["distinct"]) for c in payload["commits"]]
    assert commits == [(feature[0], False), (feature[1], False), (result.sha, True)]
    assert payload["head_commit"]["committer"]["username"] == "web-flow"
    assert payload["head_commit"]["author"]["username"] == MERGER
    assert payload["pusher"]["name"] == MERGER and payload["sender"]["login"] == MERGER


def test_squash_writes_one_commit_by_the_pull_request_author_with_every_message(
    sandbox: GitHubSandbox,
    merger: GhRepository,
    opener: Github,
    clone: git.Repo,
    bare: git.Repo,
    receiver: WebhookReceiver,
) -> None:
    _, main_before = feature_branch(clone, sandbox)
    number = open_pull(opener, "feature", "Add a and b").number

    result = merger.get_pull(number).merge(merge_method="squash")

    head = bare.heads.main.commit
    assert head.hexsha == result.sha and [p.hexsha for p in head.parents] == [main_before]
    assert (head.author.name, head.author.email) == (OPENER, f"{OPENER}@users.noreply.github.com")
    assert head.committer.name == "GitHub"
    assert message(head) == "Add a and b (#1)\n\n* Add a\n\n* Add b\n\nBecause b."
    files = set(bare.git.ls_tree("-r", "--name-only", head.hexsha).split())
    assert files == {"README.md", "apps/web/a.yaml", "apps/web/b.yaml", "apps/web/deploy.yaml"}
    pull = merger.get_pull(number)
    assert pull.merged and pull.merge_commit_sha == result.sha

    payload = receiver.push_to(MAIN, result.sha)
    assert [(c["id"], c["distinct"]) for c in payload["commits"]] == [(result.sha, True)]
    assert payload["head_commit"]["added"] == ["apps/web/a.yaml", "apps/web/b.yaml"]


def test_squash_of_one_commit_takes_its_message_unless_told_otherwise(
    sandbox: GitHubSandbox, merger: GhRepository, opener: Github, clone: git.Repo, bare: git.Repo
) -> None:
    push_change(clone, "one", "apps/web/deploy.yaml", "replicas: 2\n", "Scale web\n\nBusy day.")
    first = open_pull(opener, "one", "Scale web up").number
    merger.get_pull(first).merge(merge_method="squash")
    assert message(bare.heads.main.commit) == "Scale web (#1)\n\nBusy day."

    push_change(clone, "two", "apps/web/deploy.yaml", "replicas: 3\n", "Scale again")
    second = open_pull(opener, "two", "Scale web more").number
    merger.get_pull(second).merge(
        merge_method="squash", commit_title="Web to 3", commit_message="For the sale."
    )
    assert message(bare.heads.main.commit) == "Web to 3\n\nFor the sale."


def test_rebase_replays_each_commit_with_new_shas_keeping_authors(
    sandbox: GitHubSandbox,
    merger: GhRepository,
    opener: Github,
    clone: git.Repo,
    bare: git.Repo,
    receiver: WebhookReceiver,
) -> None:
    feature, main_before = feature_branch(clone, sandbox)
    number = open_pull(opener, "feature", "Add a and b").number
    pull = merger.get_pull(number)
    assert pull.mergeable is True and pull.rebaseable is True

    result = pull.merge(merge_method="rebase", commit_title="ignored for a rebase")

    head = bare.heads.main.commit
    replayed = [head.parents[0], head]
    assert head.hexsha == result.sha
    assert [p.hexsha for p in replayed[0].parents] == [main_before]
    assert not {c.hexsha for c in replayed} & set(feature)
    originals = [bare.commit(sha) for sha in feature]
    for new, old in zip(replayed, originals, strict=True):
        assert message(new) == message(old)
        assert (new.author.name, new.author.email) == (ACTOR.name, ACTOR.email)
        assert new.authored_datetime == AUTHORED_AT
        assert new.author_tz_offset == old.author_tz_offset
        assert (new.committer.name, new.committer.email) == (
            MERGER,
            f"{MERGER}@users.noreply.github.com",
        )
        assert bare.git.diff(old.parents[0], old) == bare.git.diff(new.parents[0], new)
    assert bare.git.ls_tree("-r", head.hexsha, "README.md")  # main's own commit kept

    merged = merger.get_pull(number)
    assert merged.merged and merged.merged_by.login == MERGER
    assert merged.merge_commit_sha == result.sha
    assert [c.sha for c in merged.get_commits()] == feature  # the pull request's own commits

    payload = receiver.push_to(MAIN, result.sha)
    assert payload["before"] == main_before and payload["forced"] is False
    commits = [(c["id"], c["distinct"]) for c in payload["commits"]]
    assert commits == [(replayed[0].hexsha, True), (result.sha, True)]
    assert payload["head_commit"]["committer"]["username"] == MERGER
    assert payload["head_commit"]["author"]["email"] == ACTOR.email


def test_rebase_drops_a_merge_of_main_into_the_branch(
    sandbox: GitHubSandbox, merger: GhRepository, opener: Github, clone: git.Repo, bare: git.Repo
) -> None:
    feature, _ = feature_branch(clone, sandbox)
    clone.remotes.origin.fetch()
    clone.git.merge("origin/main", "--no-edit")
    clone.remotes.origin.push("feature:refs/heads/feature").raise_if_error()
    number = open_pull(opener, "feature", "Add a and b").number

    result = merger.get_pull(number).merge(merge_method="rebase")

    new = list(bare.iter_commits(f"{feature[0]}~1..{result.sha}", first_parent=True))
    assert all(len(c.parents) == 1 for c in new)
    assert [message(c) for c in new[:2]] == ["Add b\n\nBecause b.", "Add a"]


def test_rebase_refused_when_a_commit_conflicts_on_the_way(
    sandbox: GitHubSandbox, merger: GhRepository, opener: Github, clone: git.Repo, bare: git.Repo
) -> None:
    # The branch changes a line and changes it back; main changed that line meanwhile. A
    # merge sees no change on the branch's side, a replay of the first commit conflicts.
    push_change(clone, "flip", "apps/web/deploy.yaml", "replicas: 2\n", "Two")
    push_change(clone, "flip", "apps/web/deploy.yaml", "replicas: 1\n", "Back to one")
    push_change(clone, "flip", "apps/web/extra.yaml", "x: 1\n", "Extra")
    sandbox.commit_files(OWNER, NAME, "main", {"apps/web/deploy.yaml": "replicas: 5\n"}, "Five")
    main_before = bare.heads.main.commit.hexsha
    number = open_pull(opener, "flip", "Flip").number
    pull = merger.get_pull(number)
    assert pull.mergeable is True and pull.rebaseable is False

    with pytest.raises(GithubException) as refused:
        pull.merge(merge_method="rebase")

    assert refused.value.status == 405
    assert refused.value.data["message"] == "This branch can't be rebased"
    assert bare.heads.main.commit.hexsha == main_before
    assert merger.get_pull(number).state == "open"
    assert pull.merge(merge_method="merge").merged


def test_rebase_refused_when_a_commit_is_already_on_the_base(
    sandbox: GitHubSandbox, merger: GhRepository, opener: Github, clone: git.Repo, bare: git.Repo
) -> None:
    push_change(clone, "dup", "apps/web/deploy.yaml", "replicas: 3\n", "Three")
    push_change(clone, "dup", "apps/web/extra.yaml", "x: 1\n", "Extra")
    sandbox.commit_files(OWNER, NAME, "main", {"apps/web/deploy.yaml": "replicas: 3\n"}, "Three")
    number = open_pull(opener, "dup", "Three and extra").number
    pull = merger.get_pull(number)
    assert pull.mergeable is True and pull.rebaseable is False

    with pytest.raises(GithubException) as refused:
        pull.merge(merge_method="rebase")

    assert (refused.value.status, refused.value.data["message"]) == (
        405,
        "This branch can't be rebased",
    )
    assert merger.get_pull(number).merged is False


def test_methods_the_repository_does_not_allow_answer_405(
    sandbox: GitHubSandbox, merger: GhRepository, opener: Github, clone: git.Repo
) -> None:
    merger.edit(allow_rebase_merge=False, allow_merge_commit=False)
    assert merger.allow_rebase_merge is False and merger.allow_merge_commit is False
    assert merger.allow_squash_merge is True
    push_change(clone, "feature", "apps/web/a.yaml", "a: 1\n", "Add a")
    pull = merger.get_pull(open_pull(opener, "feature", "Add a").number)

    for method, text in (
        ("rebase", "Rebase merges are not allowed on this repository."),
        ("merge", "Merge commits are not allowed on this repository."),
    ):
        with pytest.raises(GithubException) as refused:
            pull.merge(merge_method=method)
        assert (refused.value.status, refused.value.data["message"]) == (405, text)
    with pytest.raises(GithubException) as unknown:
        pull.merge(merge_method="fast-forward")
    assert unknown.value.status == 422
    assert pull.merge(merge_method="squash").merged


def test_a_repository_can_start_with_some_methods_only(sandbox: GitHubSandbox) -> None:
    sandbox.create_repo(OWNER, "squash-only", files={"a": "1\n"}, merge_methods=["squash"])
    g = client(sandbox, MERGER_TOKEN)
    try:
        repo = g.get_repo(f"{OWNER}/squash-only")
        allowed = (repo.allow_merge_commit, repo.allow_squash_merge, repo.allow_rebase_merge)
        assert allowed == (False, True, False)
    finally:
        g.close()
    with pytest.raises(ValueError, match="fast-forward"):
        sandbox.create_repo(OWNER, "other", merge_methods=["fast-forward"])
