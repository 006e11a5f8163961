"""Logging for ``kajitori run``: text or JSON lines, and no secret in any record.

``configure_logging(level, fmt, secrets)`` installs one handler on the root logger (replacing
the one it installed before) with:

* a formatter: ``text`` writes ``2024-05-01T12:00:00.123Z INFO reconciler.controller: message
  app=guestbook``; ``json`` writes one object per line with ``time``, ``level``, ``logger``,
  ``message``, every extra field passed with ``extra=`` (``app``, ``revision`` ...) and
  ``exception`` when there is one;
* a ``RedactingFilter`` that knows the revealed values of the settings' ``Secret`` objects
  (``secrets_of(settings)`` finds them all) and replaces each, and its base64 and URL-quoted
  forms, with ``<redacted>`` in the message, its arguments, extra fields, the exception text
  and the stack, before any formatter sees the record.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TextIO
from urllib.parse import quote

from reconciler.settings import RawSection, Secret, Settings

REDACTED: Final = "<redacted>"
LogFormat = Literal["text", "json"]
FORMATS: Final = ("text", "json")

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)


def secrets_of(settings: Settings) -> list[Secret]:
    """Every Secret in ``settings``: repository passwords and keys, and any ``{env: NAME}``
    or secret value in the slack, github, notifications and rbac sections."""
    found: list[Secret] = []
    for credential in settings.repositories:
        found.extend(s for s in (credential.password, credential.ssh_private_key) if s)
    for section in (settings.slack, settings.github, settings.notifications, settings.rbac):
        _collect(section, found)
    return found


def _collect(value: Any, found: list[Secret]) -> None:
    if isinstance(value, Secret):
        found.append(value)
    elif isinstance(value, Mapping | RawSection):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)


def _variants(value: str) -> set[str]:
    """The forms a secret may take in a log line: as is, base64 (basic auth headers, Secret
    data) and URL-quoted (credentials in URLs)."""
    forms = {value, quote(value, safe="")}
    encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
    forms.update({encoded, encoded.rstrip("=")})
    return {form for form in forms if form}


class RedactingFilter(logging.Filter):
    """Replaces known secret values with ``<redacted>`` in every record it sees. Attach it to
    handlers (a logger's own filters do not see records of its child loggers)."""

    def __init__(self, secrets: Iterable[Secret | str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[Secret | str]) -> None:
        """Also redact these secrets (for ones learnt after start-up)."""
        with self._lock:
            values = set(self._values)
            for secret in secrets:
                raw = secret.reveal() if isinstance(secret, Secret) else secret
                if raw:
                    values.update(_variants(raw))
            # longest first, so a secret containing another is replaced whole
            self._values = tuple(sorted(values, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def _redact_any(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self._redact_any(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._redact_any(v) for v in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.redact(str(value))

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._values:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep its parts readable
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD:
                setattr(record, name, self._redact_any(value))
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    text = record.exc_text or ""
    if record.stack_info:
        text = f"{text}\n{formatter.formatStack(record.stack_info)}".strip()
    return text


class TextFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <logger>: <message> key=value ...`` and the traceback below."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={_plain(v)}" for k, v in sorted(extras.items()))
        exception = _exception_text(self, record)
        return f"{line}\n{exception}" if exception else line


def _plain(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if (not text or any(c in text for c in ' "=\n')) else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            entry.setdefault(key, value)
        exception = _exception_text(self, record)
        if exception:
            entry["exception"] = exception
        return json.dumps(entry, default=str, ensure_ascii=False)


_installed: logging.Handler | None = None
_install_lock = threading.Lock()


def parse_level(level: str | int) -> int:
    """A logging level from a name (``debug``, ``INFO`` ...) or a number; ValueError naming
    the accepted names otherwise."""
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(level.strip().upper())
    if number is None:
        raise ValueError(
            f"unknown log level {level!r}; use one of debug, info, warning, error, critical"
        )
    return number


def configure_logging(
    level: str | int = "info",
    fmt: LogFormat | str = "text",
    secrets: Iterable[Secret | str] = (),
    stream: TextIO | None = None,
) -> RedactingFilter:
    """Install kajitori's log handler on the root logger (replacing the one a previous call
    installed) and return its redacting filter, so later secrets can be added to it."""
    global _installed
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; use text or json")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    redactor = RedactingFilter(secrets)
    handler.addFilter(redactor)
    root = logging.getLogger()
    with _install_lock:
        if _installed is not None:
            root.removeHandler(_installed)
            _installed.close()
        root.addHandler(handler)
        root.setLevel(parse_level(level))
        _installed = handler
    return redactor


__all__ = [
    "FORMATS",
    "REDACTED",
    "JsonFormatter",
    "LogFormat",
    "RedactingFilter",
    "TextFormatter",
    "configure_logging",
    "parse_level",
    "secrets_of",
]
