"""Git plumbing over one bare repository, for the GitHub stand-in.

The sandbox keeps every repository as a real bare repository on disk and changes it only with
git's plumbing commands (``merge-tree``, ``commit-tree``, ``update-ref``), so that a merged
pull request is real commits (a merge, a squash, or the rebased commits replayed one by one
with :meth:`GitRepo.replay_tree`) that any git client fetches. No work tree is ever checked
out; ``update-ref`` runs no hooks, so the sandbox's own writes never look like pushes.
``git merge-tree --write-tree`` needs git 2.38 or newer.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_FIELD_SEP = "\x1f"
# variables a parent git (a hook, a test run inside one) may set that would redirect us
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
    "GIT_NAMESPACE",
)


class GitError(RuntimeError):
    """A git command failed; the message names the command and git's complaint."""


@dataclass(frozen=True)
class Person:
    """An author or committer: name, email and when (with the UTC offset git recorded, so a
    replayed commit keeps its author's time zone)."""

    name: str
    email: str
    date: datetime


@dataclass(frozen=True)
class CommitInfo:
    """One commit as git stores it."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    message: str


@dataclass(frozen=True)
class FileChange:
    """One file changed by a commit against its first parent (renames show as remove+add)."""

    filename: str
    status: str  # added | removed | modified
    additions: int
    deletions: int


def is_full_sha(text: str) -> bool:
    """True for a 40-hex-digit lower-case object id."""
    return bool(_SHA_RE.match(text))


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def git_date(when: datetime) -> str:
    """``when`` in git's raw date format (``<unix seconds> <+hhmm>``), offset kept."""
    moment = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{int(moment.timestamp())} {sign}{hours:02d}{rest:02d}"


