"""`kajitori health -f FILE.yaml`: the health of each object in a manifest file, as kajitori
(and Argo CD) would judge it.

Meant for objects as the cluster returns them, for example
``kubectl get deploy,pod -o yaml | kajitori health -f -``: several documents per file, and
``kind: List`` documents are expanded into their items. One line per object,
``Kind/name: Status — message``. Unreadable input (a missing file, YAML that does not parse, a
document that is not a Kubernetes object) stops with exit code 1 and a message naming the file,
the line where YAML gives one, and the document.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from reconciler.errors import KajitoriError, RenderError
from reconciler.health import Health, assess
from reconciler.render_yaml import yaml_documents

STDIN = "-"
STDIN_NAME = "<stdin>"


class ManifestInputError(KajitoriError):
    """A manifest given to the CLI cannot be read as Kubernetes objects."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``health`` subcommand."""
    parser = subparsers.add_parser(
        "health",
        help="print the health of each object in a YAML file",
        description=(
            "Print the health of each Kubernetes object in the given files, one line per "
            "object: 'Kind/name: Status — message'. Uses Argo CD's built-in health rules."
        ),
    )
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        required=True,
        metavar="FILE",
        help="YAML or JSON file with one or more objects; '-' reads standard input "
        "(may be given more than once)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Read every file first, then print one line per object; exit 1 on unreadable input."""
    try:
        objects = [obj for name in args.files for obj in load_objects(name, sys.stdin)]
    except ManifestInputError as error:
        print(f"kajitori health: {error}", file=sys.stderr)
        return 1
    for obj in objects:
        print(format_line(obj, assess(obj)))
    return 0


def format_line(obj: dict[str, Any], health: Health | None) -> str:
    """``Kind/name: Status — message`` (no dash without a message), or
    ``Kind/name: no health check`` when the kind has none."""
    name = obj.get("metadata", {}).get("name") if isinstance(obj.get("metadata"), dict) else None
    label = f"{obj.get('kind')}/{name if isinstance(name, str) and name else '<unnamed>'}"
    if health is None:
        return f"{label}: no health check"
    if health.message:
        return f"{label}: {health.status} — {health.message}"
    return f"{label}: {health.status}"


def load_objects(name: str, stdin: TextIO) -> list[dict[str, Any]]:
    """The Kubernetes objects in file ``name`` (``-`` for ``stdin``), Lists expanded."""
    source = STDIN_NAME if name == STDIN else name
    if name == STDIN:
        text = stdin.read()
    else:
        try:
            with open(name, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise ManifestInputError(f"{source}: cannot read: {error.strerror}") from None
        except UnicodeDecodeError:
            raise ManifestInputError(f"{source}: not UTF-8 text") from None
    return list(parse_objects(text, source))


def parse_objects(text: str, source: str) -> Iterator[dict[str, Any]]:
    """The objects in YAML ``text`` (several documents allowed); ``source`` names it in errors."""
    for number, line, document in _documents(text, source):
        where = f"{source}:{line}: document {number}"
        if document is None:
            continue
        yield from _objects_of(document, where)


def _objects_of(document: Any, where: str) -> Iterator[dict[str, Any]]:
    if not isinstance(document, dict):
        raise ManifestInputError(
            f"{where}: expected a Kubernetes object (a mapping), got {type(document).__name__}"
        )
    kind = document.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ManifestInputError(f"{where}: the object has no kind")
    if not isinstance(document.get("apiVersion"), str):
        raise ManifestInputError(f"{where}: the {kind} has no apiVersion")
    items = document.get("items")
    if kind.endswith("List") and isinstance(items, list):
        for index, item in enumerate(items):
            yield from _objects_of(item, f"{where}, items[{index}]")
        return
    yield document


def _documents(text: str, source: str) -> Iterator[tuple[int, int, Any]]:
    """(document number from 1, first line, value) for each YAML document in ``text``."""
    try:
        for number, (line, document) in enumerate(yaml_documents(text, source), start=1):
            yield number, line, document
    except RenderError as error:
        raise ManifestInputError(str(error)) from None
