"""What a rollback did to Git, kept until Git and the cluster agree again. Pure data.

A rollback syncs the cluster at once and asks Git to follow through a revert pull request; in
between, the app's Git and cluster disagree on purpose and auto-sync stays paused. The
:class:`RollbackRecord` remembers that window (the pull requests, who asked, the target, what
went wrong) in the runtime store's key-value table, so a restart keeps watching the pull
request and a second rollback can be refused while one is pending. :class:`RollbackCompleted`
(defined with the other events in ``reconciler.event_types`` so the event log can read it back)
is the event published when the merged revert is deployed and Git and the cluster agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from reconciler.event_types import RollbackCompleted

NAMESPACE: Final = "rollback-git"

RollbackState = Literal["pending", "merged", "completed", "closed", "failed", "not-configured"]
"""``pending``: the manifest revert is open. ``merged``: merged, waiting for the cluster to be
Synced at the merge. ``completed``: Git and cluster agree. ``closed``: the revert was closed
unmerged (auto-sync stays paused). ``failed``: no revert pull request could be opened.
``not-configured``: GitHub is not configured; Git is left to the user."""

ACTIVE_STATES: Final = frozenset({"pending", "merged"})


@dataclass(frozen=True)
class PullRequestLink:
    """A revert pull request: its repository (``owner/name``), number and web URL."""

    repo: str
    number: int
    url: str


@dataclass(frozen=True)
class RollbackRecord:
    """The Git side of one rollback of ``app`` to ``target`` (a commit SHA). ``merge_sha`` is
    where the merge moved the base branch (GitHub's ``merge_commit_sha``: the merge commit,
    the squash commit, or the last rebased commit); ``repo_url`` the app's manifest
    repository as the app names it (empty in records written before it was kept)."""

    app: str
    target: str
    state: RollbackState
    requested_by: str = ""
    thread_url: str = ""
    started_at: str = ""
    branch: str = ""
    manifest_pr: PullRequestLink | None = None
    app_pr: PullRequestLink | None = None
    warnings: tuple[str, ...] = ()
    resume_auto_sync: bool = True
    merge_sha: str = ""
    synced_revision: str = ""
    reverted: tuple[str, ...] = field(default_factory=tuple)
    repo_url: str = ""

    @property
    def active(self) -> bool:
        """Whether the rollback still waits for Git (a new rollback is refused meanwhile)."""
        return self.state in ACTIVE_STATES

    @property
    def pull_request_urls(self) -> list[str]:
        """The revert pull requests' URLs, the manifest one first."""
        return [pr.url for pr in (self.manifest_pr, self.app_pr) if pr is not None]

    def with_state(self, state: RollbackState, **changes: Any) -> RollbackRecord:
        return replace(self, state=state, **changes)

    def summary(self) -> str:
        """One or two sentences for the person who asked: the pull requests, or why not."""
        short = self.target[:7]
        if self.state == "not-configured":
            return (
                f"GitHub is not configured, so Git is left to you: revert {self.app}'s "
                f"manifests to {short} and re-enable auto-sync once Git says the same."
            )
        if self.state == "failed":
            return f"No revert pull request was opened: {'; '.join(self.warnings)}"
        parts = []
        if self.manifest_pr is not None:
            parts.append(f"manifest revert {self.manifest_pr.url}")
        if self.app_pr is not None:
            parts.append(f"application revert {self.app_pr.url}")
        text = "Revert pull request(s): " + ", ".join(parts) + "."
        if self.state == "pending":
            text += " Auto-sync stays paused until the manifest revert is merged."
        elif self.state == "completed":
            text += f" Merged; Git and the cluster agree at {self.synced_revision[:7]}."
        if self.warnings:
            text += " Warning: " + "; ".join(self.warnings)
        return text

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "app": self.app,
            "target": self.target,
            "state": self.state,
            "requestedBy": self.requested_by,
            "threadUrl": self.thread_url,
            "startedAt": self.started_at,
            "branch": self.branch,
            "warnings": list(self.warnings),
            "resumeAutoSync": self.resume_auto_sync,
            "mergeSha": self.merge_sha,
            "syncedRevision": self.synced_revision,
            "reverted": list(self.reverted),
            "repoURL": self.repo_url,
        }
        for key, pr in (("manifestPR", self.manifest_pr), ("appPR", self.app_pr)):
            if pr is not None:
                data[key] = {"repo": pr.repo, "number": pr.number, "url": pr.url}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RollbackRecord:
        """The record ``to_dict`` wrote; ValueError naming the problem otherwise."""
        try:
            state = str(data["state"])
            if state not in (*ACTIVE_STATES, "completed", "closed", "failed", "not-configured"):
                raise ValueError(f"unknown state {state!r}")
            return cls(
                app=str(data["app"]),
                target=str(data["target"]),
                state=state,  # type: ignore[arg-type]
                requested_by=str(data.get("requestedBy", "")),
                thread_url=str(data.get("threadUrl", "")),
                started_at=str(data.get("startedAt", "")),
                branch=str(data.get("branch", "")),
                manifest_pr=_pr(data.get("manifestPR")),
                app_pr=_pr(data.get("appPR")),
                warnings=tuple(str(w) for w in data.get("warnings") or ()),
                resume_auto_sync=bool(data.get("resumeAutoSync", True)),
                merge_sha=str(data.get("mergeSha", "")),
                synced_revision=str(data.get("syncedRevision", "")),
                reverted=tuple(str(s) for s in data.get("reverted") or ()),
                repo_url=str(data.get("repoURL", "")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed rollback record: {exc}") from None


def _pr(raw: Any) -> PullRequestLink | None:
    if not raw:
        return None
    return PullRequestLink(str(raw["repo"]), int(raw["number"]), str(raw["url"]))


__all__ = [
    "ACTIVE_STATES",
    "NAMESPACE",
    "PullRequestLink",
    "RollbackCompleted",
    "RollbackRecord",
    "RollbackState",
]
