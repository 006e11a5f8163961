"""The Kustomize source: ``kubectl kustomize`` over the app's files written to a temp folder.

The app's spec.source.kustomize options are written into the kustomization file of the temp
copy before the build, the same edits ``kustomize edit set nameprefix|namesuffix|image`` and
``kustomize edit add label --force`` would make (an option replaces the file's own value; image
overrides replace the entry for the same image name; labels are merged, the app's winning). The
repository itself is never touched: each render gets its own folder, so two apps on one repo
cannot disturb each other.

Only what the build can reach is written to that folder (``kustomize_reach``): the app's path,
plus every folder and file its kustomization names outside it (``../base``, components, patch
files, ...), followed through the kustomization files of those folders in turn. Writing the
whole repository instead costs time in proportion to the repository, not the app. Where a
reference cannot be resolved from the files alone (an absolute path, one leaving the
repository, a kustomization that does not parse), every file is written, as kustomize would
otherwise see a different tree.
"""

from __future__ import annotations

import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from reconciler.errors import RenderError
from reconciler.model import KustomizeSource
from reconciler.render_directory import KUSTOMIZATION_FILES
from reconciler.render_yaml import load_yaml_mapping, parse_manifests

KUSTOMIZE_TIMEOUT_SECONDS = 120.0


def find_kustomization(files: Mapping[str, bytes], path: str) -> str | None:
    """The kustomization file's name in folder ``path`` of ``files`` (repo-relative keys)."""
    for name in KUSTOMIZATION_FILES:
        candidate = name if path in ("", ".") else f"{path}/{name}"
        if candidate in files:
            return candidate
    return None


def parse_image(spec: str) -> dict[str, str]:
    """One Argo CD kustomize image override as a kustomization ``images`` entry.

    Forms: ``image:tag``, ``image@digest``, ``old=new``, ``old=new:tag``, ``old=new@digest``.
    """
    old, sep, new = spec.partition("=")
    if not sep:
        old, new = "", spec
    image, at, digest = new.partition("@")
    tag = ""
    if not at:
        slash = image.rfind("/")
        colon = image.rfind(":")
        if colon > slash:
            image, tag = image[:colon], image[colon + 1 :]
    if not image:
        raise RenderError(f"invalid kustomize image override {spec!r}")
    entry: dict[str, str] = {"name": old or image}
    if old and image != old:
        entry["newName"] = image
    if tag:
        entry["newTag"] = tag
    if at:
        entry["digest"] = digest
    return entry


def apply_options(kustomization: dict[str, Any], options: KustomizeSource) -> dict[str, Any]:
    """``kustomization`` with the app's overrides applied (a new dict; pure)."""
    result = dict(kustomization)
    if options.name_prefix:
        result["namePrefix"] = options.name_prefix
    if options.name_suffix:
        result["nameSuffix"] = options.name_suffix
    if options.images:
        images = [dict(entry) for entry in result.get("images") or [] if isinstance(entry, dict)]
        for spec in options.images:
            entry = parse_image(spec)
            images = [old for old in images if old.get("name") != entry["name"]]
            images.append(entry)
        result["images"] = images
    if options.common_labels:
        labels = dict(result.get("commonLabels") or {})
        labels.update({str(k): str(v) for k, v in options.common_labels.items()})
        result["commonLabels"] = labels
    return result


# Kustomization fields naming files or folders, by shape: lists of paths (inline YAML, with a
# newline, is allowed in some of them and names nothing); lists of maps with a ``path``; the
# ConfigMap/Secret generators' ``files`` (``key=path`` or ``path``), ``envs`` and ``env``.
_PATH_LISTS: Final = (
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "patchesStrategicMerge",
    "generators",
    "transformers",
    "validators",
)
_PATH_ITEMS: Final = ("patches", "patchesJson6902", "replacements")
_GENERATORS: Final = ("configMapGenerator", "secretGenerator")
_REMOTE_PREFIXES: Final = ("git@", "git::", "ssh:", "http:", "https:")


