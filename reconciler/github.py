"""The GitHub edge: the only module that imports PyGithub.

:class:`GitHubClient` opens and reads pull requests, comments on them and sets commit
statuses, on github.com or a GitHub Enterprise server (``baseUrl``). Every PyGithub and
``requests`` error becomes a :class:`GitHubError` whose message says what was attempted and
what GitHub answered, and never contains the token (it is scrubbed from every message).

Requests time out (``timeout`` seconds) and follow one bounded retry policy: an idempotent
request (GET, HEAD, PUT, DELETE) is retried at most ``retries`` times after a 500/502/503/504
answer or a dropped connection, with a short exponential backoff and no honouring of a
``Retry-After`` that could park a worker for minutes. Writes that are not idempotent (opening a
pull request, a comment) are never repeated after the server saw them, so a flaky GitHub
cannot yield two pull requests; the caller decides what to do with the GitHubError.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import requests
import urllib3.exceptions
from github import (
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    RateLimitExceededException,
    UnknownObjectException,
)
from github.Repository import Repository
from urllib3.util.retry import Retry

from reconciler.errors import KajitoriError
from reconciler.github_settings import (
    DEFAULT_BASE_URL,
    DEFAULT_CONTEXT,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    GitHubSettings,
)
from reconciler.github_urls import RepoUrlError, repo_full_name
from reconciler.settings import Secret
from reconciler.source_auth import scrub

StatusState = Literal["pending", "success", "failure", "error"]
STATUS_STATES: Final = ("pending", "success", "failure", "error")
MAX_DESCRIPTION: Final = 140  # GitHub refuses longer status descriptions
MAX_TITLE: Final = 256
MAX_BODY: Final = 65_000  # GitHub's limit is 65,536 characters
_RETRY_STATUSES: Final = (500, 502, 503, 504)
_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class GitHubError(KajitoriError):
    """GitHub refused or failed a request. ``status`` is the HTTP status (0 when GitHub
    could not be reached or answered nothing usable); ``action`` what was attempted."""

    def __init__(self, message: str, status: int = 0, action: str = "") -> None:
        self.status = status
        self.action = action
        super().__init__(message)

    @property
    def transient(self) -> bool:
        """Whether trying again later may help (5xx, rate limit, network)."""
        return self.status == 0 or self.status >= 500 or self.status == 429


@dataclass(frozen=True)
class PullRequestRef:
    """A pull request: its number and web URL. ``created`` is False when an open pull
    request for the same branches existed already and was returned instead."""

    number: int
    url: str
    created: bool = True


@dataclass(frozen=True)
class PullRequestInfo:
    """A pull request's state: ``state`` is "open" or "closed"; ``merged`` with the merge
    commit's SHA once merged."""

    number: int
    url: str
    state: str
    merged: bool
    merge_commit_sha: str | None
    title: str
    head: str
    base: str
    head_sha: str


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def retry_policy(retries: int) -> Retry:
    """At most ``retries`` repeats of an idempotent request after a 5xx or a lost
    connection; the last answer is handed back (not raised) so the status reaches us."""
    return Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=2,
        allowed_methods=_IDEMPOTENT,
        status_forcelist=_RETRY_STATUSES,
        backoff_factor=0.25,
        backoff_max=2.0,
        respect_retry_after_header=False,
        raise_on_status=False,
    )


