"""GitHub ``push`` webhooks from the stand-in: payload, HMAC signature and delivery.

When a ref changes (a merged pull request, a ref written through the API, or a ``git push``
into the bare repository) the sandbox POSTs a ``push`` event to the configured URL with the
headers GitHub sends: ``X-GitHub-Event``, ``X-GitHub-Delivery``, ``X-GitHub-Hook-ID`` and
``X-Hub-Signature-256`` (``sha256=`` + HMAC-SHA256 of the body under the secret). Deliveries
run on one background thread in order, as GitHub delivers asynchronously; each is recorded
(never with the secret) so tests can wait for them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from sandbox import github_json as js
from sandbox.github_git import ZERO_SHA, CommitInfo, FileChange, Person
from sandbox.github_state import Repository

log = logging.getLogger("sandbox.github")

MAX_PAYLOAD_COMMITS = 2048  # webhook deliveries; GitHub's timeline events keep 20
DELIVERY_TIMEOUT = 10.0
HOOK_ID = 1
NOREPLY = "@users.noreply.github.com"


def signature_256(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_1(secret: str, body: bytes) -> str:
    """The legacy ``X-Hub-Signature`` (HMAC-SHA1) value GitHub still sends alongside."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def _git_user(person: Person) -> dict[str, str]:
    """A payload's author/committer: name and email, plus the GitHub login when the email is
    a sandbox user's no-reply address (``web-flow`` for GitHub's own)."""
    data = {"name": person.name, "email": person.email}
    if person.email == "noreply@github.com":
        data["username"] = "web-flow"
    elif person.email.endswith(NOREPLY):
        data["username"] = person.email[: -len(NOREPLY)].split("+")[-1]
    return data


def _payload_commit(
    urls: js.Urls, repo: Repository, info: CommitInfo, files: list[FileChange], distinct: bool
) -> dict[str, Any]:
    added = [f.filename for f in files if f.status == "added"]
    removed = [f.filename for f in files if f.status == "removed"]
    modified = [f.filename for f in files if f.status == "modified"]
    return {
        "id": info.sha,
        "tree_id": info.tree,
        "distinct": distinct,
        "message": info.message,
        "timestamp": js.iso(info.committer.date),
        "url": f"{urls.repo_html(repo)}/commit/{info.sha}",
        "author": _git_user(info.author),
        "committer": _git_user(info.committer),
        "added": added,
        "removed": removed,
        "modified": modified,
    }


def push_payload(
    urls: js.Urls, repo: Repository, ref: str, before: str, after: str, pusher: str
) -> dict[str, Any]:
    """The body of a ``push`` event for ``ref`` moving from ``before`` to ``after``.

    ``commits`` lists what the push brought in, oldest first (the newest 2048 at most, as
    GitHub's webhooks): for a new branch the commits no other branch had, for an update
    ``before..after``. A commit is ``distinct`` unless another branch already had it (the
    head branch's own commits, when a pull request is merged with a merge commit)."""
    git = repo.git
    created, deleted = before == ZERO_SHA, after == ZERO_SHA
    others = [sha for name, sha in git.refs("refs/heads/") if name != ref]
    shas: list[str] = []
    fresh: set[str] = set()
    if not deleted:
        known = others if created else [before]
        shas = git.log([after], known, limit=MAX_PAYLOAD_COMMITS)
        fresh = set(git.log([after], [before, *others] if not created else others))

    def entry(sha: str) -> dict[str, Any]:
        return _payload_commit(urls, repo, git.commit(sha), git.changes(sha), sha in fresh)

    commits = [entry(sha) for sha in reversed(shas)]
    head = None if deleted else entry(after)
    forced = not created and not deleted and not git.is_ancestor(before, after)
    repo_json = js.repository(urls, repo)
    repo_json.update(
        {
            "created_at": int(repo.created_at),
            "pushed_at": int(repo.pushed_at),
            "master_branch": repo.default_branch,
        }
    )
    repo_json["owner"] = {**repo_json["owner"], "name": repo.owner, "email": None}
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": created,
        "deleted": deleted,
        "forced": forced,
        "base_ref": None,
        "compare": f"{urls.repo_html(repo)}/compare/{before[:12]}...{after[:12]}",
        "commits": commits,
        "head_commit": head,
        "repository": repo_json,
        "pusher": {"name": pusher, "email": f"{pusher}@users.noreply.github.com"},
        "sender": js.user(urls, pusher),
    }


class WebhookDispatcher:
    """Delivers events to one configured URL on a background thread and records each try."""

    def __init__(self, url: str | None = None, secret: str | None = None) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._url = url
        self._secret = secret
        self._records: list[dict[str, Any]] = []
        self._queue: queue.Queue[tuple[str, str, str | None, bytes] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def configure(self, url: str | None, secret: str | None) -> None:
        """Send future events to ``url`` signed with ``secret`` (None: no webhook)."""
        with self._lock:
            self._url, self._secret = url, secret

    def settings(self) -> dict[str, Any]:
        """The URL and whether a secret is set (the secret itself is never shown)."""
        with self._lock:
            return {"url": self._url, "secret_set": bool(self._secret)}

    def start(self) -> None:
        """Start the delivery thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="github-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Deliver what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=DELIVERY_TIMEOUT + 5)
            self._thread = None

    def send(self, event: str, payload: dict[str, Any]) -> str | None:
        """Queue an event for the configured URL; its delivery id, or None with no URL."""
        with self._lock:
            url, secret = self._url, self._secret
        if not url:
            return None
        delivery = str(uuid.uuid4())
        body = json.dumps(payload).encode()
        with self._lock:
            self._records.append(
                {"id": delivery, "event": event, "url": url, "status": None, "payload": payload}
            )
        self._queue.put((delivery, url, secret, body))
        return delivery

    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery so far, oldest first: id, event, url, status (HTTP code, or None
        while queued), error, duration and payload."""
        with self._lock:
            return [dict(r) for r in self._records]

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until ``count`` deliveries have been attempted; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(1 for r in self._records if "duration" in r) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"only {len(self._records)} of {count} webhook deliveries")
                self._changed.wait(left)
            return [dict(r) for r in self._records]

    def clear(self) -> None:
        """Forget the records (queued deliveries still go out)."""
        with self._lock:
            self._records = []

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            delivery, url, secret, body = item
            started = time.monotonic()
            status, error = self._post(delivery, url, secret, body, self._event_of(delivery))
            with self._changed:
                for record in self._records:
                    if record["id"] == delivery:
                        record.update(
                            status=status, error=error, duration=time.monotonic() - started
                        )
                self._changed.notify_all()

    def _event_of(self, delivery: str) -> str:
        with self._lock:
            for record in self._records:
                if record["id"] == delivery:
                    return str(record["event"])
        return "push"

    @staticmethod
    def _post(
        delivery: str, url: str, secret: str | None, body: bytes, event: str
    ) -> tuple[int | None, str | None]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/sandbox",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-GitHub-Hook-ID": str(HOOK_ID),
        }
        if secret:
            headers["X-Hub-Signature-256"] = signature_256(secret, body)
            headers["X-Hub-Signature"] = signature_1(secret, body)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT) as response:
                return int(response.status), None
        except urllib.error.HTTPError as err:
            return err.code, None
        except (OSError, ValueError) as err:
            log.warning("webhook delivery %s to %s failed: %s", delivery, url, err)
            return None, str(err)
