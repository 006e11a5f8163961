"""Revert branches: Git made to say again what an app's path said at an earlier revision.

Part of the Git edge with ``reconciler.source`` (the two modules that import GitPython). A
rollback in the cluster alone leaves Git wrong, and auto-sync would undo it; so
:func:`prepare_revert_branch` writes the rollback into Git as a branch a pull request can
merge:

1. a private working clone in a temporary folder borrows the shared cache clone's objects
   (``objects/info/alternates``, as ``git clone --reference`` does) and fetches the base
   branch, so the cache's refs and state are never touched and little crosses the network;
2. every non-merge commit between the target revision and the branch head that touches the
   app's path is reverted, newest first, limited to that path (its reverse patch applied with
   ``git apply --3way``), so other apps sharing the repository keep their changes;
3. the path's tree is compared with the target revision's. If a revert conflicted or the trees
   still differ (merge commits, a target that is not an ancestor), the path is instead restored
   to the target revision's tree: either way the branch's path equals the target revision's;
4. one commit (the caller's message plus ``This reverts commit <sha>.`` lines) is pushed as a
   new branch with the repository's configured credentials (``reconciler.source_auth``).
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import git

from reconciler.app_commits import MAX_SCANNED_BYTES, ManifestChange
from reconciler.errors import SourceError
from reconciler.source import CommitInfo, GitSource, check_revision
from reconciler.source_auth import scrub

_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_AUTHOR = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>\s]+)>\s*$")


class NothingToRevert(SourceError):
    """The app's path at the branch head already equals the target revision's."""


@dataclass(frozen=True)
class RevertResult:
    """The pushed revert branch: ``reverted_commits`` newest first, ``head_sha`` the revert
    commit, ``strategy`` "revert" (reverse patches applied cleanly) or "restore" (the path
    set to the target's tree in one step), and ``changes`` what each reverted commit changed
    under the path (for ``reconciler.app_commits``)."""

    branch: str
    reverted_commits: list[CommitInfo]
    head_sha: str
    base_sha: str
    target_sha: str
    strategy: Literal["revert", "restore"]
    changes: tuple[ManifestChange, ...] = ()


def parse_author(author: str) -> tuple[str, str]:
    """(name, email) from ``Name <email>``; SourceError naming the problem otherwise."""
    match = _AUTHOR.match(author)
    if match is None or not match.group("name"):
        raise SourceError(f"commit author must look like 'Name <email>', got {author!r}")
    return match.group("name"), match.group("email")


def _clean_path(path: str) -> str:
    clean = posixpath.normpath((path or ".").strip().lstrip("/") or ".")
    if clean == ".." or clean.startswith("../"):
        raise SourceError(f"path {path!r} leaves the repository")
    return clean


def _check_branch(name: str, what: str) -> str:
    try:
        git.Git().check_ref_format("--branch", name)
    except git.GitCommandError:
        raise SourceError(f"invalid {what} {name!r}") from None
    return name


@dataclass
class _Remote:
    url: str
    env: dict[str, str]
    objects: Path
    secrets: list[str]


def _remote(source: GitSource, repo_url: str) -> _Remote:
    """The repository's stored URL, network environment (credentials) and the cache clone's
    object folder. GitSource has no public accessor for these yet, so its internals are read
    here, in the one other module of the Git edge."""
    cached = source._entry(repo_url)
    return _Remote(
        url=cached.url,
        env=source._network_env(cached),
        objects=cached.path / "objects",
        secrets=cached.auth.secrets(),
    )


def _stderr(exc: git.GitCommandError) -> str:
    text = str(exc.stderr or "").strip()
    text = re.sub(r"^stderr:\s*'?", "", text).rstrip("'").strip()
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) or (
        f"git exited with status {exc.status}"
    )


class _Work:
    """The private working clone and the git commands run in it."""

    def __init__(self, folder: Path, remote: _Remote, timeout: float) -> None:
        self.remote = remote
        self.timeout = timeout
        self.repo = git.Repo.init(folder / "work")
        self.git = self.repo.git
        if remote.objects.is_dir():
            alternates = Path(self.repo.git_dir) / "objects" / "info" / "alternates"
            alternates.parent.mkdir(parents=True, exist_ok=True)
            alternates.write_text(str(remote.objects.resolve()) + "\n")
        self.git.remote("add", "origin", remote.url)
        self.patch_file = folder / "revert.patch"
        self.message_file = folder / "message.txt"

    def fetch(self, *refspecs: str) -> None:
        self.git.fetch(
            "--no-tags",
            "origin",
            *refspecs,
            env=self.remote.env,
            kill_after_timeout=self.timeout,
        )

    def rev(self, name: str) -> str | None:
        try:
            return str(self.git.rev_parse("--verify", "--quiet", name)).strip() or None
        except git.GitCommandError:
            return None

    def tree_at(self, treeish: str, path: str) -> str | None:
        """The id of ``path``'s tree in a commit or tree (None when absent)."""
        return self.rev(f"{treeish}^{{tree}}" if path == "." else f"{treeish}:{path}")

    def index_tree(self, path: str) -> str | None:
        return self.tree_at(str(self.git.write_tree()).strip(), path)

    def reset(self) -> None:
        self.git.reset("--hard", "--quiet", "HEAD")
        self.git.clean("-fdq")

    def apply_reverse(self, sha: str, path: str) -> bool:
        """Undo ``sha``'s changes under ``path`` in index and work tree; False on conflict."""
        parent = self.rev(f"{sha}^1") or _EMPTY_TREE
        patch = self.git.execute(
            ["git", "diff", "--binary", "--full-index", "--no-renames", parent, sha, "--", path],
            stdout_as_string=False,
            strip_newline_in_stdout=False,
        )
        if not patch:
            return True
        self.patch_file.write_bytes(bytes(patch))
        try:
            self.git.apply("-R", "--3way", "--index", str(self.patch_file))
        except git.GitCommandError:
            return False
        return True

    def restore(self, target: str, path: str) -> None:
        """Set ``path`` in index and work tree to its tree at ``target``."""
        if self.tree_at(target, path) is None:
            self.git.rm("-r", "-q", "--ignore-unmatch", "--", path)
        else:
            self.git.restore(f"--source={target}", "--staged", "--worktree", "--", path)

    def commit(self, message: str, author: tuple[str, str]) -> str:
        name, email = author
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        self.message_file.write_text(message, encoding="utf-8")
        self.git.execute(
            [
                "git",
                "-c",
                "commit.gpgsign=false",
                "commit",
                "-q",
                "--no-verify",
                "--cleanup=strip",
                "-F",
                str(self.message_file),
            ],
            env=env,
        )
        return str(self.git.rev_parse("HEAD")).strip()

    def push(self, branch: str, force: bool) -> None:
        args = ["origin", f"HEAD:refs/heads/{branch}"]
        if force:
            args.insert(0, "--force")
        self.git.push(*args, env=self.remote.env, kill_after_timeout=self.timeout)

    def info(self, sha: str) -> CommitInfo:
        commit = self.repo.commit(sha)
        message = commit.message
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        return CommitInfo(
            sha=commit.hexsha,
            author_name=str(commit.author.name or ""),
            author_email=str(commit.author.email or ""),
            date=commit.authored_datetime.isoformat(),
            message=text.rstrip("\n"),
        )

    def change(self, sha: str, path: str) -> ManifestChange:
        """What commit ``sha`` changed under ``path``: each file's content before and after."""
        parent = self.rev(f"{sha}^1") or _EMPTY_TREE
        names = str(
            self.git.diff("--name-only", "--no-renames", "-z", parent, sha, "--", path)
        ).split("\0")
        files = {name: (self._blob(parent, name), self._blob(sha, name)) for name in names if name}
        return ManifestChange(self.info(sha), files)

    def _blob(self, treeish: str, name: str) -> bytes | None:
        blob = self.rev(f"{treeish}:{name}")
        if blob is None or int(self.git.cat_file("-s", blob)) > MAX_SCANNED_BYTES:
            return None
        data = self.git.execute(
            ["git", "cat-file", "blob", blob],
            stdout_as_string=False,
            strip_newline_in_stdout=False,
        )
        return bytes(data)


def _message(lines: Sequence[str], path: str, target: str, commits: Sequence[str]) -> str:
    text = "\n".join(lines).strip() or f"Revert {path} to {target[:12]}"
    reverts = "\n".join(f"This reverts commit {sha}." for sha in commits)
    return f"{text}\n\n{reverts}\n" if reverts else text + "\n"


@contextlib.contextmanager
def _git_errors(action: str, remote: _Remote) -> Iterator[None]:
    try:
        yield
    except SourceError as exc:
        raise type(exc)(scrub(str(exc), remote.secrets)) from None
    except git.GitCommandError as exc:
        detail = scrub(_stderr(exc), remote.secrets)
        raise SourceError(f"cannot {action} in {remote.url}: {detail}") from None
    except (git.GitError, OSError, ValueError) as exc:
        detail = scrub(str(exc) or type(exc).__name__, remote.secrets)
        raise SourceError(f"cannot {action} in {remote.url}: {detail}") from None


def prepare_revert_branch(
    git_source: GitSource,
    repo_url: str,
    base_branch: str,
    target_revision: str,
    path: str,
    branch_name: str,
    author: str,
    message_lines: Sequence[str],
    *,
    force: bool = False,
) -> RevertResult:
    """Push ``branch_name``: ``base_branch``'s head with ``path`` returned to what it was at
    ``target_revision`` (see the module docstring), committed by ``author`` ("Name
    <email>") with ``message_lines`` as the message's start. NothingToRevert when the path
    already equals the target's; SourceError for anything else, never showing credentials.
    ``force`` replaces an existing branch of that name (otherwise that is an error)."""
    clean_path = _clean_path(path)
    identity = parse_author(author)
    _check_branch(check_revision(base_branch.strip()), "base branch")
    _check_branch(check_revision(branch_name.strip()), "branch name")
    if branch_name.strip() == base_branch.strip():
        raise SourceError(f"the revert branch must differ from the base branch {base_branch!r}")
    target_sha = git_source.resolve(repo_url, target_revision)
    remote = _remote(git_source, repo_url)
    folder = Path(tempfile.mkdtemp(prefix="kajitori-revert-"))
    try:
        with _git_errors(f"prepare revert branch {branch_name}", remote):
            work = _Work(folder, remote, git_source.fetch_timeout)
            try:
                return _revert(
                    work,
                    base=base_branch.strip(),
                    target=target_sha,
                    path=clean_path,
                    branch=branch_name.strip(),
                    identity=identity,
                    message_lines=message_lines,
                    force=force,
                )
            finally:
                work.repo.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _revert(
    work: _Work,
    *,
    base: str,
    target: str,
    path: str,
    branch: str,
    identity: tuple[str, str],
    message_lines: Sequence[str],
    force: bool,
) -> RevertResult:
    remote_ref = f"refs/remotes/origin/{base}"
    try:
        work.fetch(f"+refs/heads/{base}:{remote_ref}")
    except git.GitCommandError as exc:
        if "couldn't find remote ref" in _stderr(exc).lower():
            raise SourceError(f"branch {base!r} not found in {work.remote.url}") from None
        raise
    base_sha = work.rev(remote_ref) or ""
    if work.rev(f"{target}^{{commit}}") is None:
        work.fetch(target)
    target_tree = work.tree_at(target, path)
    if work.tree_at(base_sha, path) == target_tree:
        raise NothingToRevert(
            f"nothing to revert: {path} on {base} ({base_sha[:12]}) already equals "
            f"{target[:12]} in {work.remote.url}"
        )
    log = str(
        work.git.log(
            "--topo-order", "--no-merges", "--format=%H", f"{target}..{base_sha}", "--", path
        )
    )
    commits = [line for line in log.split() if line]
    work.git.checkout("--quiet", "-B", "kajitori-revert", base_sha)
    reverted = bool(commits) and all(work.apply_reverse(sha, path) for sha in commits)
    clean = reverted and work.index_tree(path) == target_tree
    strategy: Literal["revert", "restore"] = "revert" if clean else "restore"
    if strategy == "restore":
        work.reset()
        work.restore(target, path)
        if work.index_tree(path) != target_tree:
            raise SourceError(f"could not restore {path} to {target[:12]} in {work.remote.url}")
    head_sha = work.commit(_message(message_lines, path, target, commits), identity)
    try:
        work.push(branch, force)
    except git.GitCommandError as exc:
        detail = _stderr(exc)
        if "rejected" in detail or "already exists" in detail or "non-fast-forward" in detail:
            raise SourceError(
                f"cannot push branch {branch!r} to {work.remote.url}: a different branch of "
                "that name exists there (choose another name or replace it)"
            ) from None
        raise
    return RevertResult(
        branch=branch,
        reverted_commits=[work.info(sha) for sha in commits],
        head_sha=head_sha,
        base_sha=base_sha,
        target_sha=target,
        strategy=strategy,
        changes=tuple(work.change(sha, path) for sha in commits),
    )
