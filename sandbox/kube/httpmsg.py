"""Plain request and response values passed between the HTTP server and the API handlers.

Keeping them free of sockets lets every handler be a function from :class:`Request` to
:class:`Response`; a response either has a body or streams chunks (watches).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox.kube.errors import StoreError, status_body

JSON = "application/json"


@dataclass
class Request:
    """One HTTP request, already read from the socket."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str:
        """A header's value ("" when absent); names are case-insensitive."""
        return self.headers.get(name.lower(), "")

    def flag(self, name: str) -> bool:
        """A boolean query parameter (``true``/``1``)."""
        return self.query.get(name, "").lower() in ("true", "1")


@dataclass
class Response:
    """A complete body or a stream of chunks, with status and headers."""

    status: int = 200
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None
    #: texts sent as ``Warning: 299 - "<text>"`` headers, one each (duplicates once)
    warnings: list[str] = field(default_factory=list)


def warning_header(text: str) -> str:
    """The value of a ``Warning`` header as kube-apiserver writes it: code 299, agent
    ``-``, the text quoted with ``"`` and ``\\`` escaped. Non-ASCII text goes out as UTF-8."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'.encode().decode("latin-1")


def json_response(obj: Any, status: int = 200) -> Response:
    """A JSON response of any JSON-serialisable value."""
    return Response(status, json.dumps(obj, separators=(",", ":")).encode())


def raw_response(raw: bytes, status: int = 200) -> Response:
    """A response whose JSON body is already encoded."""
    return Response(status, raw)


def error_response(err: StoreError) -> Response:
    """The `kind: Status` failure response for an error."""
    response = json_response(err.status(), err.code)
    if err.code == 429:
        response.headers["Retry-After"] = "1"
    return response


def internal_error(message: str) -> Response:
    """500 with a Status body, for failures nobody anticipated."""
    return json_response(status_body(500, "InternalError", message), 500)
