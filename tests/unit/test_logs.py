"""reconciler.logs: text and JSON line formats, levels, and the filter that keeps every
secret of the settings out of every part of a log record."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from reconciler.logs import (
    REDACTED,
    RedactingFilter,
    configure_logging,
    parse_level,
    secrets_of,
)
from reconciler.settings import Secret, build_settings

TOKEN = "xoxb-1234-SECRET/value"
PASSWORD = "hunter2-password"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Where the configured handler writes; the root logger is restored afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_json_lines_carry_time_level_logger_message_and_extras(output: io.StringIO) -> None:
    configure_logging("info", "json", stream=output)
    log = logging.getLogger("reconciler.test")
    log.info("synced %s to %s", "guestbook", "abc1234", extra={"app": "guestbook", "n": 3})
    log.debug("not shown at info")
    [line] = lines(output)
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "reconciler.test"
    assert entry["message"] == "synced guestbook to abc1234"
    assert entry["app"] == "guestbook" and entry["n"] == 3
    assert entry["time"].endswith("Z") and len(entry["time"]) == len("2024-05-01T12:00:00.000Z")


def test_json_exception_is_one_line_with_the_traceback(output: io.StringIO) -> None:
    configure_logging("debug", "json", stream=output)
    try:
        raise ValueError("bad thing")
    except ValueError:
        logging.getLogger("x").exception("it failed")
    [line] = lines(output)
    entry = json.loads(line)
    assert "ValueError: bad thing" in entry["exception"]
    assert "Traceback" in entry["exception"]


def test_text_format(output: io.StringIO) -> None:
    configure_logging("warning", "text", stream=output)
    logging.getLogger("reconciler.controller").info("hidden")
    logging.getLogger("reconciler.controller").warning(
        "drift in %d resources", 2, extra={"app": "shop", "note": "two words"}
    )
    [line] = lines(output)
    stamp, level, rest = line.split(" ", 2)
    assert stamp.endswith("Z") and level == "WARNING"
    assert rest == 'reconciler.controller: drift in 2 resources app=shop note="two words"'


def test_configure_replaces_its_previous_handler(output: io.StringIO) -> None:
    other = io.StringIO()
    configure_logging("info", "text", stream=other)
    configure_logging("info", "json", stream=output)
    logging.getLogger("y").info("once")
    assert other.getvalue() == ""
    assert len(lines(output)) == 1


def test_bad_level_and_format_are_named() -> None:
    assert parse_level("debug") == logging.DEBUG
    assert parse_level(" Warning ") == logging.WARNING
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        parse_level("loud")
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        configure_logging("info", "xml")


def test_secrets_are_redacted_from_every_part_of_a_record(output: io.StringIO) -> None:
    redactor = configure_logging("debug", "json", secrets=[Secret(TOKEN)], stream=output)
    log = logging.getLogger("leaky")
    log.info("token is %s", TOKEN)
    log.info(f"inline {TOKEN}")
    log.info("extra", extra={"header": f"Bearer {TOKEN}", "nested": {"list": [TOKEN, 1]}})
    log.info("base64 %s", base64.b64encode(TOKEN.encode()).decode())
    log.info("quoted https://bot:%s@example.com", quote(TOKEN, safe=""))
    try:
        raise RuntimeError(f"server said {TOKEN}")
    except RuntimeError:
        log.exception("failed")
    log.info("stack", stack_info=True, extra={"stack_note": TOKEN})
    redactor.add([PASSWORD])  # a secret learnt later
    log.warning("password %s", PASSWORD)
    text = output.getvalue()
    assert TOKEN not in text
    assert quote(TOKEN, safe="") not in text
    assert base64.b64encode(TOKEN.encode()).decode() not in text
    assert PASSWORD not in text
    entries = [json.loads(line) for line in lines(output)]  # still valid JSON
    assert entries[0]["message"] == f"token is {REDACTED}"
    assert entries[2]["header"] == f"Bearer {REDACTED}"
    assert entries[2]["nested"] == {"list": [REDACTED, 1]}
    assert REDACTED in entries[5]["exception"]
    assert entries[-1]["message"] == f"password {REDACTED}"


def test_redaction_in_text_format_and_longest_secret_first() -> None:
    redactor = RedactingFilter([Secret("abc"), Secret("abcdef")])
    record = logging.LogRecord("n", logging.INFO, __file__, 1, "%s and %s", ("abcdef", "abc"), None)
    assert redactor.filter(record)
    assert record.getMessage() == f"{REDACTED} and {REDACTED}"


def test_secrets_of_settings_finds_every_secret(tmp_path: Path) -> None:
    settings = build_settings(
        {
            "repositories": [
                {"url": "https://github.com/acme", "username": "bot", "password": PASSWORD},
                {"url": "git@github.com:acme", "sshPrivateKey": {"env": "SSH_KEY"}},
            ],
            "slack": {"botToken": {"env": "SLACK_TOKEN"}, "channel": "#deploys"},
            "github": {"webhookSecret": {"env": "HOOK"}, "apps": [{"key": {"env": "APP"}}]},
        },
        env={"SSH_KEY": "-----KEY-----", "SLACK_TOKEN": TOKEN, "HOOK": "whsec", "APP": "appkey"},
        base_dir=tmp_path,
    )
    found = {secret.reveal() for secret in secrets_of(settings)}
    assert found == {PASSWORD, "-----KEY-----", TOKEN, "whsec", "appkey"}
