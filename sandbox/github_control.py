"""The stand-in's control API under ``/_sandbox/``: call log, fault injection, reset,
webhook settings, repositories, and the ``git push`` notification its Git hook sends.

- ``GET /_sandbox/calls`` (``DELETE`` clears): every REST call in order, without credentials.
- ``POST /_sandbox/faults`` ``{method, path_prefix, count, status?, latency_ms?, message?,
  retry_after?}``: the next ``count`` REST calls whose method and path (after ``/api/v3``)
  match answer ``status`` and/or wait ``latency_ms`` first. ``GET`` lists, ``DELETE`` clears.
- ``POST /_sandbox/reset``: no repositories, calls, faults or deliveries; webhook as started.
- ``GET``/``PUT /_sandbox/webhook`` ``{url, secret}`` (``GET`` never shows the secret).
- ``GET /_sandbox/deliveries``: webhook deliveries with their HTTP status.
- ``GET``/``POST /_sandbox/repos`` ``{owner, name, files?, description?, default_branch?,
  merge_methods?}``.
- ``POST /_sandbox/git-push`` ``{owner, name, updates: [{ref, before, after}]}``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol

from sandbox.faultrules import FaultRules, numbers_problem
from sandbox.github_http import ApiError, Request, Response, json_response

CALL_LIMIT = 100_000
_HIDDEN_QUERY = ("access_token", "client_secret", "token")


class Controlled(Protocol):
    """What the control API drives (implemented by ``GitHubSandbox``)."""

    def reset(self) -> None: ...

    def configure_webhook(self, url: str | None, secret: str | None = None) -> None: ...

    def webhook_settings(self) -> dict[str, Any]: ...

    def deliveries(self) -> list[dict[str, Any]]: ...

    def create_repo(
        self,
        owner: str,
        name: str,
        files: Mapping[str, str | bytes] | None = None,
        description: str | None = None,
        default_branch: str = "main",
        merge_methods: Sequence[str] = ...,
    ) -> Path: ...

    def repositories(self) -> list[str]: ...

    def git_pushed(self, owner: str, name: str, ref: str, before: str, after: str) -> None: ...


class CallLog:
    """REST calls in arrival order (the oldest dropped past CALL_LIMIT)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []
        self._seq = 0

    def record(self, request: Request, status: int, fault: bool, started: float) -> None:
        """Append one call; credentials never reach the log (no headers are kept)."""
        query = {k: v for k, v in request.query.items() if k.lower() not in _HIDDEN_QUERY}
        try:
            body: Any = request.json() if request.body else None
        except ApiError:
            body = request.body[:200].decode(errors="replace")
        with self._lock:
            self._seq += 1
            self._calls.append(
                {
                    "seq": self._seq,
                    "time": time.time(),
                    "method": request.method,
                    "path": request.path,
                    "query": query,
                    "body": body,
                    "login": request.login or None,
                    "status": status,
                    "fault": fault,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                }
            )
            del self._calls[:-CALL_LIMIT]

    def calls(self) -> list[dict[str, Any]]:
        """A copy of the calls, oldest first."""
        with self._lock:
            return [dict(c) for c in self._calls]

    def clear(self) -> None:
        """Forget every call."""
        with self._lock:
            self._calls = []


@dataclass
class Fault:
    """A rule that fails or delays the next ``count`` matching REST calls."""

    method: str = "*"
    path_prefix: str = "/"
    count: int = 1
    status: int | None = None
    latency_ms: int = 0
    message: str | None = None
    retry_after: int | None = None

    def matches(self, method: str, path: str) -> bool:
        """True when this rule applies to ``method path`` (path without ``/api/v3``)."""
        return self.method in ("*", method) and path.startswith(self.path_prefix)

    def response(self) -> Response | None:
        """Sleep for the latency, then the error response (None: latency only)."""
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if self.status is None:
            return None
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = ""
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        message = self.message or reason or "Server Error"
        return ApiError(self.status, message, headers=headers).response()


def parse_fault(data: Any) -> Fault:
    """A Fault from a JSON object; ValueError naming the bad field."""
    if not isinstance(data, dict):
        raise ValueError("a fault must be a JSON object")
    known = {f for f in Fault.__dataclass_fields__}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
    fault = Fault(**data)
    fault.method = str(fault.method).upper()
    prefix = str(fault.path_prefix)
    if prefix.startswith("/api/v3"):
        prefix = prefix[len("/api/v3") :] or "/"
    fault.path_prefix = prefix
    if not fault.path_prefix.startswith("/"):
        raise ValueError("fault field 'path_prefix' must start with '/'")
    problem = numbers_problem(fault.count, fault.status, fault.latency_ms)
    if problem is not None:
        raise ValueError(problem)
    return fault


class Faults(FaultRules[Fault]):
    """Pending fault rules, tried in the order added; each match uses up one ``count``."""

    def take(self, method: str, path: str) -> Fault | None:
        """The first rule matching the call (its count decremented), or None."""
        return self.take_first(lambda f: f.matches(method, path))


def _bad(message: str) -> Response:
    return json_response({"message": message}, 400)


def handle_control(
    request: Request, target: Controlled, calls: CallLog, faults: Faults
) -> Response:
    """Serve one request under ``/_sandbox/`` (``request.path`` is the part after it)."""
    what, method = request.path.strip("/"), request.method
    try:
        body = request.json() if method in ("POST", "PUT") else {}
    except ApiError as err:
        return _bad(err.message)
    try:
        if what == "calls" and method in ("GET", "DELETE"):
            if method == "DELETE":
                calls.clear()
            return json_response(calls.calls())
        if what == "faults":
            if method == "POST":
                faults.add(parse_fault(body))
            elif method == "DELETE":
                faults.clear()
            if method in ("GET", "POST", "DELETE"):
                return json_response(
                    {"pending": faults.pending()}, 201 if method == "POST" else 200
                )
        if what == "reset" and method == "POST":
            target.reset()
            return json_response({"reset": True})
        if what == "webhook":
            if method == "PUT":
                target.configure_webhook(body.get("url"), body.get("secret"))
            if method in ("GET", "PUT"):
                return json_response(target.webhook_settings())
        if what == "deliveries" and method == "GET":
            return json_response(target.deliveries())
        if what == "repos":
            if method == "POST":
                path = target.create_repo(
                    str(body.get("owner", "")),
                    str(body.get("name", "")),
                    body.get("files"),
                    body.get("description"),
                    str(body.get("default_branch") or "main"),
                    [str(m) for m in body.get("merge_methods") or ("merge", "squash", "rebase")],
                )
                return json_response({"clone_url": path.as_uri(), "path": str(path)}, 201)
            if method == "GET":
                return json_response(target.repositories())
        if what == "git-push" and method == "POST":
            for update in body.get("updates", []):
                target.git_pushed(
                    str(body.get("owner")),
                    str(body.get("name")),
                    str(update["ref"]),
                    str(update["before"]),
                    str(update["after"]),
                )
            return json_response({"ok": True})
    except (ValueError, TypeError, KeyError) as err:
        return _bad(str(err))
    return json_response({"message": f"no control endpoint {method} /_sandbox/{what}"}, 404)
