"""kajitori's own settings: the ``kind: Settings`` document (apiVersion kajitori.dev/v1alpha1)
of the configuration file, as one typed, frozen object built once at start-up.

Every value has a default, so a file without a Settings document is valid. Sections:

* ``controller`` — polling and sync tuning, and the namespaces kajitori is limited to
  (``namespaces``, empty = cluster-wide), typed here (:class:`ControllerSettings`).
* ``repositories`` — Git credentials by URL prefix, typed here (:class:`RepoCredential`).
* ``server`` and ``logging`` — the HTTP port and logs of ``kajitori run``, typed in
  ``reconciler.settings_server`` (:class:`ServerSettings`, :class:`LoggingSettings`).
* ``slack``, ``github``, ``notifications``, ``rbac`` — accepted as mappings and kept as
  :class:`RawSection` until the issues that build those features type them. Any value there
  written as ``{env: NAME}`` is already resolved into a :class:`Secret`.

Secrets (passwords, tokens, keys, signing secrets) are written either literally or as
``{env: NAME}``; the environment is a mapping handed to :func:`parse_settings`, so nothing
here reads ``os.environ`` (only the CLI entry point does, and passes it in). Secret values live
in :class:`Secret`, whose ``repr`` and ``str`` are ``<redacted>``, and no problem message ever
quotes one.

Relative paths (``statePath``, ``cacheDir``, ``sshPrivateKeyPath``) are relative to the
directory of the configuration file, as kubeconfig does for its certificate paths; ``~`` is
expanded from ``HOME`` in the environment mapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.config_fields import Fields, Problems, redact_url, type_name
from reconciler.config_yaml import plain
from reconciler.errors import ConfigError
from reconciler.settings_server import LoggingSettings, ServerSettings, parse_logging, parse_server

SETTINGS_API_VERSION = "kajitori.dev/v1alpha1"
SETTINGS_KIND = "Settings"


@dataclass(frozen=True, repr=False)
class Secret:
    """A secret string. ``reveal()`` returns it; ``repr``/``str``/f-strings show
    ``<redacted>``. ``origin`` says where it came from ("settings file" or
    "environment variable NAME") and is safe to show."""

    _value: str
    origin: str = "settings file"

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


class RawSection(Mapping[str, Any]):
    """A settings section kept as a read-only mapping until a later issue types it. Its repr
    lists the keys only, as the values may be tokens."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawSection) and other._data == self._data

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._data)))

    def __repr__(self) -> str:
        return f"RawSection(keys={sorted(self._data)!r})"


@dataclass(frozen=True)
class ControllerSettings:
    """Reconciler tuning. Durations are seconds; ``sync_timeout`` None means no limit.
    ``namespaces``: the only namespaces kajitori reads, watches and writes (for a
    ServiceAccount with a Role in each and no cluster-wide access); empty means cluster-wide."""

    reconciliation_interval: float = 180.0
    jitter: float = 0.0
    workers: int = 4
    wave_delay: float = 2.0
    state_path: Path = Path(".kajitori/state.db")
    cache_dir: Path = Path(".kajitori/cache")
    sync_timeout: float | None = None
    approval_timeout: float = 3600.0
    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepoCredential:
    """Credentials for every repository whose URL starts with ``url`` (Argo CD's credential
    templates work the same way). HTTPS uses ``username`` + ``password`` (a password or an
    access token); SSH uses ``ssh_private_key`` (the key's text) or ``ssh_private_key_path``.
    ``insecure`` skips TLS verification (HTTPS) or host key checking (SSH)."""

    url: str
    username: str = ""
    password: Secret | None = None
    ssh_private_key: Secret | None = None
    ssh_private_key_path: Path | None = None
    insecure: bool = False

    def matches(self, repo_url: str) -> bool:
        return _normalize_prefix(repo_url).startswith(_normalize_prefix(self.url))


def _normalize_prefix(url: str) -> str:
    url = url.strip().lower()
    return url[:-4] if url.endswith(".git") else url


