"""Reading a configuration file's YAML documents, with the line of every mapping key.

The loader differs from PyYAML's ``safe_load_all`` in three ways, each for a reason:

* Booleans follow YAML 1.2: only ``true``/``false`` (any case style) are booleans, so
  ``prune: yes`` or ``country: NO`` stay strings and a typo is reported rather than guessed.
* A key repeated in one mapping is an error (PyYAML silently keeps the last one, which hides
  mistakes such as two ``syncPolicy`` blocks).
* Mappings are built as :class:`LineDict`, which remembers the 1-based line of the mapping and
  of each key so that validation messages can point at the line to fix.

A syntax error stops reading at that point; the documents read before it are returned along
with the error's message, which names the line and column but never quotes the file's text
(the offending line may hold a password).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

_BOOL_TAG = "tag:yaml.org,2002:bool"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class LineDict(dict[Any, Any]):
    """A mapping read from YAML: a plain dict plus ``line`` (where the mapping starts) and
    ``key_lines`` (where each key is written), all 1-based."""

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        """The line of ``key``, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, duplicate-key errors and line-tracking mappings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _Loader, node: MappingNode) -> LineDict:
    explicit = sum(1 for key, _ in node.value if key.tag != _MERGE_TAG)
    loader.flatten_mapping(node)
    merged = len(node.value) - explicit
    result = LineDict(node.start_mark.line + 1)
    seen: set[Any] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise ConstructorError(
                "while reading a mapping",
                node.start_mark,
                "a key must be a scalar",
                key_node.start_mark,
            )
        if index >= merged:
            if key in seen:
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


@dataclass(frozen=True)
class YamlDocuments:
    """The documents of one file, in order (``None`` for an empty document), and the syntax
    error that stopped reading, if any (already formatted, without the file name)."""

    documents: tuple[Any, ...]
    error: str | None = None


def _describe_error(exc: yaml.YAMLError, document: int) -> str:
    where = f"document {document}"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is not None:
            where += f", line {mark.line + 1}, column {mark.column + 1}"
        return f"{where}: invalid YAML: {problem}"
    return f"{where}: invalid YAML: {type(exc).__name__}"


def read_documents(text: str) -> YamlDocuments:
    """Every YAML document in ``text``; stops at the first syntax error and reports it."""
    documents: list[Any] = []
    loader = _Loader(text)
    try:
        while loader.check_data():  # type: ignore[no-untyped-call]
            documents.append(loader.get_data())
    except yaml.YAMLError as exc:
        return YamlDocuments(tuple(documents), _describe_error(exc, len(documents) + 1))
    finally:
        loader.dispose()
    return YamlDocuments(tuple(documents))


def plain(value: Any) -> Any:
    """``value`` with every :class:`LineDict` turned into a plain dict (deeply), for data
    handed on as-is such as Helm's valuesObject."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
