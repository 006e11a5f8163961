"""What the GitHub stand-in remembers besides Git: repositories, pull requests, commit
statuses and issue comments, in memory behind one lock.

Git data (branches, commits) lives in the bare repositories themselves and is read from there
on every request; this module keeps only what GitHub adds on top. Names of owners and
repositories are matched case-insensitively, as on GitHub.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sandbox.github_git import GitRepo
from sandbox.github_http import not_found

MERGE_METHODS: tuple[str, ...] = ("merge", "squash", "rebase")
"""GitHub's merge methods, in the order its merge button lists them."""

_NAME_RE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def check_name(kind: str, name: str) -> str:
    """An owner or repository name, or ValueError naming what is wrong with it."""
    if not name or not set(name) <= _NAME_RE_CHARS or name in (".", "..") or len(name) > 100:
        raise ValueError(f"invalid {kind} name {name!r}: use letters, digits, '-', '_' and '.'")
    return name


class PushSink(Protocol):
    """Told about every ref change, whoever made it (the API, a merge or a ``git push``)."""

    def pushed(self, repo: Repository, ref: str, before: str, after: str, pusher: str) -> None:
        """``ref`` moved from ``before`` to ``after`` (ZERO_SHA: created / deleted)."""


@dataclass
class CommitStatus:
    """One commit status as posted (GitHub keeps every one; the newest per context wins)."""

    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: float


@dataclass
class IssueComment:
    """A comment on an issue or pull request conversation."""

    id: int
    number: int
    body: str
    user: str
    created_at: float
    updated_at: float


@dataclass
class PullRequest:
    """A pull request between two branches of the same repository.

    While open, its head and base shas follow the branches; closing or merging freezes them.
    """

    id: int
    number: int
    title: str
    body: str | None
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    user: str
    created_at: float
    updated_at: float
    draft: bool = False
    maintainer_can_modify: bool = False
    state: str = "open"
    closed_at: float | None = None
    merged_at: float | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None


@dataclass
class Repository:
    """A repository: its bare Git repository plus GitHub's own records. ``merge_methods``
    are the merge methods its settings allow (``allow_merge_commit`` and so on)."""

    id: int
    owner: str
    name: str
    path: Path
    created_at: float
    description: str | None = None
    default_branch: str = "main"
    pushed_at: float = 0.0
    merge_methods: tuple[str, ...] = MERGE_METHODS
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    next_number: int = 1
    statuses: list[CommitStatus] = field(default_factory=list)
    comments: list[IssueComment] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    @property
    def git(self) -> GitRepo:
        """The bare repository."""
        return GitRepo(self.path)


class Store:
    """Every repository under ``root`` (``root/<owner>/<name>.git``) and the id counters.

    ``lock`` serialises whole requests that change state or Git, so a merge and a push
    notification never interleave.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.RLock()
        self._repos: dict[tuple[str, str], Repository] = {}
        self._ids = itertools.count(1000)

    def new_id(self) -> int:
        """A fresh numeric id (unique across every kind of object)."""
        with self.lock:
            return next(self._ids)

    def path_for(self, owner: str, name: str) -> Path:
        """Where the bare repository of ``owner/name`` lives."""
        return self.root / check_name("owner", owner) / f"{check_name('repository', name)}.git"

    def create(
        self,
        owner: str,
        name: str,
        description: str | None = None,
        default_branch: str = "main",
    ) -> Repository:
        """Make (or adopt, when it already exists on disk) the repository ``owner/name``."""
        with self.lock:
            key = (owner.lower(), name.lower())
            if key in self._repos:
                raise ValueError(f"repository {owner}/{name} already exists")
            path = self.path_for(owner, name)
            if not (path / "HEAD").is_file():
                GitRepo.init_bare(path, default_branch)
            now = time.time()
            repo = Repository(
                self.new_id(),
                owner,
                name,
                path,
                now,
                description,
                default_branch=default_branch,
                pushed_at=now,
            )
            self._repos[key] = repo
            return repo

    def adopt_existing(self) -> list[Repository]:
        """Register bare repositories already under ``root`` (from an earlier run)."""
        found: list[Repository] = []
        if not self.root.is_dir():
            return found
        for path in sorted(self.root.glob("*/*.git")):
            owner, name = path.parent.name, path.name[: -len(".git")]
            if (path / "HEAD").is_file() and self.find(owner, name) is None:
                try:
                    found.append(self.create(owner, name))
                except ValueError:
                    continue
        return found

    def find(self, owner: str, name: str) -> Repository | None:
        """The repository, or None."""
        with self.lock:
            return self._repos.get((owner.lower(), name.lower()))

    def get(self, owner: str, name: str) -> Repository:
        """The repository, or a 404 Not Found API error."""
        repo = self.find(owner, name)
        if repo is None:
            raise not_found()
        return repo

    def repositories(self) -> list[Repository]:
        """Every repository, in creation order."""
        with self.lock:
            return list(self._repos.values())

    def remove_all(self) -> None:
        """Forget every repository and delete its bare repository from disk."""
        with self.lock:
            for repo in self._repos.values():
                shutil.rmtree(repo.path, ignore_errors=True)
            self._repos.clear()
