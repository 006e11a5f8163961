"""The emulator's control API under ``/_sandbox/``: audit log, fault injection, reset, time.

- ``GET /_sandbox/audit``: every mutating request so far, in order.
- ``POST /_sandbox/faults`` with ``{method, resource, namespace?, name?, count, status?,
  latency_ms?, message?}``: the next ``count`` matching requests fail with ``status`` (as a
  `kind: Status` body) and/or are delayed by ``latency_ms``. ``DELETE /_sandbox/faults``
  clears them; ``GET`` lists the pending ones.
- ``POST /_sandbox/reset``: empty store (default namespaces kept), empty audit, no faults,
  controllers reset.
- ``GET``/``PUT /_sandbox/time-factor``: ``{"timeFactor": f}`` scales controller delays.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.faultrules import FaultRules, numbers_problem
from sandbox.kube.errors import StoreError, bad_request, reason_for
from sandbox.kube.httpmsg import Request, Response, json_response

AUDIT_LIMIT = 200_000


def _timestamp(seconds: float) -> str:
    micros = int(seconds * 1_000_000) % 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


class AuditLog:
    """Ordered records of mutating requests (the oldest are dropped past AUDIT_LIMIT)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []

    def record(self, **fields: Any) -> None:
        """Append one record; ``time`` is added."""
        entry = {"time": _timestamp(time.time()), **fields}
        with self._lock:
            self._records.append(entry)
            if len(self._records) > AUDIT_LIMIT:
                del self._records[: len(self._records) - AUDIT_LIMIT]

    def records(self) -> list[dict[str, Any]]:
        """A copy of the records, oldest first."""
        with self._lock:
            return [dict(r) for r in self._records]

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records = []


@dataclass
class Fault:
    """A rule that fails or delays the next ``count`` matching requests."""

    method: str = "*"
    resource: str = "*"
    namespace: str | None = None
    name: str | None = None
    count: int = 1
    status: int | None = None
    latency_ms: int = 0
    message: str | None = None

    def matches(self, method: str, resource: str, group: str, namespace: str, name: str) -> bool:
        """True when this rule applies to a request."""
        if self.method not in ("*", method):
            return False
        if self.resource not in ("*", resource, f"{resource}.{group}" if group else resource):
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        return self.name is None or self.name == name


def parse_fault(data: Any) -> Fault:
    """A Fault from a JSON body; 400 naming the bad field."""
    if not isinstance(data, dict):
        raise bad_request("a fault must be a JSON object")
    known = {"method", "resource", "namespace", "name", "count", "status", "latency_ms", "message"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise bad_request(f"unknown fault field(s): {', '.join(unknown)}")
    fault = Fault(
        method=str(data.get("method", "*")).upper(),
        resource=str(data.get("resource", "*")),
        namespace=data.get("namespace"),
        name=data.get("name"),
        count=data.get("count", 1),
        status=data.get("status"),
        latency_ms=data.get("latency_ms", 0) or 0,
        message=data.get("message"),
    )
    problem = numbers_problem(fault.count, fault.status, fault.latency_ms)
    if problem is not None:
        raise bad_request(problem)
    return fault


class Faults(FaultRules[Fault]):
    """The pending fault rules; each match uses up one of a rule's ``count``."""

    def take(
        self, method: str, resource: str, group: str, namespace: str, name: str
    ) -> Fault | None:
        """The first rule matching a request (its count decremented), or None."""
        return self.take_first(lambda f: f.matches(method, resource, group, namespace, name))


def inflict(fault: Fault, resource: str, name: str) -> None:
    """Sleep for the fault's latency, then raise its error (if it has a status)."""
    if fault.latency_ms:
        time.sleep(fault.latency_ms / 1000)
    if fault.status is not None:
        reason = reason_for(fault.status) or "Unknown"
        message = fault.message or f"injected fault: {fault.status} {reason} for {resource}" + (
            f' "{name}"' if name else ""
        )
        raise StoreError(fault.status, reason, message)


def _json_body(request: Request) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError as err:
        raise bad_request(f"request body is not valid JSON: {err}") from None


def handle_control(
    request: Request,
    audit: AuditLog,
    faults: Faults,
    reset: Callable[[], None],
    get_time_factor: Callable[[], float],
    set_time_factor: Callable[[float], None],
) -> Response:
    """Serve one request under /_sandbox/."""
    what = request.path[len("/_sandbox/") :].strip("/")
    method = request.method
    if what == "audit" and method == "GET":
        return json_response(audit.records())
    if what == "faults":
        if method == "POST":
            faults.add(parse_fault(_json_body(request)))
            return json_response({"pending": faults.pending()}, 201)
        if method == "DELETE":
            faults.clear()
            return json_response({"pending": []})
        if method == "GET":
            return json_response({"pending": faults.pending()})
    if what == "reset" and method == "POST":
        reset()
        return json_response({"reset": True})
    if what == "time-factor":
        if method == "PUT":
            data = _json_body(request)
            value = (
                data.get("timeFactor", data.get("time_factor")) if isinstance(data, dict) else data
            )
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise bad_request('time factor must be a non-negative number: {"timeFactor": 0.1}')
            set_time_factor(float(value))
        if method in ("GET", "PUT"):
            return json_response({"timeFactor": get_time_factor()})
    raise StoreError(404, "NotFound", f"no sandbox control endpoint {method} {request.path}")
