"""The directory source: plain manifest files (YAML, JSON) under an app's path.

Pure. Follows Argo CD's directory rules: files ending in ``.yaml``, ``.yml`` or ``.json``; only
the top level unless ``recurse``; ``include``/``exclude`` globs matched against the path relative
to the app's path, where ``*`` also crosses ``/`` and ``{a,b}`` lists alternatives; exclude wins.
Files are read in the order a depth-first walk visits them (names sorted per directory).

Beyond Argo CD, files that belong to other tools are never mistaken for manifests: Kustomize's
``kustomization.yaml``, and inside a Helm chart (a folder with ``Chart.yaml``) the chart's own
``Chart.yaml``, lock and values files and its ``templates/`` and ``charts/`` folders, whose Go
templates are not YAML. Other YAML that holds no objects (a config file) is skipped; a file that
looks like a manifest but does not parse is an error naming the file and line.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from reconciler.errors import RenderError
from reconciler.model import DirectorySource
from reconciler.render_yaml import parse_manifests

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_FILE = "Chart.yaml"
_CHART_OWN_FILES = re.compile(
    r"^(Chart\.(yaml|lock)|requirements\.(yaml|lock)|values.*\.ya?ml"
    r"|values\.schema\.json)$"
)
_CHART_OWN_DIRS = ("templates", "charts")


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile an Argo CD directory glob: ``*``/``**`` any text (``/`` too), ``?`` one
    character, ``[...]`` a class (``[!...]`` negated), ``{a,b}`` alternatives (nestable),
    ``\\x`` a literal ``x``."""
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            while i + 1 < len(pattern) and pattern[i + 1] == "*":
                i += 1
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                cls = body.replace("\\", "\\\\")
                out.append(f"[{'^' if negate else ''}{cls}]")
                i = end
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    if depth:
        raise RenderError(f"invalid glob {pattern!r}: unclosed '{{'")
    try:
        return re.compile("".join(out), re.S)
    except re.error as exc:
        raise RenderError(f"invalid glob {pattern!r}: {exc}") from None


def glob_match(pattern: str, path: str) -> bool:
    """Whether ``path`` (posix, relative) matches the whole of an Argo CD glob ``pattern``."""
    return _glob_regex(pattern).fullmatch(path) is not None


def _walk_key(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))


def _chart_dirs(files: Mapping[str, bytes]) -> set[str]:
    """Folders (relative, "" for the top) that hold a Helm chart."""
    return {posixpath.dirname(name) for name in files if posixpath.basename(name) == CHART_FILE}


def _belongs_to_chart(name: str, chart_dirs: set[str]) -> bool:
    for chart in chart_dirs:
        prefix = f"{chart}/" if chart else ""
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :]
        first, sep, _ = rest.partition("/")
        if sep and first in _CHART_OWN_DIRS:
            return True
        if not sep and _CHART_OWN_FILES.match(first):
            return True
    return False


def select_files(files: Mapping[str, bytes], options: DirectorySource) -> list[str]:
    """The names of the manifest files the directory source reads, in walk order."""
    chart_dirs = _chart_dirs(files)
    selected: list[str] = []
    for name in sorted(files, key=_walk_key):
        if not name.endswith(MANIFEST_SUFFIXES):
            continue
        if "/" in name and not options.recurse:
            continue
        if posixpath.basename(name) in KUSTOMIZATION_FILES:
            continue
        if chart_dirs and _belongs_to_chart(name, chart_dirs):
            continue
        if options.include and not glob_match(options.include, name):
            continue
        if options.exclude and glob_match(options.exclude, name):
            continue
        selected.append(name)
    return selected


def render_directory(
    files: Mapping[str, bytes], options: DirectorySource, base: str = ""
) -> list[dict[str, Any]]:
    """The objects of a directory source. ``files`` are keyed relative to the app's path;
    ``base`` (the app's path in the repository) prefixes file names in errors."""
    objects: list[dict[str, Any]] = []
    for name in select_files(files, options):
        shown = posixpath.join(base, name) if base not in ("", ".") else name
        objects.extend(parse_manifests(files[name], shown, lenient=True))
    return objects
