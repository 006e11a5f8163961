"""What an AppProject permits: source repositories, destinations and resource kinds.

Pure functions over model types, following Argo CD's AppProject semantics:

* ``sourceRepos`` are globs over normalised repository URLs, where ``*`` stops at ``/`` and
  ``**`` does not; a pattern starting with ``!`` denies the URLs it matches (and, as in Argo
  CD, counts as an allow for every other URL). No pattern means no repository is allowed.
* ``destinations`` are (server or name, namespace) globs; an app is allowed when one entry
  matches it. A ``!`` pattern inside an entry denies what it matches outright. The local
  cluster's two spellings, server ``https://kubernetes.default.svc`` and name ``in-cluster``,
  are interchangeable.
* Resource kinds (:func:`project_permits`): a cluster-scoped kind must match
  ``clusterResourceWhitelist`` (empty = none) and not ``clusterResourceBlacklist``; a
  namespaced kind is allowed unless it matches ``namespaceResourceBlacklist`` or a
  ``namespaceResourceWhitelist`` is given and it does not match it.
"""

from __future__ import annotations

import functools
import re

from reconciler.model import AppProject, Destination, GroupKind

IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str, separator: str) -> re.Pattern[str]:
    return re.compile(_translate(pattern, separator) + r"\Z", re.DOTALL)


def _translate(pattern: str, separator: str) -> str:
    """A glob (``*``, ``**``, ``?``, ``[abc]``, ``[!abc]``, ``{a,b}``, ``\\x``) as a regex."""
    not_sep = f"[^{re.escape(separator)}]" if separator else "."
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append(not_sep + "*")
        elif char == "?":
            out.append(not_sep)
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        elif char == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            options = pattern[i + 1 : end].split(",")
            out.append("(?:" + "|".join(_translate(o, separator) for o in options) + ")")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def glob_match(pattern: str, value: str, separator: str = "") -> bool:
    """Whether ``value`` matches the glob ``pattern``. With a ``separator``, ``*`` and ``?``
    do not cross it (``**`` does). The pattern ``*`` alone matches everything."""
    if pattern == "*":
        return True
    try:
        return _compile(pattern, separator).match(value) is not None
    except re.error:
        return pattern == value


def normalize_repo_url(url: str) -> str:
    """A repository URL in a comparable form: lower case, no trailing ``/`` or ``.git``, no
    credentials in an HTTP(S) URL, and scp-like ``user@host:path`` rewritten as
    ``ssh://user@host/path``."""
    url = url.strip().lower()
    scp = re.match(r"^([\w.-]+@[\w.-]+):(?!//)(.*)$", url)
    if scp and "://" not in url:
        url = f"ssh://{scp.group(1)}/{scp.group(2).lstrip('/')}"
    url = re.sub(r"^(https?://)[^/@]*@", r"\1", url).rstrip("/")
    return url[:-4] if url.endswith(".git") else url


def _is_deny(pattern: str) -> bool:
    return pattern.startswith("!")


def _field_matches(pattern: str, value: str) -> bool:
    if _is_deny(pattern):
        return not glob_match(pattern[1:], value)
    return glob_match(pattern, value)


def _denied_by(pattern: str, value: str) -> bool:
    return _is_deny(pattern) and bool(value) and glob_match(pattern[1:], value)


def source_permitted(project: AppProject, repo_url: str) -> bool:
    """Whether ``project``'s sourceRepos allow ``repo_url``."""
    source = normalize_repo_url(repo_url)
    allowed = False
    for pattern in project.source_repos:
        deny = _is_deny(pattern)
        inner = normalize_repo_url(pattern[1:] if deny else pattern)
        matched = glob_match(inner, source, "/")
        if deny and matched:
            return False
        if deny or matched:
            allowed = True
    return allowed


def _with_alias(destination: Destination) -> tuple[str, str]:
    """(server, name) of a destination, with the local cluster known by both spellings."""
    server, name = destination.server, destination.name
    if server == IN_CLUSTER_SERVER and not name:
        name = IN_CLUSTER_NAME
    if name == IN_CLUSTER_NAME and not server:
        server = IN_CLUSTER_SERVER
    return server, name


def destination_permitted(project: AppProject, destination: Destination) -> bool:
    """Whether ``project``'s destinations allow ``destination``."""
    server, name = _with_alias(destination)
    namespace = destination.namespace
    allowed = False
    for entry in project.destinations:
        server_ok = bool(server and entry.server) and _field_matches(entry.server, server)
        name_ok = bool(name and entry.name) and _field_matches(entry.name, name)
        namespace_ok = _field_matches(entry.namespace, namespace)
        cluster_ok = server_ok or name_ok
        if cluster_ok and namespace_ok:
            allowed = True
            continue
        cluster_denied = _denied_by(entry.server, server) or _denied_by(entry.name, name)
        namespace_denied = _is_deny(entry.namespace) and glob_match(entry.namespace[1:], namespace)
        if (cluster_denied and (namespace_ok or namespace_denied)) or (
            namespace_denied and cluster_ok
        ):
            return False
    return allowed


def _listed(items: tuple[GroupKind, ...], group: str, kind: str) -> bool:
    return any(glob_match(item.group, group) and glob_match(item.kind, kind) for item in items)


def project_permits(project: AppProject, group: str, kind: str, namespaced: bool) -> bool:
    """Whether ``project`` allows objects of (``group``, ``kind``); ``group`` is "" for the
    core API group. See the module docstring for the rules."""
    if namespaced:
        whitelist = project.namespace_resource_whitelist
        if whitelist is not None and not _listed(whitelist, group, kind):
            return False
        return not _listed(project.namespace_resource_blacklist, group, kind)
    if not _listed(project.cluster_resource_whitelist, group, kind):
        return False
    return not _listed(project.cluster_resource_blacklist, group, kind)
