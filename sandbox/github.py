"""GitHubSandbox: a local stand-in for GitHub's REST API, backed by real bare repositories.

Pull requests, refs, branches, commits, commit statuses and PR comments are served the way
GitHub serves them, so the real PyGithub client works against it unchanged::

    with GitHubSandbox(tmp_path) as gh:
        clone_url = gh.create_repo("acme", "manifests", files={"app.yaml": "..."})
        client = Github(auth=Auth.Token(gh.token), base_url=gh.url)

Merging a pull request writes real commits into the bare repository (a merge commit, a squash
commit or the rebased commits, as the merge method asks). Every ref change
(a merge, a ref written through the API, or a ``git push`` into ``clone_url``, seen by a
``post-receive`` hook) can be sent as a signed ``push`` webhook. Faults, the call log and
reset are reachable both from Python and over HTTP under ``/_sandbox/`` (see GITHUB.md).
"""

from __future__ import annotations

import logging
import shlex
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from sandbox.github_api_pulls import PullsApi
from sandbox.github_api_repos import ReposApi
from sandbox.github_control import parse_fault
from sandbox.github_git import ZERO_SHA, GitRepo, is_full_sha
from sandbox.github_http import Request, Response, Router
from sandbox.github_json import Urls
from sandbox.github_server import API_PREFIX, GitHubApp, GitHubHTTPServer, Tokens
from sandbox.github_state import MERGE_METHODS, Repository, Store
from sandbox.github_web import web_page
from sandbox.github_webhook import WebhookDispatcher, push_payload

log = logging.getLogger("sandbox.github")

_NOTIFY_SCRIPT = """\
import json, sys, urllib.request
owner, name, url = sys.argv[1:4]
updates = []
for line in sys.stdin:
    parts = line.split()
    if len(parts) == 3:
        updates.append({"before": parts[0], "after": parts[1], "ref": parts[2]})
body = json.dumps({"owner": owner, "name": name, "updates": updates}).encode()
request = urllib.request.Request(
    url, data=body, headers={"Content-Type": "application/json"}, method="POST"
)
try:
    urllib.request.urlopen(request, timeout=30).read()
except Exception as err:
    print(f"github sandbox not told about this push: {err}", file=sys.stderr)
"""


class _PushEvents:
    """The PushSink that turns ref changes into ``push`` webhooks."""

    def __init__(self, sandbox: GitHubSandbox) -> None:
        self._sandbox = sandbox

    def pushed(self, repo: Repository, ref: str, before: str, after: str, pusher: str) -> None:
        sandbox = self._sandbox
        if not sandbox.webhook_settings()["url"]:
            return
        payload = push_payload(sandbox.urls, repo, ref, before, after, pusher)
        sandbox.webhooks.send("push", payload)


