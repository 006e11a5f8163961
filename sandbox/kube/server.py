"""The HTTP/1.1 server: threads, keep-alive, chunked watch streams, and top-level routing.

One thread per connection (stdlib ``ThreadingHTTPServer``), persistent connections, bodies
read by Content-Length or chunked. :class:`Application` routes discovery, OpenAPI, the
``/_sandbox/`` control API and resource URLs; whatever goes wrong inside a handler becomes a
`kind: Status` response — an unexpected exception a 500 — so no request can stop the server.
"""

from __future__ import annotations

import logging
import select
import socket
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sandbox.httpserver import KeepAliveServer
from sandbox.kube import discovery, openapi
from sandbox.kube.api import ResourceAPI, not_found_path
from sandbox.kube.control import AuditLog, Faults, handle_control
from sandbox.kube.errors import StoreError
from sandbox.kube.httpmsg import (
    Request,
    Response,
    error_response,
    internal_error,
    json_response,
    warning_header,
)
from sandbox.kube.store import Store

log = logging.getLogger("sandbox.kube")

MAX_BODY = 64 * 1024 * 1024


class Application:
    """Routes a :class:`Request` to the handler of its path."""

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        faults: Faults,
        reset: Callable[[], None],
        get_time_factor: Callable[[], float],
        set_time_factor: Callable[[float], None],
    ) -> None:
        self.store = store
        self.audit = audit
        self.faults = faults
        self.resources = ResourceAPI(store, audit, faults)
        self._reset = reset
        self._get_time_factor = get_time_factor
        self._set_time_factor = set_time_factor
        self.server_address = "127.0.0.1:0"

    def handle(self, request: Request) -> Response:
        """Serve a request; never raises."""
        try:
            return self._route(request)
        except StoreError as err:
            return error_response(err)
        except Exception as err:  # the server must survive any request
            log.error(
                "internal error serving %s %s: %s\n%s",
                request.method,
                request.path,
                err,
                traceback.format_exc(),
            )
            return internal_error(f"internal error: {type(err).__name__}")

    def _route(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        registry = self.store.registry
        if path.startswith("/_sandbox/"):
            return handle_control(
                request,
                self.audit,
                self.faults,
                self._reset,
                self._get_time_factor,
                self._set_time_factor,
            )
        if path.startswith(("/api/", "/apis/")) and not _is_discovery(path):
            return self.resources.handle(request)
        if request.method != "GET":
            raise StoreError(405, "MethodNotAllowed", f"{request.method} is not allowed on {path}")
        doc: Any = None
        if path == "/version":
            doc = discovery.version()
        elif path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain")
        elif path == "/api":
            doc = discovery.api_versions(self.server_address)
        elif path == "/apis":
            doc = discovery.api_group_list(registry)
        elif path.startswith("/api/"):
            doc = discovery.resource_list(registry, "", path.split("/")[2])
        elif path.startswith("/apis/"):
            parts = path.split("/")
            if len(parts) == 3:
                doc = discovery.api_group(registry, parts[2])
            else:
                doc = discovery.resource_list(registry, parts[2], parts[3])
        elif path == "/openapi/v3":
            doc = openapi.index(registry)
        elif path.startswith("/openapi/v3/"):
            doc = openapi.document_for_path(registry, path[len("/openapi/v3/") :])
        if doc is None:
            raise not_found_path(path)
        return json_response(doc)


def _is_discovery(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    return (parts[0] == "api" and len(parts) <= 2) or (parts[0] == "apis" and len(parts) <= 3)


class _Handler(BaseHTTPRequestHandler):
    """Reads requests off a connection and writes the Application's responses."""

    protocol_version = "HTTP/1.1"
    server: KubeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        split = urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError as err:
            self.close_connection = True
            self._send(error_response(StoreError(400, "BadRequest", f"bad request body: {err}")))
            return
        request = Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self._send(self.server.app.handle(request))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Cache-Control", "no-cache, private")
        for name, value in response.headers.items():
            self.send_header(name, value)
        for text in dict.fromkeys(response.warnings):
            self.send_header("Warning", warning_header(text))
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        stream = response.stream
        try:
            for chunk in stream:
                if not chunk:
                    if self._client_gone():
                        self.close_connection = True
                        return
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
            return peeked == b""
        except OSError:
            return True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class KubeHTTPServer(KeepAliveServer):
    """The shared keep-alive server, serving ``app``."""

    def __init__(self, address: tuple[str, int], app: Application) -> None:
        self.app = app
        super().__init__(address, _Handler)
