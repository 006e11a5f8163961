"""Titles and bodies of revert pull requests. Pure.

A revert pull request must say on its own what it undoes and why: the commits it reverts
(linked where the repository's web URL is known), who asked for the rollback, the Slack thread
where it happened, and the pull request on the other repository when a rollback spans the
manifest and the application repositories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from reconciler.source import CommitInfo

MAX_LISTED: Final = 50  # a longer list is cut, with a count of the rest


@dataclass(frozen=True)
class RevertRequest:
    """Who asked to roll ``app`` back to ``target_sha``, and from where."""

    app: str
    target_sha: str
    requested_by: str = ""
    thread_url: str = ""
    path: str = ""


def revert_title(request: RevertRequest, repository_kind: str = "manifests") -> str:
    """``Revert <app> <kind> to <short sha>``."""
    return f"Revert {request.app} {repository_kind} to {request.target_sha[:7]}"


def _commit_line(commit: CommitInfo, web_url: str) -> str:
    sha = commit.sha[:7]
    ref = f"[`{sha}`]({web_url.rstrip('/')}/commit/{commit.sha})" if web_url else f"`{sha}`"
    author = f" ({commit.author_name})" if commit.author_name else ""
    return f"- {ref} {commit.title or '(no message)'}{author}"


def revert_body(
    request: RevertRequest,
    reverted: Sequence[CommitInfo],
    *,
    web_url: str = "",
    related_url: str = "",
    strategy: str = "revert",
) -> str:
    """Markdown for the pull request: what returns to which revision, the reverted commits
    newest first, who asked, the Slack thread and the related pull request."""
    where = f" `{request.path}`" if request.path and request.path != "." else ""
    lines = [
        f"Rolls **{request.app}**{where} back to `{request.target_sha[:12]}` by reverting "
        f"{len(reverted)} commit{'s' if len(reverted) != 1 else ''}:",
        "",
    ]
    lines += [_commit_line(commit, web_url) for commit in reverted[:MAX_LISTED]]
    if len(reverted) > MAX_LISTED:
        lines.append(f"- … and {len(reverted) - MAX_LISTED} older commits")
    if strategy == "restore":
        lines += [
            "",
            "The commits could not be reverted one by one, so the path was restored to the "
            "target revision's content in one commit.",
        ]
    lines.append("")
    if request.requested_by:
        lines.append(f"Requested by {request.requested_by} with `/rollback`.")
    if request.thread_url:
        lines.append(f"Slack thread: {request.thread_url}")
    if related_url:
        lines.append(f"Related pull request: {related_url}")
    lines += ["", "_Opened by kajitori. Auto-sync stays paused for this app until it is merged._"]
    return "\n".join(lines).strip() + "\n"
