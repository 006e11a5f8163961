"""The ``server`` and ``logging`` sections of the Settings document: defaults, secrets from
the file or the environment, and every problem named without quoting a secret."""

from __future__ import annotations

import textwrap

import pytest

from reconciler.config import parse_config
from reconciler.errors import ConfigError
from reconciler.settings import Secret, Settings, build_settings
from reconciler.settings_server import LoggingSettings, ServerSettings

HEADER = "apiVersion: kajitori.dev/v1alpha1\nkind: Settings\n"
SENTINEL = "s3cr3t-SENTINEL-token"


def settings_of(body: str, env: dict[str, str] | None = None) -> Settings:
    return parse_config(HEADER + textwrap.dedent(body), "config.yaml", env=env).settings


def problems_of(body: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(HEADER + textwrap.dedent(body), "config.yaml", env=env)
    return info.value.problems


def test_defaults() -> None:
    settings = parse_config("", "config.yaml").settings
    assert settings.server == ServerSettings()
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 8080)
    assert settings.server.webhook_secret is None and settings.server.refresh_token is None
    assert settings.logging == LoggingSettings(level="info", format="text")


def test_server_and_logging_sections() -> None:
    settings = settings_of(
        """\
        server:
          host: 127.0.0.1
          port: 9090
          webhookSecret: {env: HOOK_SECRET}
          refreshToken: literal-token
        logging:
          level: DEBUG
          format: json
        """,
        env={"HOOK_SECRET": SENTINEL},
    )
    server = settings.server
    assert (server.host, server.port) == ("127.0.0.1", 9090)
    assert server.webhook_secret == Secret(SENTINEL, "environment variable HOOK_SECRET")
    assert server.refresh_token is not None and server.refresh_token.reveal() == "literal-token"
    assert settings.logging == LoggingSettings(level="debug", format="json")
    assert SENTINEL not in repr(settings) and "literal-token" not in repr(settings)


def test_port_zero_picks_a_free_port() -> None:
    assert build_settings({"server": {"port": 0}}).server.port == 0


def test_problems_are_named() -> None:
    found = problems_of(
        """\
        server:
          port: 70000
          host: "a b"
          webhookSecret: 12
          refreshToken: {env: NOT_SET}
          prot: 1
        logging:
          level: loud
          format: xml
        """
    )
    prefix = "config.yaml: document 1 (Settings): "
    assert found == [
        prefix + "server.port: must be at most 65535, got 70000 (line 4)",
        prefix + "server.host: expected an address or host name such as 0.0.0.0 or 127.0.0.1 "
        "(line 5)",
        prefix + "server.webhookSecret: expected a string or {env: NAME}, got a number (line 6)",
        prefix + "server.refreshToken.env: environment variable NOT_SET is not set (line 7)",
        prefix + "server.prot: unknown field (did you mean 'port'?) (line 8)",
        prefix + "logging.level: expected one of debug, info, warning, error, critical, "
        "got a string (line 10)",
        prefix + "logging.format: expected one of text, json, got a string (line 11)",
    ]


def test_wrong_types() -> None:
    found = problems_of("server: {port: '8080', host: 5}\nlogging: [debug]\n")
    joined = "\n".join(found)
    assert "server.port: expected an integer, got a string" in joined
    assert "server.host: expected a string (quote it), got a number" in joined
    assert "logging: expected a mapping, got a list" in joined


@pytest.mark.parametrize(
    "body",
    [
        f"server: {{webhookSecret: ['{SENTINEL}']}}\n",
        f"server: {{port: {SENTINEL}}}\n",
        f"logging: {{level: {SENTINEL}}}\n",
        "server: {refreshToken: ''}\n",
    ],
)
def test_no_secret_value_appears_in_any_message(body: str) -> None:
    found = problems_of(body)
    assert found
    assert "SENTINEL" not in "\n".join(found)
