"""The wording of the Kubernetes API's answers, for ``reconciler.cluster``: the message and
reason of a Status body, Secret values scrubbed from a message, an object named for people,
and the one 500 that is not an outage. Pure: no I/O, no ``kubernetes`` import.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Final

_UNDECLARED_FIELD: Final = "failed to create typed patch object"


def status_of(body: object, status: object, reason: object) -> tuple[str, str]:
    """The message and reason of the Status ``body`` the server sent with an error answer
    (HTTP ``status``, ``reason`` phrase), falling back to the phrase when there is none."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(body) if isinstance(body, str) and body else {}
    except ValueError:
        parsed = {}
    if isinstance(parsed, dict) and parsed.get("message"):
        return str(parsed["message"]), str(parsed.get("reason") or reason or "")
    text = str(reason or "") or f"HTTP {status}"
    return text, str(reason or "")


def undeclared_field(message: str) -> bool:
    """Whether a 500 says that a server-side apply named a field the kind's schema does not
    declare. The API server answers that with 500 (kubernetes/kubernetes#122480), but the fault
    is the manifest's and retrying cannot help, so it is to be reported as invalid (422)."""
    return _UNDECLARED_FIELD in message


def scrub_secret_values(message: str, obj: Mapping[str, Any]) -> str:
    """``message`` with any value of a Secret's data or stringData (and its decoding)
    replaced, so no secret reaches a log or a chat message."""
    if obj.get("kind") != "Secret":
        return message
    values: set[str] = set()
    for field in ("data", "stringData"):
        section = obj.get(field)
        if isinstance(section, Mapping):
            values.update(str(v) for v in section.values() if v)
    for value in list(values):
        with suppress(ValueError, UnicodeDecodeError):
            values.add(base64.b64decode(value, validate=True).decode("utf-8"))
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= 3:
            message = message.replace(value, "***")
    return message


def describe(obj: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` (or ``Kind name``) of an object, for messages."""
    meta = obj.get("metadata") or {}
    kind = obj.get("kind") or "object"
    name = meta.get("name") or meta.get("generateName") or "<unnamed>"
    namespace = meta.get("namespace")
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


__all__ = ["describe", "scrub_secret_values", "status_of", "undeclared_field"]