class _Unresolvable(Exception):
    """A kustomization reference whose target cannot be known from the files alone."""


@dataclass(frozen=True)
class KustomizeReach:
    """What building a kustomization can read, as repository-relative posix paths: whole
    ``folders`` (the app's path among them; "." is the whole repository), single ``files``
    named outside those, and ``absent`` references found nowhere in the files (remote bases or
    mistakes, which kustomize reports itself)."""

    folders: frozenset[str]
    files: frozenset[str]
    absent: frozenset[str]

    def covers(self, name: str) -> bool:
        """Whether file ``name`` (repository-relative) may be read by the build."""
        if name in self.files or "." in self.folders:
            return True
        folder = posixpath.dirname(name)
        while folder:
            if folder in self.folders:
                return True
            folder = posixpath.dirname(folder)
        return False


def kustomize_reach(files: Mapping[str, bytes], path: str) -> KustomizeReach | None:
    """What the kustomization in folder ``path`` of ``files`` (keys relative to the same root)
    can reach, following the kustomization files of every folder it names; None when some
    reference cannot be resolved statically (absolute, leaving the root of ``files``, or in a
    kustomization that does not parse), in which case the caller must provide everything.
    Pure."""
    start = posixpath.normpath(path or ".")
    known = _folders_of(files)
    folders = {start}
    singles: set[str] = set()
    absent: set[str] = set()
    pending = [start]
    while pending:
        folder = pending.pop()
        kfile = find_kustomization(files, folder)
        if kfile is None:
            continue
        try:
            targets = [_resolve(folder, ref) for ref in _references(files[kfile], kfile)]
        except _Unresolvable:
            return None
        for target in targets:
            if target in known:
                if target not in folders:
                    folders.add(target)
                    pending.append(target)
            elif target in files:
                singles.add(target)
            else:
                absent.add(target)
    reach = KustomizeReach(frozenset(folders), frozenset(), frozenset(absent))
    outside = frozenset(name for name in singles if not reach.covers(name))
    return KustomizeReach(reach.folders, outside, reach.absent)


def reachable_files(files: Mapping[str, bytes], path: str) -> Mapping[str, bytes]:
    """The part of ``files`` that building the kustomization in ``path`` can read (all of
    them when ``kustomize_reach`` cannot tell)."""
    reach = kustomize_reach(files, path)
    if reach is None or "." in reach.folders:
        return files
    return {name: data for name, data in files.items() if reach.covers(name)}


def _folders_of(files: Mapping[str, bytes]) -> set[str]:
    folders = {"."}
    for name in files:
        folder = posixpath.dirname(name)
        while folder and folder not in folders:
            folders.add(folder)
            folder = posixpath.dirname(folder)
    return folders


def _resolve(folder: str, ref: str) -> str:
    """``ref`` of the kustomization in ``folder`` as a path relative to the root."""
    if ref.startswith("/"):
        raise _Unresolvable(ref)
    target = posixpath.normpath(posixpath.join(folder, ref))
    if target == ".." or target.startswith("../"):
        raise _Unresolvable(ref)
    return target


def _references(data: bytes, kfile: str) -> Iterator[str]:
    """The local paths a kustomization file names (remote URLs and inline YAML left out)."""
    try:
        kustomization = load_yaml_mapping(data, kfile)
    except RenderError:
        raise _Unresolvable(kfile) from None
    for field in _PATH_LISTS:
        yield from _paths(kustomization.get(field), field)
    for field in _PATH_ITEMS:
        for item in _maps(kustomization.get(field), field):
            yield from _path(item.get("path"), field)
    for field in _GENERATORS:
        for item in _maps(kustomization.get(field), field):
            for entry in _paths(item.get("files"), field):
                yield entry.partition("=")[2] or entry
            yield from _paths(item.get("envs"), field)
            yield from _path(item.get("env"), field)
    openapi = kustomization.get("openapi")
    if isinstance(openapi, Mapping):
        yield from _path(openapi.get("path"), "openapi")
    helm = kustomization.get("helmGlobals")
    if isinstance(helm, Mapping):
        yield from _path(helm.get("chartHome"), "helmGlobals")
    for item in _maps(kustomization.get("helmCharts"), "helmCharts"):
        yield from _path(item.get("valuesFile"), "helmCharts")
        yield from _paths(item.get("additionalValuesFiles"), "helmCharts")


