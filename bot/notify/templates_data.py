"""Slack attachments and blocks as data whose string leaves are templates.

argocd-notifications renders its attachments as one Go template producing JSON text, so a
quote or a newline in a commit message breaks the message (argo-cd #8665). Here the structure
is parsed first (YAML data, or Argo's JSON string) and each string leaf is a template of its
own, rendered into a string value: no text ever becomes structure.

Two additions for list items that are mappings, so optional parts need no string-built JSON:

* ``$when: <Jinja expression>``: keep the item only when the expression is truthy
  (``$when: commit`` shows a commit field only when a commit is known);
* ``$each: <name> in <Jinja expression>``: repeat the item once per element, with ``<name>``
  bound (``$each: c in app.status.conditions`` gives one field per condition); ``$when`` is
  then checked per element.

And one for mapping keys: a key ending in ``?`` (``title_link?``) is dropped when its value
renders empty, instead of sending an empty link.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import Template as JinjaTemplate
from jinja2 import TemplateError as JinjaError
from jinja2.environment import TemplateExpression

from bot.notify.templates_env import NotificationEnvironment
from bot.notify.templates_go import GoTemplateError, looks_like_go_template, translate_go_template

WHEN: Final = "$when"
EACH: Final = "$each"
_EACH: Final = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+in\s+(.+)$", re.DOTALL)
_TEMPLATE_MARKS: Final = ("{{", "{%", "{#")


class FieldError(ValueError):
    """A problem with one field of a template; ``field`` is its path (``slack.attachments[0]
    .fields[1].value``) and the message says what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"field {field}: {message}")


def _jinja_message(exc: JinjaError) -> str:
    line = getattr(exc, "lineno", None)
    where = f" (line {line})" if isinstance(line, int) and line > 0 else ""
    return f"{type(exc).__name__}: {exc.message or exc}{where}"


@functools.lru_cache(maxsize=2048)
def _from_string(env: NotificationEnvironment, source: str) -> JinjaTemplate:
    """Compiled templates are immutable, so equal sources (the catalog repeats its fields)
    share one compilation."""
    return env.from_string(source)


@functools.lru_cache(maxsize=1024)
def _expression(env: NotificationEnvironment, source: str) -> TemplateExpression:
    return env.compile_expression(source, undefined_to_none=False)


def compile_text(env: NotificationEnvironment, source: str, field: str) -> JinjaTemplate | str:
    """A text field compiled to a Jinja template, or kept as a plain string when it has no
    template marks (most leaves: colours, titles). Go-style text is translated first."""
    if looks_like_go_template(source):
        try:
            source = translate_go_template(source)
        except GoTemplateError as exc:
            raise FieldError(field, f"Go template: {exc}") from None
    if not any(mark in source for mark in _TEMPLATE_MARKS):
        return source
    try:
        return _from_string(env, source)
    except JinjaError as exc:
        raise FieldError(field, _jinja_message(exc)) from None


def compile_expression(env: NotificationEnvironment, source: Any, field: str) -> TemplateExpression:
    if not isinstance(source, str) or not source.strip():
        raise FieldError(field, "must be a non-empty Jinja expression")
    try:
        return _expression(env, source)
    except JinjaError as exc:
        raise FieldError(field, _jinja_message(exc)) from None


