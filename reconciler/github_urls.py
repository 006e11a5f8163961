"""Which GitHub repository (``owner/name``) a Git URL names. Pure.

Applications name their repositories in any form git accepts: ``https://github.com/o/r.git``,
``ssh://git@github.com/o/r``, ``git@github.com:o/r.git``, a ``file://`` URL or a plain path.
The REST API wants ``owner/name``. Remote URLs carry it in their path, provided their host is
the one the API serves (github.com for api.github.com; the Enterprise host for
``https://ghe.example.com/api/v3``). Local repositories (the sandbox, mirrors) carry no such
name, so the settings' ``repositoryMap`` names them; the map is consulted first for every
form, so it can also override a remote URL.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from reconciler.errors import KajitoriError
from reconciler.github_settings import is_full_name

_SCP = re.compile(r"^(?:[^@/\s]+@)?([^:/\s]+):(?!//)(.+)$")
_GITHUB_COM_HOSTS = frozenset({"github.com", "www.github.com", "ssh.github.com"})


class RepoUrlError(ValueError):
    """A URL names no repository the configured GitHub serves; the message says why."""


def api_hosts(base_url: str) -> frozenset[str]:
    """The Git hosts whose repositories the REST API at ``base_url`` serves."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host in ("api.github.com", "github.com"):
        return _GITHUB_COM_HOSTS
    hosts = {host}
    if host.startswith("api."):  # GHE.com data residency: api.acme.ghe.com serves acme.ghe.com
        hosts.add(host.removeprefix("api."))
    return frozenset(hosts)


def _strip_git(path: str) -> str:
    path = path.strip().rstrip("/")
    return path[:-4] if path.lower().endswith(".git") else path


def _split(url: str) -> tuple[str, str, bool]:
    """(host lower-cased, path, is_local) of a Git URL."""
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() == "file":
            return "", unquote(parts.path), True
        return (parts.hostname or "").lower(), unquote(parts.path), False
    scp = _SCP.match(text)
    if scp and not re.match(r"^[A-Za-z]:[\\/]", text):
        return scp.group(1).lower(), scp.group(2), False
    return "", text, True


def map_key(url: str) -> str:
    """The form under which ``url`` is looked up in ``repositoryMap``: a local repository's
    normalised path, or ``host/owner/name`` in lower case, both without ``.git``."""
    host, path, local = _split(url)
    if local:
        return _strip_git(posixpath.normpath(path) if path else path)
    return f"{host}/{_strip_git(path).strip('/').lower()}"


def repo_full_name(
    repo_url: str, base_url: str, repository_map: Mapping[str, str] | None = None
) -> str:
    """``owner/name`` of the GitHub repository ``repo_url`` names. RepoUrlError when the URL
    is local and not mapped, is on another host, or has no ``owner/name`` path."""
    if not repo_url.strip():
        raise RepoUrlError("empty repository URL")
    mapping = {map_key(key): value for key, value in (repository_map or {}).items()}
    mapped = mapping.get(map_key(repo_url))
    if mapped:
        return mapped
    host, path, local = _split(repo_url)
    shown = _shown(repo_url)
    if local:
        raise RepoUrlError(
            f"{shown} is a local repository; name its GitHub repository in github.repositoryMap"
        )
    hosts = api_hosts(base_url)
    if host not in hosts:
        raise RepoUrlError(
            f"{shown} is not on the configured GitHub ({', '.join(sorted(hosts))}); "
            "set github.baseUrl or map it in github.repositoryMap"
        )
    full_name = _strip_git(path).strip("/")
    if not is_full_name(full_name):
        raise RepoUrlError(f"{shown} does not name a repository as owner/name")
    return full_name


def _shown(url: str) -> str:
    """``url`` fit for a message: userinfo removed."""
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        if "@" in parts.netloc:
            return text.replace(parts.netloc, parts.netloc.rpartition("@")[2], 1)
    return text


def web_url(base_url: str, repo: str) -> str:
    """The web page of ``repo`` on the GitHub whose API is ``base_url``, for links ("" when
    it cannot be told)."""
    parts = urlsplit(base_url)
    if (parts.hostname or "").lower() == "api.github.com":
        return f"https://github.com/{repo}"
    if parts.path.rstrip("/").endswith("/api/v3"):
        return f"{base_url.rstrip('/').removesuffix('/api/v3')}/{repo}"
    return ""


def clone_url(base_url: str, repository_map: Mapping[str, str], repo: str) -> str:
    """Where to fetch ``repo`` from: a ``repositoryMap`` entry naming it (local mirrors, the
    sandbox), else the GitHub host's HTTPS URL. KajitoriError when neither is known."""
    for url, name in repository_map.items():
        if name == repo:
            return url
    web = web_url(base_url, repo)
    if not web:
        raise KajitoriError(f"cannot tell where to clone {repo} from; map it in repositoryMap")
    return web + ".git"
