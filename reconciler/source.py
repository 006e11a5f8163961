"""Git repositories as a source of files: fetch, resolve a revision, read a path at a commit.

The only module that imports GitPython. One bare, mirror-like clone per repository URL lives
under ``cache_dir`` (the folder is named from a hash of the URL) and is shared by every app that
uses the repository. Files are read straight from the object database by walking the commit's
tree, so there is no working tree for two apps at different revisions to fight over. A lock per
repository (a thread lock plus an ``flock`` for other processes sharing the cache) serialises
fetches and reads.

Fetches use ``--prune --prune-tags``: branches land in ``refs/remotes/origin/*``, tags in
``refs/tags/*``; the remote's default branch (``HEAD``) is recorded with ``git remote set-head
--auto`` when the clone is made and again whenever it cannot be resolved. Credentials are handed
to each git command through its environment (see ``reconciler.source_auth``); stored URLs,
messages and errors never carry them. GitPython's errors become
:class:`~reconciler.errors.SourceError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import posixpath
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import git

from reconciler.errors import SourceError
from reconciler.settings import RepoCredential
from reconciler.source_auth import GitAuth, auth_for, git_env, scrub

DEFAULT_FETCH_TIMEOUT = 300.0
_SYMLINK_MODE = 0o120000
_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
_BAD_REVISION = re.compile(r"(^-)|\.\.|[\x00-\x20\x7f~^:?*\[\\]|@\{")
_REFSPECS = ("+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")


@dataclass(frozen=True)
class CommitInfo:
    """A commit's metadata, for notifications, history and rollback."""

    sha: str
    author_name: str
    author_email: str
    date: str  # ISO 8601 with the author's UTC offset
    message: str

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def title(self) -> str:
        """The first line of the message."""
        return self.message.splitlines()[0] if self.message else ""


@dataclass
class _Cached:
    """One repository's clone, lock and auth."""

    url: str
    auth: GitAuth
    path: Path
    lock: threading.RLock = field(default_factory=threading.RLock)
    repo: git.Repo | None = None
    key_file: str = ""
    just_cloned: bool = False  # the clone's own fetch stands in for one its caller asks for


def _stderr_of(exc: git.GitCommandError) -> str:
    """Git's message on one line, without GitPython's ``stderr: '...'`` wrapping."""
    text = str(exc.stderr or "").strip()
    text = re.sub(r"^stderr:\s*'?", "", text).rstrip("'").strip()
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return text or f"git exited with status {exc.status}"


