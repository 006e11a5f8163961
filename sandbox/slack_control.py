"""The ``/_sandbox/`` control API of the Slack stand-in, for tests, demos and other languages.

- ``GET /_sandbox/messages[?channel=C…]`` — what each channel shows (slack_workspace.view);
- ``GET /_sandbox/calls[?method=chat.postMessage]`` — every Web API call, in order;
- ``GET /_sandbox/responses[?id=…]`` — what was posted to response_urls, with effects;
- ``GET /_sandbox/files/<id>`` — the uploaded bytes of a file;
- ``POST /_sandbox/reset`` — forget messages, calls, files, faults and response_urls;
- ``POST /_sandbox/faults`` ``{"method", "times", "status", "retry_after"}`` — queue failures;
- ``POST /_sandbox/latency`` ``{"seconds", "method"}`` — delay answers;
- ``GET /_sandbox/directory`` — people, channels and user groups;
- ``POST /_sandbox/command`` ``{"command", "text", "user_id", "channel_id"}`` and
  ``POST /_sandbox/click`` ``{"channel", "ts", "action_id", "user_id"}`` — send a signed slash
  command / button click to the bot (over HTTP to the sandbox's ``bot_url``, else over a
  connected Socket Mode app); the console uses them;
- ``GET /_sandbox/socket`` — Socket Mode connections, envelopes with their acks, stray
  messages; ``POST /_sandbox/socket/disconnect`` ``{"reason", "close_after"}`` — send Slack's
  ``disconnect`` message to the connected app;
- ``GET /`` — the console (slack_console), a browser view that looks like a channel.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandbox.slack_console import console_page
from sandbox.slack_errors import SlackAPIError
from sandbox.slack_faults import ANY_METHOD, CallLog, Faults
from sandbox.slack_http import Request, Response, json_response
from sandbox.slack_interactions import BotReply, Interactions
from sandbox.slack_responses import ResponseHooks
from sandbox.slack_socket_mode import SocketMode, SocketReply
from sandbox.slack_workspace import Workspace

ROUTES = [
    "GET /_sandbox/messages[?channel=]",
    "GET /_sandbox/calls[?method=]",
    "GET /_sandbox/responses[?id=]",
    "GET /_sandbox/files/<id>",
    "POST /_sandbox/reset",
    "POST /_sandbox/faults",
    "POST /_sandbox/latency",
    "GET /_sandbox/directory",
    "POST /_sandbox/command",
    "POST /_sandbox/click",
    "GET /_sandbox/socket",
    "POST /_sandbox/socket/disconnect",
    "GET / (console)",
]


class ControlError(Exception):
    """A bad control request; the message names the problem."""


def _json_body(request: Request) -> dict[str, Any]:
    try:
        doc = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError) as err:
        raise ControlError(f"{request.path}: body is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ControlError(f"{request.path}: body must be a JSON object")
    return doc


def _str_field(doc: dict[str, Any], name: str, path: str, default: str | None = None) -> str:
    value = doc.get(name, default)
    if not isinstance(value, str) or (not value and default is None):
        raise ControlError(f"{path}: field {name!r} must be a non-empty string, got {value!r}")
    return value


def _reply_doc(reply: BotReply | SocketReply) -> dict[str, Any]:
    if isinstance(reply, BotReply):
        return {"ok": True, "status": reply.status, "body": reply.text, "elapsed": reply.elapsed}
    if reply.status == "dispatch_failed":
        return {"ok": False, "error": "dispatch_failed: the app is not connected"}
    body = json.dumps(reply.payload) if reply.payload else ""
    status = 200 if reply.acked else 504  # no ack in time: Slack reports a timeout
    return {"ok": True, "status": status, "body": body, "elapsed": reply.elapsed}


def _int_field(doc: dict[str, Any], name: str, default: int | None, path: str) -> int | None:
    value = doc.get(name, default)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ControlError(f"{path}: field {name!r} must be an integer, got {value!r}")


class Control:
    """Serves the control API over one sandbox's state."""

    def __init__(
        self,
        ws: Workspace,
        calls: CallLog,
        faults: Faults,
        hooks: ResponseHooks,
        reset: Callable[[], None],
        interactions: Interactions,
        bot_url: Callable[[], str | None],
        socket: SocketMode,
    ) -> None:
        self.ws = ws
        self.calls = calls
        self.faults = faults
        self.hooks = hooks
        self.reset = reset
        self.interactions = interactions
        self.bot_url = bot_url
        self.socket = socket

    def __call__(self, request: Request) -> Response:
        try:
            return self._route(request)
        except ControlError as err:
            return json_response({"ok": False, "error": str(err)}, 400)
        except SlackAPIError as err:
            return json_response(err.body(), 404)
        except ValueError as err:  # bad interaction setup: unknown user, message, button
            return json_response({"ok": False, "error": str(err)}, 400)
        except OSError as err:  # the bot could not be reached
            return json_response({"ok": False, "error": f"bot unreachable: {err}"}, 502)

    def _route(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if request.method == "GET":
            if path in ("/", "/_sandbox/console"):
                return Response(200, console_page(), "text/html; charset=utf-8")
            if path == "/_sandbox":
                return json_response({"ok": True, "api": "/api/", "routes": ROUTES})
            if path == "/_sandbox/directory":
                return json_response(self._directory())
            if path == "/_sandbox/messages":
                return json_response(self.ws.view(request.query.get("channel")))
            if path == "/_sandbox/calls":
                return json_response({"calls": self.calls.calls(request.query.get("method"))})
            if path == "/_sandbox/responses":
                return json_response({"responses": self.hooks.records(request.query.get("id"))})
            if path.startswith("/_sandbox/files/"):
                return self._file(path.rsplit("/", 1)[-1])
            if path == "/_sandbox/socket":
                return json_response(self.socket.view())
        if request.method == "POST":
            if path == "/_sandbox/reset":
                self.reset()
                return json_response({"ok": True})
            if path == "/_sandbox/faults":
                return self._faults(request, path)
            if path == "/_sandbox/latency":
                return self._latency(request, path)
            if path == "/_sandbox/command":
                return self._command(request, path)
            if path == "/_sandbox/click":
                return self._click(request, path)
            if path == "/_sandbox/socket/disconnect":
                return self._disconnect(request, path)
        return json_response({"ok": False, "error": f"no route {request.method} {path}"}, 404)

    def _directory(self) -> dict[str, Any]:
        with self.ws.lock:
            return {
                "bot_user_id": self.ws.bot_user_id,
                "bot_url": self.bot_url(),
                "users": [u.api(self.ws.team_id) for u in self.ws.users.values()],
                "channels": [
                    {"id": c.id, "name": c.name, "is_im": c.is_im, "members": list(c.members)}
                    for c in self.ws.channels.values()
                ],
                "usergroups": [
                    {"id": g.id, "handle": g.handle, "users": list(g.users)}
                    for g in self.ws.usergroups.values()
                ],
            }

    def _target(self, path: str) -> str | None:
        """The bot's HTTP URL; None to use the connected Socket Mode app instead."""
        url = self.bot_url()
        if url:
            return url
        if self.socket.open_connections():
            return None
        raise ControlError(f"{path}: no bot_url configured and no app connected in Socket Mode")

    def _command(self, request: Request, path: str) -> Response:
        doc = _json_body(request)
        command = _str_field(doc, "command", path)
        command = command if command.startswith("/") else "/" + command
        text = _str_field(doc, "text", path, "")
        user_id = _str_field(doc, "user_id", path)
        channel_id = _str_field(doc, "channel_id", path)
        url = self._target(path)
        reply: BotReply | SocketReply
        if url is None:
            reply = self.socket.send_slash_command(
                command, text, user_id=user_id, channel_id=channel_id
            )
        else:
            reply = self.interactions.slash_command(
                url,
                command,
                text,
                user_id=user_id,
                channel_id=channel_id,
                signature="valid",
                timeout=10.0,
            )
        return json_response(_reply_doc(reply))

    def _click(self, request: Request, path: str) -> Response:
        doc = _json_body(request)
        channel = _str_field(doc, "channel", path)
        ts = _str_field(doc, "ts", path)
        action_id = _str_field(doc, "action_id", path)
        user_id = _str_field(doc, "user_id", path)
        url = self._target(path)
        reply: BotReply | SocketReply
        if url is None:
            reply = self.socket.click_button(channel, ts, action_id, user_id=user_id)
        else:
            reply = self.interactions.click_button(
                url, channel, ts, action_id, user_id=user_id, signature="valid", timeout=10.0
            )
        return json_response(_reply_doc(reply))

    def _disconnect(self, request: Request, path: str) -> Response:
        doc = _json_body(request)
        reason = _str_field(doc, "reason", path, "refresh_requested")
        close_after = doc.get("close_after", 2.0)
        if close_after is not None and (
            not isinstance(close_after, int | float) or isinstance(close_after, bool)
        ):
            raise ControlError(f"{path}: field 'close_after' must be a number or null")
        try:
            told = self.socket.disconnect(
                reason, close_after=None if close_after is None else float(close_after)
            )
        except ValueError as err:
            raise ControlError(f"{path}: {err}") from None
        return json_response({"ok": True, "connections": told})

    def _file(self, file_id: str) -> Response:
        with self.ws.lock:
            stored = self.ws.files.get(file_id)
            if stored is None or stored.data is None:
                return json_response({"ok": False, "error": "file_not_found"}, 404)
            return Response(200, stored.data, "application/octet-stream")

    def _faults(self, request: Request, path: str) -> Response:
        doc = _json_body(request)
        method = doc.get("method")
        if not isinstance(method, str) or not method:
            raise ControlError(f"{path}: field 'method' is required (a method name or '*')")
        times = _int_field(doc, "times", 1, path)
        status = _int_field(doc, "status", 429, path)
        retry_after = _int_field(doc, "retry_after", None, path)
        try:
            self.faults.fail_next(method, times or 1, status=status or 429, retry_after=retry_after)
        except ValueError as err:
            raise ControlError(f"{path}: {err}") from None
        return json_response({"ok": True})

    def _latency(self, request: Request, path: str) -> Response:
        doc = _json_body(request)
        seconds = doc.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise ControlError(f"{path}: field 'seconds' must be a number, got {seconds!r}")
        method = doc.get("method", ANY_METHOD)
        if not isinstance(method, str):
            raise ControlError(f"{path}: field 'method' must be a string")
        try:
            self.faults.set_latency(float(seconds), method)
        except ValueError as err:
            raise ControlError(f"{path}: {err}") from None
        return json_response({"ok": True})
