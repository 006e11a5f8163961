"""Fault injection and the call log of the Slack stand-in.

:class:`Faults` holds failures queued per method ("the next N calls of chat.postMessage answer
429 with Retry-After: 1", or a 5xx) and optional latency. A faulted call never reaches the
method, so it records nothing: a client that retries correctly ends with one message, and a
client that retries wrongly shows its duplicates. :class:`CallLog` keeps every Web API call in
order (method, arguments without the token, HTTP status, ok/error), faulted ones included.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ANY_METHOD = "*"
_ERROR_FOR_STATUS = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}


@dataclass
class Fault:
    """One queued failure: the HTTP status to answer and, for 429, the Retry-After seconds."""

    status: int
    retry_after: int | None
    remaining: int

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": _ERROR_FOR_STATUS.get(self.status, "fatal_error")}

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(self.retry_after)}


class Faults:
    """Queued failures and latency per Web API method (``"*"`` matches every method)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: dict[str, list[Fault]] = {}
        self._latency: dict[str, float] = {}

    def fail_next(
        self, method: str, times: int = 1, *, status: int = 429, retry_after: int | None = None
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status``.

        A 429 carries ``Retry-After: retry_after`` (1 second unless given) and
        ``{"ok": false, "error": "ratelimited"}`` as Slack sends them; other statuses carry no
        Retry-After unless one is given.
        """
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (4xx/5xx), got {status}")
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._queued.setdefault(method, []).append(Fault(status, retry_after, times))

    def set_latency(self, seconds: float, method: str = ANY_METHOD) -> None:
        """Delay every call of ``method`` (or all methods) by ``seconds`` before answering."""
        if seconds < 0:
            raise ValueError(f"latency must not be negative, got {seconds}")
        with self._lock:
            if seconds == 0:
                self._latency.pop(method, None)
            else:
                self._latency[method] = seconds

    def take(self, method: str) -> Fault | None:
        """The fault that applies to this call of ``method``, consuming one use of it."""
        with self._lock:
            for key in (method, ANY_METHOD):
                queue = self._queued.get(key)
                if queue:
                    fault = queue[0]
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        queue.pop(0)
                    return fault
            return None

    def latency(self, method: str) -> float:
        with self._lock:
            return self._latency.get(method, self._latency.get(ANY_METHOD, 0.0))

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
            self._latency.clear()


class CallLog:
    """Every Web API call, in the order they were answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []

    def record(
        self, method: str, args: Mapping[str, Any], http_status: int, body: Mapping[str, Any]
    ) -> None:
        entry: dict[str, Any] = {
            "method": method,
            "args": dict(args),
            "http_status": http_status,
            "ok": bool(body.get("ok")),
            "error": body.get("error"),
        }
        for key in ("channel", "ts", "message_ts", "file_id"):
            value = body.get(key)
            if isinstance(value, str):
                entry[key] = value
        with self._lock:
            entry["seq"] = len(self._calls) + 1
            self._calls.append(entry)

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._calls if method is None or c["method"] == method]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
