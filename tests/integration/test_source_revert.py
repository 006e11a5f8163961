"""Revert branches (reconciler.source_revert) on real bare repositories: the GitHub sandbox's
(file:// URLs) and a smart-HTTP server that demands credentials."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import git
import pytest
from github import Auth, Github

from reconciler.app_commits import app_revert_target, find_app_commits
from reconciler.errors import SourceError
from reconciler.github import GitHubClient
from reconciler.revert_text import RevertRequest, revert_body, revert_title
from reconciler.settings import RepoCredential, Secret
from reconciler.source import GitSource
from reconciler.source_revert import NothingToRevert, prepare_revert_branch
from sandbox.github import GitHubSandbox
from tests.integration.git_http_helpers import git_http_server

TOKEN = "ghp-revert-test-token"
AUTHOR = "kajitori <bot@kajitori.dev>"
OWNER, NAME = "acme", "manifests"


def deploy(image: str, replicas: int = 1) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
        f"  replicas: {replicas}\n  template:\n    spec:\n      containers:\n"
        f"        - name: web\n          image: {image}\n"
    )


INITIAL = {
    "apps/web/deploy.yaml": deploy("ghcr.io/acme/web:aaa1111"),
    "apps/web/svc.yaml": "kind: Service\nmetadata:\n  name: web\n",
    "apps/api/deploy.yaml": deploy("ghcr.io/acme/api:1.0.0"),
}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GitHubSandbox]:
    with GitHubSandbox(tmp_path / "github", token=TOKEN, login="kajitori-bot") as gh:
        gh.create_repo(OWNER, NAME, files=INITIAL)
        yield gh


@pytest.fixture
def bare(sandbox: GitHubSandbox) -> git.Repo:
    return git.Repo(sandbox.repo_path(OWNER, NAME))


@pytest.fixture
def url(sandbox: GitHubSandbox) -> str:
    return sandbox.repo_path(OWNER, NAME).as_uri()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[GitSource]:
    git_source = GitSource(tmp_path / "cache")
    yield git_source
    git_source.close()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary folders go here, so a test can see none is left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def commit(sandbox: GitHubSandbox, files: dict[str, str | None], message: str) -> str:
    """Commit ``files`` (None deletes one) on main; the new SHA. Deletions go through a real
    clone and ``git push``: the sandbox's ``commit_files`` cannot delete in a bare repository."""
    if all(text is not None for text in files.values()):
        return sandbox.commit_files(OWNER, NAME, "main", files, message, author="dev-one")
    folder = Path(tempfile.mkdtemp(dir=sandbox.root.parent, prefix="pusher-"))
    work = git.Repo.clone_from(str(sandbox.repo_path(OWNER, NAME)), folder)
    actor = git.Actor("Dev One", "dev@example.com")
    for name, text in files.items():
        target = folder / name
        if text is None:
            work.index.remove([name], working_tree=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        work.index.add([name])
    sha = work.index.commit(message, author=actor, committer=actor).hexsha
    work.remotes.origin.push("main").raise_if_error()
    work.close()
    return sha


def head(bare: git.Repo, branch: str = "main") -> str:
    return bare.commit(branch).hexsha


def tree_id(bare: git.Repo, rev: str, path: str) -> str | None:
    try:
        return str(bare.git.rev_parse("--verify", "--quiet", f"{rev}:{path}")) or None
    except git.GitCommandError:
        return None


def test_reverts_the_commits_touching_the_path_and_nothing_else(
    sandbox: GitHubSandbox, bare: git.Repo, url: str, source: GitSource, private_tmp: Path
) -> None:
    target = head(bare)
    c1 = commit(
        sandbox,
        {"apps/web/deploy.yaml": deploy("ghcr.io/acme/web:bbb2222")},
        "Deploy web bbb2222\n\nApp-Commit: acme/web@ccc3333",
    )
    c2 = commit(sandbox, {"apps/api/deploy.yaml": deploy("ghcr.io/acme/api:1.1.0")}, "api 1.1")
    c3 = commit(
        sandbox, {"apps/web/extra.yaml": "kind: ConfigMap\n", "apps/web/svc.yaml": None}, "web+"
    )
    c4 = commit(
        sandbox,
        {
            "apps/web/deploy.yaml": deploy("ghcr.io/acme/web:bbb2222", replicas=3),
            "apps/api/deploy.yaml": deploy("ghcr.io/acme/api:1.2.0"),
        },
        "scale web, api 1.2",
    )
    main_before = head(bare)

    result = prepare_revert_branch(
        source,
        url,
        "main",
        target,
        "apps/web/",
        "kajitori/rollback-web-1",
        AUTHOR,
        ["Roll back web to " + target[:7], "", "Requested by @ada."],
    )

    assert [c.sha for c in result.reverted_commits] == [c4, c3, c1]
    assert c2 not in {c.sha for c in result.reverted_commits}
    assert result.reverted_commits[2].title == "Deploy web bbb2222"
    assert result.strategy == "revert"
    assert (result.base_sha, result.target_sha) == (main_before, target)
    # The branch exists on the remote; main did not move.
    assert head(bare, "kajitori/rollback-web-1") == result.head_sha
    assert head(bare) == main_before
    branch = bare.commit(result.head_sha)
    assert [p.hexsha for p in branch.parents] == [main_before]
    assert (branch.author.name, branch.author.email) == ("kajitori", "bot@kajitori.dev")
    assert str(branch.message).startswith("Roll back web to " + target[:7])
    for sha in (c1, c3, c4):
        assert f"This reverts commit {sha}." in str(branch.message)
    # The app's path is the target's again, file for file; the other app keeps its changes.
    assert tree_id(bare, result.head_sha, "apps/web") == tree_id(bare, target, "apps/web")
    assert tree_id(bare, result.head_sha, "apps/api") == tree_id(bare, main_before, "apps/api")
    assert source.read_tree(url, result.head_sha, "apps/web") == {
        "deploy.yaml": INITIAL["apps/web/deploy.yaml"].encode(),
        "svc.yaml": INITIAL["apps/web/svc.yaml"].encode(),
    }
    # What each reverted commit changed feeds the application-repository revert.
    assert [change.commit.sha for change in result.changes] == [c4, c3, c1]
    assert set(result.changes[1].files) == {"apps/web/extra.yaml", "apps/web/svc.yaml"}
    assert result.changes[1].files["apps/web/svc.yaml"][1] is None
    found = find_app_commits(result.changes)
    assert [(a.sha, a.via, a.manifest_commit) for a in found] == [
        ("ccc3333", "trailer", c1),
        ("bbb2222", "image-tag", c1),
    ]
    assert found[0].repository == "acme/web"
    assert app_revert_target(found) == "aaa1111"
    # Worked in a private clone: the temporary folder is gone.
    assert list(private_tmp.iterdir()) == []


def test_the_shared_cache_clone_is_left_as_it_was(
    sandbox: GitHubSandbox, bare: git.Repo, url: str, source: GitSource, tmp_path: Path
) -> None:
    target = head(bare)
    commit(sandbox, {"apps/web/deploy.yaml": deploy("ghcr.io/acme/web:bbb2222")}, "bump")
    source.resolve(url, "main")
    (cache,) = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    cached = git.Repo(cache)
    refs_before = cached.git.for_each_ref()

    result = prepare_revert_branch(source, url, "main", target, "apps/web", "rb", AUTHOR, [])

    assert cached.bare
    assert cached.git.for_each_ref() == refs_before
    assert "rb" not in cached.git.for_each_ref()
    # The default message names the path and the target.
    assert str(bare.commit(result.head_sha).message).startswith(f"Revert apps/web to {target[:12]}")


def test_a_conflicting_revert_falls_back_to_restoring_the_path(
    sandbox: GitHubSandbox, bare: git.Repo, url: str, source: GitSource, tmp_path: Path
) -> None:
    """An 'evil' merge changed the lines a side-branch commit changed, so that commit's
    reverse patch conflicts; the path is restored to the target's tree instead."""
    target = head(bare)
    work = git.Repo.clone_from(str(sandbox.repo_path(OWNER, NAME)), tmp_path / "work")
    actor = git.Actor("Dev One", "dev@example.com")
    work.git.checkout("-b", "feature")
    deploy_file = Path(str(work.working_tree_dir)) / "apps/web/deploy.yaml"
    deploy_file.write_text(deploy("ghcr.io/acme/web:aaa1111", replicas=2))
    work.index.add(["apps/web/deploy.yaml"])
    side = work.index.commit("two replicas", author=actor, committer=actor).hexsha
    work.git.checkout("main")
    work.git.merge("--no-ff", "--no-commit", "feature")
    deploy_file.write_text(deploy("ghcr.io/acme/web:aaa1111", replicas=5))
    work.index.add(["apps/web/deploy.yaml"])
    work.git.commit("-m", "merge feature (five replicas)", env={"GIT_AUTHOR_NAME": "Dev"})
    work.remotes.origin.push("main").raise_if_error()

    result = prepare_revert_branch(source, url, "main", target, "apps/web", "rb", AUTHOR, ["x"])

    assert result.strategy == "restore"
    assert [c.sha for c in result.reverted_commits] == [side]
    assert tree_id(bare, result.head_sha, "apps/web") == tree_id(bare, target, "apps/web")


def test_a_target_off_the_branch_is_restored(
    sandbox: GitHubSandbox, bare: git.Repo, url: str, source: GitSource
) -> None:
    start = head(bare)
    side = sandbox.commit_files(
        OWNER, NAME, "old", {"apps/web/deploy.yaml": deploy("ghcr.io/acme/web:ddd4444")}, "side"
    )
    commit(sandbox, {"apps/web/deploy.yaml": deploy("ghcr.io/acme/web:bbb2222")}, "bump")
    assert bare.is_ancestor(bare.commit(start), bare.commit(side))

    result = prepare_revert_branch(source, url, "main", side, "apps/web", "rb", AUTHOR, ["x"])

    assert result.strategy == "restore"
    assert tree_id(bare, result.head_sha, "apps/web") == tree_id(bare, side, "apps/web")


def test_a_path_missing_at_the_target_is_removed(
    sandbox: GitHubSandbox, bare: git.Repo, url: str, source: GitSource
) -> None:
    target = head(bare)
    added = commit(sandbox, {"apps/new/cm.yaml": "kind: ConfigMap\n"}, "new app")

    result = prepare_revert_branch(source, url, "main", target, "apps/new", "rb", AUTHOR, ["x"])

    assert [c.sha for c in result.reverted_commits] == [added]
    assert tree_id(bare, result.head_sha, "apps/new") is None
    assert tree_id(bare, result.head_sha, "apps/web") == tree_id(bare, target, "apps/web")


def test_nothing_to_revert_is_a_clear_error(
    sandbox: GitHubSandbox, bare: git.Repo, url: str, source: GitSource
) -> None:
    target = head(bare)
    with pytest.raises(NothingToRevert, match="nothing to revert: apps/web on main"):
        prepare_revert_branch(source, url, "main", target, "apps/web", "rb", AUTHOR, [])
    commit(sandbox, {"apps/api/deploy.yaml": deploy("ghcr.io/acme/api:2.0.0")}, "api only")
    with pytest.raises(NothingToRevert):
        prepare_revert_branch(source, url, "main", target, "apps/web", "rb", AUTHOR, [])
    # A change and its undo: the path equals the target again.
    commit(sandbox, {"apps/web/svc.yaml": "changed\n"}, "change")
    commit(sandbox, {"apps/web/svc.yaml": INITIAL["apps/web/svc.yaml"]}, "undo")
    with pytest.raises(NothingToRevert):
        prepare_revert_branch(source, url, "main", target, "apps/web", "rb", AUTHOR, [])
    assert "rb" not in [ref.name for ref in bare.branches]


def test_an_existing_branch_is_refused_unless_forced(
    sandbox: GitHubSandbox, bare: git.Repo, url: str, source: GitSource
) -> None:
    target = head(bare)
    commit(sandbox, {"apps/web/deploy.yaml": deploy("ghcr.io/acme/web:bbb2222")}, "bump")
    sandbox.commit_files(OWNER, NAME, "rb", {"other.txt": "x"}, "someone else's branch")
    with pytest.raises(SourceError, match=r"branch 'rb'.*exists"):
        prepare_revert_branch(source, url, "main", target, "apps/web", "rb", AUTHOR, [])

    result = prepare_revert_branch(
        source, url, "main", target, "apps/web", "rb", AUTHOR, [], force=True
    )
    assert head(bare, "rb") == result.head_sha


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "../etc"}, "leaves the repository"),
        ({"author": "no email"}, "Name <email>"),
        ({"branch_name": "bad..name"}, "invalid"),
        ({"branch_name": "main"}, "must differ from the base branch"),
        ({"base_branch": "nope"}, "branch 'nope' not found"),
        ({"target_revision": "no-such-tag"}, "not found"),
    ],
)
def test_bad_input_is_named(
    sandbox: GitHubSandbox,
    bare: git.Repo,
    url: str,
    source: GitSource,
    kwargs: dict[str, str],
    message: str,
) -> None:
    commit(sandbox, {"apps/web/deploy.yaml": deploy("ghcr.io/acme/web:bbb2222")}, "bump")
    arguments = {
        "base_branch": "main",
        "target_revision": bare.commit("main~1").hexsha,
        "path": "apps/web",
        "branch_name": "rb",
        "author": AUTHOR,
        **kwargs,
    }
    with pytest.raises(SourceError, match=message):
        prepare_revert_branch(
            source,
            url,
            arguments["base_branch"],
            arguments["target_revision"],
            arguments["path"],
            arguments["branch_name"],
            arguments["author"],
            [],
        )


