"""What the service takes from the settings: the webhook secret (server's, else github's),
every secret its logs must redact, and the log setup itself."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.service import service_secrets, setup_logging, webhook_secret
from reconciler.settings import Secret, Settings, build_settings

HOOK = "hook-SENTINEL-1"
TOKEN = "token-SENTINEL-2"
GIT = "git-SENTINEL-3"
SLACK = "slack-SENTINEL-4"


def settings(data: dict[str, object]) -> Settings:
    env = {"HOOK": HOOK, "TOKEN": TOKEN, "GIT": GIT, "SLACK": SLACK}
    return build_settings(data, env=env, base_dir=Path("/srv"))


def test_the_webhook_secret_is_the_servers_else_githubs() -> None:
    both = settings(
        {"server": {"webhookSecret": {"env": "HOOK"}}, "github": {"webhookSecret": "other"}}
    )
    assert webhook_secret(both) == Secret(HOOK, "environment variable HOOK")
    github_only = settings({"github": {"webhookSecret": {"env": "HOOK"}}})
    assert webhook_secret(github_only) == Secret(HOOK, "environment variable HOOK")
    literal = settings({"github": {"webhookSecret": "  literal  "}})
    found = webhook_secret(literal)
    assert found is not None and found.reveal() == "literal"
    assert webhook_secret(settings({})) is None
    assert webhook_secret(settings({"github": {"webhookSecret": ""}})) is None


def test_service_secrets_cover_every_section() -> None:
    found = service_secrets(
        settings(
            {
                "server": {"webhookSecret": {"env": "HOOK"}, "refreshToken": {"env": "TOKEN"}},
                "repositories": [{"url": "https://git.example.com/", "password": {"env": "GIT"}}],
                "slack": {"botToken": {"env": "SLACK"}},
            }
        )
    )
    assert sorted(secret.reveal() for secret in found) == sorted([HOOK, TOKEN, GIT, SLACK])


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    scheduler_level = logging.getLogger("apscheduler").level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(scheduler_level)


@pytest.mark.usefixtures("restore_logging")
def test_setup_logging_writes_json_without_secrets() -> None:
    stream = io.StringIO()
    setup_logging(
        settings(
            {
                "server": {"refreshToken": {"env": "TOKEN"}},
                "logging": {"level": "info", "format": "json"},
            }
        ),
        stream,
    )
    logging.getLogger("kajitori.test").info("refreshing with %s", TOKEN, extra={"app": "web"})
    logging.getLogger("kajitori.test").debug("not at info level")
    logging.getLogger("apscheduler.scheduler").info("Added job")  # one line per job run
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "refreshing with <redacted>" and record["app"] == "web"
    assert record["level"] == "INFO" and record["logger"] == "kajitori.test"
    assert "SENTINEL" not in stream.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_debug_level_keeps_the_schedulers_records() -> None:
    stream = io.StringIO()
    setup_logging(settings({"logging": {"level": "debug"}}), stream)
    logging.getLogger("apscheduler.scheduler").info("Added job")
    assert " INFO apscheduler.scheduler: Added job" in stream.getvalue()
