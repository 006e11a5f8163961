"""HTTP messages, GitHub's error bodies, routing and Link-header pagination for the stand-in.

Transport-neutral: a :class:`Request` goes in, a :class:`Response` comes out. Errors follow
GitHub's REST conventions: a JSON body ``{message, documentation_url, status}`` plus an
``errors`` list for 422 "Validation Failed" (each ``{resource, field, code}`` or a ``custom``
code with a ``message``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

DOCS = "https://docs.github.com/rest"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
T = TypeVar("T")


@dataclass
class Request:
    """One request: ``path`` without the API prefix, the query as a flat dict, lower-case
    header names, the raw body and, once authenticated, the caller's ``login``."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    login: str = ""

    def json(self) -> dict[str, Any]:
        """The body as a JSON object ({} when empty); 400 when it is not one."""
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            raise ApiError(400, "Problems parsing JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "Body should be a JSON object")
        return data


@dataclass
class Response:
    """Status, headers and body bytes."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with GitHub's content type."""
    body = json.dumps(data, indent=1).encode()
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return Response(status, body, all_headers)


def empty_response(status: int = 204) -> Response:
    """A response without a body (204 No Content, 404 from a "check" endpoint, ...)."""
    return Response(status, b"", {})


class ApiError(Exception):
    """A REST error as GitHub reports it; ``errors`` only for 422 Validation Failed."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, str]] | None = None,
        documentation_url: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.documentation_url = documentation_url
        self.headers = headers or {}

    def response(self) -> Response:
        """The error as GitHub would send it."""
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body["documentation_url"] = self.documentation_url
        body["status"] = str(self.status)
        return json_response(body, self.status, self.headers)


def not_found() -> ApiError:
    """404 with GitHub's "Not Found" message (PyGithub maps it to UnknownObjectException)."""
    return ApiError(404, "Not Found")


def invalid(resource: str, fieldname: str, code: str = "invalid") -> ApiError:
    """422 Validation Failed for one field (code: missing_field, invalid, already_exists)."""
    return ApiError(
        422, "Validation Failed", [{"resource": resource, "field": fieldname, "code": code}]
    )


def custom_invalid(resource: str, message: str) -> ApiError:
    """422 Validation Failed with a ``custom`` error carrying a sentence."""
    return ApiError(
        422, "Validation Failed", [{"resource": resource, "code": "custom", "message": message}]
    )


def require_str(body: dict[str, Any], name: str, resource: str) -> str:
    """A required non-empty string field of a JSON body (422 missing_field / invalid)."""
    value = body.get(name)
    if value is None or value == "":
        raise invalid(resource, name, "missing_field")
    if not isinstance(value, str):
        raise invalid(resource, name)
    return value


def optional_str(body: dict[str, Any], name: str, resource: str) -> str | None:
    """An optional string field (None when absent or null; 422 when not a string)."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid(resource, name)
    return value


# -- routing ------------------------------------------------------------------------------

Handler = Callable[[Request, dict[str, str]], Response]


@dataclass(frozen=True)
class Route:
    """One endpoint: a method, a compiled path pattern and its handler."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _compile(template: str) -> re.Pattern[str]:
    """``/repos/{owner}/{repo}/git/ref/{ref:path}`` to a regex with named groups."""

    def group(match: re.Match[str]) -> str:
        name, _, kind = match.group(1).partition(":")
        body = {"path": ".+", "int": "[0-9]+"}.get(kind, "[^/]+")
        return f"(?P<{name}>{body})"

    return re.compile("^" + re.sub(r"\{([a-z_:]+)\}", group, template) + "$")


class Router:
    """Endpoints matched in the order they were added."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        """Serve ``method template`` with ``handler(request, path params)``."""
        self._routes.append(Route(method, _compile(template), handler))

    def dispatch(self, request: Request) -> Response:
        """The handler's response; 404 Not Found for any unknown method + path (as GitHub)."""
        method = "GET" if request.method == "HEAD" else request.method
        for route in self._routes:
            if route.method != method:
                continue
            match = route.pattern.match(request.path)
            if match:
                return route.handler(request, match.groupdict())
        raise not_found()


# -- pagination ---------------------------------------------------------------------------


def _positive(request: Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, f"Invalid value for {name}: {raw!r}") from None
    return max(value, 1)


def paginate(request: Request, items: Sequence[T], api_base: str) -> tuple[list[T], dict[str, str]]:
    """One page of ``items`` by the ``page``/``per_page`` query (30 by default, 100 at most)
    and the ``Link`` header (first, prev, next, last) to the same path under ``api_base``."""
    self_url = api_base + quote(request.path, safe="/:@")
    per_page = min(_positive(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    page = _positive(request, "page", 1)
    last = max(1, -(-len(items) // per_page))
    chunk = list(items[(page - 1) * per_page : page * per_page])

    def link(number: int) -> str:
        query = {k: v for k, v in request.query.items() if k not in ("page", "per_page")}
        query.update({"per_page": str(per_page), "page": str(number)})
        return f"{self_url}?{urlencode(query)}"

    rels: list[tuple[str, int]] = []
    if page > 1:
        rels += [("prev", min(page - 1, last)), ("first", 1)]
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    headers = {"Link": ", ".join(f'<{link(n)}>; rel="{rel}"' for rel, n in rels)} if rels else {}
    return chunk, headers
