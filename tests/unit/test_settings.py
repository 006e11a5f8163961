"""The Settings document: typed sections with defaults, secrets from the file or the
environment mapping, and no secret value in any message or repr."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import parse_config
from reconciler.errors import ConfigError
from reconciler.settings import (
    ControllerSettings,
    RawSection,
    RepoCredential,
    Secret,
    Settings,
    build_settings,
)

HEADER = "apiVersion: kajitori.dev/v1alpha1\nkind: Settings\n"
SENTINEL = "s3cr3t-SENTINEL-value"


def settings_of(
    body: str, env: dict[str, str] | None = None, path: str = "/etc/kajitori/config.yaml"
) -> Settings:
    return parse_config(HEADER + textwrap.dedent(body), path, env=env).settings


def problems_of(body: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(HEADER + textwrap.dedent(body), "config.yaml", env=env)
    return info.value.problems


def test_defaults_without_a_settings_document() -> None:
    settings = parse_config("", "/srv/conf/config.yaml").settings
    controller = settings.controller
    assert controller.reconciliation_interval == 180.0
    assert controller.wave_delay == 2.0
    assert controller.workers == 4
    assert controller.jitter == 0.0 and controller.sync_timeout is None
    # Relative defaults sit next to the configuration file.
    assert controller.state_path == Path("/srv/conf/.kajitori/state.db")
    assert controller.cache_dir == Path("/srv/conf/.kajitori/cache")
    assert settings.repositories == ()
    assert dict(settings.slack) == {} and dict(settings.rbac) == {}
    assert Settings().controller == ControllerSettings()


def test_controller_section() -> None:
    settings = settings_of(
        """\
        controller:
          reconciliationInterval: 5m
          jitter: 30s
          workers: 8
          waveDelay: 500ms
          statePath: state/kajitori.db
          cacheDir: ~/cache
          syncTimeout: 1h
        """,
        env={"HOME": "/home/ops"},
    )
    assert settings.controller == ControllerSettings(
        reconciliation_interval=300.0,
        jitter=30.0,
        workers=8,
        wave_delay=0.5,
        state_path=Path("/etc/kajitori/state/kajitori.db"),
        cache_dir=Path("/home/ops/cache"),
        sync_timeout=3600.0,
    )


def test_controller_problems() -> None:
    found = problems_of(
        """\
        controller:
          reconciliationInterval: 0s
          workers: four
          waveDelay: -2s
          wavedelay: 2s
        """
    )
    prefix = "config.yaml: document 1 (Settings): controller."
    # In line order; Settings messages give only the type of a wrong value, never the value.
    assert found == [
        prefix + "reconciliationInterval: must be greater than zero, got a string (line 4)",
        prefix + "workers: expected an integer, got a string (line 5)",
        prefix
        + "waveDelay: expected a duration such as '30s', '3m' or '1h', got a string (line 6)",
        prefix + "wavedelay: unknown field (did you mean 'waveDelay'?) (line 7)",
    ]


def test_unknown_section() -> None:
    assert problems_of("slak: {}\n") == [
        "config.yaml: document 1 (Settings): slak: unknown field (did you mean 'slack'?) (line 3)"
    ]


def test_repositories_with_literal_and_environment_secrets(tmp_path: Path) -> None:
    settings = settings_of(
        """\
        repositories:
          - url: https://github.com/example/
            username: bot
            password: {env: GIT_TOKEN}
          - url: https://github.com/example/private
            password: literal-password
            insecure: true
          - url: git@github.com:example/
            sshPrivateKeyPath: keys/id_ed25519
          - url: ssh://git@gitlab.example/
            sshPrivateKey: {env: SSH_KEY}
        """,
        env={"GIT_TOKEN": SENTINEL, "SSH_KEY": "-----BEGIN KEY-----"},
        path=str(tmp_path / "config.yaml"),
    )
    general, private, scp, inline = settings.repositories
    assert general.username == "bot"
    assert general.password is not None and general.password.reveal() == SENTINEL
    assert general.password.origin == "environment variable GIT_TOKEN"
    assert private.password == Secret("literal-password") and private.insecure
    assert scp.ssh_private_key_path == tmp_path / "keys/id_ed25519"
    assert inline.ssh_private_key is not None
    assert inline.ssh_private_key.reveal() == "-----BEGIN KEY-----"
    # The longest matching URL prefix wins; ".git" and case do not matter.
    assert settings.credential_for("https://github.com/example/private.git") is private
    assert settings.credential_for("https://GitHub.com/example/web") is general
    assert settings.credential_for("https://gitlab.com/x") is None
    assert SENTINEL not in repr(settings) and SENTINEL not in str(settings.repositories)


def test_secret_never_shows_its_value() -> None:
    secret = Secret(SENTINEL)
    assert repr(secret) == str(secret) == f"{secret}" == "<redacted>"
    assert secret.reveal() == SENTINEL
    cred = RepoCredential(url="https://x/", password=secret)
    assert SENTINEL not in repr(cred)
    assert SENTINEL not in repr(RawSection({"botToken": SENTINEL}))


def test_raw_sections_are_kept_with_env_references_resolved() -> None:
    settings = settings_of(
        """\
        slack:
          botToken: {env: SLACK_BOT_TOKEN}
          channels: [deploys, alerts]
        github: {app: {id: 12}}
        notifications: {triggers: {on-deployed: []}}
        rbac: {admins: [U123]}
        """,
        env={"SLACK_BOT_TOKEN": SENTINEL},
    )
    assert settings.slack["botToken"] == Secret(SENTINEL, "environment variable SLACK_BOT_TOKEN")
    assert settings.slack["channels"] == ["deploys", "alerts"]
    assert settings.github["app"] == {"id": 12} and type(settings.github["app"]) is dict
    assert dict(settings.notifications) == {"triggers": {"on-deployed": []}}
    assert settings.rbac["admins"] == ["U123"]
    assert SENTINEL not in repr(settings)


def test_missing_or_empty_environment_variables_are_named() -> None:
    found = problems_of(
        "repositories:\n- url: https://x/\n  password: {env: GIT_TOKEN}\n"
        "slack: {botToken: {env: SLACK_TOKEN}}\n",
        env={"SLACK_TOKEN": ""},
    )
    assert found == [
        "config.yaml: document 1 (Settings): repositories[0].password.env: environment "
        "variable GIT_TOKEN is not set (line 5)",
        "config.yaml: document 1 (Settings): slack.botToken.env: environment variable "
        "SLACK_TOKEN is empty (line 6)",
    ]


def test_repository_problems() -> None:
    found = problems_of(
        """\
        repositories:
          - username: bot
          - url: https://x/
            sshPrivateKey: key
            sshPrivateKeyPath: /k
            pasword: x
          - url: https://x/
          - just-a-string
        """
    )
    joined = "\n".join(found)
    assert "repositories[0].url: required" in joined
    assert "repositories[1]: set sshPrivateKey or sshPrivateKeyPath, not both" in joined
    assert "repositories[1].pasword: unknown field (did you mean 'password'?)" in joined
    assert "repositories[2].url: repository 'https://x/' is listed twice" in joined
    assert "repositories[3]: expected a mapping, got a string" in joined


@pytest.mark.parametrize(
    "body",
    [
        f"repositories:\n- url: https://x/\n  password: {{valueFrom: {SENTINEL}}}\n",
        "repositories:\n- url: https://x/\n  password: 123456789\n",
        f"repositories:\n- url: https://x/\n  password: [{SENTINEL}]\n",
        f"repositories:\n- https://bot:{SENTINEL}@github.com/\n",
        f"repositories:\n- url: https://bot:{SENTINEL}@x/\n- url: https://bot:{SENTINEL}@x/\n",
        f"repositories:\n- url: https://x/\n  sshPrivateKey: 12{SENTINEL}\n  username: 7\n",
        f"controller: {{workers: {SENTINEL}, statePath: 5}}\n",
        f"slack: {SENTINEL}\n",
        f'repositories:\n- url: https://x/\n  password: "{SENTINEL}\\q"\n',
    ],
)
def test_no_secret_value_appears_in_any_message(body: str) -> None:
    found = problems_of(body, env={"GIT_TOKEN": SENTINEL})
    assert found
    assert "SENTINEL" not in "\n".join(found)


def test_build_settings_from_a_mapping() -> None:
    data: dict[str, Any] = {"controller": {"workers": 2}, "rbac": {"admins": ["U1"]}}
    settings = build_settings(data, base_dir=Path("/base"))
    assert settings.controller.workers == 2
    assert settings.controller.cache_dir == Path("/base/.kajitori/cache")
    with pytest.raises(ConfigError) as info:
        build_settings({"controller": {"workers": 0}}, source="inline")
    assert info.value.problems == ["inline: controller.workers: must be at least 1, got 0"]


def test_a_literal_token_in_a_raw_section_is_held_as_a_secret() -> None:
    from reconciler.config import parse_config
    from reconciler.settings import Secret

    text = (
        "apiVersion: kajitori.dev/v1alpha1\nkind: Settings\n"
        "github:\n  token: ghp-literal-value\n  baseUrl: https://ghe.example.com/api/v3\n"
    )
    settings = parse_config(text, "s.yaml", env={}).settings
    token = settings.github["token"]
    assert isinstance(token, Secret) and token.reveal() == "ghp-literal-value"
    assert settings.github["baseUrl"] == "https://ghe.example.com/api/v3"


def test_the_approval_timeout_is_a_controller_setting() -> None:
    from reconciler.config import parse_config

    text = (
        "apiVersion: kajitori.dev/v1alpha1\nkind: Settings\ncontroller:\n  approvalTimeout: 15m\n"
    )
    assert parse_config(text, "s.yaml", env={}).settings.controller.approval_timeout == 900
    assert parse_config("", "s.yaml", env={}).settings.controller.approval_timeout == 3600
