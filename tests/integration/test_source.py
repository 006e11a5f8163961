"""GitSource and ManifestLoader over real local Git repositories (bare remotes in tmp_path)."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from reconciler.errors import RenderError, SourceError
from reconciler.manifests import ManifestLoader
from reconciler.model import Application, ApplicationSource, ApplicationSpec, Destination
from reconciler.settings import RepoCredential, Secret
from reconciler.source import GitSource

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Ada Author",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada Author",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def cm(name: str, value: str = "1") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: '{value}'\n"


class Remote:
    """A bare repository (the 'remote') and a working clone used to push commits to it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "remote.git"
        self.work = root / "work"
        self.git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=root)
        self.git("init", "-q", "-b", "main", str(self.work), cwd=root)
        self.git("remote", "add", "origin", str(self.bare))

    def git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd or self.work,
            env=GIT_ENV,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def commit(self, files: dict[str, str | None], message: str, branch: str = "main") -> str:
        """Commit ``files`` (None deletes) on ``branch`` and push; the new SHA."""
        self.git("checkout", "-q", "-B", branch)
        for name, text in files.items():
            target = self.work / name
            if text is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", "-f", "origin", branch)
        return self.git("rev-parse", "HEAD")

    @property
    def url(self) -> str:
        return str(self.bare)


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[GitSource]:
    git = GitSource(tmp_path / "cache")
    yield git
    git.close()


def app(name: str, url: str, path: str, revision: str = "HEAD") -> Application:
    return Application(
        name=name,
        spec=ApplicationSpec(
            source=ApplicationSource(repo_url=url, path=path, target_revision=revision),
            destination=Destination(namespace="default"),
        ),
    )


def test_resolves_branches_tags_shas_and_head(remote: Remote, source: GitSource) -> None:
    first = remote.commit({"app/a.yaml": cm("a")}, "first")
    remote.git("tag", "v1")
    remote.git("tag", "-a", "v1-annotated", "-m", "release 1")
    remote.git("push", "-q", "origin", "--tags")
    second = remote.commit({"app/a.yaml": cm("a", "2")}, "second")
    feature = remote.commit({"app/b.yaml": cm("b")}, "feature work", branch="feature")

    assert source.resolve(remote.url, "main") == second
    assert source.resolve(remote.url, "refs/heads/main") == second
    assert source.resolve(remote.url, "feature") == feature
    assert source.resolve(remote.url, "v1") == first
    assert source.resolve(remote.url, "v1-annotated") == first  # peeled to the commit
    assert source.resolve(remote.url, "refs/tags/v1") == first
    assert source.resolve(remote.url, first) == first
    assert source.resolve(remote.url, first[:7]) == first
    assert source.resolve(remote.url, "HEAD") == second
    assert source.resolve(remote.url, "") == second
    assert source.resolve(f"file://{remote.url}", "main") == second


def test_new_commits_are_seen_after_a_fetch_only(remote: Remote, source: GitSource) -> None:
    first = remote.commit({"a.yaml": cm("a")}, "first")
    assert source.resolve(remote.url, "main") == first
    second = remote.commit({"a.yaml": cm("a", "2")}, "second")
    assert source.resolve(remote.url, "main", fetch=False) == first
    assert source.resolve(remote.url, "main") == second


def test_deleted_branches_are_pruned(remote: Remote, source: GitSource) -> None:
    remote.commit({"a.yaml": cm("a")}, "first")
    remote.commit({"b.yaml": cm("b")}, "topic", branch="topic")
    source.resolve(remote.url, "topic")
    remote.git("push", "-q", "origin", "--delete", "topic")
    with pytest.raises(SourceError, match="'topic' not found"):
        source.resolve(remote.url, "topic")


def test_unknown_and_unsafe_revisions(remote: Remote, source: GitSource) -> None:
    remote.commit({"a.yaml": cm("a")}, "first")
    with pytest.raises(SourceError, match="'nope' not found"):
        source.resolve(remote.url, "nope")
    with pytest.raises(SourceError, match="not found"):
        source.resolve(remote.url, "0" * 40)
    for bad in ("--upload-pack=touch x", "main..feature", "a b"):
        with pytest.raises(SourceError, match="invalid revision"):
            source.resolve(remote.url, bad)