def repo_dir_name(url: str) -> str:
    """The cache folder name for a (userinfo-free) URL: a hash, plus the repo's base name."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    base = re.sub(r"[^A-Za-z0-9._-]", "_", url.rstrip("/").rsplit("/", 1)[-1])[:40]
    return f"{digest}-{base or 'repo'}"


def check_revision(revision: str) -> str:
    """``revision`` if it is safe to hand to git as a ref name or SHA; SourceError if not."""
    if _BAD_REVISION.search(revision):
        raise SourceError(f"invalid revision {revision!r}")
    return revision


class GitSource:
    """Cached Git repositories shared by every app; thread-safe.

    ``credentials`` are the settings' repository credentials; the one with the longest
    matching URL prefix applies to a repository.
    """

    def __init__(
        self,
        cache_dir: Path,
        credentials: Sequence[RepoCredential] = (),
        *,
        fetch_timeout: float = DEFAULT_FETCH_TIMEOUT,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.fetch_timeout = fetch_timeout
        self.fetch_count = 0  # fetches run so far, for tests and metrics
        self._credentials = tuple(credentials)
        self._repos: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self._key_dir: str = ""

    # -- public API -----------------------------------------------------------------------

    def resolve(self, repo_url: str, revision: str, fetch: bool = True) -> str:
        """The full SHA of the commit ``revision`` names: a branch, a tag, a full or short SHA,
        or HEAD (the remote's default branch; also for ""). Fetches first unless ``fetch`` is
        False (a clone is still made if there is none)."""
        revision = check_revision(revision.strip())
        with self._using(repo_url, "resolve " + (revision or "HEAD")) as (cached, repo):
            if fetch and not cached.just_cloned:
                self._fetch(cached, repo)
            return self._resolve_local(cached, repo, revision)

    def fetch(self, repo_url: str) -> None:
        """Bring the cached clone up to date with the remote."""
        with self._using(repo_url, "fetch") as (cached, repo):
            if not cached.just_cloned:
                self._fetch(cached, repo)

    def read_tree(self, repo_url: str, commit: str, path: str) -> dict[str, bytes]:
        """Every file under ``path`` at ``commit``, keyed relative to ``path`` with posix
        separators (symbolic links and submodules left out)."""
        clean = posixpath.normpath((path or ".").strip().lstrip("/") or ".")
        if clean == ".." or clean.startswith("../"):
            raise SourceError(f"path {path!r} leaves the repository")
        with self._using(repo_url, f"read {clean}") as (cached, repo):
            tree = self._commit(cached, repo, commit).tree
            if clean != ".":
                try:
                    item = tree / clean
                except KeyError:
                    raise SourceError(
                        f"path {clean!r} does not exist in {cached.url} at {commit[:12]}"
                    ) from None
                if not isinstance(item, git.Tree):
                    raise SourceError(f"path {clean!r} in {cached.url} is not a directory")
                tree = item
            files: dict[str, bytes] = {}
            prefix = len(str(tree.path)) + 1 if tree.path else 0
            for entry in tree.traverse():
                if isinstance(entry, git.Blob) and entry.mode != _SYMLINK_MODE:
                    files[str(entry.path)[prefix:]] = entry.data_stream.read()
            return files

    def commit_info(self, repo_url: str, commit: str) -> CommitInfo:
        """Author, date and message of a commit already in the cache (SHA or ref)."""
        with self._using(repo_url, f"read commit {commit}") as (cached, repo):
            return _info(self._commit(cached, repo, commit))

    def commits_between(
        self, repo_url: str, old: str, new: str, limit: int | None = None
    ) -> list[CommitInfo]:
        """Commits reachable from ``new`` but not from ``old``, newest first (``git log
        old..new``); at most ``limit`` of them when given."""
        with self._using(repo_url, f"list commits {old}..{new}") as (cached, repo):
            old_sha = self._commit(cached, repo, old).hexsha
            new_sha = self._commit(cached, repo, new).hexsha
            commits = repo.iter_commits(f"{old_sha}..{new_sha}", max_count=limit)
            return [_info(commit) for commit in commits]

    def close(self) -> None:
        """Stop git helper processes and remove temporary key files."""
        with self._lock:
            for cached in self._repos.values():
                with cached.lock:
                    if cached.repo is not None:
                        cached.repo.close()
                        cached.repo = None
            self._repos.clear()
            if self._key_dir:
                shutil.rmtree(self._key_dir, ignore_errors=True)
                self._key_dir = ""

    # -- internals ------------------------------------------------------------------------

    def _entry(self, repo_url: str) -> _Cached:
        url = repo_url.strip()
        if url and "://" not in url and not re.match(r"^[\w.-]+@[^:/]+:", url):
            local = Path(url).expanduser()
            if local.exists():
                url = str(local.resolve())
        clean, auth = auth_for(url, self._credentials)
        if not clean:
            raise SourceError("empty repository URL")
        with self._lock:
            cached = self._repos.get(clean)
            if cached is None:
                cached = _Cached(clean, auth, self.cache_dir / repo_dir_name(clean))
                if auth.ssh_key_text:
                    cached.key_file = self._write_key(auth.ssh_key_text)
                self._repos[clean] = cached
            return cached

    def _write_key(self, text: str) -> str:
        if not self._key_dir:
            self._key_dir = tempfile.mkdtemp(prefix="kajitori-ssh-")
        fd, name = tempfile.mkstemp(dir=self._key_dir, suffix=".key")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
        os.chmod(name, 0o600)
        return name

    @contextlib.contextmanager
    def _using(self, repo_url: str, action: str) -> Iterator[tuple[_Cached, git.Repo]]:
        """The repository locked for this thread and process, errors mapped to SourceError."""
        cached = self._entry(repo_url)
        secrets = cached.auth.secrets()
        with cached.lock:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            lock_path = cached.path.with_name(cached.path.name + ".lock")
            with open(lock_path, "a+b") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    yield cached, self._open(cached)
                except SourceError as exc:
                    raise SourceError(scrub(str(exc), secrets)) from None
                except git.GitCommandError as exc:
                    detail = scrub(_stderr_of(exc), secrets)
                    raise SourceError(f"cannot {action} in {cached.url}: {detail}") from None
                except (git.GitError, ValueError, OSError) as exc:
                    detail = scrub(str(exc) or type(exc).__name__, secrets)
                    raise SourceError(f"cannot {action} in {cached.url}: {detail}") from None
                finally:
                    cached.just_cloned = False
                    fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _open(self, cached: _Cached) -> git.Repo:
        if cached.repo is not None:
            return cached.repo
        if (cached.path / "HEAD").is_file():
            cached.repo = git.Repo(cached.path)
            return cached.repo
        staging = Path(tempfile.mkdtemp(prefix=cached.path.name + ".", dir=self.cache_dir))
        try:
            repo = git.Repo.init(staging, bare=True)
            repo.git.remote("add", "--no-tags", "origin", cached.url)
            writer = repo.config_writer()
            try:
                writer.set_value('remote "origin"', "fetch", _REFSPECS[0])
                writer.add_value('remote "origin"', "fetch", _REFSPECS[1])
            finally:
                writer.release()
            repo.close()
            if cached.path.exists():
                shutil.rmtree(cached.path)
            staging.rename(cached.path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        repo = git.Repo(cached.path)
        cached.repo = repo
        self._fetch(cached, repo)
        self._set_head(cached, repo)
        cached.just_cloned = True
        return repo

    def _network_env(self, cached: _Cached) -> dict[str, str]:
        return git_env(cached.auth, cached.key_file)

    def _fetch(self, cached: _Cached, repo: git.Repo) -> None:
        with self._lock:
            self.fetch_count += 1
        repo.git.fetch(
            "--prune",
            "--prune-tags",
            "--force",
            "--no-write-fetch-head",
            "origin",
            env=self._network_env(cached),
            kill_after_timeout=self.fetch_timeout,
        )

    def _set_head(self, cached: _Cached, repo: git.Repo) -> bool:
        """Record the remote's default branch; False where the remote HEAD names no branch."""
        try:
            repo.git.remote(
                "set-head",
                "origin",
                "--auto",
                env=self._network_env(cached),
                kill_after_timeout=self.fetch_timeout,
            )
        except git.GitCommandError:
            return False
        return True

    def _rev_parse(self, repo: git.Repo, name: str) -> str | None:
        try:
            sha = repo.git.rev_parse("--verify", "--quiet", f"{name}^{{commit}}")
        except git.GitCommandError:
            return None
        return str(sha).strip() or None

    def _resolve_local(self, cached: _Cached, repo: git.Repo, revision: str) -> str:
        if revision in ("", "HEAD"):
            sha = self._rev_parse(repo, "refs/remotes/origin/HEAD")
            if sha is None and self._set_head(cached, repo):
                sha = self._rev_parse(repo, "refs/remotes/origin/HEAD")
            if sha is None:
                raise SourceError(f"{cached.url}: the remote's HEAD does not name a branch")
            return sha
        candidates: list[str] = []
        if revision.startswith("refs/heads/"):
            candidates.append("refs/remotes/origin/" + revision.removeprefix("refs/heads/"))
        elif revision.startswith("refs/tags/"):
            candidates.append(revision)
        else:
            candidates += [f"refs/remotes/origin/{revision}", f"refs/tags/{revision}"]
        for name in candidates:
            sha = self._rev_parse(repo, name)
            if sha is not None:
                return sha
        if _HEX.match(revision):
            return self._resolve_sha(cached, repo, revision)
        raise SourceError(
            f"revision {revision!r} not found in {cached.url} (no such branch, tag or commit)"
        )

    def _resolve_sha(self, cached: _Cached, repo: git.Repo, revision: str) -> str:
        try:
            sha = repo.git.rev_parse("--verify", f"{revision}^{{commit}}")
            return str(sha).strip()
        except git.GitCommandError as exc:
            if "ambiguous" in _stderr_of(exc):
                raise SourceError(
                    f"short SHA {revision!r} is ambiguous in {cached.url}; give more digits"
                ) from None
        if len(revision) == 40:
            # A commit no branch or tag reaches: ask for it by id (most servers allow it).
            with contextlib.suppress(git.GitCommandError):
                repo.git.fetch(
                    "origin",
                    revision,
                    "--no-write-fetch-head",
                    env=self._network_env(cached),
                    kill_after_timeout=self.fetch_timeout,
                )
                sha = self._rev_parse(repo, revision)
                if sha is not None:
                    return sha
        raise SourceError(f"commit {revision!r} not found in {cached.url}")

    def _commit(self, cached: _Cached, repo: git.Repo, rev: str) -> git.Commit:
        rev = check_revision(rev.strip())
        sha = self._rev_parse(repo, rev) if len(rev) == 40 and _HEX.match(rev) else None
        if sha is None:
            sha = self._resolve_local(cached, repo, rev)
        return repo.commit(sha)


def _info(commit: git.Commit) -> CommitInfo:
    message = commit.message
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return CommitInfo(
        sha=commit.hexsha,
        author_name=str(commit.author.name or ""),
        author_email=str(commit.author.email or ""),
        date=commit.authored_datetime.isoformat(),
        message=text.rstrip("\n"),
    )
