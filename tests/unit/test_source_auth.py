"""How Git credentials are chosen and handed to git without showing them (pure)."""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

from reconciler.settings import RepoCredential, Secret
from reconciler.source_auth import (
    GitAuth,
    auth_for,
    git_env,
    match_credential,
    redact_url,
    scrub,
    split_userinfo,
)


def test_userinfo_is_split_off_and_redacted() -> None:
    assert split_userinfo("https://bot:tok@git.example.org/org/r.git") == (
        "https://git.example.org/org/r.git",
        "bot",
        "tok",
    )
    assert redact_url("https://tok@git.example.org/r") == "https://git.example.org/r"
    assert redact_url("git@github.com:org/repo.git") == "git@github.com:org/repo.git"
    assert redact_url("/srv/git/repo.git") == "/srv/git/repo.git"


def test_longest_matching_prefix_wins() -> None:
    org = RepoCredential(url="https://git.example.org/org", username="org")
    team = RepoCredential(url="https://git.example.org/org/team", username="team")
    creds = [org, team]
    assert match_credential("https://git.example.org/org/team/app.git", creds) is team
    assert match_credential("https://git.example.org/org/other.git", creds) is org
    assert match_credential("https://elsewhere.example.org/org/x", creds) is None


def test_https_token_goes_into_an_extra_header_through_the_environment() -> None:
    cred = RepoCredential(
        url="https://git.example.org/", username="bot", password=Secret("s3cret-token")
    )
    url, auth = auth_for("https://git.example.org/org/app.git", [cred])
    assert url == "https://git.example.org/org/app.git"
    env = git_env(auth)
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    token = base64.b64encode(b"bot:s3cret-token").decode()
    assert env["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {token}"
    assert "GIT_SSH_COMMAND" not in env
    assert "s3cret-token" not in repr(auth)
    assert set(auth.secrets()) == {"s3cret-token", token}


def test_ssh_key_path_and_insecure() -> None:
    cred = RepoCredential(
        url="git@git.example.org:", ssh_private_key_path=Path("/keys/deploy"), insecure=True
    )
    _, auth = auth_for("git@git.example.org:org/app.git", [cred])
    command = shlex.split(git_env(auth)["GIT_SSH_COMMAND"])
    assert command[:1] == ["ssh"]
    assert command[command.index("-i") + 1] == "/keys/deploy"
    assert "IdentitiesOnly=yes" in command
    assert "StrictHostKeyChecking=no" in command
    inline = GitAuth(ssh_key_text="-----BEGIN KEY-----")
    command = shlex.split(git_env(inline, "/tmp/k 1.key")["GIT_SSH_COMMAND"])
    assert command[command.index("-i") + 1] == "/tmp/k 1.key"


def test_credentials_in_the_url_beat_the_settings() -> None:
    cred = RepoCredential(url="https://h/", username="a", password=Secret("from-settings"))
    url, auth = auth_for("https://u:p4ss@h/r.git", [cred])
    assert (url, auth.username, auth.password) == ("https://h/r.git", "u", "p4ss")


def test_scrub_removes_secret_values() -> None:
    assert scrub("fatal: auth failed for tok123 (tok123)", ["tok123"]) == (
        "fatal: auth failed for **** (****)"
    )
