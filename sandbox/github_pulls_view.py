"""How the stand-in shows a pull request: its live head/base, its computed mergeability, and
its JSON as a pull request and as an issue.

GitHub computes ``mergeable`` and ``rebaseable`` in the background; here they are computed on
every full read with ``git merge-tree`` (``rebaseable`` by a trial replay of the commits that
writes no ref), which is fast for the repository sizes a sandbox holds.
"""

from __future__ import annotations

from typing import Any

from sandbox import github_json as js
from sandbox.github_merge import rebase_plan
from sandbox.github_state import CommitStatus, PullRequest, Repository


def refresh(repo: Repository, pr: PullRequest) -> None:
    """An open pull request follows its branches (a vanished branch keeps the last sha)."""
    if pr.state != "open":
        return
    pr.head_sha = repo.git.ref_sha(f"refs/heads/{pr.head_ref}") or pr.head_sha
    pr.base_sha = repo.git.ref_sha(f"refs/heads/{pr.base_ref}") or pr.base_sha


def latest_statuses(repo: Repository, sha: str) -> list[CommitStatus]:
    """The newest status of each context on ``sha``, newest first."""
    latest: dict[str, CommitStatus] = {}
    for item in reversed(repo.statuses):
        if item.sha == sha:
            latest.setdefault(item.context, item)
    return list(latest.values())


def mergeability(repo: Repository, pr: PullRequest) -> tuple[bool | None, str]:
    """(``mergeable``, ``mergeable_state``) as GitHub reports them: ``dirty`` on conflicts,
    ``draft``, ``unstable`` when the head's statuses are not all successful, else ``clean``;
    (None, ``unknown``) once closed."""
    if pr.state != "open":
        return None, "unknown"
    if repo.git.merge_tree(pr.base_sha, pr.head_sha) is None:
        return False, "dirty"
    if pr.draft:
        return True, "draft"
    latest = latest_statuses(repo, pr.head_sha)
    if latest and js.combined_state(latest) != "success":
        return True, "unstable"
    return True, "clean"


def _part(urls: js.Urls, repo: Repository, ref: str, sha: str) -> dict[str, Any]:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": js.user(urls, repo.owner),
        "repo": js.repository(urls, repo),
    }


def pull_json(
    urls: js.Urls, repo: Repository, pr: PullRequest, full: bool = True
) -> dict[str, Any]:
    """The pull request; list items (``full=False``) leave out the computed fields
    (``merged``, ``mergeable``, counts), as GitHub does, so clients fetch them lazily."""
    api = f"{urls.repo(repo)}/pulls/{pr.number}"
    issue = f"{urls.repo(repo)}/issues/{pr.number}"
    html = f"{urls.repo_html(repo)}/pull/{pr.number}"
    statuses = f"{urls.repo(repo)}/statuses/{pr.head_sha}"
    data: dict[str, Any] = {
        "url": api,
        "id": pr.id,
        "node_id": js.node_id("PullRequest", pr.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue,
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "comments_url": f"{issue}/comments",
        "statuses_url": statuses,
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": js.user(urls, pr.user),
        "body": pr.body,
        "labels": [],
        "milestone": None,
        "created_at": js.iso(pr.created_at),
        "updated_at": js.iso(pr.updated_at),
        "closed_at": js.iso(pr.closed_at),
        "merged_at": js.iso(pr.merged_at),
        "merge_commit_sha": pr.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _part(urls, repo, pr.head_ref, pr.head_sha),
        "base": _part(urls, repo, pr.base_ref, pr.base_sha),
        "_links": {
            "self": {"href": api},
            "html": {"href": html},
            "issue": {"href": issue},
            "comments": {"href": f"{issue}/comments"},
            "commits": {"href": f"{api}/commits"},
            "statuses": {"href": statuses},
        },
        "author_association": "OWNER" if pr.user == repo.owner else "CONTRIBUTOR",
        "auto_merge": None,
        "draft": pr.draft,
    }
    if full:
        mergeable, mergeable_state = mergeability(repo, pr)
        rebaseable = None
        if mergeable is not None:
            rebaseable = mergeable and rebase_plan(repo.git, pr) is not None
        commits = repo.git.log([pr.head_sha], [pr.base_sha])
        merge_base = repo.git.merge_base(pr.base_sha, pr.head_sha)
        files = repo.git.diff(merge_base, pr.head_sha) if merge_base else []
        data.update(
            {
                "merged": pr.merged_at is not None,
                "mergeable": mergeable,
                "rebaseable": rebaseable,
                "mergeable_state": mergeable_state,
                "merged_by": js.user(urls, pr.merged_by) if pr.merged_by else None,
                "comments": sum(1 for c in repo.comments if c.number == pr.number),
                "review_comments": 0,
                "maintainer_can_modify": pr.maintainer_can_modify,
                "commits": len(commits),
                "additions": sum(f.additions for f in files),
                "deletions": sum(f.deletions for f in files),
                "changed_files": len(files),
            }
        )
    return data


def issue_json(urls: js.Urls, repo: Repository, pr: PullRequest) -> dict[str, Any]:
    """The pull request seen as an issue (``GET /repos/{o}/{r}/issues/{n}``)."""
    data = pull_json(urls, repo, pr, full=False)
    issue = {
        key: data[key]
        for key in ("id", "node_id", "number", "state", "title", "body", "user", "labels")
    }
    issue.update(
        {
            "url": data["issue_url"],
            "repository_url": urls.repo(repo),
            "html_url": data["html_url"],
            "comments_url": data["comments_url"],
            "comments": sum(1 for c in repo.comments if c.number == pr.number),
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "created_at": data["created_at"],
            "updated_at": data["updated_at"],
            "closed_at": data["closed_at"],
            "pull_request": {
                "url": data["url"],
                "html_url": data["html_url"],
                "diff_url": data["diff_url"],
                "patch_url": data["patch_url"],
                "merged_at": data["merged_at"],
            },
        }
    )
    return issue
