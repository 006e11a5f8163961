"""The JSON shapes of GitHub's REST API, built from the stand-in's records and Git data.

Only fields that clients (PyGithub above all) read are filled with meaning; the rest carry
GitHub's neutral defaults so that a client never trips over a missing key. Every ``url`` points
back at the sandbox, because PyGithub follows them to complete lazy objects.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.github_git import CommitInfo, FileChange, Person
from sandbox.github_state import CommitStatus, IssueComment, Repository

JSON = dict[str, Any]


@dataclass(frozen=True)
class Urls:
    """The REST base (``http://host:port/api/v3``) and the web base (``http://host:port``)."""

    api: str
    web: str

    def repo(self, repo: Repository) -> str:
        """The repository's REST URL."""
        return f"{self.api}/repos/{repo.full_name}"

    def repo_html(self, repo: Repository) -> str:
        """The repository's web page."""
        return f"{self.web}/{repo.full_name}"


def iso(when: float | datetime | None) -> str | None:
    """GitHub's timestamp format (UTC, seconds, ``Z``)."""
    if when is None:
        return None
    moment = when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    """An opaque GraphQL node id for an object."""
    return base64.b64encode(f"{kind}:{number}".encode()).decode().rstrip("=")


def user_id(login: str) -> int:
    """A stable numeric id for a login."""
    return zlib.crc32(login.lower().encode()) % 100_000_000 + 1


def user(urls: Urls, login: str) -> JSON:
    """A simple user object (as embedded in other objects)."""
    uid = user_id(login)
    return {
        "login": login,
        "id": uid,
        "node_id": node_id("User", uid),
        "avatar_url": f"{urls.web}/avatars/{login}",
        "url": f"{urls.api}/users/{login}",
        "html_url": f"{urls.web}/{login}",
        "type": "User",
        "site_admin": False,
    }


def full_user(urls: Urls, login: str) -> JSON:
    """The user object of ``GET /user`` and ``GET /users/{login}``."""
    return {
        **user(urls, login),
        "name": login,
        "email": f"{login}@users.noreply.github.com",
        "company": None,
        "blog": "",
        "location": None,
        "bio": None,
        "public_repos": 0,
        "followers": 0,
        "following": 0,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
    }


def repository(urls: Urls, repo: Repository) -> JSON:
    """The repository object of ``GET /repos/{owner}/{repo}``."""
    base = urls.repo(repo)
    return {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": False,
        "owner": user(urls, repo.owner),
        "html_url": urls.repo_html(repo),
        "description": repo.description,
        "fork": False,
        "url": base,
        "branches_url": f"{base}/branches{{/branch}}",
        "commits_url": f"{base}/commits{{/sha}}",
        "git_refs_url": f"{base}/git/refs{{/sha}}",
        "issues_url": f"{base}/issues{{/number}}",
        "pulls_url": f"{base}/pulls{{/number}}",
        "statuses_url": f"{base}/statuses/{{sha}}",
        "hooks_url": f"{base}/hooks",
        "clone_url": repo.path.as_uri(),
        "git_url": repo.path.as_uri(),
        "ssh_url": repo.path.as_uri(),
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.pushed_at),
        "pushed_at": iso(repo.pushed_at),
        "size": 0,
        "default_branch": repo.default_branch,
        "visibility": "public",
        "archived": False,
        "disabled": False,
        "has_issues": True,
        "open_issues_count": sum(1 for p in repo.pulls.values() if p.state == "open"),
        "permissions": {
            "admin": True,
            "maintain": True,
            "push": True,
            "triage": True,
            "pull": True,
        },
        "allow_merge_commit": "merge" in repo.merge_methods,
        "allow_squash_merge": "squash" in repo.merge_methods,
        "allow_rebase_merge": "rebase" in repo.merge_methods,
        "delete_branch_on_merge": False,
    }


def ref(urls: Urls, repo: Repository, name: str, sha: str) -> JSON:
    """A Git reference (``refs/heads/x``) as the git/refs endpoints return it."""
    base = urls.repo(repo)
    return {
        "ref": name,
        "node_id": node_id("Ref", zlib.crc32(f"{repo.id}:{name}".encode())),
        "url": f"{base}/git/{name}",
        "object": {"type": "commit", "sha": sha, "url": f"{base}/git/commits/{sha}"},
    }


def _person(person: Person) -> JSON:
    return {"name": person.name, "email": person.email, "date": iso(person.date)}


def _committer_user(urls: Urls, person: Person) -> JSON | None:
    suffix = "@users.noreply.github.com"
    if person.email.endswith(suffix):
        return user(urls, person.email[: -len(suffix)].split("+")[-1])
    return None


def git_commit(urls: Urls, repo: Repository, info: CommitInfo) -> JSON:
    """The Git-data view of a commit (``GET /repos/{o}/{r}/git/commits/{sha}``)."""
    base = urls.repo(repo)
    return {
        "sha": info.sha,
        "node_id": node_id("Commit", zlib.crc32(info.sha.encode())),
        "url": f"{base}/git/commits/{info.sha}",
        "html_url": f"{urls.repo_html(repo)}/commit/{info.sha}",
        "author": _person(info.author),
        "committer": _person(info.committer),
        "message": info.message,
        "tree": {"sha": info.tree, "url": f"{base}/git/trees/{info.tree}"},
        "parents": [
            {
                "sha": p,
                "url": f"{base}/git/commits/{p}",
                "html_url": f"{urls.repo_html(repo)}/commit/{p}",
            }
            for p in info.parents
        ],
        "verification": {"verified": False, "reason": "unsigned", "signature": None},
    }


