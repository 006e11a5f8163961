"""Plain HTML pages behind the stand-in's ``html_url`` links (a repository, a pull request),
so that a link posted to Slack by the demo opens something readable instead of a 404."""

from __future__ import annotations

import re
from html import escape

from sandbox.github_http import Request, Response
from sandbox.github_json import iso
from sandbox.github_pulls_view import refresh
from sandbox.github_state import PullRequest, Repository, Store

_REPO_PAGE = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/?$")
_PULL_PAGE = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pull/(?P<number>[0-9]+)/?$")
_STYLE = "body{font-family:sans-serif;max-width:60em;margin:2em auto}pre{white-space:pre-wrap}"


def _page(title: str, body: str) -> Response:
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return Response(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


def _pull_line(repo: Repository, pr: PullRequest) -> str:
    state = "merged" if pr.merged_at else pr.state
    link = f"/{escape(repo.full_name)}/pull/{pr.number}"
    return f"<li><a href='{link}'>#{pr.number}</a> {escape(pr.title)} ({state})</li>"


def _repo_page(repo: Repository) -> Response:
    branches = "".join(
        f"<li>{escape(name.removeprefix('refs/heads/'))} <code>{sha[:12]}</code></li>"
        for name, sha in repo.git.refs("refs/heads/")
    )
    pulls = "".join(
        _pull_line(repo, pr) for pr in sorted(repo.pulls.values(), key=lambda p: -p.number)
    )
    body = (
        f"<h1>{escape(repo.full_name)}</h1><p>Clone: <code>{escape(repo.path.as_uri())}</code></p>"
        f"<h2>Branches</h2><ul>{branches}</ul><h2>Pull requests</h2><ul>{pulls}</ul>"
    )
    return _page(repo.full_name, body)


def _pull_page(repo: Repository, pr: PullRequest) -> Response:
    refresh(repo, pr)
    state = "merged" if pr.merged_at else pr.state
    merged = f"<p>Merged as <code>{pr.merge_commit_sha}</code> at {iso(pr.merged_at)}</p>"
    comments = "".join(
        f"<li><b>{escape(c.user)}</b> {iso(c.created_at)}<pre>{escape(c.body)}</pre></li>"
        for c in repo.comments
        if c.number == pr.number
    )
    body = (
        f"<p><a href='/{escape(repo.full_name)}'>{escape(repo.full_name)}</a></p>"
        f"<h1>{escape(pr.title)} #{pr.number}</h1>"
        f"<p><b>{state}</b>: {escape(pr.user)} wants to merge <code>{escape(pr.head_ref)}</code>"
        f" ({pr.head_sha[:12]}) into <code>{escape(pr.base_ref)}</code></p>"
        f"{merged if pr.merged_at else ''}<pre>{escape(pr.body or '')}</pre>"
        f"<h2>Comments</h2><ul>{comments}</ul>"
    )
    return _page(f"{pr.title} #{pr.number}", body)


def web_page(store: Store, request: Request) -> Response | None:
    """The page for a repository or pull request web path, or None when there is none."""
    if request.method not in ("GET", "HEAD"):
        return None
    match = _PULL_PAGE.match(request.path) or _REPO_PAGE.match(request.path)
    if match is None:
        return None
    repo = store.find(match["owner"], match["repo"])
    if repo is None:
        return None
    if "number" not in match.groupdict():
        return _repo_page(repo)
    with store.lock:
        pr = repo.pulls.get(int(match["number"]))
        return _pull_page(repo, pr) if pr is not None else None
