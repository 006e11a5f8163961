"""The stand-in's HTTP side: token check, fault rules, routing, call log, and the server.

REST lives under ``/api/v3`` (GitHub Enterprise's layout, so the client's base URL is
exercised), the control API under ``/_sandbox/``. One thread per connection with keep-alive
(stdlib ``ThreadingHTTPServer``); any failure inside a handler becomes a JSON error response,
never a dropped connection.
"""

from __future__ import annotations

import base64
import hmac
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from sandbox.github_control import CallLog, Controlled, Faults, handle_control
from sandbox.github_git import GitError
from sandbox.github_http import ApiError, Request, Response, Router, json_response

log = logging.getLogger("sandbox.github")

API_PREFIX = "/api/v3"
CONTROL_PREFIX = "/_sandbox/"
MAX_BODY = 32 * 1024 * 1024
RATE_LIMIT = 5000


class Tokens:
    """Which token belongs to which login (compared in constant time, never logged)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, str] = {}

    def add(self, token: str, login: str) -> None:
        """Accept ``token`` as ``login``."""
        if not token:
            raise ValueError("a sandbox token must not be empty")
        with self._lock:
            self._by_token[token] = login

    def login_for(self, header: str | None) -> str:
        """The login of an ``Authorization`` header (``token``, ``Bearer`` or ``Basic``);
        401 "Requires authentication" without one, "Bad credentials" for a wrong one."""
        if not header:
            raise ApiError(401, "Requires authentication")
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            try:
                value = base64.b64decode(value).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                value = ""
        elif scheme.lower() not in ("token", "bearer"):
            value = ""
        with self._lock:
            candidates = list(self._by_token.items())
        found = ""
        for token, login in candidates:
            if hmac.compare_digest(token.encode(), value.encode()):
                found = login
        if not found:
            raise ApiError(401, "Bad credentials")
        return found


class GitHubApp:
    """Serves one request: control API, or REST with faults, auth and the call log."""

    def __init__(self, router: Router, tokens: Tokens, target: Controlled) -> None:
        self.router = router
        self.tokens = tokens
        self.target = target
        self.calls = CallLog()
        self.faults = Faults()
        self.pages: Callable[[Request], Response | None] | None = None

    def handle(self, request: Request) -> Response:
        """The response to ``request`` (whose path still has its prefix); never raises."""
        try:
            if request.path.startswith(CONTROL_PREFIX):
                request.path = request.path[len(CONTROL_PREFIX) - 1 :]
                return handle_control(request, self.target, self.calls, self.faults)
            if request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/"):
                request.path = request.path[len(API_PREFIX) :] or "/"
                return self._api(request)
            page = self.pages(request) if self.pages is not None else None
            return page or json_response({"message": "Not Found"}, 404)
        except Exception:
            log.exception("sandbox GitHub failed on %s %s", request.method, request.path)
            return ApiError(500, "Server Error").response()

    def _api(self, request: Request) -> Response:
        started = time.monotonic()
        fault = self.faults.take(request.method, request.path)
        if fault is not None:
            injected = fault.response()
            if injected is not None:
                self.calls.record(request, injected.status, True, started)
                return self._decorate(injected)
        try:
            request.login = self.tokens.login_for(request.headers.get("authorization"))
            response = self.router.dispatch(request)
        except ApiError as err:
            response = err.response()
        except GitError as err:
            log.error("git failed for %s %s: %s", request.method, request.path, err)
            response = ApiError(500, f"Server Error: {err}").response()
        self.calls.record(request, response.status, fault is not None, started)
        return self._decorate(response)

    @staticmethod
    def _decorate(response: Response) -> Response:
        response.headers.setdefault("X-GitHub-Media-Type", "github.v3; format=json")
        response.headers.setdefault("X-GitHub-Request-Id", uuid.uuid4().hex[:20].upper())
        response.headers.setdefault("X-RateLimit-Limit", str(RATE_LIMIT))
        response.headers.setdefault("X-RateLimit-Remaining", str(RATE_LIMIT - 1))
        response.headers.setdefault("X-RateLimit-Reset", str(int(time.time()) + 3600))
        response.headers.setdefault("X-RateLimit-Resource", "core")
        return response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GitHubHTTPServer

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError as err:
            self._send(json_response({"message": str(err)}, 400))
            return
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(split.path),
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self._send(self.server.serve_request(request))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError(f"request body too large ({length} bytes)")
        return self.rfile.read(length) if length else b""

    def setup(self) -> None:
        super().setup()
        # small JSON answers on keep-alive connections: do not wait for delayed ACKs
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        # what end_headers() does, with the body joined in: one write for head and body
        buffer: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]
        buffer.append(b"\r\n")
        if self.command != "HEAD":
            buffer.append(response.body)
        self.flush_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class GitHubHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server handing every request to a callable."""

    daemon_threads = True
    block_on_close = False  # clients may keep connections open; do not wait for them
    allow_reuse_address = True

    def __init__(self, host: str, port: int, handle: Callable[[Request], Response]) -> None:
        super().__init__((host, port), _Handler)
        self.serve_request = handle
