"""The Kustomize source: ``kubectl kustomize`` over the app's files written to a temp folder.

The app's spec.source.kustomize options are written into the kustomization file of the temp
copy before the build, the same edits ``kustomize edit set nameprefix|namesuffix|image`` and
``kustomize edit add label --force`` would make (an option replaces the file's own value; image
overrides replace the entry for the same image name; labels are merged, the app's winning). The
repository itself is never touched: each render gets its own folder, so two apps on one repo
cannot disturb each other.
"""

from __future__ import annotations

import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
        _write_tree(root, repo_files)
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
