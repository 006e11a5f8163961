"""Credentials for Git: which one applies to a URL, and how git is told without leaking it.

Secrets never go into a command line, a stored remote URL, a log line or an error message:
- HTTPS username + password/token become an ``Authorization: Basic`` ``http.extraHeader``
  passed to each git command through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/
  ``GIT_CONFIG_VALUE_n`` environment variables (git >= 2.31), visible to no other user;
- an SSH key becomes ``GIT_SSH_COMMAND="ssh -i KEY -o IdentitiesOnly=yes ..."``;
- userinfo in a repository URL (``https://user:token@host/...``) is taken out of the URL and
  used like a configured credential.
:func:`redact_url` and :func:`scrub` clean anything shown to people.

Pure: the caller (``reconciler.source``) writes inline SSH keys to a private file.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from reconciler.settings import RepoCredential, Secret

DEFAULT_HTTPS_USERNAME = "x-access-token"


def secret_text(value: Secret | str | None) -> str:
    """The plain text of a secret held as str or as a settings :class:`Secret`."""
    if value is None:
        return ""
    return value if isinstance(value, str) else value.reveal()


@dataclass(frozen=True)
class GitAuth:
    """What one repository needs: HTTPS basic credentials, an SSH key (a path, or the key
    text to be written to a private file), and whether TLS/host key checks are off."""

    username: str = ""
    password: str = ""
    ssh_key_path: str = ""
    ssh_key_text: str = ""
    insecure: bool = False

    def __repr__(self) -> str:
        return (
            f"GitAuth(username={self.username!r}, password={'<redacted>' if self.password else ''}"
            f", ssh_key_path={self.ssh_key_path!r}, insecure={self.insecure})"
        )

    def secrets(self) -> list[str]:
        """Values that must never appear in output (with the derived header value)."""
        found = [s for s in (self.password, self.ssh_key_text) if s]
        if self.password:
            found.append(basic_token(self.username, self.password))
        return found


def basic_token(username: str, password: str) -> str:
    raw = f"{username or DEFAULT_HTTPS_USERNAME}:{password}".encode()
    return base64.b64encode(raw).decode("ascii")


def split_userinfo(url: str) -> tuple[str, str, str]:
    """``url`` without userinfo, plus the username and password it carried ("" if none)."""
    if "://" not in url:
        return url, "", ""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, "", ""
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), user, password


def redact_url(url: str) -> str:
    """``url`` safe to show: any userinfo removed."""
    return split_userinfo(url)[0]


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret value replaced by ``****``."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "****")
    return text


def match_credential(url: str, credentials: Sequence[RepoCredential]) -> RepoCredential | None:
    """The configured credential whose URL is the longest prefix of ``url``, or None."""
    matching = [cred for cred in credentials if cred.matches(url)]
    return max(matching, key=lambda cred: len(cred.url), default=None)


def auth_for(url: str, credentials: Sequence[RepoCredential]) -> tuple[str, GitAuth]:
    """The URL to store (without userinfo) and the auth to use for it."""
    clean, user, password = split_userinfo(url)
    if password or user:
        return clean, GitAuth(username=user, password=password)
    credential = match_credential(clean, credentials)
    if credential is None:
        return clean, GitAuth()
    return clean, GitAuth(
        username=credential.username,
        password=secret_text(credential.password),
        ssh_key_path=str(credential.ssh_private_key_path or ""),
        ssh_key_text=secret_text(credential.ssh_private_key),
        insecure=credential.insecure,
    )


def git_env(auth: GitAuth, ssh_key_file: str = "") -> dict[str, str]:
    """Environment variables for one git network command (fetch, ls-remote).

    ``ssh_key_file`` is where the caller wrote ``auth.ssh_key_text``, if there is one."""
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
    config: list[tuple[str, str]] = []
    if auth.password:
        header = f"Authorization: Basic {basic_token(auth.username, auth.password)}"
        config.append(("http.extraHeader", header))
    if auth.insecure:
        config.append(("http.sslVerify", "false"))
    key = ssh_key_file or auth.ssh_key_path
    if key or auth.insecure:
        ssh = ["ssh", "-o", "BatchMode=yes"]
        if key:
            ssh += ["-i", key, "-o", "IdentitiesOnly=yes"]
        if auth.insecure:
            ssh += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key_name, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key_name
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env
