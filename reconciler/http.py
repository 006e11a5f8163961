"""The service's HTTP port: probes, metrics, GitHub webhooks and the refresh API, as one WSGI
application served by waitress.

Routes of ``HttpApi``:

- ``GET /healthz``: 200 while the process serves requests (liveness).
- ``GET /readyz``: 200 when the injected ``ready()`` says so, else 503 (readiness: the live
  cache is synced, the state store is open ...).
- ``GET /metrics``: the ``Metrics`` registry in Prometheus' text (or OpenMetrics) format.
- ``POST /api/webhook/github``: a GitHub webhook. The ``X-Hub-Signature-256`` HMAC is checked
  against the raw body first; a missing or bad signature gets 401 and the body is never
  parsed. ``ping`` gets 200; ``push`` is parsed and handed to ``on_push(event)``, which
  returns the names of the apps it refreshed (listed in the 202 answer, visible in GitHub's
  delivery log); other events are acknowledged and ignored.
- ``POST /api/refresh/<app>``: ``Authorization: Bearer <token>`` required (401 otherwise);
  404 when ``app_exists(app)`` is False; else ``on_refresh(app)`` and 202.
- Anything mounted with ``mount(prefix, wsgi_app)`` (the Slack endpoint at ``/slack/events``).

A webhook or refresh route whose secret is not configured answers 404: it is switched off
rather than open. ``HttpServer`` runs the application on waitress in a background thread
(``port=0`` picks a free port) and stops it cleanly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from waitress import wasyncore
from waitress.server import create_server

from reconciler.metrics import Metrics
from reconciler.webhooks import (
    EVENT_HEADER,
    PushEvent,
    SecretLike,
    WebhookError,
    check_bearer,
    parse_push,
    verify_signature,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

# GitHub caps webhook payloads at 25 MB.
MAX_BODY: Final = 25 * 1024 * 1024
WEBHOOK_PATH: Final = "/api/webhook/github"
REFRESH_PREFIX: Final = "/api/refresh/"

PushHandler = Callable[[PushEvent], Iterable[str] | None]
RefreshHandler = Callable[[str], object]


@dataclass(frozen=True)
class _Response:
    status: str
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _json(code: int, reason: str, data: Any, headers: Sequence[tuple[str, str]] = ()) -> _Response:
    body = (json.dumps(data, sort_keys=True) + "\n").encode("utf-8")
    return _Response(f"{code} {reason}", body, "application/json", tuple(headers))


def _error(code: int, reason: str, message: str, **extra: str) -> _Response:
    return _json(code, reason, {"error": message}, tuple(extra.items()))


class HttpApi:
    """The WSGI application. Every collaborator is injected, so it runs without a
    controller in tests; a handler that raises gets 500 (logged) and never kills the server."""

    def __init__(
        self,
        *,
        metrics: Metrics | None = None,
        ready: Callable[[], bool] | None = None,
        webhook_secret: SecretLike | None = None,
        on_push: PushHandler | None = None,
        refresh_token: SecretLike | None = None,
        on_refresh: RefreshHandler | None = None,
        app_exists: Callable[[str], bool] | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        self.metrics = metrics
        self._ready = ready
        self._webhook_secret = webhook_secret
        self._on_push = on_push
        self._refresh_token = refresh_token
        self._on_refresh = on_refresh
        self._app_exists = app_exists
        self._max_body = max_body
        self._mounts: list[tuple[str, WSGIApplication, bool]] = []

    def mount(self, prefix: str, app: WSGIApplication, *, strip_prefix: bool = True) -> None:
        """Serve every path under ``prefix`` with ``app``. With ``strip_prefix`` the prefix
        moves from ``PATH_INFO`` to ``SCRIPT_NAME`` (WSGI's convention); without, ``app``
        sees the full path (slack_bolt's WSGI handler compares the full path)."""
        clean = "/" + prefix.strip("/")
        if clean == "/":
            raise ValueError("cannot mount an application at '/'")
        self._mounts.append((clean, app, strip_prefix))
        self._mounts.sort(key=lambda item: len(item[0]), reverse=True)

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        for prefix, app, strip in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                if strip:
                    environ = dict(environ)
                    environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                    environ["PATH_INFO"] = path[len(prefix) :]
                return app(environ, start_response)
        try:
            response = self._route(environ, path)
        except Exception:
            log.exception("HTTP %s %s failed", environ.get("REQUEST_METHOD"), path)
            response = _error(500, "Internal Server Error", "internal error (see the log)")
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Cache-Control", "no-store"),
            *response.headers,
        ]
        start_response(response.status, headers)
        return [response.body]

    def _route(self, environ: WSGIEnvironment, path: str) -> _Response:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if path in ("/healthz", "/readyz", "/metrics"):
            if method not in ("GET", "HEAD"):
                return _error(405, "Method Not Allowed", f"{path} takes GET", Allow="GET, HEAD")
            if path == "/healthz":
                return _Response("200 OK", b"ok\n", "text/plain; charset=utf-8")
            if path == "/readyz":
                return self._readyz()
            return self._metrics(environ)
        if path == WEBHOOK_PATH or path.startswith(REFRESH_PREFIX):
            if method != "POST":
                return _error(405, "Method Not Allowed", f"{path} takes POST", Allow="POST")
            if path == WEBHOOK_PATH:
                return self._webhook(environ)
            return self._refresh(environ, unquote(path[len(REFRESH_PREFIX) :]))
        return _error(404, "Not Found", f"no such endpoint: {path}")

    # -- probes and metrics ----------------------------------------------------------------

    def _readyz(self) -> _Response:
        try:
            ready = True if self._ready is None else bool(self._ready())
        except Exception:
            log.exception("the readiness check failed")
            ready = False
        if ready:
            return _Response("200 OK", b"ready\n", "text/plain; charset=utf-8")
        return _Response("503 Service Unavailable", b"not ready\n", "text/plain; charset=utf-8")

    def _metrics(self, environ: WSGIEnvironment) -> _Response:
        if self.metrics is None:
            return _error(404, "Not Found", "metrics are not enabled")
        body, content_type = self.metrics.exposition(environ.get("HTTP_ACCEPT"))
        return _Response("200 OK", body, content_type)

    def _count(self, event: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.record_webhook(event, result)

    # -- webhook ---------------------------------------------------------------------------

    def _read_body(self, environ: WSGIEnvironment) -> bytes | _Response:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _error(400, "Bad Request", "invalid Content-Length")
        if length > self._max_body:
            return _error(413, "Payload Too Large", f"body larger than {self._max_body} bytes")
        stream = environ["wsgi.input"]
        return bytes(stream.read(length)) if length > 0 else b""

    def _webhook(self, environ: WSGIEnvironment) -> _Response:
        event = str(environ.get("HTTP_X_GITHUB_EVENT", "")) or "unknown"
        delivery = str(environ.get("HTTP_X_GITHUB_DELIVERY", ""))
        if not self._webhook_secret or self._on_push is None:
            self._count(event, "disabled")
            return _error(404, "Not Found", "GitHub webhooks are not configured")
        body = self._read_body(environ)
        if isinstance(body, _Response):
            self._count(event, "rejected")
            return body
        signature = environ.get("HTTP_X_HUB_SIGNATURE_256")
        if not verify_signature(self._webhook_secret, body, signature):
            self._count(event, "unauthorized")
            log.warning(
                "GitHub webhook %s refused: %s",
                delivery or "(no delivery id)",
                "bad signature" if signature else "no X-Hub-Signature-256 header",
                extra={"delivery": delivery},
            )
            return _error(401, "Unauthorized", "missing or invalid X-Hub-Signature-256")
        if event == "ping":
            self._count(event, "accepted")
            return _json(200, "OK", {"ok": "pong"})
        if event != "push":
            self._count(event, "ignored")
            return _json(202, "Accepted", {"ignored": f"{EVENT_HEADER} {event}"})
        try:
            push = parse_push(body)
        except WebhookError as exc:
            self._count(event, "rejected")
            return _error(exc.status, "Bad Request", str(exc))
        refreshed = sorted(self._on_push(push) or ())
        self._count(event, "accepted")
        log.info(
            "GitHub push to %s %s (%s): refreshing %d app(s)",
            push.repository,
            push.ref,
            push.after[:12],
            len(refreshed),
            extra={"delivery": delivery, "apps": refreshed},
        )
        return _json(202, "Accepted", {"refreshed": refreshed, "delivery": delivery})

    # -- refresh ---------------------------------------------------------------------------

    def _refresh(self, environ: WSGIEnvironment, app: str) -> _Response:
        if not self._refresh_token or self._on_refresh is None:
            self._count("refresh", "disabled")
            return _error(404, "Not Found", "the refresh API is not configured")
        if not check_bearer(self._refresh_token, environ.get("HTTP_AUTHORIZATION")):
            self._count("refresh", "unauthorized")
            return _error(
                401,
                "Unauthorized",
                "a valid bearer token is required",
                **{"WWW-Authenticate": 'Bearer realm="kajitori"'},
            )
        if not app or "/" in app:
            self._count("refresh", "rejected")
            return _error(404, "Not Found", "name one app: /api/refresh/<app>")
        if self._app_exists is not None and not self._app_exists(app):
            self._count("refresh", "unknown_app")
            return _error(404, "Not Found", f"unknown app {app!r}")
        self._on_refresh(app)
        self._count("refresh", "accepted")
        return _json(202, "Accepted", {"app": app, "refresh": "requested"})


class HttpServer:
    """A WSGI application served by waitress on a background thread."""

    def __init__(
        self,
        app: WSGIApplication,
        host: str = "0.0.0.0",
        port: int = 8080,
        *,
        threads: int = 4,
    ) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._threads = threads
        self._map: dict[int, Any] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        """The port listened on (the chosen one when created with port 0)."""
        if self._server is None:
            raise RuntimeError("the HTTP server is not running")
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host
        return f"http://{host}:{self.port}"

    def start(self) -> HttpServer:
        """Bind and serve in the background; returns self. OSError when the port is taken."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._map = {}
        self._server = create_server(
            self._app,
            map=self._map,
            host=self._host,
            port=self._requested_port,
            threads=self._threads,
            ident="kajitori",
            clear_untrusted_proxy_headers=True,
        )
        self._thread = threading.Thread(target=self._serve, name=f"http-{self.port}", daemon=True)
        self._thread.start()
        log.info("serving HTTP on %s:%d", self._host, self.port)
        return self

    def _serve(self) -> None:
        server = self._server
        try:
            while not self._stopping.is_set() and self._map:
                wasyncore.loop(timeout=0.5, map=self._map, count=1)
        finally:
            server.close()
            wasyncore.close_all(self._map)
            server.task_dispatcher.shutdown(timeout=5)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and close every connection (a request being answered right now may
        be cut short); waits up to ``timeout`` for the server thread."""
        if self._server is None:
            return
        self._stopping.set()
        # Wake the loop now rather than at its next timeout; OSError means the loop saw the
        # flag first and already closed the trigger.
        with contextlib.suppress(OSError):
            self._server.pull_trigger()
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["MAX_BODY", "REFRESH_PREFIX", "WEBHOOK_PATH", "HttpApi", "HttpServer"]