@dataclass(frozen=True)
class Settings:
    """Everything kajitori reads from its Settings document."""

    controller: ControllerSettings = field(default_factory=ControllerSettings)
    repositories: tuple[RepoCredential, ...] = ()
    slack: RawSection = field(default_factory=RawSection)
    github: RawSection = field(default_factory=RawSection)
    notifications: RawSection = field(default_factory=RawSection)
    rbac: RawSection = field(default_factory=RawSection)
    server: ServerSettings = field(default_factory=ServerSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    def credential_for(self, repo_url: str) -> RepoCredential | None:
        """The credential with the longest URL prefix matching ``repo_url``, if any."""
        matching = [cred for cred in self.repositories if cred.matches(repo_url)]
        return max(matching, key=lambda cred: len(cred.url), default=None)


_SECTIONS = (
    "controller",
    "repositories",
    "slack",
    "github",
    "notifications",
    "rbac",
    "server",
    "logging",
)
_CONTROLLER_FIELDS = (
    "reconciliationInterval",
    "jitter",
    "workers",
    "waveDelay",
    "statePath",
    "cacheDir",
    "syncTimeout",
    "approvalTimeout",
    "namespaces",
)
_REPOSITORY_FIELDS = (
    "url",
    "username",
    "password",
    "sshPrivateKey",
    "sshPrivateKeyPath",
    "insecure",
)


class _Context:
    """What parsing needs besides the document: the environment and the base directory."""

    def __init__(self, env: Mapping[str, str], base_dir: Path) -> None:
        self.env = env
        self.base_dir = base_dir

    def path(self, fields: Fields, key: str, default: Path | None) -> Path | None:
        text = fields.string(key, nonempty=True)
        if not text:
            return None if default is None else self.base_dir / default
        if text.startswith("~/") and self.env.get("HOME"):
            return Path(self.env["HOME"]) / text[2:]
        return self.base_dir / text

    def secret(self, fields: Fields, key: str) -> Secret | None:
        """A secret written literally or as ``{env: NAME}``; never echoes the value."""
        value = fields.data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            if not value:
                fields.problem(key, "must not be empty")
                return None
            return Secret(value)
        if isinstance(value, dict):
            return self.env_secret(fields.child(value, f"{fields.path}.{key}"))
        fields.problem(key, f"expected a string or {{env: NAME}}, got {type_name(value)}")
        return None

    def env_secret(self, ref: Fields) -> Secret | None:
        ref.check_keys(("env",))
        name = ref.string("env", required=True)
        if not name:
            return None
        if name not in self.env:
            ref.problem("env", f"environment variable {name} is not set")
            return None
        if not self.env[name]:
            ref.problem("env", f"environment variable {name} is empty")
            return None
        return Secret(self.env[name], f"environment variable {name}")


def _controller(fields: Fields, ctx: _Context) -> ControllerSettings:
    fields.check_keys(_CONTROLLER_FIELDS)
    defaults = ControllerSettings()
    timeout = fields.duration("syncTimeout", 0.0)
    return ControllerSettings(
        reconciliation_interval=fields.duration(
            "reconciliationInterval", defaults.reconciliation_interval, positive=True
        ),
        jitter=fields.duration("jitter", defaults.jitter),
        workers=fields.integer("workers", defaults.workers, minimum=1),
        wave_delay=fields.duration("waveDelay", defaults.wave_delay),
        state_path=ctx.path(fields, "statePath", defaults.state_path) or defaults.state_path,
        cache_dir=ctx.path(fields, "cacheDir", defaults.cache_dir) or defaults.cache_dir,
        sync_timeout=timeout or None,
        approval_timeout=fields.duration(
            "approvalTimeout", defaults.approval_timeout, positive=True
        ),
        namespaces=_namespaces(fields),
    )


# A namespace name: a DNS-1123 label.
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAMESPACE_RULE = (
    "a namespace name is a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
    "starting and ending with a letter or a digit"
)


def _namespaces(fields: Fields) -> tuple[str, ...]:
    """``controller.namespaces``: a list of distinct namespace names (names are not secret,
    so they are quoted in problems even though the settings are redacted)."""
    value = fields.data.get("namespaces")
    if value is None:
        return ()
    line = fields.line("namespaces")
    path = f"{fields.path}.namespaces" if fields.path else "namespaces"
    if not isinstance(value, list):
        fields.problem("namespaces", f"expected a list of namespace names, got {type_name(value)}")
        return ()
    found: list[str] = []
    for index, name in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(name, str):
            fields.problems.add(where, f"expected a namespace name, got {type_name(name)}", line)
        elif len(name) > 63 or not _NAMESPACE.match(name):
            fields.problems.add(
                where, f"{name!r} is not a valid namespace: {_NAMESPACE_RULE}", line
            )
        elif name in found:
            fields.problems.add(where, f"namespace {name!r} is listed twice", line)
        else:
            found.append(name)
    return tuple(found)


def _repository(fields: Fields, ctx: _Context) -> RepoCredential | None:
    fields.check_keys(_REPOSITORY_FIELDS)
    url = fields.string("url", required=True)
    key, key_path = ctx.secret(fields, "sshPrivateKey"), ctx.path(fields, "sshPrivateKeyPath", None)
    if key is not None and key_path is not None:
        fields.problem(None, "set sshPrivateKey or sshPrivateKeyPath, not both")
    credential = RepoCredential(
        url=url,
        username=fields.string("username"),
        password=ctx.secret(fields, "password"),
        ssh_private_key=key,
        ssh_private_key_path=key_path,
        insecure=fields.boolean("insecure"),
    )
    return credential if url else None


_SECRET_KEY = re.compile(r"(token|secret|password|privatekey)$", re.IGNORECASE)


def _resolve_raw(value: Any, path: str, fields: Fields, ctx: _Context) -> Any:
    """A raw section's value with ``{env: NAME}`` mappings resolved into Secrets, and a
    literal string under a secret-looking key (``botToken``, ``signingSecret``, ``password``,
    ...) held as a Secret too, so log redaction knows it whichever way it was written."""
    if isinstance(value, str) and value.strip() and _SECRET_KEY.search(path.rpartition(".")[2]):
        return Secret(value.strip())
    if isinstance(value, dict):
        if set(value) == {"env"}:
            return ctx.env_secret(fields.child(value, path))
        return {
            key: _resolve_raw(item, f"{path}.{key}", fields, ctx) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_resolve_raw(item, f"{path}[{i}]", fields, ctx) for i, item in enumerate(value)]
    return value


def _raw(fields: Fields, key: str, ctx: _Context) -> RawSection:
    section = fields.mapping(key)
    if section is None:
        return RawSection()
    return RawSection(plain(_resolve_raw(section.data, key, fields, ctx)))


def parse_settings(fields: Fields, env: Mapping[str, str], base_dir: Path) -> Settings:
    """Settings from a Settings document (its top-level mapping as ``fields``). Problems go to
    ``fields.problems``; the returned object is only meaningful when there are none."""
    fields = fields.redacted()
    fields.check_keys(("apiVersion", "kind", *_SECTIONS))
    ctx = _Context(env, base_dir)
    controller_fields = fields.mapping("controller") or fields.child({}, "controller")
    controller = _controller(controller_fields, ctx)
    repositories: list[RepoCredential] = []
    seen: set[str] = set()
    for entry in fields.items("repositories"):
        credential = _repository(entry, ctx)
        if credential is None:
            continue
        if credential.url in seen:
            entry.problem("url", f"repository {redact_url(credential.url)!r} is listed twice")
        seen.add(credential.url)
        repositories.append(credential)
    server_fields = fields.mapping("server") or fields.child({}, "server")
    logging_fields = fields.mapping("logging") or fields.child({}, "logging")
    return Settings(
        controller=controller,
        repositories=tuple(repositories),
        slack=_raw(fields, "slack", ctx),
        github=_raw(fields, "github", ctx),
        notifications=_raw(fields, "notifications", ctx),
        rbac=_raw(fields, "rbac", ctx),
        server=parse_server(server_fields, ctx.secret),
        logging=parse_logging(logging_fields),
    )


def build_settings(
    data: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    base_dir: Path = Path("."),
    source: str = "<settings>",
) -> Settings:
    """Settings from the mapping of a Settings document (``None`` for all defaults), with
    relative paths under ``base_dir``. Raises ConfigError listing every problem, each
    starting with ``source``."""
    problems = Problems(source)
    settings = parse_settings(Fields(data or {}, "", problems), env or {}, base_dir)
    if problems.messages:
        raise ConfigError(problems.messages)
    return settings
