"""Parsing manifest text (YAML or JSON, several documents) into Kubernetes objects.

Pure: text in, plain JSON-compatible dicts out. Kubernetes reads YAML through a YAML-to-JSON
step, so values that PyYAML would turn into Python-only types (timestamps, binary, non-string
keys) are kept as JSON scalars here: a manifest's ``2024-01-01`` stays the string the API server
would see. ``List`` objects are flattened into their items, as ``kubectl apply`` does.

Every error is a :class:`~reconciler.errors.RenderError` naming the file and, where the parser
knows it, the 1-based line.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

from reconciler.errors import RenderError

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ManifestLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader without the YAML 1.1 timestamp type (Kubernetes keeps those as strings)."""


_ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

# Argo CD's test for "this file was meant to be a manifest": an unparsable or non-object file
# that mentions both keys is an error; any other such file is someone else's YAML or JSON.
_MANIFEST_HINTS = (
    re.compile(rb"[\"']?\bapiVersion[\"']?\s*:"),
    re.compile(rb"[\"']?\bkind[\"']?\s*:"),
)


def looks_like_manifest(data: bytes) -> bool:
    """Whether a file that failed to parse as objects was still meant to hold them."""
    return all(hint.search(data) for hint in _MANIFEST_HINTS)


def jsonable(value: Any) -> Any:
    """``value`` with every part turned into what JSON can hold (str keys, str timestamps)."""
    if isinstance(value, dict):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=str)
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def yaml_documents(data: bytes | str, file: str) -> Iterator[tuple[int, Any]]:
    """Each non-empty document of a YAML stream with its 1-based starting line."""
    loader = _ManifestLoader(data)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            yield line, loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise RenderError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise RenderError(f"invalid YAML: {exc}", file=file) from None
    except UnicodeDecodeError:
        raise RenderError("not UTF-8 text", file=file) from None
    finally:
        loader.dispose()


def load_yaml_mapping(data: bytes | str, file: str) -> dict[str, Any]:
    """A YAML file holding one mapping (values files, kustomization.yaml); {} when empty."""
    docs = [doc for _, doc in yaml_documents(data, file) if doc is not None]
    if not docs:
        return {}
    if len(docs) > 1 or not isinstance(docs[0], dict):
        raise RenderError("expected a single YAML mapping", file=file)
    result: dict[str, Any] = jsonable(docs[0])
    return result


def objects_from_document(doc: Any, file: str, line: int | None) -> list[dict[str, Any]]:
    """The Kubernetes objects one document holds: itself, or the items of a List."""
    if not isinstance(doc, dict):
        raise RenderError(
            f"expected a Kubernetes object (a mapping), got {type(doc).__name__}",
            file=file,
            line=line,
        )
    obj: dict[str, Any] = jsonable(doc)
    missing = [key for key in ("apiVersion", "kind") if not obj.get(key)]
    if missing:
        raise RenderError(f"object has no {' or '.join(missing)}", file=file, line=line)
    items = obj.get("items")
    if str(obj["kind"]).endswith("List") and isinstance(items, list):
        flat: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            where = f"{file} (item {index} of {obj['kind']})"
            flat.extend(objects_from_document(item, where, line))
        return flat
    return [obj]


def parse_manifests(data: bytes, file: str, *, lenient: bool = False) -> list[dict[str, Any]]:
    """The objects in one manifest file, JSON (``.json``) or YAML (anything else).

    With ``lenient`` (the directory source), a file whose documents are not objects and that does
    not look like a manifest (see :func:`looks_like_manifest`) yields no objects instead of an
    error, so that unrelated YAML beside the manifests is ignored as Argo CD ignores it.
    """
    try:
        docs = (
            _json_documents(data, file)
            if file.endswith(".json")
            else list(yaml_documents(data, file))
        )
    except RenderError:
        if lenient and not looks_like_manifest(data):
            return []
        raise
    objects: list[dict[str, Any]] = []
    for line, doc in docs:
        if doc is None:
            continue
        try:
            objects.extend(objects_from_document(doc, file, line))
        except RenderError:
            if lenient and not objects and not looks_like_manifest(data):
                return []
            raise
    return objects


def _json_documents(data: bytes, file: str) -> list[tuple[int, Any]]:
    try:
        return [(1, json.loads(data))]
    except json.JSONDecodeError as exc:
        raise RenderError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    except UnicodeDecodeError:
        raise RenderError("not UTF-8 text", file=file) from None
