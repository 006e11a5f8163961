"""HTTP front of the Slack stand-in: request parsing, auth, faults, routing, the server.

Routes:

- ``/api/<method>`` — the Web API. Arguments come from the query string and the body
  (``application/x-www-form-urlencoded``, ``application/json`` or ``multipart/form-data``, as
  slack_sdk sends them); the token from ``Authorization: Bearer`` or a ``token`` argument
  (none: ``not_authed``; wrong: ``invalid_auth``). Unknown methods: ``unknown_method``. The
  bot token calls the bot's methods; the app-level token (``xapp-…``) only
  ``apps.connections.open``, and only from the Authorization header; either token on the
  other's methods is ``not_allowed_token_type``.
- ``/link/?ticket=…`` — Socket Mode's WebSocket (slack_socket_hub), handed the connection.
- ``/upload/v1/<file id>`` — receives the bytes of an external upload.
- ``/hooks/<kind>/<id>`` — response_urls (slack_responses).
- ``/_sandbox/...`` — the control API (slack_control).

One thread per connection, HTTP/1.1 keep-alive; anything unexpected inside a handler becomes a
500 with ``internal_error`` so no request can stop the server.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sandbox.httpserver import KeepAliveServer
from sandbox.slack_api_base import Method, MethodContext
from sandbox.slack_errors import SlackAPIError
from sandbox.slack_faults import CallLog, Faults
from sandbox.slack_responses import ResponseHooks
from sandbox.slack_socket_hub import LINK_PATH, SocketModeHub
from sandbox.slack_workspace import Workspace

log = logging.getLogger("sandbox.slack")

MAX_BODY = 64 * 1024 * 1024
# Methods Slack lets only an app-level token call (Authorization header only).
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    doc: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(status, json.dumps(doc).encode(), headers=dict(headers or {}))


def _multipart(request: Request) -> list[tuple[str, str | None, bytes]]:
    """(field name, filename, bytes) of each part of a multipart/form-data body."""
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        parts.append(
            (
                str(name or ""),
                part.get_filename(),
                payload if isinstance(payload, bytes) else b"",
            )
        )
    return parts


def call_arguments(request: Request) -> dict[str, Any]:
    """The Web API arguments of a request: query string merged with the body."""
    args: dict[str, Any] = dict(request.query)
    if not request.body:
        return args
    kind = request.content_type
    if kind == "application/json":
        try:
            doc = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise SlackAPIError("invalid_json") from None
        if not isinstance(doc, dict):
            raise SlackAPIError("invalid_json")
        args.update(doc)
    elif kind in ("application/x-www-form-urlencoded", "text/plain", ""):
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise SlackAPIError("invalid_form_data") from None
        args.update(parse_qsl(text, keep_blank_values=True))
    elif kind == "multipart/form-data":
        for name, filename, data in _multipart(request):
            args[name] = filename if filename else data.decode("utf-8", errors="replace")
    else:
        raise SlackAPIError("invalid_post_type")
    return args


class SlackApplication:
    """Routes requests to the Web API, uploads, response_urls and the control API."""

    def __init__(
        self,
        ws: Workspace,
        methods: Mapping[str, Method],
        faults: Faults,
        calls: CallLog,
        hooks: ResponseHooks,
        *,
        bot_token: str,
        control: Callable[[Request], Response],
        app_token: str | None = None,
        socket_mode: SocketModeHub | None = None,
    ) -> None:
        self.ws = ws
        self.methods = methods
        self.faults = faults
        self.calls = calls
        self.hooks = hooks
        self.bot_token = bot_token
        self.app_token = app_token
        self.control = control
        self.socket_mode = socket_mode
        self.base_url = ""

    def handle(self, request: Request) -> Response:
        """Serve one request; never raises."""
        try:
            return self._route(request)
        except Exception as err:  # the server must survive any request
            log.error(
                "internal error serving %s %s: %s\n%s",
                request.method,
                request.path,
                err,
                traceback.format_exc(),
            )
            return json_response({"ok": False, "error": "internal_error"}, 500)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/api/"):
            return self._web_api(request, path[len("/api/") :].strip("/"))
        if path.startswith("/upload/v1/") and request.method == "POST":
            return self._upload(request, path.rsplit("/", 1)[-1])
        if path.startswith("/hooks/") and request.method == "POST":
            status, answer = self.hooks.post(path.rsplit("/", 1)[-1], request.body)
            return json_response(answer, status)
        if path == "/" or path.startswith("/_sandbox"):
            return self.control(request)
        return json_response({"ok": False, "error": "not_found", "path": path}, 404)

    def _web_api(self, request: Request, method: str) -> Response:
        args: dict[str, Any] = {}
        try:
            args = call_arguments(request)
            token = args.pop("token", None)
            if method in APP_TOKEN_METHODS:
                token = None  # Slack takes the app-level token from the header only
            auth = request.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                token = auth[len("bearer ") :].strip()
            if not token:
                raise SlackAPIError("not_authed")
            if token not in (self.bot_token, self.app_token):
                raise SlackAPIError("invalid_auth")
            handler = self.methods.get(method)
            if handler is None:
                raise SlackAPIError("unknown_method")
            if (method in APP_TOKEN_METHODS) != (token == self.app_token):
                raise SlackAPIError("not_allowed_token_type")
        except SlackAPIError as err:
            return self._answer(method, args, err.http_status, err.body())
        delay = self.faults.latency(method)
        if delay:
            time.sleep(delay)
        fault = self.faults.take(method)
        if fault is not None:
            return self._answer(method, args, fault.status, fault.body(), fault.headers())
        try:
            body = handler(self.ws, args, MethodContext(base_url=self.base_url))
        except SlackAPIError as err:
            return self._answer(method, args, err.http_status, err.body())
        return self._answer(method, args, 200, body)

    def _answer(
        self,
        method: str,
        args: Mapping[str, Any],
        status: int,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        self.calls.record(method, args, status, body)
        self.ws.notify()
        return json_response(body, status, headers)

    def _upload(self, request: Request, file_id: str) -> Response:
        data = request.body
        if request.content_type == "multipart/form-data":
            files = [d for _name, filename, d in _multipart(request) if filename]
            data = files[0] if files else b""
        with self.ws.lock:
            stored = self.ws.files.get(file_id)
            if stored is None:
                return Response(404, b"file_not_found", "text/plain")
            stored.data = data
        return Response(200, f"OK - {len(data)}".encode(), "text/plain")


class _Handler(BaseHTTPRequestHandler):
    """Reads requests off a connection and writes the application's responses."""

    protocol_version = "HTTP/1.1"
    server: SlackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        split = urlsplit(self.path)
        socket_mode = self.server.app.socket_mode
        if split.path == LINK_PATH and socket_mode is not None:
            self.close_connection = True  # the connection is the WebSocket's from here on
            try:
                socket_mode.serve(
                    self.command,
                    dict(parse_qsl(split.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.connection,
                    self.rfile.read,
                )
            except OSError as err:
                log.debug("Socket Mode connection ended: %s", err)
            return
        try:
            body = self._read_body()
        except ValueError as err:
            self.close_connection = True
            self._send(json_response({"ok": False, "error": f"bad request body: {err}"}, 400))
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
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


class SlackHTTPServer(KeepAliveServer):
    """The shared keep-alive server, serving ``app``."""

    def __init__(self, address: tuple[str, int], app: SlackApplication) -> None:
        self.app = app
        super().__init__(address, _Handler)