def render_text(compiled: JinjaTemplate | str, variables: Mapping[str, Any], field: str) -> str:
    """A compiled text field rendered with ``variables``; errors name the field."""
    if isinstance(compiled, str):
        return compiled
    try:
        return compiled.render(variables)
    except JinjaError as exc:
        raise FieldError(field, _jinja_message(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise FieldError(field, f"{type(exc).__name__}: {exc}") from None


class _NotAList(Exception):
    """Raised inside :func:`_evaluate` when ``$each`` gives something other than a list."""


def _evaluate(
    expr: TemplateExpression, variables: Mapping[str, Any], field: str, *, as_list: bool = False
) -> Any:
    """The expression's value: its truth, or (``as_list``) its elements as a list."""
    try:
        value: Any = expr(**variables)
        if not as_list:
            return bool(value)
        if isinstance(value, str | Mapping) or value is None:
            raise _NotAList("null" if value is None else f"a {type(value).__name__}")
        return list(value)
    except _NotAList as exc:
        raise FieldError(field, f"must give a list, got {exc}") from None
    except JinjaError as exc:
        raise FieldError(field, _jinja_message(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise FieldError(field, f"{type(exc).__name__}: {exc}") from None


@dataclass(frozen=True)
class _Leaf:
    field: str
    template: JinjaTemplate | str


@dataclass(frozen=True)
class _Const:
    value: Any


@dataclass(frozen=True)
class _Map:
    entries: tuple[tuple[str, Node, bool], ...]


@dataclass(frozen=True)
class _Item:
    node: Node
    field: str
    when: TemplateExpression | None = None
    each_name: str | None = None
    each: TemplateExpression | None = None


@dataclass(frozen=True)
class _List:
    items: tuple[_Item, ...]


Node = _Leaf | _Const | _Map | _List


@dataclass(frozen=True)
class DataTemplate:
    """A compiled data tree (attachments or blocks): render it with :meth:`render`."""

    field: str
    root: Node

    def render(self, variables: Mapping[str, Any]) -> Any:
        """Plain data: every string leaf rendered, ``$when``/``$each`` applied."""
        return _render(self.root, variables)


def _render(node: Node, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, _Const):
        return node.value
    if isinstance(node, _Leaf):
        return render_text(node.template, variables, node.field)
    if isinstance(node, _Map):
        result: dict[str, Any] = {}
        for key, child, optional in node.entries:
            value = _render(child, variables)
            if optional and value in ("", None, [], {}):
                continue
            result[key] = value
        return result
    items: list[Any] = []
    for item in node.items:
        items.extend(_render_item(item, variables))
    return items


def _render_item(item: _Item, variables: Mapping[str, Any]) -> list[Any]:
    scopes: list[Mapping[str, Any]] = [variables]
    if item.each is not None and item.each_name is not None:
        elements = _evaluate(item.each, variables, f"{item.field}.{EACH}", as_list=True)
        scopes = [{**variables, item.each_name: element} for element in elements]
    out: list[Any] = []
    for scope in scopes:
        if item.when is not None and not _evaluate(item.when, scope, f"{item.field}.{WHEN}"):
            continue
        out.append(_render(item.node, scope))
    return out


def _compile_item(env: NotificationEnvironment, raw: Any, field: str) -> _Item:
    if not isinstance(raw, Mapping) or (WHEN not in raw and EACH not in raw):
        return _Item(_compile(env, raw, field), field)
    rest = {k: v for k, v in raw.items() if k not in (WHEN, EACH)}
    when = compile_expression(env, raw[WHEN], f"{field}.{WHEN}") if WHEN in raw else None
    each_name: str | None = None
    each: TemplateExpression | None = None
    if EACH in raw:
        match = _EACH.match(raw[EACH]) if isinstance(raw[EACH], str) else None
        if match is None:
            raise FieldError(f"{field}.{EACH}", "must read '<name> in <expression>'")
        each_name = match.group(1)
        each = compile_expression(env, match.group(2), f"{field}.{EACH}")
    return _Item(_compile(env, rest, field), field, when, each_name, each)


def _compile(env: NotificationEnvironment, raw: Any, field: str) -> Node:
    if isinstance(raw, str):
        compiled = compile_text(env, raw, field)
        return _Const(compiled) if isinstance(compiled, str) else _Leaf(field, compiled)
    if raw is None or isinstance(raw, bool | int | float):
        return _Const(raw)
    if isinstance(raw, Mapping):
        entries: list[tuple[str, Node, bool]] = []
        for key, value in raw.items():
            if not isinstance(key, str):
                raise FieldError(field, f"key {key!r} is not a string")
            if key in (WHEN, EACH):
                raise FieldError(f"{field}.{key}", "is only allowed on an item of a list")
            optional = key.endswith("?") and len(key) > 1
            name = key[:-1] if optional else key
            entries.append((name, _compile(env, value, f"{field}.{name}"), optional))
        return _Map(tuple(entries))
    if isinstance(raw, Sequence):
        return _List(tuple(_compile_item(env, v, f"{field}[{i}]") for i, v in enumerate(raw)))
    raise FieldError(field, f"unsupported value of type {type(raw).__name__}")


def _json_error(exc: json.JSONDecodeError, source: str) -> str:
    hint = ""
    if looks_like_go_template(source):
        hint = (
            "; Go template actions outside of string values cannot be translated: write the "
            "list as YAML data and put templates inside the string values (use $when / $each "
            "for optional or repeated items)"
        )
    return f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}{hint}"


def compile_data(
    env: NotificationEnvironment, raw: Any, field: str, *, block_list: bool = False
) -> DataTemplate:
    """Compile an attachments or blocks value: a list of mappings, or Argo's JSON string
    holding one (parsed as data first, never rendered and then parsed). ``block_list``
    also requires each literal item to carry a ``type``."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise FieldError(field, _json_error(exc, raw)) from None
    if not isinstance(raw, list):
        raise FieldError(field, "must be a list of mappings (or a JSON string of one)")
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise FieldError(f"{field}[{index}]", "must be a mapping")
        if block_list and "type" not in item:
            raise FieldError(f"{field}[{index}]", "a block needs a 'type'")
    return DataTemplate(field, _compile(env, raw, field))
