"""The web page ``kajitori demo`` opens: the Slack stand-in's channel console plus a "Demo"
panel of actions ("new commit", "edit live object") and links.

:class:`DemoConsole` serves, on its own port:

- ``GET /`` — the console page (``sandbox.slack_console``) with the panel;
- ``POST /_demo/actions/<id>`` — runs the action and answers ``{"ok", "message"}`` (or
  ``{"ok": false, "error"}``: 409 when it cannot be done now, 500 when it failed);
- ``GET /_demo`` — the demo's addresses and actions as JSON;
- everything else (``/_sandbox/...``: messages, directory, commands, clicks) — passed through
  to the Slack stand-in, so the page needs one origin only.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlsplit

from sandbox.slack_console import ConsoleAction, ConsoleLink, console_page

log = logging.getLogger("sandbox.demo")

ACTION_PREFIX: Final = "/_demo/actions/"
MAX_BODY: Final = 1024 * 1024
PROXY_TIMEOUT: Final = 30.0
_HOP_HEADERS: Final = frozenset({"connection", "keep-alive", "transfer-encoding", "host"})


class DemoActionError(Exception):
    """An action cannot be done now; the message says why and what to do (no traceback)."""


@dataclass(frozen=True)
class DemoAction:
    """A console button: ``run()`` does it and returns what to tell the person."""

    id: str
    label: str
    help: str
    run: Callable[[], str]


class DemoConsole:
    """The demo's page on ``host:port`` (0: a free port), passing the Slack console's
    requests to ``slack_base_url`` (``http://host:port`` of the Slack stand-in)."""

    def __init__(
        self,
        slack_base_url: str,
        actions: Sequence[DemoAction],
        links: Sequence[ConsoleLink] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        info: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        split = urlsplit(slack_base_url)
        if split.scheme != "http" or not split.hostname:
            raise ValueError(
                f"the Slack stand-in's URL must be http://host:port, got {slack_base_url!r}"
            )
        self.slack_host = split.hostname
        self.slack_port = split.port or 80
        self.actions = {action.id: action for action in actions}
        self.links = tuple(links)
        self.info = info or dict
        self.page = console_page(
            [ConsoleAction(a.id, a.label, ACTION_PREFIX + a.id, a.help) for a in actions],
            self.links,
        )
        self._lock = threading.Lock()  # one action at a time
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    def start(self) -> DemoConsole:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="demo-console",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    # -- requests ------------------------------------------------------------------------

    def run_action(self, action_id: str) -> tuple[int, dict[str, Any]]:
        """Run one action; (HTTP status, JSON answer)."""
        action = self.actions.get(action_id)
        if action is None:
            known = ", ".join(sorted(self.actions))
            return 404, {"ok": False, "error": f"no demo action {action_id!r} (known: {known})"}
        with self._lock:
            try:
                message = action.run()
            except DemoActionError as error:
                return 409, {"ok": False, "error": f"{action.label}: {error}"}
            except Exception as error:
                log.exception("demo action %s failed", action_id)
                return 500, {"ok": False, "error": f"{action.label} failed: {error}"}
        return 200, {"ok": True, "message": message}

    def proxy(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Pass a request to the Slack stand-in; its (status, headers, body)."""
        connection = http.client.HTTPConnection(
            self.slack_host, self.slack_port, timeout=PROXY_TIMEOUT
        )
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
            connection.request(method, path, body=body or None, headers=forwarded)
            answer = connection.getresponse()
            data = answer.read()
            kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_HEADERS]
            return answer.status, kept, data
        finally:
            connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], console: DemoConsole) -> None:
        self.console = console
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, headers: Sequence[tuple[str, str]]) -> None:
        self.send_response(status)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: Mapping[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self._send(status, body, [("Content-Type", "application/json; charset=utf-8")])

    def _serve(self) -> None:
        console = self.server.console
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            self._json(413, {"ok": False, "error": "request body too large"})
            return
        body = self.rfile.read(length) if length > 0 else b""
        path = urlsplit(self.path).path
        if self.command == "GET" and path in ("/", "/index.html"):
            self._send(200, console.page, [("Content-Type", "text/html; charset=utf-8")])
        elif self.command == "GET" and path.rstrip("/") == "/_demo":
            self._json(200, {"ok": True, **console.info(), "actions": sorted(console.actions)})
        elif path.startswith(ACTION_PREFIX):
            if self.command != "POST":
                self._json(405, {"ok": False, "error": "demo actions are POSTed"})
                return
            self._json(*console.run_action(path[len(ACTION_PREFIX) :]))
        else:
            try:
                status, headers, data = console.proxy(
                    self.command, self.path, dict(self.headers.items()), body
                )
            except OSError as error:
                self._json(502, {"ok": False, "error": f"Slack stand-in unreachable: {error}"})
                return
            self._send(status, data, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve
