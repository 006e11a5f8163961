"""Commit statuses on the manifest commits kajitori syncs: an event-bus subscriber.

GitHub shows a status next to each commit and in pull requests, so whoever merged a manifest
change sees there whether it reached the cluster: ``pending`` when a sync to the commit starts
(:class:`~reconciler.events.SyncRunning`), ``success`` or ``failure`` (``error`` for an
operation that errored) when it ends, ``pending`` again while a failed sync waits for a retry.

The context is ``<context>/<app>`` (``kajitori/guestbook``): several apps often sync the same
commit of one manifest repository, and each needs its own line rather than overwriting one.

GitHub trouble never reaches the sync: this runs on the bus's subscriber thread, and a
GitHubError is logged (its message never holds the token) and counted in ``failed``. Apps whose
repository is not on the configured GitHub are skipped (``skipped``), once logged.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Protocol

from reconciler.events import Event, EventBus, Subscription, SyncFailed, SyncRunning, SyncSucceeded
from reconciler.github import GitHubError, StatusState
from reconciler.github_settings import DEFAULT_CONTEXT, GitHubSettings

log = logging.getLogger(__name__)

_FULL_SHA = re.compile(r"^[0-9a-fA-F]{40}$")


class StatusClient(Protocol):
    """What the reporter needs of ``reconciler.github.GitHubClient``."""

    def repo_for_url(self, repo_url: str) -> str: ...

    def set_commit_status(
        self,
        repo: str,
        sha: str,
        state: StatusState,
        description: str,
        target_url: str = "",
        context: str | None = None,
    ) -> None: ...


RepoLookup = Callable[[str], str | None]  # app name -> its manifest repository URL
LinkFor = Callable[[Event], str]  # event -> the status link ("" for none)


def describe(event: Event) -> tuple[StatusState, str] | None:
    """The status state and description for a sync event; None for other events."""
    short = _short(getattr(event, "revision", ""))
    if isinstance(event, SyncRunning):
        who = "" if event.initiated_by in ("", "automated") else f" by {event.initiated_by}"
        return "pending", f"Syncing {event.app} to {short}{who}"
    if isinstance(event, SyncSucceeded):
        count = len(event.resources)
        return "success", f"{event.app} synced to {short} ({count} resources)"
    if isinstance(event, SyncFailed):
        reason = " ".join(event.message.split()) or event.phase
        if event.retrying:
            return "pending", f"{event.app} sync failed, will retry: {reason}"
        state: StatusState = "error" if event.phase == "Error" else "failure"
        return state, f"{event.app} sync {event.phase.lower()}: {reason}"
    return None


def _short(revision: str) -> str:
    return revision[:7] if len(revision) == 40 else revision or "?"


class CommitStatusReporter:
    """Sets a commit status for every sync event of an app whose repository is on GitHub.

    ``repo_url_of`` maps an app to its manifest repository URL (None for unknown apps);
    ``link`` gives each status its link. Counters: ``sent``, ``failed``, ``skipped``."""

    def __init__(
        self,
        client: StatusClient,
        repo_url_of: RepoLookup,
        *,
        context: str = DEFAULT_CONTEXT,
        link: LinkFor | None = None,
    ) -> None:
        self._client = client
        self._repo_url_of = repo_url_of
        self.context = context
        self._link = link or (lambda event: "")
        self._lock = threading.Lock()
        self._unmapped: set[str] = set()
        self.sent = 0
        self.failed = 0
        self.skipped = 0

    @classmethod
    def from_settings(
        cls, client: StatusClient, settings: GitHubSettings, repo_url_of: RepoLookup
    ) -> CommitStatusReporter:
        """A reporter with the settings' context and link template."""

        def link(event: Event) -> str:
            revision = str(getattr(event, "revision", ""))
            return settings.target_url(event.app, event.project, revision)

        return cls(client, repo_url_of, context=settings.status_context, link=link)

    def subscribe(self, bus: EventBus) -> Subscription:
        """Receive the bus's sync events on a subscriber thread of its own."""
        return bus.subscribe(
            self.handle, "commit-status", types=(SyncRunning, SyncSucceeded, SyncFailed)
        )

    def context_for(self, app: str) -> str:
        return f"{self.context}/{app}"

    def handle(self, event: Event) -> None:
        """Set the status ``event`` calls for; never raises for GitHub's failures."""
        described = describe(event)
        revision = str(getattr(event, "revision", ""))
        if described is None:
            return
        if not _FULL_SHA.match(revision):
            log.debug(
                "no commit status for app %s: revision %r is not a commit", event.app, revision
            )
            self._count("skipped")
            return
        repo = self._repo_of(event.app)
        if repo is None:
            self._count("skipped")
            return
        state, description = described
        try:
            self._client.set_commit_status(
                repo,
                revision,
                state,
                description,
                target_url=self._link(event),
                context=self.context_for(event.app),
            )
        except GitHubError as exc:
            self._count("failed")
            log.warning(
                "commit status %s for app %s on %s/%s not set: %s",
                state,
                event.app,
                repo,
                revision[:12],
                exc,
                extra={"app": event.app},
            )
            return
        self._count("sent")

    def _repo_of(self, app: str) -> str | None:
        url = self._repo_url_of(app)
        if not url:
            return None
        try:
            return self._client.repo_for_url(url)
        except GitHubError as exc:
            with self._lock:
                first = app not in self._unmapped
                self._unmapped.add(app)
            if first:
                log.info("no commit statuses for app %s: %s", app, exc, extra={"app": app})
            return None

    def _count(self, counter: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)


def start_commit_statuses(
    bus: EventBus,
    client: StatusClient | None,
    settings: GitHubSettings,
    repo_url_of: RepoLookup,
) -> CommitStatusReporter | None:
    """Subscribe a reporter to ``bus`` when the settings want statuses and a client exists;
    None (and nothing subscribed) otherwise."""
    if client is None or not settings.statuses:
        return None
    reporter = CommitStatusReporter.from_settings(client, settings, repo_url_of)
    reporter.subscribe(bus)
    return reporter
