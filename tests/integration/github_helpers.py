"""Helpers for tests of the GitHub stand-in: a throttle-free PyGithub client, commits pushed
from a GitPython clone, and a webhook endpoint whose deliveries are checked like a receiver
must (signature first)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import git
from github import Auth, Github

from sandbox.github import GitHubSandbox

SECRET = "webhook-secret"
ACTOR = git.Actor("Dev One", "dev@example.com")


def client(sandbox: GitHubSandbox, token: str, **options: Any) -> Github:
    """A PyGithub client on the sandbox, without client-side throttling or retries."""
    options.setdefault("retry", None)
    return Github(
        auth=Auth.Token(token),
        base_url=sandbox.url,
        seconds_between_requests=None,
        seconds_between_writes=None,
        **options,
    )


def push_change(
    clone: git.Repo,
    branch: str,
    path: str,
    content: str,
    message: str,
    *,
    author: git.Actor = ACTOR,
    author_date: str | None = None,
) -> str:
    """Commit one file on top of origin's ``branch`` (or main) and push it; the new sha."""
    clone.remotes.origin.fetch()
    remote = [ref.name for ref in clone.remotes.origin.refs]
    start = f"origin/{branch}" if f"origin/{branch}" in remote else "origin/main"
    clone.git.checkout("-B", branch, start)
    target = Path(str(clone.working_tree_dir)) / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    clone.index.add([path])
    dated: dict[str, Any] = {"author_date": author_date} if author_date else {}
    commit = clone.index.commit(message, author=author, committer=author, **dated)
    clone.remotes.origin.push(f"{branch}:refs/heads/{branch}").raise_if_error()
    return commit.hexsha


class _Receiver(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.put(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class WebhookReceiver(ThreadingHTTPServer):
    """A webhook endpoint that queues (headers, body) of every POST."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receiver)
        self.received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/github"

    def next_push(self, timeout: float = 10.0) -> tuple[dict[str, str], bytes]:
        return self.received.get(timeout=timeout)

    def push_to(self, ref: str, after: str, timeout: float = 10.0) -> dict[str, Any]:
        """The verified payload of the push that moved ``ref`` to ``after`` (earlier
        deliveries are read and dropped)."""
        while True:
            payload = verified_payload(*self.next_push(timeout))
            if payload["ref"] == ref and payload["after"] == after:
                return payload


@contextlib.contextmanager
def serving_webhooks(sandbox: GitHubSandbox) -> Iterator[WebhookReceiver]:
    """A WebhookReceiver serving on a thread, configured as ``sandbox``'s webhook."""
    server = WebhookReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sandbox.configure_webhook(server.url, SECRET)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def verified_payload(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The payload after checking the signature the way a receiver must."""
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-hub-signature-256"], expected)
    assert headers["x-github-event"] == "push"
    assert headers["x-github-delivery"]
    payload: dict[str, Any] = json.loads(body)
    return payload