class GitHubSandbox:
    """A fake GitHub REST API on ``host:port`` (port 0: a free one) serving bare
    repositories kept under ``root/<owner>/<name>.git``.

    ``token`` authenticates as ``login``; ``webhook_url`` and ``webhook_secret`` set where
    ``push`` events go (also settable later with :meth:`configure_webhook`)."""

    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "ghp-sandbox",
        *,
        login: str = "sandbox-user",
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.host = host
        self.port = port
        self.token = token
        self.login = login
        self.store = Store(self.root)
        self.tokens = Tokens()
        self.tokens.add(token, login)
        self._webhook_defaults = (webhook_url, webhook_secret)
        self.webhooks = WebhookDispatcher(webhook_url, webhook_secret)
        self._events = _PushEvents(self)
        self.app = GitHubApp(Router(), self.tokens, self)
        self._server: GitHubHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._urls: Urls | None = None
        self.store.adopt_existing()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> GitHubSandbox:
        """Bind, serve on a background thread, and (re)install the push hooks."""
        if self._server is not None:
            return self
        self._server = GitHubHTTPServer(self.host, self.port, self._handle)
        self.port = int(self._server.server_address[1])
        web = f"http://{self._public_host()}:{self.port}"
        self._urls = Urls(api=web + API_PREFIX, web=web)
        router = Router()
        ReposApi(self.store, self._urls, self._events).register(router)
        PullsApi(self.store, self._urls, self._events).register(router)
        self.app.router = router
        self.app.pages = lambda request: web_page(self.store, request)
        for repo in self.store.repositories():
            self._install_hook(repo)
        self.webhooks.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="github-sandbox",
            daemon=True,
        )
        self._thread.start()
        log.info("GitHub sandbox serving %s (repositories under %s)", self.url, self.root)
        return self

    def stop(self) -> None:
        """Stop serving (queued webhook deliveries are still attempted first)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.webhooks.stop()
        self._server = None
        self._thread = None

    def __enter__(self) -> GitHubSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _public_host(self) -> str:
        if self.host in ("", "0.0.0.0", "::"):
            return "127.0.0.1"
        return f"[{self.host}]" if ":" in self.host else self.host

    def _handle(self, request: Request) -> Response:
        return self.app.handle(request)

    @property
    def urls(self) -> Urls:
        """The REST and web base URLs (only once started)."""
        if self._urls is None:
            raise RuntimeError("the GitHub sandbox is not started; call start() first")
        return self._urls

    @property
    def url(self) -> str:
        """The REST base URL for PyGithub's ``base_url`` (``http://host:port/api/v3``)."""
        return self.urls.api

    @property
    def control_url(self) -> str:
        """The control API's base (``http://host:port/_sandbox``)."""
        return f"{self.urls.web}/_sandbox"

    # -- repositories --------------------------------------------------------------------

    def create_repo(
        self,
        owner: str,
        name: str,
        files: Mapping[str, str | bytes] | None = None,
        description: str | None = None,
        default_branch: str = "main",
        merge_methods: Sequence[str] = MERGE_METHODS,
    ) -> Path:
        """Make the bare repository ``owner/name`` and return its path, which git and
        GitPython clone and push to. With ``files``, ``default_branch`` starts with one commit
        holding them; without, the repository is empty. ``merge_methods`` are the ones its
        pull requests may be merged by (``merge``, ``squash``, ``rebase``; all by default)."""
        unknown = sorted(set(merge_methods) - set(MERGE_METHODS))
        if unknown:
            raise ValueError(f"unknown merge methods {unknown}: use {', '.join(MERGE_METHODS)}")
        repo = self.store.create(owner, name, description, default_branch)
        repo.merge_methods = tuple(m for m in MERGE_METHODS if m in merge_methods)
        if files:
            sha = repo.git.write_files(None, files, "Initial commit", self._identity(self.login))
            repo.git.update_ref(f"refs/heads/{default_branch}", sha, ZERO_SHA)
        if self._urls is not None:
            self._install_hook(repo)
        return repo.path

    def repo_path(self, owner: str, name: str) -> Path:
        """The bare repository of ``owner/name``; KeyError when there is none."""
        repo = self.store.find(owner, name)
        if repo is None:
            raise KeyError(f"no sandbox repository {owner}/{name}")
        return repo.path

    def repositories(self) -> list[str]:
        """Every repository's ``owner/name``."""
        return [repo.full_name for repo in self.store.repositories()]

    def commit_files(
        self,
        owner: str,
        name: str,
        branch: str,
        files: Mapping[str, str | bytes | None],
        message: str,
        author: str | None = None,
        start: str | None = None,
    ) -> str:
        """Commit ``files`` (None deletes one) on top of ``branch`` as if ``author`` had
        pushed it; returns the new sha and sends a ``push`` webhook. A missing branch starts
        from ``start`` (a branch or sha; default: the default branch, if it exists)."""
        repo = self.store.get(owner, name)
        who = author or self.login
        ref = f"refs/heads/{branch}"
        with self.store.lock:
            old = repo.git.ref_sha(ref)
            parent = old or repo.git.resolve(start or repo.default_branch)
            if old is None and start is not None and parent is None:
                raise ValueError(f"{owner}/{name}: no commit {start!r} to start {branch} from")
            sha = repo.git.write_files(parent, files, message, self._identity(who))
            if not repo.git.update_ref(ref, sha, old or ZERO_SHA):
                raise RuntimeError(f"{owner}/{name} {ref} moved while committing")
            repo.pushed_at = time.time()
            self._events.pushed(repo, ref, old or ZERO_SHA, sha, who)
        return sha

    def git_pushed(self, owner: str, name: str, ref: str, before: str, after: str) -> None:
        """Told by a repository's post-receive hook that ``git push`` moved ``ref``."""
        if not (is_full_sha(before) and is_full_sha(after)):
            raise ValueError("before and after must be full commit shas")
        repo = self.store.get(owner, name)
        with self.store.lock:
            repo.pushed_at = time.time()
            self._events.pushed(repo, ref, before, after, self.login)

    @staticmethod
    def _identity(login: str) -> tuple[str, str]:
        return login, f"{login}@users.noreply.github.com"

    def _install_hook(self, repo: Repository) -> None:
        script = repo.path / "hooks" / "sandbox_notify.py"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(_NOTIFY_SCRIPT)
        args = [sys.executable, str(script), repo.owner, repo.name, f"{self.control_url}/git-push"]
        GitRepo(repo.path).install_hook(
            "post-receive", "#!/bin/sh\nexec " + shlex.join(args) + "\n"
        )

    # -- users, faults, calls, webhooks, reset -------------------------------------------

    def add_user(self, login: str, token: str) -> None:
        """Accept another token, authenticating as ``login``."""
        self.tokens.add(token, login)

    def inject_fault(
        self,
        method: str = "*",
        path_prefix: str = "/",
        count: int = 1,
        status: int | None = None,
        latency_ms: int = 0,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``count`` REST calls matching ``method`` and ``path_prefix`` (the
        path after ``/api/v3``, e.g. ``/repos/acme/app/pulls``) wait ``latency_ms`` and/or
        answer ``status``; ValueError for a bad rule."""
        fields = {
            "method": method,
            "path_prefix": path_prefix,
            "count": count,
            "status": status,
            "latency_ms": latency_ms,
            "message": message,
            "retry_after": retry_after,
        }
        self.app.faults.add(parse_fault(fields))

    def clear_faults(self) -> None:
        """Drop every pending fault rule."""
        self.app.faults.clear()

    def calls(self) -> list[dict[str, Any]]:
        """REST calls so far, oldest first: method, path, query, body, login, status, fault."""
        return self.app.calls.calls()

    def configure_webhook(self, url: str | None, secret: str | None = None) -> None:
        """Send ``push`` events to ``url`` signed with ``secret`` (None turns them off)."""
        self.webhooks.configure(url, secret)

    def webhook_settings(self) -> dict[str, Any]:
        """The webhook URL and whether a secret is set."""
        return self.webhooks.settings()

    def deliveries(self) -> list[dict[str, Any]]:
        """Webhook deliveries so far (event, payload, HTTP status or error)."""
        return self.webhooks.deliveries()

    def wait_for_deliveries(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until ``count`` deliveries were attempted; TimeoutError otherwise."""
        return self.webhooks.wait(count, timeout)

    def reset(self) -> None:
        """Back to a fresh start: no repositories (deleted from disk), calls, faults or
        deliveries; the webhook as configured at construction; extra users kept."""
        self.store.remove_all()
        self.app.calls.clear()
        self.app.faults.clear()
        self.webhooks.clear()
        self.webhooks.configure(*self._webhook_defaults)