def test_head_naming_no_branch_is_a_clear_error(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    remote.commit({"a.yaml": cm("a")}, "on trunk", branch="trunk")  # remote HEAD -> main: absent
    git = GitSource(tmp_path / "cache2")
    with pytest.raises(SourceError, match="HEAD does not name a branch"):
        git.resolve(remote.url, "HEAD")
    assert git.resolve(remote.url, "trunk")
    git.close()


def test_read_tree_at_a_commit(remote: Remote, source: GitSource) -> None:
    old = remote.commit(
        {
            "apps/web/a.yaml": cm("a"),
            "apps/web/sub/b.yaml": cm("b"),
            "apps/db/c.yaml": cm("c"),
            "README.md": "hi\n",
        },
        "first",
    )
    os.symlink("a.yaml", remote.work / "apps/web/link.yaml")
    new = remote.commit({"apps/web/a.yaml": cm("a", "new")}, "second")
    source.resolve(remote.url, "main")

    files = source.read_tree(remote.url, new, "apps/web")
    assert set(files) == {"a.yaml", "sub/b.yaml"}  # the symbolic link is left out
    assert b"'new'" in files["a.yaml"]
    assert b"'1'" in source.read_tree(remote.url, old, "./apps/web/")["a.yaml"]
    everything = source.read_tree(remote.url, new, ".")
    assert {"README.md", "apps/db/c.yaml", "apps/web/sub/b.yaml"} <= set(everything)
    with pytest.raises(SourceError, match="'apps/nope' does not exist"):
        source.read_tree(remote.url, new, "apps/nope")
    with pytest.raises(SourceError, match="not a directory"):
        source.read_tree(remote.url, new, "README.md")
    with pytest.raises(SourceError, match="leaves the repository"):
        source.read_tree(remote.url, new, "../etc")


def test_commit_info_and_commits_between(remote: Remote, source: GitSource) -> None:
    first = remote.commit({"a.yaml": cm("a")}, "first\n\nwith a body")
    second = remote.commit({"a.yaml": cm("a", "2")}, "second")
    third = remote.commit({"a.yaml": cm("a", "3")}, "third")
    source.resolve(remote.url, "main")

    info = source.commit_info(remote.url, first)
    assert (info.sha, info.author_name, info.author_email) == (
        first,
        "Ada Author",
        "ada@example.org",
    )
    assert info.message == "first\n\nwith a body"
    assert info.title == "first"
    assert info.date[:2] == "20" and "T" in info.date  # ISO 8601
    assert source.commit_info(remote.url, "main").sha == third

    between = source.commits_between(remote.url, first, third)
    assert [c.sha for c in between] == [third, second]
    assert source.commits_between(remote.url, first[:8], "main", limit=1)[0].sha == third
    assert source.commits_between(remote.url, third, third) == []
    assert source.commits_between(remote.url, third, first) == []  # a rollback adds nothing


def test_two_apps_on_one_repo_at_different_revisions(
    remote: Remote, source: GitSource, tmp_path: Path
) -> None:
    remote.commit({"web/cm.yaml": cm("web", "old")}, "web v1")
    remote.git("tag", "v1")
    remote.git("push", "-q", "origin", "v1")
    remote.commit({"web/cm.yaml": cm("web", "new")}, "web v2")
    loader = ManifestLoader(source)
    pinned = app("pinned", remote.url, "web", "v1")
    tracking = app("tracking", remote.url, "web", "main")

    def value(application: Application) -> str:
        return str(loader.load(application).objects[0]["data"]["v"])

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(value, [pinned, tracking] * 6))
    assert results == ["old", "new"] * 6
    clones = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    assert len(clones) == 1  # one cached clone shared by both apps
    assert not (clones[0] / "web").exists()  # bare: no working tree


def test_a_poll_with_nothing_new_does_not_render_again(remote: Remote, source: GitSource) -> None:
    remote.commit({"web/cm.yaml": cm("web")}, "first")
    loader = ManifestLoader(source)
    web = app("web", remote.url, "web")
    first = loader.load(web)
    fetches = source.fetch_count
    again = loader.load(web)
    assert (loader.render_count, source.fetch_count) == (1, fetches + 1)
    assert again == first and again.objects is not first.objects
    again.objects[0]["data"]["v"] = "changed by a caller"
    assert loader.load(web).objects[0]["data"]["v"] == "1"

    second = remote.commit({"web/cm.yaml": cm("web", "2")}, "second")
    changed = loader.load(web)
    assert loader.render_count == 2
    assert changed.commit.sha == second and changed.commit.message == "second"
    other_namespace = app("web", remote.url, "web")
    other_namespace = Application(
        name="web",
        spec=ApplicationSpec(
            source=other_namespace.spec.source, destination=Destination(namespace="other")
        ),
    )
    loader.load(other_namespace)
    assert loader.render_count == 3  # different options, different render
    assert loader.load(web, revision=second).commit.sha == second
    assert loader.render_count == 3


def test_render_errors_are_cached_and_name_the_file(remote: Remote, source: GitSource) -> None:
    broken = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a: b\n"
    remote.commit({"web/cm.yaml": cm("web") + broken}, "broken")
    loader = ManifestLoader(source)
    web = app("web", remote.url, "web")
    for _ in range(2):
        with pytest.raises(RenderError) as raised:
            loader.load(web)
        assert raised.value.file == "web/cm.yaml"
        assert raised.value.line == 11
    assert loader.render_count == 1


class _AuthRecorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        self.send_response(403)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def http_server() -> Iterator[str]:
    _AuthRecorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuthRecorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_https_token_is_sent_as_a_header_and_never_shown(http_server: str, tmp_path: Path) -> None:
    url = f"{http_server}/org/repo.git"
    token = "tok-0123456789-secret"
    git = GitSource(
        tmp_path / "cache",
        [RepoCredential(url=f"{http_server}/org", username="bot", password=Secret(token))],
    )
    with pytest.raises(SourceError) as raised:
        git.resolve(url, "main")
    git.close()
    message = str(raised.value)
    assert (
        token not in message and base64.b64encode(f"bot:{token}".encode()).decode() not in message
    )
    assert url in message
    expected = "Basic " + base64.b64encode(f"bot:{token}".encode()).decode()
    assert expected in _AuthRecorder.seen
    stored = "".join(p.read_text() for p in (tmp_path / "cache").glob("*/config"))
    assert url in stored and token not in stored


def test_userinfo_in_the_url_is_used_but_not_stored_or_shown(
    http_server: str, tmp_path: Path
) -> None:
    host = http_server.removeprefix("http://")
    git = GitSource(tmp_path / "cache")
    with pytest.raises(SourceError) as raised:
        git.resolve(f"http://deploy:pa55-word-xyz@{host}/repo.git", "main")
    git.close()
    assert "pa55-word-xyz" not in str(raised.value) and "deploy:" not in str(raised.value)
    assert "Basic " + base64.b64encode(b"deploy:pa55-word-xyz").decode() in _AuthRecorder.seen
    stored = "".join(p.read_text() for p in (tmp_path / "cache").glob("*/config"))
    assert "pa55-word-xyz" not in stored and f"http://{host}/repo.git" in stored
