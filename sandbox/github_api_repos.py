"""REST endpoints for users, repositories, Git refs, branches, commits and commit statuses.

Every read goes to the bare repository, so a ``git push`` made outside the API is seen at
once. Ref changes made through the API are reported to the :class:`PushSink` (the webhook).
"""

from __future__ import annotations

import time
from typing import Any

from sandbox import github_json as js
from sandbox.github_git import ZERO_SHA, CommitInfo, GitError, is_full_sha
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
from sandbox.github_pulls_view import latest_statuses
from sandbox.github_state import MERGE_METHODS, CommitStatus, PushSink, Repository, Store

STATUS_STATES = ("error", "failure", "pending", "success")
MAX_STATUS_DESCRIPTION = 140
REPO = "/repos/{owner}/{repo}"
REPO_MERGE_FLAGS = ("allow_merge_commit", "allow_squash_merge", "allow_rebase_merge")


class ReposApi:
    """Handlers for everything about a repository except pull requests."""

    def __init__(self, store: Store, urls: js.Urls, sink: PushSink) -> None:
        self.store = store
        self.urls = urls
        self.sink = sink

    def register(self, router: Router) -> None:
        """Add this API's routes (more specific paths first)."""
        router.add("GET", "/user", self.get_user)
        router.add("GET", "/users/{login}", self.get_named_user)
        router.add("GET", REPO, self.get_repo)
        router.add("PATCH", REPO, self.update_repo)
        router.add("GET", REPO + "/branches", self.list_branches)
        router.add("GET", REPO + "/branches/{branch:path}", self.get_branch)
        router.add("GET", REPO + "/commits", self.list_commits)
        router.add("GET", REPO + "/commits/{ref:path}/statuses", self.list_statuses)
        router.add("GET", REPO + "/commits/{ref:path}/status", self.get_combined_status)
        router.add("GET", REPO + "/commits/{ref:path}", self.get_commit)
        router.add("GET", REPO + "/git/commits/{sha}", self.get_git_commit)
        router.add("GET", REPO + "/git/refs", self.list_refs)
        router.add("GET", REPO + "/git/matching-refs/{ref:path}", self.matching_refs)
        router.add("GET", REPO + "/git/ref/{ref:path}", self.get_ref)
        router.add("GET", REPO + "/git/refs/{ref:path}", self.get_ref_legacy)
        router.add("POST", REPO + "/git/refs", self.create_ref)
        router.add("PATCH", REPO + "/git/refs/{ref:path}", self.update_ref)
        router.add("DELETE", REPO + "/git/refs/{ref:path}", self.delete_ref)
        router.add("POST", REPO + "/statuses/{sha}", self.create_status)
        router.add("GET", REPO + "/statuses/{ref:path}", self.list_statuses)

    # -- helpers -------------------------------------------------------------------------

    def _repo(self, params: dict[str, str]) -> Repository:
        return self.store.get(params["owner"], params["repo"])

    def _commit(self, repo: Repository, ref: str) -> CommitInfo:
        sha = repo.git.resolve(ref)
        if sha is None:
            raise ApiError(422, f"No commit found for SHA: {ref}")
        return repo.git.commit(sha)

    def _list(self, request: Request, items: list[Any]) -> Response:
        page, headers = paginate(request, items, self.urls.api)
        return json_response(page, headers=headers)

    # -- users and repositories ----------------------------------------------------------

    def get_user(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /user``: the token's user."""
        return json_response(js.full_user(self.urls, request.login))

    def get_named_user(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /users/{login}``: any login exists here."""
        return json_response(js.full_user(self.urls, params["login"]))

    def get_repo(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{owner}/{repo}``."""
        return json_response(js.repository(self.urls, self._repo(params)))

    def update_repo(self, request: Request, params: dict[str, str]) -> Response:
        """``PATCH /repos/{owner}/{repo}``: ``description`` and the merge methods allowed
        (``allow_merge_commit``, ``allow_squash_merge``, ``allow_rebase_merge``). Other
        settings are accepted and ignored; a rename is refused (422)."""
        repo = self._repo(params)
        body = request.json()
        name = optional_str(body, "name", "Repository")
        if name is not None and name.lower() != repo.name.lower():
            raise custom_invalid("Repository", "the sandbox cannot rename repositories")
        description = optional_str(body, "description", "Repository")
        flags = dict(zip(MERGE_METHODS, REPO_MERGE_FLAGS, strict=True))
        for field in flags.values():
            if field in body and not isinstance(body[field], bool):
                raise invalid("Repository", field)
        with self.store.lock:
            if description is not None:
                repo.description = description
            repo.merge_methods = tuple(
                method
                for method, field in flags.items()
                if body.get(field, method in repo.merge_methods)
            )
            return json_response(js.repository(self.urls, repo))

    # -- branches and commits ------------------------------------------------------------

    def list_branches(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/branches``, paginated."""
        repo = self._repo(params)
        prefix = "refs/heads/"
        items = [
            js.short_branch(self.urls, repo, name[len(prefix) :], sha)
            for name, sha in repo.git.refs(prefix)
        ]
        return self._list(request, items)

    def get_branch(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/branches/{branch}``; 404 "Branch not found"."""
        repo = self._repo(params)
        sha = repo.git.ref_sha(f"refs/heads/{params['branch']}")
        if sha is None:
            raise ApiError(404, "Branch not found")
        info = repo.git.commit(sha)
        return json_response(js.branch(self.urls, repo, params["branch"], info))

    def list_commits(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/commits?sha=&path=``, newest first, paginated."""
        repo = self._repo(params)
        start = request.query.get("sha") or repo.default_branch
        head = repo.git.resolve(start)
        if head is None:
            if not repo.git.refs("refs/heads/"):
                raise ApiError(409, "Git Repository is empty.")
            raise not_found()
        path = request.query.get("path")
        args = ["rev-list", head, "--"] + ([path] if path else [])
        shas = repo.git.run(*args)[1].split()
        items = [js.commit(self.urls, repo, repo.git.commit(sha)) for sha in shas[:1000]]
        return self._list(request, items)

    def get_commit(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/commits/{ref}`` with stats and files; 422 when unknown."""
        repo = self._repo(params)
        info = self._commit(repo, params["ref"])
        files = repo.git.changes(info.sha)
        return json_response(js.commit(self.urls, repo, info, files))

    def get_git_commit(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/git/commits/{sha}``."""
        repo = self._repo(params)
        sha = params["sha"]
        if not is_full_sha(sha) or repo.git.resolve(sha) != sha:
            raise not_found()
        return json_response(js.git_commit(self.urls, repo, repo.git.commit(sha)))

    # -- git refs ------------------------------------------------------------------------

    def _ref_items(self, repo: Repository, prefix: str) -> list[dict[str, Any]]:
        return [js.ref(self.urls, repo, name, sha) for name, sha in repo.git.refs(prefix)]

    def list_refs(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/git/refs``; 409 for an empty repository, as GitHub."""
        repo = self._repo(params)
        items = self._ref_items(repo, "refs/")
        if not items:
            raise ApiError(409, "Git Repository is empty.")
        return self._list(request, items)

    def matching_refs(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/git/matching-refs/{prefix}`` (possibly an empty list)."""
        repo = self._repo(params)
        items = self._ref_items(repo, f"refs/{params['ref']}")
        return self._list(request, items)

    def get_ref(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/git/ref/{heads/x}``: exactly one ref, or 404."""
        repo = self._repo(params)
        name = f"refs/{params['ref']}"
        sha = repo.git.ref_sha(name)
        if sha is None:
            raise not_found()
        return json_response(js.ref(self.urls, repo, name, sha))

    def get_ref_legacy(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/git/refs/{ref}``: the ref, or the list its prefix matches."""
        repo = self._repo(params)
        name = f"refs/{params['ref']}"
        sha = repo.git.ref_sha(name)
        if sha is not None:
            return json_response(js.ref(self.urls, repo, name, sha))
        items = self._ref_items(repo, name.rstrip("/") + "/")
        if not items:
            raise not_found()
        return json_response(items)

    def create_ref(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /repos/{o}/{r}/git/refs`` with ``{ref, sha}``; 201, or 422 when the ref
        exists, the name is bad or the object is unknown."""
        repo = self._repo(params)
        body = request.json()
        name = require_str(body, "ref", "Reference")
        sha = require_str(body, "sha", "Reference")
        if not name.startswith("refs/") or name.count("/") < 2 or not self._valid_ref(repo, name):
            raise ApiError(422, f"Reference name is not valid: {name!r} (expected refs/heads/...)")
        with self.store.lock:
            if not is_full_sha(sha) or repo.git.resolve(sha) != sha:
                raise ApiError(422, "Object does not exist")
            if not repo.git.update_ref(name, sha, ZERO_SHA):
                raise ApiError(422, "Reference already exists")
            repo.pushed_at = time.time()
            self.sink.pushed(repo, name, ZERO_SHA, sha, request.login)
        return json_response(js.ref(self.urls, repo, name, sha), 201)

    @staticmethod
    def _valid_ref(repo: Repository, name: str) -> bool:
        code, _ = repo.git.run("check-ref-format", name, ok_codes=(0, 1))
        return code == 0

    def update_ref(self, request: Request, params: dict[str, str]) -> Response:
        """``PATCH /repos/{o}/{r}/git/refs/{ref}`` with ``{sha, force}``; 422 "Update is not
        a fast forward" unless ``force``."""
        repo = self._repo(params)
        body = request.json()
        sha = require_str(body, "sha", "Reference")
        force = bool(body.get("force", False))
        name = f"refs/{params['ref']}"
        with self.store.lock:
            old = repo.git.ref_sha(name)
            if old is None:
                raise ApiError(422, "Reference does not exist")
            if not is_full_sha(sha) or repo.git.resolve(sha) != sha:
                raise ApiError(422, "Object does not exist")
            if not force and not repo.git.is_ancestor(old, sha):
                raise ApiError(422, "Update is not a fast forward")
            if not repo.git.update_ref(name, sha, old):
                raise ApiError(409, "Reference changed while updating; try again")
            repo.pushed_at = time.time()
            self.sink.pushed(repo, name, old, sha, request.login)
        return json_response(js.ref(self.urls, repo, name, sha))

    def delete_ref(self, request: Request, params: dict[str, str]) -> Response:
        """``DELETE /repos/{o}/{r}/git/refs/{ref}``; 204, or 422 "Reference does not exist"."""
        repo = self._repo(params)
        name = f"refs/{params['ref']}"
        with self.store.lock:
            old = repo.git.ref_sha(name)
            if old is None or not repo.git.delete_ref(name, old):
                raise ApiError(422, "Reference does not exist")
            self.sink.pushed(repo, name, old, ZERO_SHA, request.login)
        return empty_response(204)

    # -- commit statuses -----------------------------------------------------------------

    def create_status(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /repos/{o}/{r}/statuses/{sha}`` with ``{state, target_url, description,
        context}``; 201, or 422 naming the bad field or the unknown commit."""
        repo = self._repo(params)
        body = request.json()
        state = require_str(body, "state", "Status")
        if state not in STATUS_STATES:
            raise custom_invalid("Status", f"state is not included in the list: {state!r}")
        target_url = optional_str(body, "target_url", "Status")
        description = optional_str(body, "description", "Status")
        context = optional_str(body, "context", "Status") or "default"
        if description is not None and len(description) > MAX_STATUS_DESCRIPTION:
            raise custom_invalid(
                "Status",
                f"description is too long (maximum is {MAX_STATUS_DESCRIPTION} characters)",
            )
        if target_url and not target_url.startswith(("http://", "https://")):
            raise invalid("Status", "target_url")
        sha = params["sha"]
        try:
            found = repo.git.resolve(sha) if is_full_sha(sha) else None
        except GitError:
            found = None
        if found != sha:
            raise ApiError(422, f"No commit found for SHA: {sha}")
        item = CommitStatus(
            id=self.store.new_id(),
            sha=sha,
            state=state,
            context=context,
            description=description,
            target_url=target_url,
            creator=request.login,
            created_at=time.time(),
        )
        with self.store.lock:
            repo.statuses.append(item)
        return json_response(js.status(self.urls, repo, item), 201)

    def _resolve_for_statuses(self, repo: Repository, ref: str) -> str:
        sha = repo.git.resolve(ref)
        if sha is None:
            raise not_found()
        return sha

    def list_statuses(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/commits/{ref}/statuses`` (and the older
        ``/statuses/{ref}``): every status, newest first, paginated."""
        repo = self._repo(params)
        sha = self._resolve_for_statuses(repo, params["ref"])
        with self.store.lock:
            items = [js.status(self.urls, repo, s) for s in reversed(repo.statuses) if s.sha == sha]
        return self._list(request, items)

    def get_combined_status(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /repos/{o}/{r}/commits/{ref}/status``: newest status per context and the
        combined state."""
        repo = self._repo(params)
        sha = self._resolve_for_statuses(repo, params["ref"])
        with self.store.lock:
            latest = latest_statuses(repo, sha)
        return json_response(js.combined_status(self.urls, repo, sha, latest))
