"""Errors of the Kubernetes emulator and the `kind: Status` bodies kube-apiserver answers with.

Every failure inside the emulator is a :class:`StoreError` carrying the HTTP code, the
Kubernetes ``reason`` and a message that is safe to show to the client (it never contains a
Secret's values). The server turns it into the same JSON body the real API server sends.
"""

from __future__ import annotations

from typing import Any

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class StoreError(Exception):
    """A request the emulator refuses, with the HTTP status code and Kubernetes reason."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The `kind: Status` body for this error."""
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A failure `Status` object shaped like kube-apiserver's."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
    }
    if reason:  # an unknown reason is left out, as the server's omitempty does
        body["reason"] = reason
    body["code"] = code
    if details:
        body["details"] = details
    return body


def reason_for(code: int) -> str:
    """The reason kube-apiserver uses for an HTTP status code ("" when it has none)."""
    return REASONS.get(code, "InternalError" if code >= 500 else "")


def _details(name: str, group: str, resource: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return details


def _qualified(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(group: str, resource: str, name: str) -> StoreError:
    """404 for a named object that does not exist."""
    return StoreError(
        404,
        "NotFound",
        f'{_qualified(group, resource)} "{name}" not found',
        _details(name, group, resource),
    )


def already_exists(group: str, resource: str, name: str) -> StoreError:
    """409 for a create whose name is taken."""
    return StoreError(
        409,
        "AlreadyExists",
        f'{_qualified(group, resource)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(group: str, resource: str, name: str, why: str) -> StoreError:
    """409 for an optimistic-concurrency or apply conflict."""
    return StoreError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(group, resource)} "{name}": {why}',
        _details(name, group, resource),
    )


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str]]) -> StoreError:
    """422 listing each invalid field as (field path, message)."""
    qualified_kind = f"{kind}.{group}" if group else kind
    text = "; ".join(f"{field}: {msg}" for field, msg in causes) or "invalid object"
    if len(causes) > 1:
        text = "[" + ", ".join(f"{field}: {msg}" for field, msg in causes) + "]"
    details: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "causes": [
            {"reason": "FieldValueInvalid", "message": msg, "field": field} for field, msg in causes
        ],
    }
    if group:
        details["group"] = group
    return StoreError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> StoreError:
    """400 for a malformed request or body."""
    return StoreError(400, "BadRequest", message)
