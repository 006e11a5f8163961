"""The ``server`` and ``logging`` sections of the Settings document: how ``kajitori run``
listens and logs.

::

    server:
      host: 0.0.0.0                       # the address to listen on (default: every interface)
      port: 8080                          # probes, /metrics, webhooks, the refresh API
      webhookSecret: {env: GITHUB_WEBHOOK_SECRET}   # verifies GitHub push webhooks;
                                          # without it the webhook endpoint is off (404)
      refreshToken: {env: KAJITORI_REFRESH_TOKEN}   # bearer token of POST /api/refresh/<app>;
                                          # without it the refresh endpoint is off (404)
    logging:
      level: info                         # debug, info, warning, error, critical
      format: text                        # text or json (one object per line)

Both sections are optional and every field has a default. Secrets are read by the caller's
``secret`` reader (``reconciler.settings``), so a literal or ``{env: NAME}`` works and no
message quotes a value. Pure: no environment reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from reconciler.config_fields import Fields

if TYPE_CHECKING:
    from reconciler.settings import Secret

DEFAULT_HOST: Final = "0.0.0.0"
DEFAULT_PORT: Final = 8080
LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS: Final = ("text", "json")

_SERVER_FIELDS: Final = ("host", "port", "webhookSecret", "refreshToken")
_LOGGING_FIELDS: Final = ("level", "format")

SecretReader = Callable[[Fields, str], "Secret | None"]


@dataclass(frozen=True)
class ServerSettings:
    """The service's HTTP port. ``port`` 0 picks a free port (tests). A missing secret turns
    its endpoint off rather than leaving it open."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    webhook_secret: Secret | None = None
    refresh_token: Secret | None = None


@dataclass(frozen=True)
class LoggingSettings:
    """Log level (a lower-case name of ``LOG_LEVELS``) and format (``text`` or ``json``)."""

    level: str = "info"
    format: str = "text"


def parse_server(fields: Fields, secret: SecretReader) -> ServerSettings:
    """The ``server`` section; problems go to ``fields.problems``."""
    fields.check_keys(_SERVER_FIELDS)
    host = fields.string("host", DEFAULT_HOST, nonempty=True).strip() or DEFAULT_HOST
    if any(char.isspace() or char in "/@" for char in host):
        fields.problem("host", "expected an address or host name such as 0.0.0.0 or 127.0.0.1")
        host = DEFAULT_HOST
    port = fields.integer("port", DEFAULT_PORT, minimum=0)
    if port > 65535:
        fields.problem("port", f"must be at most 65535, got {port}")
        port = DEFAULT_PORT
    return ServerSettings(
        host=host,
        port=port,
        webhook_secret=secret(fields, "webhookSecret"),
        refresh_token=secret(fields, "refreshToken"),
    )


def _choice(fields: Fields, key: str, default: str, choices: tuple[str, ...]) -> str:
    value = fields.string(key, default, nonempty=True).strip().lower()
    if not value:  # "" was reported as empty already
        return default
    if value not in choices:
        fields.problem(key, f"expected one of {', '.join(choices)}, got {fields.got(value)}")
        return default
    return value


def parse_logging(fields: Fields) -> LoggingSettings:
    """The ``logging`` section; problems go to ``fields.problems``."""
    fields.check_keys(_LOGGING_FIELDS)
    return LoggingSettings(
        level=_choice(fields, "level", "info", LOG_LEVELS),
        format=_choice(fields, "format", "text", LOG_FORMATS),
    )


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "LoggingSettings",
    "ServerSettings",
    "parse_logging",
    "parse_server",
]
