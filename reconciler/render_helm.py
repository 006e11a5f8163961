"""The Helm source: a chart in the repository rendered with Helm's own Go engine.

``helm-python-sdk`` (import name ``helm_python``) binds Helm's Go SDK, so templates render
exactly as ``helm template`` renders them, offline. Values are composed as Argo CD composes the
``helm template`` command line: the chart's defaults, then each of ``valueFiles`` in order (paths
relative to the chart; files elsewhere in the same repository allowed), then ``valuesObject`` or
else the ``values`` string, then ``parameters`` as ``--set`` (``forceString`` as
``--set-string``). The release name defaults to the app's name and the release namespace is the
destination namespace. CRDs under ``crds/`` come first, as with ``--include-crds``; hooks stay
in the output with their annotations (the sync engine maps them); ``NOTES.txt`` and partials
are not manifests.
"""

from __future__ import annotations

import posixpath
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import helm_python

from reconciler.errors import RenderError
from reconciler.model import HelmParameter, HelmSource
from reconciler.render_yaml import load_yaml_mapping, parse_manifests

# "c/templates/x.yaml:12:3" or "(c/charts/sub/templates/x.yaml:4:23)" in Helm's messages.
_TEMPLATE_POSITION = re.compile(r"([^\s():\"]+/templates/[^\s():\"]+):(\d+)")


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of values layers: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, Mapping):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def _repo_path(path: str, name: str) -> str:
    return name if path in ("", ".") else f"{path}/{name}"


def _value_file(
    name: str, path: str, files: Mapping[str, bytes], repo_files: Mapping[str, bytes] | None
) -> tuple[str, bytes]:
    """Locate one of ``valueFiles``: relative to the chart, or elsewhere in the repository."""
    if "://" in name:
        raise RenderError(f"remote value files are not supported: {name}", file=path)
    if name.startswith("/"):
        repo_name = posixpath.normpath(name.lstrip("/"))
    else:
        repo_name = posixpath.normpath(posixpath.join(path or ".", name))
    if repo_name.startswith("../") or repo_name == "..":
        raise RenderError(f"value file {name!r} is outside the repository", file=path)
    if repo_files is not None and repo_name in repo_files:
        return repo_name, repo_files[repo_name]
    chart_root = posixpath.normpath(path or ".")
    local = repo_name if chart_root == "." else posixpath.relpath(repo_name, chart_root)
    if not local.startswith("../") and local in files:
        return repo_name, files[local]
    raise RenderError(f"value file {name!r} not found", file=repo_name)


def _set_expression(parameter: HelmParameter) -> str:
    """``name=value`` for --set; commas in a plain value are escaped as Argo CD escapes them,
    while a ``{a,b}`` list keeps its commas."""
    value = parameter.value
    if not (value.startswith("{") and value.endswith("}")):
        value = re.sub(r"(?<!\\),", r"\\,", value)
    return f"{parameter.name}={value}"


def compose_values(
    options: HelmSource,
    path: str,
    files: Mapping[str, bytes],
    repo_files: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """The user-supplied values (everything but the chart's own defaults)."""
    values: dict[str, Any] = {}
    for name in options.value_files:
        shown, data = _value_file(name, path, files, repo_files)
        values = deep_merge(values, load_yaml_mapping(data, shown))
    if options.values_object is not None:
        values = deep_merge(values, options.values_object)
    elif options.values.strip():
        values = deep_merge(values, load_yaml_mapping(options.values, "spec.source.helm.values"))
    for parameter in options.parameters:
        parse = (
            helm_python.parse_set_string_values
            if parameter.force_string
            else helm_python.parse_set_string
        )
        try:
            values = deep_merge(values, parse(_set_expression(parameter)))
        except helm_python.HelmError as exc:
            raise RenderError(
                f"invalid Helm parameter {parameter.name!r}: {exc}",
                file="spec.source.helm.parameters",
            ) from None
    return values


def _located(exc: helm_python.HelmError, path: str) -> RenderError:
    message = str(exc).replace("\n", " ").strip()
    message = re.sub(r"\s{2,}", " ", message)
    found = _TEMPLATE_POSITION.search(message)
    if found is None:
        return RenderError(f"helm: {message}", file=_repo_path(path, "Chart.yaml"))
    chart_file = found.group(1).partition("/")[2]
    return RenderError(
        f"helm: {message}", file=_repo_path(path, chart_file), line=int(found.group(2))
    )


def _check_dependencies(
    metadata: Mapping[str, Any], loaded: list[dict[str, Any]], path: str
) -> None:
    """Refuse a chart whose Chart.yaml dependencies are not in ``charts/``, as ``helm
    template`` does: rendering without them would deploy half an app."""
    present = {str(dep.get("name", "")) for dep in loaded}
    declared = [dep for dep in metadata.get("dependencies") or [] if isinstance(dep, Mapping)]
    missing = sorted(str(dep.get("name")) for dep in declared if dep.get("name") not in present)
    if missing:
        raise RenderError(
            f"chart dependencies {', '.join(missing)} are declared but missing from charts/: "
            "kajitori does not download dependencies; run `helm dependency build` and commit "
            "charts/",
            file=_repo_path(path, "Chart.yaml"),
        )


def _is_manifest_output(name: str, text: str) -> bool:
    base = posixpath.basename(name)
    return base != "NOTES.txt" and not base.startswith("_") and bool(text.strip())


def render_helm(
    files: Mapping[str, bytes],
    path: str,
    options: HelmSource | None,
    *,
    release_name: str,
    namespace: str,
    repo_files: Mapping[str, bytes] | None = None,
) -> list[dict[str, Any]]:
    """Render the chart whose files (keys relative to the chart folder ``path``) are given."""
    options = options or HelmSource()
    values = compose_values(options, path, files, repo_files)
    release = options.release_name or release_name
    try:
        helm_python.validate_release_name(release)
    except helm_python.HelmError:
        raise RenderError(
            f"invalid Helm release name {release!r}: lowercase letters, digits, '-' and '.', "
            "at most 53 characters",
            file="spec.source.helm.releaseName",
        ) from None
    with tempfile.TemporaryDirectory(prefix="kajitori-helm-") as tmp:
        root = Path(tmp, "chart").resolve()
        for name, data in files.items():
            target = (root / name).resolve()
            if not target.is_relative_to(root):
                raise RenderError("file path escapes the chart", file=_repo_path(path, name))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        try:
            with helm_python.Chart.load(root) as chart:
                _check_dependencies(chart.metadata, chart.dependencies, path)
                crds = chart.crds
                rendered = chart.render(
                    values, name=release, namespace=namespace or None, is_install=True
                )
        except helm_python.HelmError as exc:
            raise _located(exc, path) from None
    objects: list[dict[str, Any]] = []
    for crd in crds:
        # "filename" starts with the chart's name, like the keys of the rendered templates.
        in_chart = str(crd.get("filename") or "").partition("/")[2] or str(crd.get("name", ""))
        crd_file = _repo_path(path, in_chart or "crds")
        objects.extend(parse_manifests(str(crd.get("data", "")).encode(), crd_file))
    for name in sorted(rendered):
        text = rendered[name]
        if _is_manifest_output(name, text):
            shown = _repo_path(path, name.partition("/")[2]) + " (rendered)"
            objects.extend(parse_manifests(text.encode(), shown))
    return objects
