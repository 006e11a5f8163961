"""How the stand-in merges a pull request, by each of GitHub's three merge methods.

Every method writes real commits into the bare repository (no ref moves here: the caller moves
the base branch with a compare-and-swap) and returns the commit the base branch moves to,
which GitHub reports both as the merge answer's ``sha`` and as the pull request's
``merge_commit_sha``:

- ``merge`` ("Create a merge commit", ``git merge --no-ff``): one commit whose parents are the
  base and the head, authored by the merging user and committed by GitHub's web-flow identity
  (``GitHub <noreply@github.com>``). Message: ``Merge pull request #N from owner/branch``,
  a blank line, the pull request's title.
- ``squash`` ("Squash and merge"): one commit on top of the base holding the head's changes,
  authored by the pull request's author, committed by GitHub. Default message as GitHub's
  documentation gives it (merge commits not counted): for one commit, its subject followed by
  `` (#N)`` and its body; for several, the pull request's title followed by `` (#N)`` and
  every commit message, oldest first, as a ``* `` list.
- ``rebase`` ("Rebase and merge"): each non-merge commit of the pull request replayed onto the
  base in order, as ``git cherry-pick`` would (a three-way merge against the commit's parent).
  Always new SHAs: message and author (name, email, date) kept, committer the merging user
  (GitHub cannot sign these on anyone's behalf, so web-flow does not commit them).
  ``commit_title`` and ``commit_message`` do not apply: there is no merge commit to name.

``commit_title`` replaces the default title and ``commit_message`` the default body, as the
REST API does. A pull request whose head and base conflict answers 405 "Pull Request is not
mergeable" whatever the method; a rebase is further refused with 405 "This branch can't be
rebased" when one of the commits conflicts on the way, when a commit's change is already on
the base (it would become empty), or when the replayed result would differ from a merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sandbox.github_git import EMPTY_TREE, CommitInfo, GitRepo
from sandbox.github_http import ApiError
from sandbox.github_state import MERGE_METHODS, PullRequest

WEB_FLOW: Final = ("GitHub", "noreply@github.com")
NOT_MERGEABLE: Final = "Pull Request is not mergeable"
NOT_REBASEABLE: Final = "This branch can't be rebased"
NOT_ALLOWED: Final = {
    "merge": "Merge commits are not allowed on this repository.",
    "squash": "Squash merges are not allowed on this repository.",
    "rebase": "Rebase merges are not allowed on this repository.",
}


def identity(login: str) -> tuple[str, str]:
    """The (name, email) a sandbox user commits as."""
    return login, f"{login}@users.noreply.github.com"


@dataclass(frozen=True)
class Replay:
    """One commit of a pull request and the tree it gets once replayed onto the base."""

    original: CommitInfo
    tree: str


def _own_commits(git: GitRepo, pr: PullRequest) -> list[str]:
    """The pull request's non-merge commits, oldest first (parents before children)."""
    _, out = git.run(
        "rev-list", "--reverse", "--topo-order", "--no-merges", pr.head_sha, f"^{pr.base_sha}", "--"
    )
    return out.split()


def rebase_plan(git: GitRepo, pr: PullRequest) -> list[Replay] | None:
    """The trees of the pull request's commits replayed one by one onto its base, or None
    when GitHub would refuse the rebase (module docstring). Writes only unreferenced objects."""
    merged = git.merge_tree(pr.base_sha, pr.head_sha)
    if merged is None:
        return None
    onto = git.commit(pr.base_sha).tree
    plan: list[Replay] = []
    for sha in _own_commits(git, pr):
        info = git.commit(sha)
        parent_tree = git.commit(info.parents[0]).tree if info.parents else EMPTY_TREE
        tree = git.replay_tree(parent_tree, info.tree, onto)
        if tree is None:
            return None  # this commit conflicts with what is already replayed
        if tree == onto and parent_tree != info.tree:
            return None  # its change is already on the base
        plan.append(Replay(info, tree))
        onto = tree
    if not plan or onto != merged:
        return None
    return plan


def merge_message(pr: PullRequest, owner: str, title: str | None, body: str | None) -> str:
    """The merge commit's message: GitHub's default unless the caller gave title or body."""
    first = title or f"Merge pull request #{pr.number} from {owner}/{pr.head_ref}"
    rest = body if body is not None else pr.title
    return _message(first, rest)


def squash_message(git: GitRepo, pr: PullRequest, title: str | None, body: str | None) -> str:
    """The squash commit's message: GitHub's default unless the caller gave title or body."""
    messages = [git.commit(sha).message for sha in _own_commits(git, pr)]
    if len(messages) == 1:
        subject, _, rest = messages[0].partition("\n")
        default_title, default_body = f"{subject} (#{pr.number})", rest.strip("\n")
    else:
        default_title = f"{pr.title} (#{pr.number})"
        default_body = "\n\n".join(f"* {message}" for message in messages)
    return _message(title or default_title, body if body is not None else default_body)


def _message(first: str, rest: str) -> str:
    return f"{first}\n\n{rest}\n" if rest else f"{first}\n"


def merge_commits(
    git: GitRepo,
    pr: PullRequest,
    method: str,
    *,
    merger: str,
    owner: str,
    title: str | None = None,
    body: str | None = None,
) -> list[str]:
    """Write the commits of merging ``pr`` by ``method`` and return them, oldest first; the
    last is where the base branch moves. ApiError 405 when the merge cannot be done."""
    if method not in MERGE_METHODS:
        raise ValueError(f"unknown merge method {method!r}")
    tree = git.merge_tree(pr.base_sha, pr.head_sha)
    if tree is None:
        raise ApiError(405, NOT_MERGEABLE)
    if method == "squash":
        message = squash_message(git, pr, title, body)
        return [git.commit_tree(tree, [pr.base_sha], message, identity(pr.user), WEB_FLOW)]
    if method == "merge":
        message = merge_message(pr, owner, title, body)
        parents = [pr.base_sha, pr.head_sha]
        return [git.commit_tree(tree, parents, message, identity(merger), WEB_FLOW)]
    plan = rebase_plan(git, pr)
    if plan is None:
        raise ApiError(405, NOT_REBASEABLE)
    written: list[str] = []
    parent = pr.base_sha
    for step in plan:
        author = step.original.author
        parent = git.commit_tree(
            step.tree,
            [parent],
            step.original.message + "\n",
            (author.name, author.email),
            identity(merger),
            author_date=author.date,
        )
        written.append(parent)
    return written


__all__ = [
    "MERGE_METHODS",
    "NOT_ALLOWED",
    "NOT_MERGEABLE",
    "NOT_REBASEABLE",
    "WEB_FLOW",
    "Replay",
    "identity",
    "merge_commits",
    "merge_message",
    "rebase_plan",
    "squash_message",
]
