"""kajitori's configuration file: Argo CD ``Application`` and ``AppProject`` documents plus at
most one kajitori ``Settings`` document, all in one multi-document YAML file.

:func:`load_config` / :func:`parse_config` read and validate the whole file and either return
a :class:`Config` or raise :class:`~reconciler.errors.ConfigError` listing every problem found
(not just the first), each naming the file, the document (1-based), the object and the field,
with the line where known, e.g.::

    apps.yaml: document 2 (Application guestbook): spec.source.repoURL: required (line 7)

Besides each document's own fields (see ``config_app``, ``config_project`` and ``settings``),
the file as a whole is checked: names are unique, each app's project exists (``default``
exists implicitly, allowing everything, unless the file defines it) and permits the app's
repository and destination. Resource kinds are checked against the project when manifests are
rendered, with :func:`project_permits`. When the settings limit kajitori to namespaces
(``controller.namespaces``), each app's destination namespace must be one of them and
``CreateNamespace=true`` is refused (a Namespace is cluster-scoped); the namespaces of the
manifests themselves are checked when they are compared and synced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.config_app import describe_repo, parse_application
from reconciler.config_fields import Fields, Problems, describe, suggestion, type_name
from reconciler.config_permits import (
    destination_permitted,
    glob_match,
    normalize_repo_url,
    project_permits,
    source_permitted,
)
from reconciler.config_project import parse_project
from reconciler.config_yaml import LineDict, read_documents
from reconciler.errors import ConfigError
from reconciler.model import DEFAULT_PROJECT, Application, AppProject
from reconciler.settings import (
    SETTINGS_API_VERSION,
    SETTINGS_KIND,
    Settings,
    build_settings,
    parse_settings,
)
from reconciler.sync_options import parse_sync_options

__all__ = [
    "ARGO_API_VERSION",
    "Config",
    "destination_permitted",
    "glob_match",
    "load_config",
    "normalize_repo_url",
    "parse_config",
    "project_permits",
    "source_permitted",
]

ARGO_API_VERSION = "argoproj.io/v1alpha1"
_KINDS = {
    "Application": ARGO_API_VERSION,
    "AppProject": ARGO_API_VERSION,
    SETTINGS_KIND: SETTINGS_API_VERSION,
}


@dataclass(frozen=True)
class Config:
    """A validated configuration: apps and projects by name (in file order; the implicit
    ``default`` project is included) and the settings."""

    applications: Mapping[str, Application]
    projects: Mapping[str, AppProject]
    settings: Settings = field(default_factory=Settings)
    path: Path = Path("<string>")

    def app(self, name: str) -> Application:
        """The application called ``name``; ConfigError naming it when there is none."""
        try:
            return self.applications[name]
        except KeyError:
            hint = suggestion(name, self.applications)
            raise ConfigError([f"{self.path}: unknown application {name!r}{hint}"]) from None

    def project_of(self, app: Application) -> AppProject:
        """The project ``app`` belongs to."""
        try:
            return self.projects[app.spec.project]
        except KeyError:
            raise ConfigError(
                [f"{self.path}: application {app.name!r}: unknown project {app.spec.project!r}"]
            ) from None


@dataclass
class _Document:
    """One parsed document, kept for the checks that span documents."""

    index: int
    data: LineDict
    problems: Problems
    app: Application | None = None
    project: AppProject | None = None


def _line(data: Any, *keys: str) -> int:
    """The line of the deepest of ``keys`` (a path into ``data``) that exists."""
    line = data.line if isinstance(data, LineDict) else 0
    for key in keys:
        if not isinstance(data, LineDict) or key not in data:
            break
        line = data.line_of(key)
        data = data[key]
    return line


def _parse_document(
    index: int, data: Any, file: str, env: Mapping[str, str], base_dir: Path
) -> tuple[_Document | None, Settings | None, list[str]]:
    if not isinstance(data, dict):
        return (
            None,
            None,
            [
                f"{file}: document {index}: expected a mapping with apiVersion "
                f"and kind, got {type_name(data)}"
            ],
        )
    kind, api_version = data.get("kind"), data.get("apiVersion")
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    label = " ".join(str(part) for part in (kind, name) if isinstance(part, str) and part)
    problems = Problems(f"{file}: document {index}" + (f" ({label})" if label else ""))
    doc = Fields(data, "", problems)
    if not isinstance(kind, str) or kind not in _KINDS:
        if kind is None:
            doc.problem("kind", "required")
        else:
            hint = suggestion(str(kind), _KINDS)
            doc.problem(
                "kind",
                f"unknown kind {describe(kind)}{hint}; expected Application, "
                "AppProject or Settings",
            )
        return None, None, problems.messages
    if api_version != _KINDS[kind]:
        got = "nothing" if api_version is None else describe(api_version)
        doc.problem("apiVersion", f"expected {_KINDS[kind]!r} for {kind}, got {got}")
    parsed = _Document(index, LineDict() if not isinstance(data, LineDict) else data, problems)
    if kind == "Application":
        parsed.app = parse_application(doc)
    elif kind == "AppProject":
        parsed.project = parse_project(doc)
    else:
        return parsed, parse_settings(doc, env, base_dir), []
    return parsed, None, []


def _check_unique(docs: list[_Document]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for doc in docs:
        named = doc.app or doc.project
        if named is None or not named.name:
            continue
        kind = "application" if doc.app else "project"
        first = seen.setdefault((kind, named.name), doc.index)
        if first != doc.index:
            doc.problems.add(
                "metadata.name",
                f"duplicate {kind} name {named.name!r} (first defined in document {first})",
                _line(doc.data, "metadata", "name"),
            )


def _check_projects(docs: list[_Document], projects: Mapping[str, AppProject]) -> None:
    for doc in docs:
        app = doc.app
        if app is None:
            continue
        project = projects.get(app.spec.project)
        if project is None:
            doc.problems.add(
                "spec.project",
                f"unknown project {app.spec.project!r}" + suggestion(app.spec.project, projects),
                _line(doc.data, "spec", "project"),
            )
            continue
        repo = app.spec.source.repo_url
        if repo and not source_permitted(project, repo):
            allowed = ", ".join(describe_repo(p) for p in project.source_repos) or "none"
            doc.problems.add(
                "spec.source.repoURL",
                f"project {project.name!r} does not permit repository "
                f"{describe_repo(repo)} (sourceRepos: {allowed})",
                _line(doc.data, "spec", "source", "repoURL"),
            )
        dest = app.spec.destination
        if (dest.server or dest.name) and not destination_permitted(project, dest):
            cluster = f"server {dest.server!r}" if dest.server else f"name {dest.name!r}"
            doc.problems.add(
                "spec.destination",
                f"project {project.name!r} does not permit destination {cluster}, "
                f"namespace {dest.namespace!r}",
                _line(doc.data, "spec", "destination"),
            )


def _check_namespaces(docs: list[_Document], allowed: tuple[str, ...]) -> None:
    """Apps must deploy inside ``controller.namespaces`` (when it is set)."""
    if not allowed:
        return
    listed = ", ".join(allowed)
    for doc in docs:
        app = doc.app
        if app is None:
            continue
        namespace = app.spec.destination.namespace
        if namespace and namespace not in allowed:
            doc.problems.add(
                "spec.destination.namespace",
                f"application {app.name!r} deploys into namespace {namespace!r}, which is not "
                f"in controller.namespaces ({listed}): kajitori may not act there",
                _line(doc.data, "spec", "destination", "namespace"),
            )
        options, _ = parse_sync_options(app.spec.sync_policy.sync_options, scope="app")
        if options.create_namespace:
            doc.problems.add(
                "spec.syncPolicy.syncOptions",
                f"application {app.name!r}: CreateNamespace=true creates a Namespace, which is "
                f"cluster-scoped, and controller.namespaces ({listed}) limits kajitori to "
                "those namespaces; create the namespace beforehand and remove the option",
                _line(doc.data, "spec", "syncPolicy", "syncOptions"),
            )


def parse_config(
    text: str, path: str | Path = "<string>", *, env: Mapping[str, str] | None = None
) -> Config:
    """Validate ``text`` (the file's content; ``path`` names it in messages and anchors
    relative paths in the settings). ``env`` resolves ``{env: NAME}`` secrets."""
    file = str(path)
    env = env if env is not None else {}
    base_dir = Path(file).parent
    read = read_documents(text)
    by_document: list[list[str] | Problems] = []
    docs: list[_Document] = []
    settings: Settings | None = None
    settings_index = 0
    for index, data in enumerate(read.documents, start=1):
        if data is None:
            continue
        doc, doc_settings, errors = _parse_document(index, data, file, env, base_dir)
        by_document.append(errors)
        if doc is None:
            continue
        docs.append(doc)
        by_document.append(doc.problems)
        if doc_settings is not None:
            if settings is not None:
                doc.problems.add(
                    "",
                    "only one Settings document is allowed (the first is "
                    f"document {settings_index})",
                    doc.data.line,
                )
            else:
                settings, settings_index = doc_settings, index
    projects: dict[str, AppProject] = {d.project.name: d.project for d in docs if d.project}
    projects.setdefault(DEFAULT_PROJECT.name, DEFAULT_PROJECT)
    if read.error is None:
        _check_unique(docs)
        _check_projects(docs, projects)
        _check_namespaces(docs, settings.controller.namespaces if settings else ())
    messages = [
        message
        for found in by_document
        for message in (found.messages if isinstance(found, Problems) else found)
    ]
    if read.error is not None:
        messages.append(f"{file}: {read.error}")
    if messages:
        raise ConfigError(messages)
    return Config(
        applications={d.app.name: d.app for d in docs if d.app},
        projects=projects,
        settings=settings or build_settings(base_dir=base_dir),
        path=Path(file),
    )


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the configuration file at ``path`` (see :func:`parse_config`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not a UTF-8 text file"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    return parse_config(text, path, env=env)
