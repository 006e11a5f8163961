"""The desired state of an app at a revision: Git source plus rendering, with a render cache.

A poll fetches the repository and resolves the app's revision; only when the (repository,
commit, path, rendering options) key has not been seen does it read files and render. So a poll
where nothing changed costs one fetch and no render, and apps that share a repository but not a
path or options never share results. Render errors are cached like results: a broken commit is
reported again without being rendered again. The cache is a bounded LRU; each ``load`` returns
fresh copies of the objects, so callers may change them freely.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from reconciler.errors import RenderError
from reconciler.model import Application, ApplicationSource
from reconciler.render import needs_repository, normalize_path, render
from reconciler.source import CommitInfo, GitSource

DEFAULT_CACHE_SIZE = 256


@dataclass(frozen=True)
class Manifests:
    """The rendered objects of an app at one commit."""

    commit: CommitInfo
    objects: tuple[dict[str, Any], ...]


def render_options(source: ApplicationSource, app_name: str, namespace: str) -> str:
    """Everything besides repository, commit and path that changes a render, as a stable
    string (part of the cache key)."""
    options = {
        "directory": dataclasses.asdict(source.directory) if source.directory else None,
        "kustomize": dataclasses.asdict(source.kustomize) if source.kustomize else None,
        "helm": dataclasses.asdict(source.helm) if source.helm else None,
        "app": app_name,
        "namespace": namespace,
    }
    return json.dumps(options, sort_keys=True, default=str)


class ManifestLoader:
    """Loads the desired objects of apps through a shared :class:`GitSource`; thread-safe."""

    def __init__(
        self, git: GitSource, *, cache_size: int = DEFAULT_CACHE_SIZE, kubectl: str = "kubectl"
    ) -> None:
        self.git = git
        self.cache_size = max(1, cache_size)
        self.kubectl = kubectl
        self.render_count = 0  # renders actually run (cache misses), for tests and metrics
        self._cache: OrderedDict[tuple[str, str, str, str], str | RenderError] = OrderedDict()
        self._infos: OrderedDict[tuple[str, str], CommitInfo] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, app: Application, revision: str | None = None, fetch: bool = True) -> Manifests:
        """The objects of ``app`` at ``revision`` (default: its targetRevision), fetching the
        repository first unless ``fetch`` is False. Raises SourceError or RenderError."""
        source = app.spec.source
        repo_url = source.repo_url
        wanted = source.target_revision if revision is None else revision
        sha = self.git.resolve(repo_url, wanted, fetch=fetch)
        info = self._commit_info(repo_url, sha)
        path = normalize_path(source.path)
        namespace = app.spec.destination.namespace
        key = (repo_url, sha, path, render_options(source, app.name, namespace))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        if hit is None:
            hit = self._render(source, repo_url, sha, path, app.name, namespace)
            with self._lock:
                self._cache[key] = hit
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        if isinstance(hit, RenderError):
            raise hit.with_traceback(None)
        return Manifests(commit=info, objects=tuple(json.loads(hit)))

    def clear(self) -> None:
        """Forget every cached render (a hard refresh)."""
        with self._lock:
            self._cache.clear()

    def _render(
        self, source: ApplicationSource, repo_url: str, sha: str, path: str, app: str, ns: str
    ) -> str | RenderError:
        files = self.git.read_tree(repo_url, sha, path)
        repo_files = None
        if needs_repository(source, files):
            repo_files = files if path == "." else self.git.read_tree(repo_url, sha, ".")
        with self._lock:
            self.render_count += 1
        try:
            objects = render(
                source,
                files,
                app_name=app,
                namespace=ns,
                repo_files=repo_files,
                kubectl=self.kubectl,
            )
        except RenderError as exc:
            return exc
        return json.dumps(objects)

    def _commit_info(self, repo_url: str, sha: str) -> CommitInfo:
        key = (repo_url, sha)
        with self._lock:
            info = self._infos.get(key)
        if info is None:
            info = self.git.commit_info(repo_url, sha)
            with self._lock:
                self._infos[key] = info
                while len(self._infos) > self.cache_size:
                    self._infos.popitem(last=False)
        return info
