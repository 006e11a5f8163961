"""Rendering: the files of an app's path at a commit into the desired Kubernetes objects.

The source type follows Argo CD: an explicit ``helm``, ``kustomize`` or ``directory`` block in
spec.source decides; otherwise the files at the top of the path do (``Chart.yaml`` means Helm,
a kustomization file means Kustomize, anything else is a directory of manifests). The renderers
themselves live in ``render_directory`` (pure), ``render_kustomize`` (``kubectl kustomize``) and
``render_helm`` (Helm's Go engine through ``helm-python-sdk``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any, Final, Literal

from reconciler.errors import RenderError
from reconciler.model import ApplicationSource, DirectorySource
from reconciler.render_directory import CHART_FILE, KUSTOMIZATION_FILES, render_directory
from reconciler.render_helm import render_helm
from reconciler.render_kustomize import kustomize_reach, render_kustomize

SourceType = Literal["Directory", "Kustomize", "Helm"]
DIRECTORY: Final = "Directory"
KUSTOMIZE: Final = "Kustomize"
HELM: Final = "Helm"


def normalize_path(path: str) -> str:
    """An app's spec.source.path as a clean repository-relative posix path ("." for the top).

    Raises RenderError for a path that leaves the repository."""
    clean = posixpath.normpath((path or ".").strip().lstrip("/") or ".")
    if clean == ".." or clean.startswith("../"):
        raise RenderError(f"path {path!r} leaves the repository", file="spec.source.path")
    return clean


def detect_source_type(source: ApplicationSource, files: Mapping[str, bytes]) -> SourceType:
    """Which renderer an app uses, as Argo CD decides it (see the module docstring)."""
    if source.helm is not None:
        return HELM
    if source.kustomize is not None:
        return KUSTOMIZE
    if source.directory is not None:
        return DIRECTORY
    if CHART_FILE in files:
        return HELM
    if any(name in files for name in KUSTOMIZATION_FILES):
        return KUSTOMIZE
    return DIRECTORY


def needs_repository(source: ApplicationSource, files: Mapping[str, bytes]) -> bool:
    """Whether rendering may read files outside the app's path (Kustomize bases such as
    ``../base``, Helm value files outside the chart), so the caller should pass them all.

    ``files`` are the path's own files (keys relative to it). A Kustomize source needs the
    repository only when its kustomization, or one in a folder it names, refers to something
    outside the path, or to something that cannot be resolved statically."""
    kind = detect_source_type(source, files)
    if kind == KUSTOMIZE:
        return kustomize_reach(files, ".") is None
    if kind == HELM and source.helm is not None:
        return any(name.startswith(("../", "/")) for name in source.helm.value_files)
    return False


def _prefixed(path: str, files: Mapping[str, bytes]) -> dict[str, bytes]:
    if path == ".":
        return dict(files)
    return {f"{path}/{name}": data for name, data in files.items()}


def render(
    source: ApplicationSource,
    files: Mapping[str, bytes],
    *,
    app_name: str,
    namespace: str,
    repo_files: Mapping[str, bytes] | None = None,
    kubectl: str = "kubectl",
) -> list[dict[str, Any]]:
    """The desired objects of an app.

    ``files`` are the files under ``source.path`` with keys relative to it (as
    ``GitSource.read_tree`` returns them). ``repo_files``, when given, are all the files of the
    repository at the same commit with keys relative to its root: Kustomize needs them for bases
    outside the path (without them only the path's own files are visible). ``app_name`` is the
    default Helm release name and ``namespace`` the destination namespace. ``kubectl`` names
    the binary that builds Kustomize sources. Raises RenderError naming the file (and line).
    """
    path = normalize_path(source.path)
    kind = detect_source_type(source, files)
    if kind == HELM:
        return render_helm(
            files,
            path,
            source.helm,
            release_name=app_name,
            namespace=namespace,
            repo_files=repo_files,
        )
    if kind == KUSTOMIZE:
        everything = repo_files if repo_files is not None else _prefixed(path, files)
        return render_kustomize(everything, path, source.kustomize, kubectl=kubectl)
    return render_directory(files, source.directory or DirectorySource(), base=path)