def commit(
    urls: Urls, repo: Repository, info: CommitInfo, files: list[FileChange] | None = None
) -> JSON:
    """A commit as ``GET /repos/{o}/{r}/commits/{ref}`` returns it (``files`` when given)."""
    base = urls.repo(repo)
    data: JSON = {
        "sha": info.sha,
        "node_id": node_id("Commit", zlib.crc32(info.sha.encode())),
        "url": f"{base}/commits/{info.sha}",
        "html_url": f"{urls.repo_html(repo)}/commit/{info.sha}",
        "comments_url": f"{base}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{base}/git/commits/{info.sha}",
            "author": _person(info.author),
            "committer": _person(info.committer),
            "message": info.message,
            "tree": {"sha": info.tree, "url": f"{base}/git/trees/{info.tree}"},
            "comment_count": 0,
            "verification": {"verified": False, "reason": "unsigned", "signature": None},
        },
        "author": _committer_user(urls, info.author),
        "committer": _committer_user(urls, info.committer),
        "parents": [
            {
                "sha": p,
                "url": f"{base}/commits/{p}",
                "html_url": f"{urls.repo_html(repo)}/commit/{p}",
            }
            for p in info.parents
        ],
    }
    if files is not None:
        adds = sum(f.additions for f in files)
        dels = sum(f.deletions for f in files)
        data["stats"] = {"additions": adds, "deletions": dels, "total": adds + dels}
        data["files"] = [_file(urls, repo, info.sha, f) for f in files]
    return data


def _file(urls: Urls, repo: Repository, sha: str, change: FileChange) -> JSON:
    return {
        "sha": None,
        "filename": change.filename,
        "status": change.status,
        "additions": change.additions,
        "deletions": change.deletions,
        "changes": change.additions + change.deletions,
        "blob_url": f"{urls.repo_html(repo)}/blob/{sha}/{change.filename}",
        "raw_url": f"{urls.repo_html(repo)}/raw/{sha}/{change.filename}",
        "contents_url": f"{urls.repo(repo)}/contents/{change.filename}?ref={sha}",
    }


def branch(urls: Urls, repo: Repository, name: str, info: CommitInfo) -> JSON:
    """A branch (``GET /repos/{o}/{r}/branches/{branch}``), never protected here."""
    base = urls.repo(repo)
    return {
        "name": name,
        "commit": commit(urls, repo, info),
        "_links": {
            "self": f"{base}/branches/{name}",
            "html": f"{urls.repo_html(repo)}/tree/{name}",
        },
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{base}/branches/{name}/protection",
    }


def short_branch(urls: Urls, repo: Repository, name: str, sha: str) -> JSON:
    """A branch as listed by ``GET /repos/{o}/{r}/branches``."""
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{urls.repo(repo)}/commits/{sha}"},
        "protected": False,
    }


def status(urls: Urls, repo: Repository, item: CommitStatus) -> JSON:
    """One commit status."""
    return {
        "url": f"{urls.repo(repo)}/statuses/{item.sha}",
        "avatar_url": None,
        "id": item.id,
        "node_id": node_id("StatusContext", item.id),
        "state": item.state,
        "description": item.description,
        "target_url": item.target_url,
        "context": item.context,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.created_at),
        "creator": user(urls, item.creator),
    }


def combined_state(latest: list[CommitStatus]) -> str:
    """GitHub's combined state: failure if any error/failure, pending if none or any pending,
    success otherwise."""
    states = {s.state for s in latest}
    if states & {"error", "failure"}:
        return "failure"
    if not states or "pending" in states:
        return "pending"
    return "success"


def combined_status(urls: Urls, repo: Repository, sha: str, latest: list[CommitStatus]) -> JSON:
    """``GET /repos/{o}/{r}/commits/{ref}/status``: the newest status per context."""
    base = urls.repo(repo)
    return {
        "state": combined_state(latest),
        "statuses": [status(urls, repo, s) for s in latest],
        "sha": sha,
        "total_count": len(latest),
        "repository": repository(urls, repo),
        "commit_url": f"{base}/commits/{sha}",
        "url": f"{base}/commits/{sha}/status",
    }


def comment(urls: Urls, repo: Repository, item: IssueComment) -> JSON:
    """An issue comment (on a pull request's conversation here)."""
    base = urls.repo(repo)
    return {
        "id": item.id,
        "node_id": node_id("IssueComment", item.id),
        "url": f"{base}/issues/comments/{item.id}",
        "html_url": f"{urls.repo_html(repo)}/pull/{item.number}#issuecomment-{item.id}",
        "issue_url": f"{base}/issues/{item.number}",
        "body": item.body,
        "user": user(urls, item.user),
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "author_association": "OWNER" if item.user == repo.owner else "CONTRIBUTOR",
    }
