"""Rollback that returns Git to the truth: the revert pull requests and the wait for them.

After the controller has started a rollback in the cluster (and paused auto-sync),
:meth:`RollbackGit.open` writes the rollback into Git when GitHub is configured:

1. a revert branch on the manifest repository (``reconciler.source_revert``) undoing the
   commits that touched the app's path between the target revision and the branch head;
2. the revert pull request on it, listing those commits, who asked and the Slack thread;
3. when the settings name the app's application repository (``github.appRepositories``) and
   the reverted manifest commits deployed application commits (``reconciler.app_commits``),
   a revert pull request there too, cross-linked with the manifest one.

The outcome is a :class:`~reconciler.rollback_record.RollbackRecord` kept in the runtime
store. Nothing here stops the cluster rollback: GitHub or Git trouble becomes a warning in the
record. While the manifest revert is open, :meth:`refuse_if_pending` refuses another rollback.
On each refresh of the app :meth:`poll` reads the pull request; once merged (and fetched into
the Git cache) the controller resumes auto-sync, and :meth:`confirm` publishes
``RollbackCompleted`` when the app is Synced at the merge or a later commit built on it (Git
and cluster agree). Every merge method works alike: GitHub's ``merge_commit_sha`` is where the
base branch moved (merge commit, squash commit or last rebased commit).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from reconciler.app_commits import AppCommit, app_revert_target, find_app_commits
from reconciler.controller_api import OperationRefused
from reconciler.errors import KajitoriError
from reconciler.event_types import Event
from reconciler.github import GitHubClient, GitHubError
from reconciler.github_settings import GitHubSettings
from reconciler.github_urls import clone_url, web_url
from reconciler.model import Application
from reconciler.revert_text import RevertRequest, revert_body, revert_title
from reconciler.rollback_record import (
    NAMESPACE,
    PullRequestLink,
    RollbackCompleted,
    RollbackRecord,
)
from reconciler.source import GitSource
from reconciler.source_revert import RevertResult, prepare_revert_branch
from reconciler.state_runtime import RuntimeStore

log = logging.getLogger(__name__)

AUTHOR: Final = "kajitori <kajitori@users.noreply.github.com>"


class RollbackGit:
    """The Git side of rollbacks (module docstring). ``client`` None: GitHub not configured.
    Thread-safe: the controller calls it from the bot's and the scheduler's threads."""

    def __init__(
        self,
        settings: GitHubSettings,
        client: GitHubClient | None,
        git: GitSource,
        runtime: RuntimeStore,
        publish: Callable[[Event], None],
        clock: Callable[[], float],
        *,
        author: str = AUTHOR,
    ) -> None:
        self.settings = settings
        self.client = client
        self.git = git
        self.runtime = runtime
        self._publish = publish
        self._clock = clock
        self.author = author
        self._lock = threading.RLock()

    @property
    def enabled(self) -> bool:
        return self.client is not None

    # -- records ---------------------------------------------------------------------------

    def record(self, app: str) -> RollbackRecord | None:
        """The app's latest rollback record, or None."""
        raw = self.runtime.kv_get(NAMESPACE, app)
        if not raw:
            return None
        try:
            return RollbackRecord.from_dict(raw)
        except ValueError:
            log.exception("app %s: unreadable rollback record dropped", app)
            return None

    def _save(self, record: RollbackRecord) -> RollbackRecord:
        self.runtime.kv_put(NAMESPACE, record.app, record.to_dict())
        return record

    def refuse_if_pending(self, app: str) -> None:
        """OperationRefused when a rollback of ``app`` still waits for its revert to merge."""
        found = self.record(app)
        if found is None or not found.active:
            return
        where = f" ({found.manifest_pr.url})" if found.manifest_pr else ""
        waiting = "to be merged" if found.state == "pending" else "to be deployed"
        raise OperationRefused(
            f"app {app}: a rollback to {found.target[:7]} is pending; its revert pull request"
            f"{where} waits {waiting}. Merge or close it first."
        )

    # -- opening ---------------------------------------------------------------------------

    def open(
        self,
        app: Application,
        target: str,
        *,
        actor: str,
        thread_url: str = "",
        resume_auto_sync: bool = True,
    ) -> RollbackRecord:
        """Open the revert pull request(s) for rolling ``app`` back to ``target``; never
        raises for Git or GitHub trouble (it becomes the record's warnings)."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        base = RollbackRecord(
            app=app.name,
            target=target,
            state="not-configured",
            requested_by=actor,
            thread_url=thread_url,
            started_at=now.isoformat(),
            resume_auto_sync=resume_auto_sync,
            repo_url=app.spec.source.repo_url,
        )
        if self.client is None:
            return self._save(base)
        with self._lock:
            try:
                record = self._open(self.client, app, base, now)
            except KajitoriError as exc:
                log.warning("app %s: rollback left Git unchanged: %s", app.name, exc)
                record = base.with_state("failed", warnings=(_warning(exc),))
            return self._save(record)

    def _open(
        self, client: GitHubClient, app: Application, base: RollbackRecord, now: datetime
    ) -> RollbackRecord:
        source = app.spec.source
        branch_base = _base_branch(source.target_revision)
        if branch_base is None:
            raise KajitoriError(
                f"targetRevision {source.target_revision!r} is not a branch, so no pull request "
                "can change it; Git is left to you"
            )
        repo = client.repo_for_url(source.repo_url)
        branch_base = branch_base or client.default_branch(repo)
        # The seconds alone can repeat (a retry right after a failure): a random suffix keeps
        # each attempt's branch its own.
        suffix = secrets.token_hex(3)
        branch = f"kajitori/rollback-{app.name}-{base.target[:7]}-{now:%Y%m%d%H%M%S}-{suffix}"
        result = prepare_revert_branch(
            self.git,
            source.repo_url,
            branch_base,
            base.target,
            source.path or ".",
            branch,
            self.author,
            [
                f"Roll {app.name} back to {base.target[:12]}",
                "",
                f"Requested by {base.requested_by}.",
            ],
        )
        request = RevertRequest(
            app=app.name,
            target_sha=base.target,
            requested_by=base.requested_by,
            thread_url=base.thread_url,
            path=source.path,
        )
        body = revert_body(
            request,
            result.reverted_commits,
            web_url=web_url(self.settings.base_url, repo),
            strategy=result.strategy,
        )
        try:
            pull = client.open_pull_request(repo, branch, branch_base, revert_title(request), body)
        except GitHubError as exc:
            raise KajitoriError(
                f"{_warning(exc)}; the revert branch {branch} was pushed to {repo}: open its "
                "pull request by hand"
            ) from None
        record = base.with_state(
            "pending",
            branch=branch,
            manifest_pr=PullRequestLink(repo, pull.number, pull.url),
            reverted=tuple(c.sha for c in result.reverted_commits),
        )
        warnings: list[str] = []
        app_pr = self._open_app_revert(client, app, request, result, record, warnings)
        return record.with_state("pending", app_pr=app_pr, warnings=tuple(warnings))

    def _open_app_revert(
        self,
        client: GitHubClient,
        app: Application,
        request: RevertRequest,
        manifest: RevertResult,
        record: RollbackRecord,
        warnings: list[str],
    ) -> PullRequestLink | None:
        """The application repository's revert pull request, cross-linked; None (with a
        warning when something went wrong) when there is none to open."""
        app_repo = self.settings.app_repository(app.name)
        if not app_repo or record.manifest_pr is None:
            return None
        commits = [
            c
            for c in find_app_commits(manifest.changes)
            if not c.repository or c.repository == app_repo
        ]
        if not commits:
            return None
        target = app_revert_target(commits)
        if target is None:
            warnings.append(
                f"the reverted manifests deployed application commits {_shas(commits)} of "
                f"{app_repo}, but not which commit ran before them; revert those by hand"
            )
            return None
        try:
            url = clone_url(self.settings.base_url, self.settings.repository_map, app_repo)
            branch = f"{manifest.branch}-app"
            app_base = client.default_branch(app_repo)
            result = prepare_revert_branch(
                self.git,
                url,
                app_base,
                target,
                ".",
                branch,
                self.author,
                [f"Roll {app.name} application back to {target[:12]}"],
            )
            app_request = RevertRequest(
                app=app.name,
                target_sha=result.target_sha,
                requested_by=request.requested_by,
                thread_url=request.thread_url,
            )
            body = revert_body(
                app_request,
                result.reverted_commits,
                web_url=web_url(self.settings.base_url, app_repo),
                related_url=record.manifest_pr.url,
                strategy=result.strategy,
            )
            title = revert_title(app_request, "application")
            pull = client.open_pull_request(app_repo, branch, app_base, title, body)
            link = PullRequestLink(app_repo, pull.number, pull.url)
            client.comment(
                record.manifest_pr.repo,
                record.manifest_pr.number,
                f"Related application revert: {pull.url}",
            )
            return link
        except KajitoriError as exc:
            log.warning("app %s: no application revert: %s", app.name, exc)
            warnings.append(f"application repository {app_repo}: {_warning(exc)}")
            return None

    # -- waiting for the merge -------------------------------------------------------------

    def poll(self, app: str) -> RollbackRecord | None:
        """While the manifest revert is open, read it: a record newly ``merged`` (the
        controller then resumes auto-sync) or ``closed``; None when nothing changed."""
        with self._lock:
            found = self.record(app)
            if found is None or found.state != "pending" or found.manifest_pr is None:
                return None
            if self.client is None:
                return None
            pr = found.manifest_pr
            try:
                info = self.client.get_pull_request(pr.repo, pr.number)
            except GitHubError as exc:
                log.warning("app %s: cannot read the revert pull request: %s", app, exc)
                return None
            if info.merged:
                if not self._fetch_merge(found, info.merge_commit_sha or ""):
                    return None  # seen merged again on the next refresh
                merged = found.with_state("merged", merge_sha=info.merge_commit_sha or "")
                log.info("app %s: revert %s merged at %s", app, pr.url, merged.merge_sha[:12])
                return self._save(merged)
            if info.state == "closed":
                warning = f"the revert pull request {pr.url} was closed without merging"
                closed = found.with_state("closed", warnings=(*found.warnings, warning))
                log.warning("app %s: %s; auto-sync stays paused", app, warning)
                return self._save(closed)
            return None

    def _fetch_merge(self, record: RollbackRecord, merge_sha: str) -> bool:
        """Fetch the merge into the app's Git cache before auto-sync resumes: the refresh in
        progress may not fetch (a live change asked for it) and would auto-sync the branch
        as last fetched, the commits the rollback undid. False (still ``pending``) when the
        fetch fails or the merge is not there yet."""
        if not record.repo_url:
            return True  # a record from before repo_url was kept
        try:
            self.git.fetch(record.repo_url)
            if merge_sha:
                self.git.commit_info(record.repo_url, merge_sha)
        except KajitoriError as exc:
            log.warning("app %s: revert merged, but Git does not have it yet: %s", record.app, exc)
            return False
        return True

    def _includes_merge(self, record: RollbackRecord, revision: str) -> bool:
        """Whether ``revision`` is the merge or a later commit built on it (a push after
        the merge, before kajitori looked)."""
        if not record.merge_sha or revision == record.merge_sha:
            return True
        if not record.repo_url:
            return False
        try:
            missing = self.git.commits_between(record.repo_url, revision, record.merge_sha, 1)
        except KajitoriError:
            return False  # an unknown commit: not (yet) at the merge
        return not missing

    def confirm(self, app: str, sync_status: str, revision: str, *, project: str = "") -> bool:
        """After a refresh of a ``merged`` rollback: when the app is Synced at a revision
        that contains the merge, record it completed and publish RollbackCompleted."""
        with self._lock:
            found = self.record(app)
            if found is None or found.state != "merged" or sync_status != "Synced":
                return False
            if not self._includes_merge(found, revision):
                return False  # not yet at the merge
            done = self._save(found.with_state("completed", synced_revision=revision))
        pr = done.manifest_pr
        self._publish(
            RollbackCompleted(
                app=app,
                project=project or "default",
                time=datetime.fromtimestamp(self._clock(), UTC),
                revision=revision,
                target=done.target,
                pull_request_url=pr.url if pr else "",
                thread_url=done.thread_url,
                auto_sync=done.resume_auto_sync,
            )
        )
        return True


def _base_branch(target_revision: str) -> str | None:
    """The branch a pull request should target for ``targetRevision``: "" for HEAD (the
    repository's default branch, which only GitHub knows); None for a SHA or a tag-looking
    name, which no pull request can move."""
    revision = (target_revision or "HEAD").strip()
    if revision == "HEAD":
        return ""
    revision = revision.removeprefix("refs/heads/")
    if revision.startswith("refs/") or _looks_like_sha(revision):
        return None
    return revision


def _looks_like_sha(text: str) -> bool:
    return 7 <= len(text) <= 40 and all(ch in "0123456789abcdef" for ch in text.lower())


def _shas(commits: list[AppCommit]) -> str:
    return ", ".join(c.sha[:7] for c in commits)


def _warning(exc: KajitoriError) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, GitHubError) and exc.transient:
        text += " (GitHub may be down; try the pull request again later)"
    return text


__all__ = ["AUTHOR", "RollbackGit"]
