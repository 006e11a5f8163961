"""GitHub push webhooks and the refresh token, checked and understood without any I/O.

A push tells kajitori that a repository moved, so the apps that follow that repository and
revision can be refreshed at once instead of at the next poll. The order matters for safety:

1. ``verify_signature`` checks ``X-Hub-Signature-256`` (``sha256=`` + HMAC-SHA256 of the raw
   body under the shared secret, compared in constant time). Callers reject the request
   before the body is parsed when it fails.
2. ``parse_push`` reads the payload into a ``PushEvent``: the repository's URLs in every form
   an Application may name it (``clone_url``, ``ssh_url``, ``html_url``, ``git_url``,
   normalised by ``normalize_repo_url``), the branch or tag, the new head SHA and the files
   the pushed commits touched.
3. ``apps_for_push`` picks the apps that watch that repository at that revision:
   ``targetRevision`` HEAD (or empty) follows the default branch, a branch or ``refs/heads/``
   name follows that branch, a tag or ``refs/tags/`` name follows that tag, a commit SHA
   matches when the push brought that commit, and a semver-style constraint matches any tag
   push. Argo CD's ``argocd.argoproj.io/manifest-generate-paths`` annotation narrows an app
   to pushes that touched those paths.

``check_bearer`` guards the refresh endpoint the same way (constant-time comparison).
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from reconciler.errors import KajitoriError
from reconciler.model import Application

SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
EVENT_HEADER: Final = "X-GitHub-Event"
DELIVERY_HEADER: Final = "X-GitHub-Delivery"
MANIFEST_PATHS_ANNOTATION: Final = "argocd.argoproj.io/manifest-generate-paths"

# GitHub lists at most this many commits in a push payload; beyond it the file list is partial.
_MAX_PAYLOAD_COMMITS: Final = 2048
_ZERO_SHA: Final = "0" * 40
_SHA: Final = re.compile(r"^[0-9a-fA-F]{7,40}$")
_CONSTRAINT_CHARS: Final = frozenset("*^~<>=")


class RevealsSecret(Protocol):
    """A secret holder (``reconciler.settings.Secret``)."""

    def reveal(self) -> str: ...


SecretLike = str | bytes | RevealsSecret


class WebhookError(KajitoriError):
    """A webhook request was refused: ``status`` is the HTTP code to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


def _secret_bytes(secret: SecretLike) -> bytes:
    if isinstance(secret, bytes):
        return secret
    if isinstance(secret, str):
        return secret.encode("utf-8")
    return secret.reveal().encode("utf-8")


# -- authentication ------------------------------------------------------------------------


def sign(secret: SecretLike, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(_secret_bytes(secret), body, hashlib.sha256).hexdigest()


def verify_signature(secret: SecretLike, body: bytes, header: str | None) -> bool:
    """True only when ``header`` is ``sha256=<hex>`` and matches ``body`` under ``secret``.
    An empty secret never verifies (an unset secret must not accept everything)."""
    key = _secret_bytes(secret)
    if not key or not header:
        return False
    algorithm, _, digest = header.strip().partition("=")
    if algorithm.lower() != "sha256" or not digest:
        return False
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), digest.strip().lower().encode("utf-8"))


def check_bearer(expected: SecretLike, authorization: str | None) -> bool:
    """True when an ``Authorization: Bearer <token>`` header carries ``expected``; the
    comparison takes the same time wherever the tokens differ. An empty token never passes."""
    token = _secret_bytes(expected)
    if not token or not authorization:
        return False
    scheme, _, given = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token, given.strip().encode("utf-8"))


# -- repository URLs -----------------------------------------------------------------------


def normalize_repo_url(url: str) -> str:
    """A repository URL reduced to ``host/owner/repo`` (lower case, no scheme, user, port,
    ``.git`` or trailing slash) so that ``https://github.com/Org/Repo.git``,
    ``git@github.com:org/repo.git``, ``ssh://git@github.com/org/repo`` and
    ``https://github.com/org/repo`` compare equal. A local path keeps its path."""
    text = url.strip()
    host = ""
    if "://" in text:
        parts = urlsplit(text)
        host = parts.hostname or ""
        path = parts.path
    else:
        scp = re.match(r"^(?:[^@/\s]+@)?([^:/\s]+):(.+)$", text)
        if scp and not re.match(r"^[A-Za-z]:[\\/]", text):
            host, path = scp.group(1), scp.group(2)
        else:
            path = text
    path = path.strip().rstrip("/")
    if path.lower().endswith(".git"):
        path = path[:-4]
    path = path.strip("/")
    return f"{host.lower()}/{path.lower()}" if host else path.lower()


# -- the push event ------------------------------------------------------------------------


@dataclass(frozen=True)
class PushEvent:
    """What a GitHub push says, in the terms app matching needs.

    ``repo_urls`` are normalised; ``branch``/``tag`` are short names (one of them set);
    ``changed_files`` are repository-relative paths, or None when the payload cannot tell
    (no commits listed, or more than GitHub lists)."""

    repository: str
    repo_urls: frozenset[str]
    ref: str
    before: str
    after: str
    branch: str | None = None
    tag: str | None = None
    default_branch: str = ""
    created: bool = False
    deleted: bool = False
    commit_shas: tuple[str, ...] = ()
    changed_files: frozenset[str] | None = None
    pusher: str = ""

    def is_repo(self, repo_url: str) -> bool:
        """True when ``repo_url`` names this push's repository."""
        return normalize_repo_url(repo_url) in self.repo_urls


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise WebhookError(f"push payload: {key!r} must be an object")
    return value


def _text(data: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise WebhookError(f"push payload: {key!r} must be a non-empty string")
    return value


def parse_push(body: bytes) -> PushEvent:
    """The ``PushEvent`` in a GitHub ``push`` payload. Only call it on a verified body.
    WebhookError (400) naming the missing or malformed field otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("push payload is not valid JSON") from None
    if not isinstance(data, Mapping):
        raise WebhookError("push payload must be a JSON object")
    ref = _text(data, "ref", required=True)
    repo = _mapping(data, "repository")
    urls = {
        normalize_repo_url(value)
        for key in ("clone_url", "ssh_url", "html_url", "git_url", "url", "svn_url")
        if isinstance(value := repo.get(key), str) and value
    }
    if not urls:
        raise WebhookError("push payload: 'repository' has no clone_url, ssh_url or html_url")
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    tag = ref.removeprefix("refs/tags/") if ref.startswith("refs/tags/") else None
    commits = data.get("commits") or []
    if not isinstance(commits, list):
        raise WebhookError("push payload: 'commits' must be a list")
    shas: list[str] = []
    files: set[str] = set()
    for index, commit in enumerate(commits):
        if not isinstance(commit, Mapping):
            raise WebhookError(f"push payload: commits[{index}] must be an object")
        sha = commit.get("id")
        if isinstance(sha, str) and sha:
            shas.append(sha.lower())
        for key in ("added", "removed", "modified"):
            listed = commit.get(key) or []
            if isinstance(listed, list):
                files.update(str(path) for path in listed)
    after = _text(data, "after").lower()
    before = _text(data, "before").lower()
    deleted = bool(data.get("deleted")) or after == _ZERO_SHA
    known_files = bool(commits) and len(commits) < _MAX_PAYLOAD_COMMITS and not deleted
    pusher = data.get("pusher")
    return PushEvent(
        repository=str(repo.get("full_name") or repo.get("name") or ""),
        repo_urls=frozenset(urls),
        ref=ref,
        before=before,
        after=after,
        branch=branch,
        tag=tag,
        default_branch=str(repo.get("default_branch") or repo.get("master_branch") or ""),
        created=bool(data.get("created")),
        deleted=deleted,
        commit_shas=tuple(shas),
        changed_files=frozenset(files) if known_files else None,
        pusher=str(pusher.get("name") or "") if isinstance(pusher, Mapping) else "",
    )


# -- which apps a push concerns --------------------------------------------------------------


def revision_matches(target_revision: str, push: PushEvent) -> bool:
    """True when an app following ``target_revision`` should look at this push."""
    target = target_revision.strip()
    if target in ("", "HEAD"):
        if push.branch is None:
            return False
        return not push.default_branch or push.branch == push.default_branch
    if target.startswith("refs/heads/"):
        return push.branch == target.removeprefix("refs/heads/")
    if target.startswith("refs/tags/"):
        return push.tag == target.removeprefix("refs/tags/")
    if target in (push.branch, push.tag):
        return True
    if _SHA.match(target):
        wanted = target.lower()
        return any(sha.startswith(wanted) for sha in (push.after, *push.commit_shas) if sha)
    return push.tag is not None and any(char in _CONSTRAINT_CHARS for char in target)


def _generate_paths(app: Application) -> list[str] | None:
    """The repository paths of the manifest-generate-paths annotation, or None without it."""
    raw = app.annotations.get(MANIFEST_PATHS_ANNOTATION)
    if raw is None or not raw.strip():
        return None
    base = app.spec.source.path.strip("/") or "."
    paths = []
    for item in raw.split(";"):
        item = item.strip()
        if not item:
            continue
        joined = item if item.startswith("/") else posixpath.join(base, item)
        normal = posixpath.normpath(joined.lstrip("/")).lstrip("/")
        paths.append("" if normal in (".", "") else normal)
    return paths


def _touches(paths: Iterable[str], changed: frozenset[str]) -> bool:
    for path in paths:
        if path == "":
            return True
        glob = any(char in path for char in "*?[")
        for changed_file in changed:
            if glob and fnmatch.fnmatchcase(changed_file, path):
                return True
            if changed_file == path or changed_file.startswith(path + "/"):
                return True
    return False


def watches(app: Application, push: PushEvent) -> bool:
    """True when ``app`` follows the pushed repository and revision (and, when it carries
    the manifest-generate-paths annotation, the push touched one of those paths)."""
    source = app.spec.source
    if not push.is_repo(source.repo_url):
        return False
    if not revision_matches(source.target_revision, push):
        return False
    paths = _generate_paths(app)
    if paths is None or push.changed_files is None:
        return True
    return _touches(paths, push.changed_files)


def apps_for_push(apps: Iterable[Application], push: PushEvent) -> list[Application]:
    """The apps to refresh for ``push``, in the order given."""
    return [app for app in apps if watches(app, push)]


__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "MANIFEST_PATHS_ANNOTATION",
    "SIGNATURE_HEADER",
    "PushEvent",
    "SecretLike",
    "WebhookError",
    "apps_for_push",
    "check_bearer",
    "normalize_repo_url",
    "parse_push",
    "revision_matches",
    "sign",
    "verify_signature",
    "watches",
]
