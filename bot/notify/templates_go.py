"""Translation of the commonest Go-template references in argocd-notifications templates into
Jinja, so a template copied from an Argo CD installation mostly works unchanged.

Translated (with Go's ``{{-``/``-}}`` whitespace trimming kept):

* field references: ``{{.app.metadata.name}}`` -> ``{{ app.metadata.name }}``;
* ``{{index .app.metadata.labels "team"}}`` -> ``{{ app.metadata.labels["team"] }}``;
* ``{{if PIPE}}``, ``{{else if PIPE}}``, ``{{else}}``, ``{{end}}`` where PIPE is ``.path``,
  ``not .path``, ``eq A B`` or ``ne A B`` (A and B: a ``.path`` or a ``"string"``), as in
  the catalog's ``{{if eq .serviceType "slack"}}:emoji:{{end}}``;
* comments ``{{/* ... */}}`` are dropped.

Anything else (``range``, ``with``, ``$variables``, ``call``, pipelines, functions) raises
:class:`GoTemplateError` naming the action and its line: a template that silently rendered
wrong would be worse than one that asks to be rewritten in Jinja.

A text is Go or Jinja, not both: once it looks like Go (:func:`looks_like_go_template`), any
``{%``/``{#`` in it is kept as literal text. One difference remains by design: Go prints
``<no value>`` for a missing key, Jinja (with the lenient undefined) prints nothing.
"""

from __future__ import annotations

import json
import re
from typing import Final

_ACTION: Final = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_PATH: Final = r"\.[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_STRING: Final = r'"(?:[^"\\]|\\.)*"'
_OPERAND: Final = rf"(?:{_PATH}|{_STRING})"
_FIELD: Final = re.compile(rf"^{_PATH}$")
_INDEX: Final = re.compile(rf"^index\s+({_PATH})\s+({_STRING})$")
_COMPARE: Final = re.compile(rf"^(eq|ne)\s+({_OPERAND})\s+({_OPERAND})$")
_NOT: Final = re.compile(rf"^not\s+({_PATH})$")
_GO_HINT: Final = re.compile(
    r"\{\{-?\s*\(?\s*(?:\.[A-Za-z_]|\$|/\*|(?:if|range|with|else|end|call|index|template"
    r"|define|block|printf|println|print|urlquery|slice)\b)"
)


class GoTemplateError(ValueError):
    """A Go template construct that cannot be translated into Jinja."""


def looks_like_go_template(text: str) -> bool:
    """Whether ``text`` uses Go-template actions (``{{.field}}``, ``{{if ...}}``,
    ``{{end}}``, ``{{$x}}``...). None of those is valid Jinja, so the test is unambiguous for
    real templates."""
    return _GO_HINT.search(text) is not None


def _operand(text: str) -> str:
    if text.startswith("."):
        return text[1:]
    return json.dumps(json.loads(text))


def _condition(pipe: str, line: int) -> str:
    pipe = pipe.strip()
    if _FIELD.match(pipe):
        return pipe[1:]
    match = _NOT.match(pipe)
    if match:
        return f"not {match.group(1)[1:]}"
    match = _COMPARE.match(pipe)
    if match:
        op = "==" if match.group(1) == "eq" else "!="
        return f"{_operand(match.group(2))} {op} {_operand(match.group(3))}"
    raise GoTemplateError(
        f"line {line}: cannot translate the Go condition {pipe!r} (supported: .field, "
        'not .field, eq/ne with a .field or a "string"); rewrite this template in Jinja'
    )


def _raw_text(text: str) -> str:
    """Literal Go text as Jinja source: wrapped in raw when it holds Jinja delimiters."""
    if "{%" in text or "{#" in text or "{{" in text:
        return "{% raw %}" + text + "{% endraw %}"
    return text


class _Translator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.depth = 0

    def line(self, position: int) -> int:
        return self.source.count("\n", 0, position) + 1

    def statement(self, body: str, left: bool, right: bool) -> str:
        # "+" turns off trim_blocks/lstrip_blocks, which Go does not have, unless Go trims.
        open_tag = "{%-" if left else "{%+"
        close_tag = "-%}" if right else "+%}"
        return f"{open_tag} {body} {close_tag}"

    def action(self, body: str, left: bool, right: bool, position: int) -> str:
        line = self.line(position)
        text = body.strip()
        if text.startswith("/*") and text.endswith("*/"):
            return "{#- -#}" if left or right else ""
        if _FIELD.match(text):
            return "{{" + ("-" if left else "") + f" {text[1:]} " + ("-" if right else "") + "}}"
        match = _INDEX.match(text)
        if match:
            key = json.dumps(json.loads(match.group(2)))
            expr = f"{match.group(1)[1:]}[{key}]"
            return "{{" + ("-" if left else "") + f" {expr} " + ("-" if right else "") + "}}"
        word = text.split(None, 1)[0] if text else ""
        rest = text[len(word) :].strip()
        if word == "if":
            self.depth += 1
            return self.statement(f"if {_condition(rest, line)}", left, right)
        if word == "else":
            if self.depth == 0:
                raise GoTemplateError(f"line {line}: {{{{else}}}} without {{{{if}}}}")
            if not rest:
                return self.statement("else", left, right)
            if rest.startswith("if "):
                cond = _condition(rest[3:], line)
                return self.statement(f"elif {cond}", left, right)
            raise GoTemplateError(f"line {line}: cannot translate {{{{{text}}}}}")
        if word == "end":
            if self.depth == 0 or rest:
                raise GoTemplateError(f"line {line}: {{{{end}}}} without {{{{if}}}}")
            self.depth -= 1
            return self.statement("endif", left, right)
        raise GoTemplateError(
            f"line {line}: cannot translate the Go template action {{{{{text}}}}} "
            "(only .field references, index, if/else/end are translated); "
            "rewrite this template in Jinja"
        )

    def run(self) -> str:
        out: list[str] = []
        position = 0
        for match in _ACTION.finditer(self.source):
            out.append(_raw_text(self.source[position : match.start()]))
            out.append(
                self.action(
                    match.group(2),
                    match.group(1) is not None,
                    match.group(3) is not None,
                    match.start(),
                )
            )
            position = match.end()
        tail = self.source[position:]
        if "{{" in tail:
            raise GoTemplateError(f"line {self.line(position)}: '{{{{' without a closing '}}}}'")
        out.append(_raw_text(tail))
        if self.depth:
            raise GoTemplateError("an {{if}} has no matching {{end}}")
        return "".join(out)


def translate_go_template(source: str) -> str:
    """Jinja source equivalent to the Go template ``source`` (see the module docstring).
    Raises :class:`GoTemplateError` for constructs it cannot translate."""
    return _Translator(source).run()
