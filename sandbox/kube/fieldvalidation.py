"""Server-side field validation (``fieldValidation=Strict|Warn|Ignore``), as kube-apiserver 1.32.

Each write's body is checked against its kind's schema (:mod:`sandbox.kube.typeschema`) for
unknown and duplicate fields. ``Strict`` refuses them, ``Warn`` (the default) stores the
object without the unknown fields and answers one ``Warning`` header per problem, ``Ignore``
drops them silently. The errors take the real server's form for each verb:

- create / update (JSON): 400, ``Deployment in version "v1" cannot be handled as a
  Deployment: strict decoding error: unknown field "spec.replica", duplicate field "x"``; a
  YAML body reports its duplicates by line (``yaml: unmarshal errors:\\n  line 5: key ...``);
- merge / JSON patch: 422 ``"" is invalid: patch: Invalid value: "<patched JSON>": strict
  decoding error: ...``; strategic merge patch the same, quoting the patch as Go prints it;
- server-side apply: a field the schema lacks always fails, whatever the directive, with the
  structured-merge-diff error the real server answers with status 500 (``failed to create
  typed patch object (ns/name; apps/v1, Kind=Deployment): .spec.replica: field not declared
  in schema``); duplicate keys of the YAML follow the directive.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from sandbox.kube.errors import StoreError, bad_request
from sandbox.kube.gotext import go_quote, go_value
from sandbox.kube.resources import ResourceType
from sandbox.kube.typeschema import Struct, scale_schema, schema_for
from sandbox.kube.unknownfields import (
    decode_errors,
    json_patch_errors,
    parse_pairs,
    prune,
    unknown_fields,
)

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
_SUPPORTED = ("", IGNORE, STRICT, WARN)
_YAML_PREFIX = "yaml: unmarshal errors:\n"
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def directive(query: dict[str, str], options_kind: str) -> str:
    """The request's directive (Warn when absent); 422 for a value the server does not
    know, naming ``options_kind`` (CreateOptions, UpdateOptions, PatchOptions)."""
    value = query.get("fieldValidation", "")
    if value in _SUPPORTED:
        return value or WARN
    supported = ", ".join(go_quote(v) for v in _SUPPORTED)
    detail = f"Unsupported value: {go_quote(value)}: supported values: {supported}"
    raise StoreError(
        422,
        "Invalid",
        f'{options_kind}.meta.k8s.io "" is invalid: fieldValidation: {detail}',
        {
            "group": "meta.k8s.io",
            "kind": options_kind,
            "causes": [
                {"reason": "FieldValueNotSupported", "message": detail, "field": "fieldValidation"}
            ],
        },
    )


def yaml_duplicates(body: bytes) -> list[str]:
    """``line N: key "k" already set in map`` for every repeated mapping key of a YAML (or
    JSON) body, in the order a Go YAML decoder meets them; [] when it cannot be parsed."""
    try:
        root = yaml.compose(body, Loader=_YAML_LOADER)
    except yaml.YAMLError:
        return []
    found: list[str] = []
    _scan(root, found)
    return found


def _scan(node: Any, found: list[str]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            _scan(value, found)
            name = key.value if isinstance(key, yaml.ScalarNode) else repr(key)
            if name in seen:
                shown = name if key.tag.endswith((":int", ":bool", ":float")) else go_quote(name)
                found.append(f"line {value.start_mark.line + 1}: key {shown} already set in map")
            seen.add(name)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _scan(item, found)


def _strict(errors: list[str]) -> str:
    return "strict decoding error: " + ", ".join(errors)


def _warnings(errors: list[str]) -> list[str]:
    """One warning per problem; a YAML error becomes one per line, as the server splits it."""
    out: list[str] = []
    for error in errors:
        if error.startswith(_YAML_PREFIX):
            out.extend(line.strip() for line in error[len(_YAML_PREFIX) :].split("\n"))
        else:
            out.append(error)
    return out


class FieldValidation:
    """The field validation of one write request: checks bodies, collects warnings."""

    def __init__(
        self,
        mode: str,
        rtype: ResourceType,
        version: str,
        body: bytes,
        content_type: str,
        scale: bool = False,
    ) -> None:
        self.mode = mode
        self.rtype = rtype
        self.version = version
        self.kind = "Scale" if scale else rtype.kind
        self.schema: Struct | None = scale_schema() if scale else schema_for(rtype, version)
        self.typed = scale or not rtype.custom
        self._body = body
        self._yaml = "yaml" in content_type
        self._binary = "protobuf" in content_type
        self.warnings: list[str] = []

    # -- helpers -------------------------------------------------------------------------

    def _tree(self) -> Any:
        try:
            return parse_pairs(self._body)
        except ValueError:
            return None

    def _unknown(self, obj: Any) -> list[str]:
        found = unknown_fields(obj, self.schema, metadata_first=not self.typed)
        return [f'unknown field "{path}"' for path, _ in found]

    def _report(self, errors: list[str]) -> bool:
        """Record warnings (Warn); True when the request must fail (Strict)."""
        if not errors or self.mode == IGNORE:
            return False
        if self.mode == STRICT:
            return True
        self.warnings.extend(_warnings(errors))
        return False

    # -- create and update ---------------------------------------------------------------

    def check_object(self, body: dict[str, Any]) -> dict[str, Any]:
        """A create or update body: raises 400 under Strict; returns it without the
        fields the schema does not declare."""
        if self._binary or self.schema is None:
            return body
        if self.mode != IGNORE:
            errors = self._object_errors(body)
            if self._report(errors):
                kind = body.get("kind") if isinstance(body.get("kind"), str) else None
                api_version = body.get("apiVersion")
                version = (
                    api_version.rpartition("/")[2]
                    if isinstance(api_version, str) and api_version
                    else self.version
                )
                raise bad_request(
                    f'{kind or self.kind} in version "{version}" cannot be handled as a '
                    f"{self.kind}: {_strict(errors)}"
                )
        return self._pruned(body)

    def _object_errors(self, body: dict[str, Any]) -> list[str]:
        tree = None if self._yaml else self._tree()
        if tree is None:  # YAML: the converter's duplicates, then unknowns in key order
            duplicates = yaml_duplicates(self._body)
            errors = [_YAML_PREFIX + "\n".join("  " + d for d in duplicates)] if duplicates else []
            return errors + self._unknown(body)
        if self.typed:
            return decode_errors(tree, self.schema)
        return decode_errors(tree, None) + self._unknown(body)

    def _pruned(self, obj: dict[str, Any]) -> dict[str, Any]:
        if not unknown_fields(obj, self.schema):
            return obj
        pruned: dict[str, Any] = prune(obj, self.schema)
        return pruned

    # -- patches -------------------------------------------------------------------------

    def check_patched(self, patch_type: str, patch: Any, patched: dict[str, Any]) -> dict[str, Any]:
        """The object a merge, JSON or strategic merge patch produced: raises 422 under
        Strict; returns it without undeclared fields."""
        if self.schema is None:
            return patched
        if self.mode != IGNORE:
            tree = self._tree()
            own = json_patch_errors(tree) if patch_type == "json" else decode_errors(tree, None)
            errors = own + self._unknown(patched)
            if self._report(errors):
                if patch_type == "strategic":
                    shown = go_value(patch)
                else:
                    shown = json.dumps(patched, separators=(",", ":"), sort_keys=True)
                detail = f"Invalid value: {go_quote(shown)}: {_strict(errors)}"
                raise StoreError(
                    422,
                    "Invalid",
                    f' "" is invalid: patch: {detail}',
                    {
                        "causes": [
                            {"reason": "FieldValueInvalid", "message": detail, "field": "patch"}
                        ]
                    },
                )
        return self._pruned(patched)

    # -- server-side apply ---------------------------------------------------------------

    def check_apply(self, config: dict[str, Any]) -> None:
        """An apply configuration naming a field the schema lacks fails whatever the
        directive: the real server's 500 (no reason) from structured-merge-diff."""
        if self.schema is None:
            return
        found = unknown_fields(config, self.schema)
        if not found:
            return
        raw_meta = config.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        api_version = str(config.get("apiVersion") or "")
        group, _, version = api_version.rpartition("/")
        where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
        gvk = f"{group}/{version}, Kind={config.get('kind') or ''}"
        lines = [f"{smd}: field not declared in schema" for _, smd in found]
        text = lines[0] if len(lines) == 1 else "errors:\n" + "\n".join("  " + x for x in lines)
        raise StoreError(500, "", f"failed to create typed patch object ({where}; {gvk}): {text}")

    def check_apply_yaml(self) -> None:
        """After a successful apply: repeated keys in its YAML fail under Strict (400),
        become warnings under Warn."""
        if self.mode == IGNORE:
            return
        if self._body.lstrip().startswith(b"{"):  # JSON (what clients send): cheap check first
            tree = self._tree()
            if tree is not None and not decode_errors(tree, None):
                return
        duplicates = yaml_duplicates(self._body)
        if not duplicates:
            return
        text = _YAML_PREFIX + "\n".join("  " + d for d in duplicates)
        if self._report([text]):
            raise bad_request(f"error strict decoding YAML: error converting YAML to JSON: {text}")
