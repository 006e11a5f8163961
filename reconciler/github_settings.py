"""The ``github`` section of the Settings document, typed.

``reconciler.settings`` keeps the section as a :class:`~reconciler.settings.RawSection` (with
every ``{env: NAME}`` already resolved into a :class:`~reconciler.settings.Secret`); this
module gives it its shape, checks it and reports every problem at once::

    github:
      token: {env: GITHUB_TOKEN}        # or a literal token; without one the API is off
      baseUrl: https://ghe.example.com/api/v3   # GitHub Enterprise; default api.github.com
      webhookSecret: {env: GITHUB_WEBHOOK_SECRET}  # verifies push webhooks
      statuses: true                    # commit statuses on synced commits (default: on
                                        # whenever a token is set)
      statusContext: kajitori           # the status context prefix: "kajitori/<app>"
      statusTargetUrl: https://kajitori.example.com/applications/{app}
                                        # the status link; {app}, {project}, {revision}
      appRepositories:                  # app -> its application (source code) repository
        guestbook: acme/guestbook
      repositoryMap:                    # repository URLs or local paths GitHub cannot name
        file:///srv/git/acme/manifests.git: acme/manifests
      timeout: 10s                      # per HTTP request
      retries: 1                        # retries of an idempotent request after a 5xx

Pure: no environment reads (the environment was applied by ``reconciler.settings``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from reconciler.config_fields import Fields, Problems, type_name
from reconciler.errors import ConfigError
from reconciler.settings import RawSection, Secret, Settings

DEFAULT_BASE_URL: Final = "https://api.github.com"
DEFAULT_CONTEXT: Final = "kajitori"
DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_RETRIES: Final = 1
MAX_RETRIES: Final = 3
TARGET_URL_FIELDS: Final = ("app", "project", "revision")

_FIELDS = (
    "token",
    "baseUrl",
    "webhookSecret",
    "statuses",
    "statusContext",
    "statusTargetUrl",
    "appRepositories",
    "repositoryMap",
    "timeout",
    "retries",
)
_FULL_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


@dataclass(frozen=True)
class GitHubSettings:
    """How kajitori talks to GitHub. ``token`` None means the API is not configured: no pull
    requests, no statuses (a rollback then leaves Git to the user)."""

    token: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    webhook_secret: Secret | None = None
    statuses: bool = False
    status_context: str = DEFAULT_CONTEXT
    status_target_url: str = ""
    app_repositories: Mapping[str, str] = field(default_factory=dict)
    repository_map: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES

    @property
    def api_enabled(self) -> bool:
        """Whether the REST API can be used (a token is set)."""
        return self.token is not None

    def app_repository(self, app: str) -> str | None:
        """The ``owner/name`` of ``app``'s application repository, if one is named."""
        return self.app_repositories.get(app)

    def target_url(self, app: str, project: str = "", revision: str = "") -> str:
        """The status link for an app ("" when no template is set)."""
        if not self.status_target_url:
            return ""
        return self.status_target_url.format(app=app, project=project, revision=revision)


def is_full_name(text: str) -> bool:
    """Whether ``text`` is a repository's ``owner/name``."""
    return bool(_FULL_NAME.match(text))


def _secret(fields: Fields, key: str) -> Secret | None:
    value = fields.data.get(key)
    if value is None:
        return None
    if isinstance(value, Secret):
        return value
    if isinstance(value, str) and value.strip():
        return Secret(value.strip())
    if isinstance(value, str):
        fields.problem(key, "must not be empty")
    else:
        fields.problem(key, f"expected a string or {{env: NAME}}, got {type_name(value)}")
    return None


def _base_url(fields: Fields) -> str:
    url = fields.string("baseUrl", DEFAULT_BASE_URL, nonempty=True).strip().rstrip("/")
    if not re.match(r"^https?://[^/\s@]+(/\S*)?$", url):
        fields.problem(
            "baseUrl",
            "expected an http(s) URL without credentials, such as "
            "https://github.example.com/api/v3",
        )
        return DEFAULT_BASE_URL
    return url


def _context(fields: Fields) -> str:
    context = fields.string("statusContext", DEFAULT_CONTEXT, nonempty=True).strip()
    if not context or len(context) > 100 or any(ch.isspace() for ch in context):
        fields.problem("statusContext", "expected a short name without spaces, e.g. kajitori")
        return DEFAULT_CONTEXT
    return context


def _target_url(fields: Fields) -> str:
    template = fields.string("statusTargetUrl").strip()
    if not template:
        return ""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        fields.problem("statusTargetUrl", f"invalid template: {exc}")
        return ""
    unknown = sorted({name for name in names if name not in TARGET_URL_FIELDS})
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in TARGET_URL_FIELDS)
        fields.problem(
            "statusTargetUrl",
            f"unknown placeholder(s) {', '.join('{' + name + '}' for name in unknown)}; "
            f"use {allowed}",
        )
        return ""
    if not re.match(r"^https?://", template):
        fields.problem("statusTargetUrl", "expected an http(s) URL")
        return ""
    return template


def _repositories(fields: Fields, key: str, what: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, full_name in fields.string_map(key).items():
        if is_full_name(full_name.strip()):
            result[name] = full_name.strip()
        else:
            fields.problems.add(
                f"{fields.path}.{key}.{name}",
                f"expected the {what} as owner/name, got {full_name!r}",
                fields.line(key),
            )
    return result


def parse_github_settings(section: Mapping[str, Any], problems: Problems) -> GitHubSettings:
    """The typed section; problems go to ``problems`` (the result is only meaningful when
    none were added). Messages name fields and never quote a secret."""
    fields = Fields(section, "github", problems).redacted()
    fields.check_keys(_FIELDS)
    token = _secret(fields, "token")
    statuses_given = fields.has("statuses")
    statuses = fields.boolean("statuses", token is not None)
    if statuses and statuses_given and token is None:
        fields.problem("statuses", "commit statuses need github.token")
        statuses = False
    retries = fields.integer("retries", DEFAULT_RETRIES, minimum=0)
    if retries > MAX_RETRIES:
        fields.problem("retries", f"must be at most {MAX_RETRIES}, got {retries}")
        retries = DEFAULT_RETRIES
    return GitHubSettings(
        token=token,
        base_url=_base_url(fields),
        webhook_secret=_secret(fields, "webhookSecret"),
        statuses=statuses,
        status_context=_context(fields),
        status_target_url=_target_url(fields),
        app_repositories=_repositories(fields, "appRepositories", "application repository"),
        repository_map=_repositories(fields, "repositoryMap", "repository"),
        timeout=fields.duration("timeout", DEFAULT_TIMEOUT, positive=True),
        retries=retries,
    )


def github_settings(
    settings: Settings | RawSection | Mapping[str, Any], source: str = "Settings"
) -> GitHubSettings:
    """The ``github`` section of ``settings`` (or the section itself), typed. Raises
    ConfigError listing every problem, each starting with ``source``."""
    section = settings.github if isinstance(settings, Settings) else settings
    problems = Problems(source)
    result = parse_github_settings(section, problems)
    if problems.messages:
        raise ConfigError(problems.messages)
    return result