def test_pushes_with_the_configured_credentials_and_never_shows_them(
    sandbox: GitHubSandbox, bare: git.Repo, source: GitSource, tmp_path: Path
) -> None:
    secret = "s3cret-http-password"
    target = head(bare)
    commit(sandbox, {"apps/web/deploy.yaml": deploy("ghcr.io/acme/web:bbb2222")}, "bump")
    with git_http_server(sandbox.root, "deployer", secret) as (base, seen):
        url = f"{base}/{OWNER}/{NAME}.git"
        good = GitSource(
            tmp_path / "cache-http",
            [RepoCredential(url=base, username="deployer", password=Secret(secret))],
        )
        try:
            result = prepare_revert_branch(good, url, "main", target, "apps/web", "rb", AUTHOR, [])
        finally:
            good.close()
        assert head(bare, "rb") == result.head_sha
        assert seen and all(header.startswith("Basic ") for header in seen)

        bad = GitSource(
            tmp_path / "cache-bad",
            [RepoCredential(url=base, username="deployer", password=Secret("wrong-" + secret))],
        )
        try:
            with pytest.raises(SourceError) as info:
                prepare_revert_branch(bad, url, "main", target, "apps/web", "rb2", AUTHOR, [])
        finally:
            bad.close()
        assert secret not in str(info.value)
        assert "rb2" not in [ref.name for ref in bare.branches]