def _paths(value: Any, field: str) -> Iterator[str]:
    """The local paths in a field holding a list of them (inline YAML documents and objects,
    which some fields accept, and remote URLs name no local file)."""
    if value is None:
        return
    if not isinstance(value, list):
        raise _Unresolvable(field)
    for entry in value:
        if isinstance(entry, Mapping):
            continue
        yield from _path(entry, field)


def _path(value: Any, field: str) -> Iterator[str]:
    """The local path in a field holding one (nothing when absent, inline or remote)."""
    if value is None:
        return
    if not isinstance(value, str):
        raise _Unresolvable(field)
    if value and "\n" not in value and not _is_remote(value):
        yield value


def _maps(value: Any, field: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise _Unresolvable(field)
    return value


def _is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(_REMOTE_PREFIXES)


def _check_names(files: Mapping[str, bytes]) -> None:
    """RenderError for a file name that would land outside the temp folder, whether or not
    the build reaches it (lexically, so it costs nothing per file)."""
    for name in files:
        clean = posixpath.normpath(name)
        if name.startswith("/") or clean == ".." or clean.startswith("../"):
            raise RenderError("file path escapes the repository", file=name)


def _write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        target = (root / name).resolve()
        if not target.is_relative_to(root):
            raise RenderError("file path escapes the repository", file=name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def render_kustomize(
    repo_files: Mapping[str, bytes],
    path: str,
    options: KustomizeSource | None,
    *,
    kubectl: str = "kubectl",
) -> list[dict[str, Any]]:
    """Build the kustomization in folder ``path`` of ``repo_files`` (keys relative to the
    repository root, so that bases like ``../base`` resolve) and parse the result."""
    path = posixpath.normpath(path or ".")
    kfile = find_kustomization(repo_files, path)
    if kfile is None:
        raise RenderError("no kustomization.yaml, kustomization.yml or Kustomization", file=path)
    binary = shutil.which(kubectl)
    if binary is None:
        raise RenderError(
            f"Kustomize sources are built with `kubectl kustomize`, but {kubectl!r} was not "
            "found on PATH; install kubectl",
            file=kfile,
        )
    with tempfile.TemporaryDirectory(prefix="kajitori-kustomize-") as tmp:
        root = Path(tmp).resolve()
        _check_names(repo_files)
        _write_tree(root, reachable_files(repo_files, path))
        if options is not None and options != KustomizeSource():
            edited = apply_options(load_yaml_mapping(repo_files[kfile], kfile), options)
            (root / kfile).write_text(yaml.safe_dump(edited, sort_keys=False), encoding="utf-8")
        try:
            done = subprocess.run(
                [binary, "kustomize", str(root / path)],
                capture_output=True,
                timeout=KUSTOMIZE_TIMEOUT_SECONDS,
                check=False,
                cwd=root,
            )
        except subprocess.TimeoutExpired:
            raise RenderError(
                f"kubectl kustomize did not finish in {KUSTOMIZE_TIMEOUT_SECONDS:.0f} s",
                file=kfile,
            ) from None
        except OSError as exc:
            raise RenderError(f"could not run kubectl: {exc.strerror}", file=kfile) from None
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip() or "no message"
            detail = detail.replace(f"{root}/", "").replace(str(root), ".")
            raise RenderError(f"kubectl kustomize failed: {detail}", file=kfile)
    return parse_manifests(done.stdout, f"{kfile} (kustomize output)")