class GitRepo:
    """A bare repository at ``path`` driven through the ``git`` command line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- running git ---------------------------------------------------------------------

    def run(
        self,
        *args: str,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok_codes: Sequence[int] = (0,),
    ) -> tuple[int, str]:
        """Run ``git args`` in the repository; (exit code, stdout). Other codes raise."""
        full_env = dict(os.environ)
        full_env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
        for inherited in _REPO_ENV:
            full_env.pop(inherited, None)
        if env:
            full_env.update(env)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            input=data,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if proc.returncode not in ok_codes:
            complaint = proc.stderr.decode(errors="replace").strip()
            raise GitError(f"git {args[0]} failed in {self.path} ({proc.returncode}): {complaint}")
        return proc.returncode, proc.stdout.decode(errors="replace")

    @staticmethod
    def init_bare(path: Path, default_branch: str = "main") -> GitRepo:
        """Create a bare repository whose HEAD names ``default_branch``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise GitError(f"git init failed for {path}: {proc.stderr.decode(errors='replace')}")
        return GitRepo(path)

    # -- reading -------------------------------------------------------------------------

    def resolve(self, rev: str) -> str | None:
        """The commit a sha, abbreviated sha, branch or tag names; None when there is none."""
        if not rev or rev.startswith("-") or any(c.isspace() for c in rev):
            return None
        code, out = self.run(
            "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", ok_codes=(0, 1, 128)
        )
        return out.strip() if code == 0 and out.strip() else None

    def ref_sha(self, ref: str) -> str | None:
        """The object a full ref name (``refs/heads/x``) points at, or None."""
        code, out = self.run("rev-parse", "--verify", "--quiet", ref, ok_codes=(0, 1, 128))
        return out.strip() if code == 0 and ref.startswith("refs/") and out.strip() else None

    def refs(self, prefix: str = "refs/") -> list[tuple[str, str]]:
        """(full ref name, sha) of every ref whose name starts with ``prefix``, sorted."""
        _, out = self.run("for-each-ref", "--format=%(refname) %(objectname)", "refs/")
        pairs = [tuple(line.split(" ", 1)) for line in out.splitlines() if line]
        return sorted((name, sha) for name, sha in pairs if name.startswith(prefix))

    def commit(self, sha: str) -> CommitInfo:
        """The commit ``sha``; GitError when there is none."""
        fmt = _FIELD_SEP.join(["%H", "%T", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"])
        _, out = self.run("log", "-1", f"--format={fmt}", sha, "--")
        return _parse_commit(out)

    def log(self, include: Sequence[str], exclude: Sequence[str] = (), limit: int = 0) -> list[str]:
        """Commits reachable from ``include`` but not ``exclude``, newest first."""
        if not include:
            return []
        args = ["rev-list"]
        if limit:
            args.append(f"--max-count={limit}")
        args.extend(include)
        args.extend(f"^{sha}" for sha in exclude)
        _, out = self.run(*args, "--")
        return out.split()

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when ``ancestor`` is reachable from ``descendant`` (or equal to it)."""
        code, _ = self.run("merge-base", "--is-ancestor", ancestor, descendant, ok_codes=(0, 1))
        return code == 0

    def changes(self, sha: str) -> list[FileChange]:
        """Files the commit changed against its first parent (the empty tree for a root)."""
        info = self.commit(sha)
        return self.diff(info.parents[0] if info.parents else EMPTY_TREE, sha)

    def diff(self, old: str, new: str) -> list[FileChange]:
        """Files that differ between two commits (or trees), with line counts."""
        _, status_out = self.run("diff-tree", "-r", "--no-renames", "--name-status", "-z", old, new)
        _, num_out = self.run("diff-tree", "-r", "--no-renames", "--numstat", "-z", old, new)
        statuses: dict[str, str] = {}
        parts = status_out.split("\0")
        for code, name in zip(parts[0::2], parts[1::2], strict=False):
            if name:
                statuses[name] = {"A": "added", "D": "removed"}.get(code[:1], "modified")
        counts: dict[str, tuple[int, int]] = {}
        for entry in num_out.split("\0"):
            fields = entry.split("\t", 2)
            if len(fields) == 3:
                adds, dels, name = fields
                counts[name] = (
                    int(adds) if adds.isdigit() else 0,
                    int(dels) if dels.isdigit() else 0,
                )
        return [
            FileChange(name, status, *counts.get(name, (0, 0)))
            for name, status in sorted(statuses.items())
        ]

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits, or None when they share no history."""
        code, out = self.run("merge-base", a, b, ok_codes=(0, 1))
        return out.strip() if code == 0 and out.strip() else None

    # -- writing -------------------------------------------------------------------------

    def merge_tree(self, base: str, head: str) -> str | None:
        """The tree of merging ``head`` into ``base``, or None when they conflict or share
        no history."""
        if self.merge_base(base, head) is None:
            return None
        code, out = self.run(
            "merge-tree", "--write-tree", "--no-messages", base, head, ok_codes=(0, 1)
        )
        return out.split()[0] if code == 0 else None

    def replay_tree(self, change_base: str, change: str, onto: str) -> str | None:
        """The tree that applying the change ``change_base`` -> ``change`` (two trees) to the
        tree ``onto`` gives, as ``git cherry-pick`` computes it: a three-way merge whose merge
        base is ``change_base``. None on a conflict.

        ``merge-tree --merge-base`` only exists from git 2.40, so the merge base is forced
        with scratch commits (two sharing one parent that holds ``change_base``). They are
        unreferenced and dated at a fixed time, so asking again writes nothing new."""
        root = self._scratch_commit(change_base, [])
        ours = self._scratch_commit(onto, [root])
        theirs = self._scratch_commit(change, [root])
        code, out = self.run(
            "merge-tree", "--write-tree", "--no-messages", ours, theirs, ok_codes=(0, 1)
        )
        return out.split()[0] if code == 0 else None

    def _scratch_commit(self, tree: str, parents: Sequence[str]) -> str:
        who, when = ("GitHub sandbox", "sandbox@localhost"), "1000000000 +0000"
        env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        env.update(GIT_AUTHOR_NAME=who[0], GIT_AUTHOR_EMAIL=who[1])
        env.update(GIT_COMMITTER_NAME=who[0], GIT_COMMITTER_EMAIL=who[1])
        args = ["commit-tree", tree, *(arg for p in parents for arg in ("-p", p))]
        return self.run(*args, "-m", "replay scratch", env=env)[1].strip()

    def commit_tree(
        self,
        tree: str,
        parents: Sequence[str],
        message: str,
        author: tuple[str, str],
        committer: tuple[str, str],
        author_date: datetime | None = None,
    ) -> str:
        """Write a commit object and return its sha (no ref moves). The committer's date is
        now; the author's too unless ``author_date`` is given (a replayed commit)."""
        env = {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": committer[0],
            "GIT_COMMITTER_EMAIL": committer[1],
        }
        if author_date is not None:
            env["GIT_AUTHOR_DATE"] = git_date(author_date)
        args = ["commit-tree", tree]
        for parent in parents:
            args.extend(["-p", parent])
        _, out = self.run(*args, "-F", "-", stdin=message, env=env)
        return out.strip()

    def update_ref(self, ref: str, new: str, old: str | None = None) -> bool:
        """Move ``ref`` to ``new`` if it still points at ``old`` (ZERO_SHA: must not exist).

        Returns False when the ref moved meanwhile; ``old=None`` skips the check."""
        args = ["update-ref", ref, new] + ([old] if old is not None else [])
        code, _ = self.run(*args, ok_codes=(0, 1, 128))
        return code == 0

    def delete_ref(self, ref: str, old: str) -> bool:
        """Delete ``ref`` if it still points at ``old``; False otherwise."""
        code, _ = self.run("update-ref", "-d", ref, old, ok_codes=(0, 1, 128))
        return code == 0

    def write_files(
        self,
        parent: str | None,
        files: Mapping[str, str | bytes | None],
        message: str,
        author: tuple[str, str],
    ) -> str:
        """A new commit on top of ``parent`` (None: a root commit) with ``files`` written
        (None deletes a file); returns its sha. No ref moves."""
        with tempfile.TemporaryDirectory(prefix="gh-sandbox-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self.run("read-tree", parent, env=env)
            for name, content in sorted(files.items()):
                path = name.strip("/")
                if not path or ".." in path.split("/"):
                    raise GitError(f"invalid file path {name!r}")
                if content is None:
                    self.run("update-index", "--force-remove", "--", path, env=env)
                    continue
                _, blob = self.run("hash-object", "-w", "--stdin", stdin=content)
                cacheinfo = f"100644,{blob.strip()},{path}"
                self.run("update-index", "--add", "--cacheinfo", cacheinfo, env=env)
            _, tree = self.run("write-tree", env=env)
        parents = [parent] if parent else []
        return self.commit_tree(tree.strip(), parents, message, author, author)

    def install_hook(self, name: str, script: str) -> None:
        """Write an executable hook script (``post-receive``, ...)."""
        hook = self.path / "hooks" / name
        hook.parent.mkdir(parents=True, exist_ok=True)
        hook.write_text(script)
        hook.chmod(0o755)


def _parse_commit(out: str) -> CommitInfo:
    fields = out.split(_FIELD_SEP, 9)
    if len(fields) != 10:
        raise GitError("unexpected git log output")
    sha, tree, parents, an, ae, ad, cn, ce, cd, body = fields
    return CommitInfo(
        sha=sha,
        tree=tree,
        parents=tuple(parents.split()),
        author=Person(an, ae, _when(ad)),
        committer=Person(cn, ce, _when(cd)),
        message=body.rstrip("\n"),
    )
