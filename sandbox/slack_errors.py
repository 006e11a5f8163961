"""The one exception the Slack stand-in raises inside a Web API method.

Slack answers a failed method with HTTP 200 and ``{"ok": false, "error": "<code>"}``, sometimes
with human-readable detail in ``response_metadata.messages`` (for ``invalid_blocks`` the
messages carry a JSON pointer to the offending field). :class:`SlackAPIError` carries exactly
that, so the HTTP layer can turn it into the body Slack would send.
"""

from __future__ import annotations

from typing import Any


class SlackAPIError(Exception):
    """A Slack Web API error: the ``error`` code plus optional detail messages."""

    def __init__(self, code: str, messages: list[str] | None = None, http_status: int = 200):
        super().__init__(code if not messages else f"{code}: {'; '.join(messages)}")
        self.code = code
        self.messages = list(messages or [])
        self.http_status = http_status

    def body(self) -> dict[str, Any]:
        """The JSON body Slack sends for this error."""
        doc: dict[str, Any] = {"ok": False, "error": self.code}
        if self.messages:
            doc["response_metadata"] = {"messages": list(self.messages)}
        return doc
