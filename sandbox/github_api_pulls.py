"""REST endpoints for pull requests, their merge, and their conversation comments.

A pull request joins two branches of one repository. While it is open its head and base
follow the branches, so ``mergeable`` is computed on every read with ``git merge-tree``;
merging writes real commits into the bare repository (a merge commit, a squash commit, or the
rebased commits: ``sandbox.github_merge``) and moves the base branch with a compare-and-swap,
then reports the push.
"""

from __future__ import annotations

import time

from sandbox import github_json as js
from sandbox import github_merge as merging
from sandbox import github_pulls_view as view
from sandbox.github_http import (
    ApiError,
    Request,
    Response,
    Router,
    custom_invalid,
    empty_response,
    invalid,
    json_response,
    not_found,
    optional_str,
    paginate,
    require_str,
)
from sandbox.github_state import (
    MERGE_METHODS,
    IssueComment,
    PullRequest,
    PushSink,
    Repository,
    Store,
)

REPO = "/repos/{owner}/{repo}"


class PullsApi:
    """Handlers for ``/repos/{o}/{r}/pulls`` and ``/repos/{o}/{r}/issues/{n}``."""

    def __init__(self, store: Store, urls: js.Urls, sink: PushSink) -> None:
        self.store = store
        self.urls = urls
        self.sink = sink

    def register(self, router: Router) -> None:
        """Add this API's routes."""
        router.add("GET", REPO + "/pulls", self.list_pulls)
        router.add("POST", REPO + "/pulls", self.create_pull)
        router.add("GET", REPO + "/pulls/{number:int}", self.get_pull)
        router.add("PATCH", REPO + "/pulls/{number:int}", self.update_pull)
        router.add("GET", REPO + "/pulls/{number:int}/commits", self.list_pull_commits)
        router.add("GET", REPO + "/pulls/{number:int}/merge", self.check_merged)
        router.add("PUT", REPO + "/pulls/{number:int}/merge", self.merge_pull)
        router.add("GET", REPO + "/issues/{number:int}", self.get_issue)
        router.add("GET", REPO + "/issues/{number:int}/comments", self.list_comments)
        router.add("POST", REPO + "/issues/{number:int}/comments", self.create_comment)

    # -- state ---------------------------------------------------------------------------

    def _pull(self, params: dict[str, str]) -> tuple[Repository, PullRequest]:
        repo = self.store.get(params["owner"], params["repo"])
        pr = repo.pulls.get(int(params["number"]))
        if pr is None:
            raise not_found()
        view.refresh(repo, pr)
        return repo, pr

    # -- pulls ---------------------------------------------------------------------------

    def list_pulls(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/pulls?state=&head=owner:branch&base=&sort=&direction=``."""
        repo = self.store.get(params["owner"], params["repo"])
        state = request.query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise invalid("PullRequest", "state")
        head = request.query.get("head")
        head_owner, _, head_ref = head.rpartition(":") if head and ":" in head else ("", "", head)
        base = request.query.get("base")
        sort = request.query.get("sort", "created")
        descending = request.query.get("direction", "desc" if sort == "created" else "asc")
        with self.store.lock:
            pulls = list(repo.pulls.values())
            for pr in pulls:
                view.refresh(repo, pr)
            chosen = [
                pr
                for pr in pulls
                if (state == "all" or pr.state == state)
                and (not head_owner or head_owner.lower() == repo.owner.lower())
                and (not head_ref or pr.head_ref == head_ref)
                and (not base or pr.base_ref == base)
            ]
        key = "updated_at" if sort in ("updated", "long-running") else "created_at"
        chosen.sort(key=lambda p: (getattr(p, key), p.number), reverse=descending == "desc")
        items = [view.pull_json(self.urls, repo, pr, full=False) for pr in chosen]
        page, headers = paginate(request, items, self.urls.api)
        return json_response(page, headers=headers)

    def _head_ref(self, repo: Repository, head: str) -> str:
        owner, _, ref = head.rpartition(":")
        if owner and owner.lower() != repo.owner.lower():
            raise invalid("PullRequest", "head")
        return ref

    def create_pull(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /repos/{o}/{r}/pulls`` with ``{title, head, base, body, draft}``; 201, or
        422 for a missing branch, no commits between them, or an open duplicate."""
        repo = self.store.get(params["owner"], params["repo"])
        body = request.json()
        if "issue" in body:
            raise custom_invalid("PullRequest", "the sandbox cannot turn issues into pulls")
        title = require_str(body, "title", "PullRequest")
        head_ref = self._head_ref(repo, require_str(body, "head", "PullRequest"))
        base_ref = require_str(body, "base", "PullRequest")
        text = optional_str(body, "body", "PullRequest")
        with self.store.lock:
            base_sha = repo.git.ref_sha(f"refs/heads/{base_ref}")
            if base_sha is None:
                raise invalid("PullRequest", "base")
            head_sha = repo.git.ref_sha(f"refs/heads/{head_ref}")
            if head_sha is None:
                raise invalid("PullRequest", "head")
            for other in repo.pulls.values():
                view.refresh(repo, other)
                same = other.head_ref == head_ref and other.base_ref == base_ref
                if other.state == "open" and same:
                    raise custom_invalid(
                        "PullRequest", f"A pull request already exists for {repo.owner}:{head_ref}."
                    )
            if repo.git.merge_base(base_sha, head_sha) is None:
                raise custom_invalid(
                    "PullRequest", f"The {base_ref} branch has no history in common with {head_ref}"
                )
            if not repo.git.log([head_sha], [base_sha], limit=1):
                raise custom_invalid("PullRequest", f"No commits between {base_ref} and {head_ref}")
            now = time.time()
            pr = PullRequest(
                id=self.store.new_id(),
                number=repo.next_number,
                title=title,
                body=text,
                head_ref=head_ref,
                base_ref=base_ref,
                head_sha=head_sha,
                base_sha=base_sha,
                user=request.login,
                created_at=now,
                updated_at=now,
                draft=bool(body.get("draft", False)),
                maintainer_can_modify=bool(body.get("maintainer_can_modify", False)),
            )
            repo.pulls[pr.number] = pr
            repo.next_number += 1
            data = view.pull_json(self.urls, repo, pr)
        return json_response(data, 201, {"Location": data["url"]})

    def get_pull(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/pulls/{n}`` with ``mergeable`` computed now."""
        with self.store.lock:
            repo, pr = self._pull(params)
            return json_response(view.pull_json(self.urls, repo, pr))

    def update_pull(self, request: Request, params: dict[str, str]) -> Response:
        """``PATCH /repos/{o}/{r}/pulls/{n}``: title, body, state (open/closed), base."""
        body = request.json()
        with self.store.lock:
            repo, pr = self._pull(params)
            title = optional_str(body, "title", "PullRequest")
            text = optional_str(body, "body", "PullRequest")
            state = optional_str(body, "state", "PullRequest")
            base = optional_str(body, "base", "PullRequest")
            if state not in (None, "open", "closed"):
                raise invalid("PullRequest", "state")
            if (state or base) and pr.merged_at is not None:
                raise custom_invalid(
                    "PullRequest", "The pull request has already been merged and cannot change."
                )
            if base is not None and repo.git.ref_sha(f"refs/heads/{base}") is None:
                raise invalid("PullRequest", "base")
            if state == "open" and pr.state == "closed":
                if repo.git.ref_sha(f"refs/heads/{pr.head_ref}") is None:
                    raise custom_invalid("PullRequest", "The head branch no longer exists.")
                pr.state, pr.closed_at = "open", None
            elif state == "closed" and pr.state == "open":
                pr.state, pr.closed_at = "closed", time.time()
            if title is not None:
                pr.title = title
            if text is not None:
                pr.body = text
            if base is not None:
                pr.base_ref = base
            if "maintainer_can_modify" in body:
                pr.maintainer_can_modify = bool(body["maintainer_can_modify"])
            pr.updated_at = time.time()
            view.refresh(repo, pr)
            return json_response(view.pull_json(self.urls, repo, pr))

    def list_pull_commits(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/pulls/{n}/commits``: oldest first, paginated."""
        with self.store.lock:
            repo, pr = self._pull(params)
            shas = list(reversed(repo.git.log([pr.head_sha], [pr.base_sha], limit=250)))
        items = [js.commit(self.urls, repo, repo.git.commit(sha)) for sha in shas]
        page, headers = paginate(request, items, self.urls.api)
        return json_response(page, headers=headers)

    def check_merged(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/pulls/{n}/merge``: 204 when merged, else 404."""
        _, pr = self._pull(params)
        if pr.merged_at is None:
            raise not_found()
        return empty_response(204)

    def merge_pull(self, request: Request, params: dict[str, str]) -> Response:
        """``PUT /repos/{o}/{r}/pulls/{n}/merge`` with ``{merge_method, sha, commit_title,
        commit_message}``: merge, squash or rebase into the base branch
        (``sandbox.github_merge``), then report the push.

        405 when the pull request is closed, a draft, conflicting (or, for ``rebase``, not
        rebaseable), or the repository does not allow the method; 409 when ``sha`` is not
        the head any more or the base moved meanwhile; 422 for an unknown method."""
        body = request.json()
        method = optional_str(body, "merge_method", "PullRequest") or "merge"
        if method not in MERGE_METHODS:
            raise invalid("PullRequest", "merge_method")
        expected = optional_str(body, "sha", "PullRequest")
        title = optional_str(body, "commit_title", "PullRequest")
        extra = optional_str(body, "commit_message", "PullRequest")
        with self.store.lock:
            repo, pr = self._pull(params)
            if pr.state != "open":
                raise ApiError(405, merging.NOT_MERGEABLE)
            if method not in repo.merge_methods:
                raise ApiError(405, merging.NOT_ALLOWED[method])
            if pr.draft:
                raise ApiError(405, "Pull Request is still a draft")
            if expected and expected != pr.head_sha:
                raise ApiError(409, "Head branch was modified. Review and try the merge again.")
            written = merging.merge_commits(
                repo.git,
                pr,
                method,
                merger=request.login,
                owner=repo.owner,
                title=title,
                body=extra,
            )
            new = written[-1]
            ref = f"refs/heads/{pr.base_ref}"
            if not repo.git.update_ref(ref, new, pr.base_sha):
                raise ApiError(409, "Base branch was modified. Review and try the merge again.")
            now = time.time()
            pr.state, pr.closed_at, pr.merged_at, pr.updated_at = "closed", now, now, now
            pr.merged_by, pr.merge_commit_sha = request.login, new
            repo.pushed_at = now
            self.sink.pushed(repo, ref, pr.base_sha, new, request.login)
        return json_response(
            {"sha": new, "merged": True, "message": "Pull Request successfully merged"}
        )

    # -- the pull request's conversation -------------------------------------------------

    def get_issue(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/issues/{n}``: a pull request seen as an issue."""
        with self.store.lock:
            repo, pr = self._pull(params)
            return json_response(view.issue_json(self.urls, repo, pr))

    def list_comments(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/issues/{n}/comments``: oldest first, paginated."""
        with self.store.lock:
            repo, pr = self._pull(params)
            items = [js.comment(self.urls, repo, c) for c in repo.comments if c.number == pr.number]
        page, headers = paginate(request, items, self.urls.api)
        return json_response(page, headers=headers)

    def create_comment(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /repos/{o}/{r}/issues/{n}/comments`` with ``{body}``; 201."""
        body = require_str(request.json(), "body", "IssueComment")
        with self.store.lock:
            repo, pr = self._pull(params)
            now = time.time()
            item = IssueComment(self.store.new_id(), pr.number, body, request.login, now, now)
            repo.comments.append(item)
            pr.updated_at = now
        data = js.comment(self.urls, repo, item)
        return json_response(data, 201, {"Location": data["url"]})