class GitHubClient:
    """PyGithub behind kajitori's vocabulary. Thread-safe as far as PyGithub's session is;
    objects are fetched lazily so each method costs one request (two for a duplicate PR).

    ``repository_map`` names the GitHub repository of local URLs (see
    ``reconciler.github_urls``). ``seconds_between_requests``/``seconds_between_writes`` are
    PyGithub's client-side throttle (GitHub asks integrations to pace writes); tests turn
    them off with None."""

    def __init__(
        self,
        token: Secret | str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        repository_map: Mapping[str, str] | None = None,
        status_context: str = DEFAULT_CONTEXT,
        user_agent: str = "kajitori",
        seconds_between_requests: float | None = 0.25,
        seconds_between_writes: float | None = 1.0,
    ) -> None:
        self._token = token.reveal() if isinstance(token, Secret) else token
        if not self._token:
            raise GitHubError("no GitHub token configured (github.token)")
        self.base_url = base_url.rstrip("/")
        self.repository_map = dict(repository_map or {})
        self.status_context = status_context
        self._github = Github(
            auth=Auth.Token(self._token),
            base_url=self.base_url,
            timeout=max(1, round(timeout)),
            user_agent=user_agent,
            retry=retry_policy(retries),
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
            lazy=True,
        )

    @classmethod
    def from_settings(cls, settings: GitHubSettings, **options: Any) -> GitHubClient:
        """A client as the ``github`` settings describe; GitHubError when no token is set.
        ``options`` override constructor arguments (e.g. the throttle in tests)."""
        if settings.token is None:
            raise GitHubError("no GitHub token configured (github.token)")
        arguments: dict[str, Any] = {
            "timeout": settings.timeout,
            "retries": settings.retries,
            "repository_map": settings.repository_map,
            "status_context": settings.status_context,
        }
        arguments.update(options)
        return cls(settings.token, settings.base_url, **arguments)

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r}, token=<redacted>)"

    def close(self) -> None:
        """Release the HTTP connections."""
        self._github.close()

    # -- repositories ---------------------------------------------------------------------

    def repo_for_url(self, repo_url: str) -> str:
        """``owner/name`` of the repository a Git URL names (https, ssh, ``git@host:`` or a
        local path mapped in ``repositoryMap``); GitHubError when it names none here."""
        try:
            return repo_full_name(repo_url, self.base_url, self.repository_map)
        except RepoUrlError as exc:
            raise GitHubError(self._clean(str(exc)), action="name repository") from None

    def _repo(self, full_name: str) -> Repository:
        return self._github.get_repo(full_name)

    def default_branch(self, repo: str) -> str:
        """The branch ``repo`` names as its default (what ``HEAD`` of a clone follows)."""
        with self._mapped(f"read the default branch of {repo}"):
            return str(self._repo(repo).default_branch)

    # -- pull requests --------------------------------------------------------------------

    def open_pull_request(
        self, repo: str, head: str, base: str, title: str, body: str, *, draft: bool = False
    ) -> PullRequestRef:
        """Open a pull request merging branch ``head`` into ``base``. When one is open for
        these branches already (a retried rollback), that one is returned, ``created`` False."""
        action = f"open a pull request {head} -> {base} in {repo}"
        try:
            with self._mapped(action):
                pull = self._repo(repo).create_pull(
                    base=base,
                    head=head,
                    title=truncate(title, MAX_TITLE),
                    body=truncate(body, MAX_BODY),
                    draft=draft,
                )
                return PullRequestRef(pull.number, pull.html_url)
        except GitHubError as exc:
            if exc.status == 422 and "already exists" in str(exc):
                existing = self.find_open_pull_requests(repo, head)
                if existing:
                    return PullRequestRef(existing[0].number, existing[0].url, created=False)
            raise

    def find_open_pull_requests(self, repo: str, head: str) -> list[PullRequestRef]:
        """Open pull requests from branch ``head`` (``branch`` or ``owner:branch``)."""
        qualified = head if ":" in head else f"{repo.split('/')[0]}:{head}"
        with self._mapped(f"list pull requests from {head} in {repo}"):
            pulls = self._repo(repo).get_pulls(state="open", head=qualified)
            return [PullRequestRef(pull.number, pull.html_url, created=False) for pull in pulls]

    def get_pull_request(self, repo: str, number: int) -> PullRequestInfo:
        """A pull request's state, merged flag and merge commit."""
        with self._mapped(f"read pull request #{number} in {repo}"):
            pull = self._repo(repo).get_pull(number)
            return PullRequestInfo(
                number=pull.number,
                url=pull.html_url,
                state=pull.state,
                merged=bool(pull.merged),
                merge_commit_sha=pull.merge_commit_sha if pull.merged else None,
                title=pull.title,
                head=pull.head.ref,
                base=pull.base.ref,
                head_sha=pull.head.sha,
            )

    def comment(self, repo: str, number: int, body: str) -> str:
        """Add a comment to pull request (or issue) ``number``; returns its web URL."""
        with self._mapped(f"comment on #{number} in {repo}"):
            issue = self._repo(repo).get_issue(number)
            return issue.create_comment(truncate(body, MAX_BODY)).html_url

    # -- commit statuses ------------------------------------------------------------------

    def set_commit_status(
        self,
        repo: str,
        sha: str,
        state: StatusState,
        description: str,
        target_url: str = "",
        context: str | None = None,
    ) -> None:
        """Set the status ``context`` (default: the configured context) of commit ``sha``.
        ``description`` is cut to GitHub's 140 characters."""
        if state not in STATUS_STATES:
            raise GitHubError(
                f"invalid commit status state {state!r}; expected one of "
                + ", ".join(STATUS_STATES),
                action="set commit status",
            )
        if not re.fullmatch(r"[0-9a-fA-F]{40}", sha):
            raise GitHubError(f"commit status needs a full commit SHA, got {sha!r}")
        options: dict[str, str] = {}
        if target_url:
            options["target_url"] = target_url
        with self._mapped(f"set status {state} on {sha[:12]} in {repo}"):
            commit = self._repo(repo).get_commit(sha)
            commit.create_status(
                state=state,
                description=truncate(description, MAX_DESCRIPTION),
                context=context or self.status_context,
                **options,
            )

    # -- errors ---------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        return scrub(text, [self._token])

    @contextlib.contextmanager
    def _mapped(self, action: str) -> Iterator[None]:
        """PyGithub's and requests' errors as GitHubError naming ``action``."""
        try:
            yield
        except BadCredentialsException:
            raise GitHubError(
                f"cannot {action}: GitHub refused the token (401 Bad credentials)", 401, action
            ) from None
        except RateLimitExceededException as exc:
            raise GitHubError(
                f"cannot {action}: GitHub rate limit exceeded ({exc.status}); try again later",
                exc.status,
                action,
            ) from None
        except UnknownObjectException as exc:
            raise GitHubError(
                self._clean(
                    f"cannot {action}: not found ({exc.status}); check the repository "
                    "name and that the token may access it"
                ),
                exc.status,
                action,
            ) from None
        except GithubException as exc:
            detail = self._clean(_detail(exc))
            raise GitHubError(
                f"cannot {action}: GitHub answered {detail}", exc.status, action
            ) from None
        except requests.exceptions.RetryError:
            raise GitHubError(
                f"cannot {action}: GitHub kept failing after retries", 0, action
            ) from None
        except requests.exceptions.RequestException as exc:
            if _timed_out(exc):
                message = f"cannot {action}: GitHub did not answer in time"
            else:
                reason = self._clean(type(exc).__name__)
                message = f"cannot {action}: cannot reach GitHub at {self.base_url} ({reason})"
            raise GitHubError(message, 0, action) from None


def _timed_out(exc: requests.exceptions.RequestException) -> bool:
    """Whether a request failed by a timeout (requests reports a read timeout that used up
    the retries as a ConnectionError wrapping urllib3's MaxRetryError; urllib3's refused
    connection is, oddly, a ConnectTimeoutError too)."""
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    for arg in exc.args:
        reason = getattr(arg, "reason", None)
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return False
        if isinstance(reason, urllib3.exceptions.TimeoutError):
            return True
    return False


def _detail(exc: GithubException) -> str:
    """``status message (error details)`` from GitHub's error body."""
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or exc.message or "").strip()
    details: list[str] = []
    for item in data.get("errors") or ():
        if isinstance(item, dict):
            text = item.get("message") or " ".join(
                str(item[key]) for key in ("resource", "field", "code") if item.get(key)
            )
            if text:
                details.append(str(text))
        elif item:
            details.append(str(item))
    extra = f" ({'; '.join(details)})" if details else ""
    return f"{exc.status} {message or 'error'}{extra}".strip()