def test_the_pull_request_lists_the_reverted_commits_and_merging_it_rolls_main_back(
    sandbox: GitHubSandbox, bare: git.Repo, url: str, source: GitSource
) -> None:
    target = head(bare)
    c1 = commit(sandbox, {"apps/web/deploy.yaml": deploy("ghcr.io/acme/web:bbb2222")}, "bump 1")
    c2 = commit(sandbox, {"apps/web/deploy.yaml": deploy("ghcr.io/acme/web:eee5555")}, "bump 2")
    result = prepare_revert_branch(source, url, "main", target, "apps/web", "rb", AUTHOR, ["r"])
    client = GitHubClient(
        TOKEN,
        sandbox.url,
        repository_map={url: f"{OWNER}/{NAME}"},
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    request = RevertRequest(
        app="web",
        target_sha=target,
        requested_by="@ada",
        thread_url="https://slack.example/archives/C1/p1",
        path="apps/web",
    )
    repo = client.repo_for_url(url)
    pull = client.open_pull_request(
        repo,
        result.branch,
        "main",
        revert_title(request),
        revert_body(request, result.reverted_commits, web_url=f"https://github.com/{repo}"),
    )
    client.close()

    gh = Github(
        auth=Auth.Token(TOKEN),
        base_url=sandbox.url,
        seconds_between_requests=None,
        seconds_between_writes=None,
        retry=None,
    )
    opened = gh.get_repo(repo).get_pull(pull.number)
    assert opened.title == f"Revert web manifests to {target[:7]}"
    body = opened.body or ""
    assert body.index(c2[:7]) < body.index(c1[:7])  # newest first
    assert "bump 1" in body and "bump 2" in body and "@ada" in body
    assert "https://slack.example/archives/C1/p1" in body
    opened.merge(merge_method="merge")
    gh.close()
    assert tree_id(bare, "main", "apps/web") == tree_id(bare, target, "apps/web")
