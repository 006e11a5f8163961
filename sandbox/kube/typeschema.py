"""Which fields each kind declares: the schemas that server-side field validation walks.

kube-apiserver knows its built-in types from Go structs and custom resources from their CRD's
``openAPIV3Schema``. The emulator takes the built-in types from the official ``kubernetes``
Python client (already a dependency), whose models carry, for every type, ``openapi_types``
(attribute → type name) and ``attribute_map`` (attribute → JSON name): enough to say whether a
field is declared, which is all field validation needs. Types are not checked, only names.

A schema is a tree of nodes: :class:`Opaque` (a scalar, ``object``, IntOrString, ...: anything,
not descended into), :class:`ListOf`, :class:`MapOf` and :class:`Struct` (named fields; with
``preserve`` it keeps fields it does not declare, like ``x-kubernetes-preserve-unknown-fields``).
Model structs resolve their fields lazily and are cached, since some types are recursive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sandbox.kube.resources import ResourceType


class Node:
    """A node of a schema."""


class Opaque(Node):
    """A value whose insides are not checked (scalars, ``object``, IntOrString)."""


OPAQUE = Opaque()


@dataclass(frozen=True, eq=False)
class ListOf(Node):
    """A list. ``list_type``/``keys`` come from a CRD schema; None means a built-in list
    whose merge keys :mod:`sandbox.kube.schema` knows by path."""

    item: Node
    list_type: str | None = None
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class MapOf(Node):
    """A map with arbitrary keys and values of one schema (labels, ``data``)."""

    value: Node


class Struct(Node):
    """An object with named fields; unknown ones are an error unless ``preserve``."""

    preserve: bool = False
    #: an embedded object's metadata (x-kubernetes-embedded-resource): its unknown fields are
    #: reported after all others, as the API server's pruning does
    embedded_meta: bool = False

    def field(self, name: str) -> Node | None:
        """The schema of field ``name``, or None when it is not declared."""
        raise NotImplementedError


@dataclass(eq=False)
class FieldsStruct(Struct):
    """A struct whose fields are given directly."""

    fields: Mapping[str, Node] = field(default_factory=dict)
    preserve: bool = False
    embedded_meta: bool = False

    def field(self, name: str) -> Node | None:
        return self.fields.get(name)


# -- built-in kinds, from the kubernetes client's models ------------------------------------

_SCALARS = frozenset({"str", "int", "bool", "float", "datetime", "date", "bytes", "object"})
_LIST = re.compile(r"^[Ll]ist\[(.*)\]$")
_DICT = re.compile(r"^(?:Dict\[str, (.*)\]|dict\(str, (.*)\))$")


def _models() -> Any:
    import kubernetes.client.models as models  # heavy: imported on first use only

    return models


class ModelStruct(Struct):
    """The struct of one model class of the kubernetes client, fields resolved on demand."""

    def __init__(self, model: Any, embedded_meta: bool = False) -> None:
        self._model = model
        self._fields: dict[str, Node] | None = None
        self.preserve = False
        self.embedded_meta = embedded_meta

    def _resolve(self) -> dict[str, Node]:
        fields = self._fields
        if fields is None:
            types: dict[str, str] = getattr(self._model, "openapi_types", {})
            names: dict[str, str] = getattr(self._model, "attribute_map", {})
            fields = {names.get(attr, attr): _parse_type(kind) for attr, kind in types.items()}
            self._fields = fields
        return fields

    def field(self, name: str) -> Node | None:
        return self._resolve().get(name)


@lru_cache(maxsize=4096)
def _parse_type(kind: str) -> Node:
    kind = kind.strip()
    if kind in _SCALARS:
        return OPAQUE
    if match := _LIST.match(kind):
        return ListOf(_parse_type(match.group(1)))
    if match := _DICT.match(kind):
        return MapOf(_parse_type(match.group(1) or match.group(2)))
    model = getattr(_models(), kind, None)
    if model is None or not hasattr(model, "openapi_types"):
        return OPAQUE
    return _model_struct(kind)


@lru_cache(maxsize=2048)
def _model_struct(name: str) -> ModelStruct:
    return ModelStruct(getattr(_models(), name))


def object_meta(embedded: bool = False) -> Struct:
    """The schema of ``metadata`` (ObjectMeta)."""
    if embedded:
        return ModelStruct(_models().V1ObjectMeta, embedded_meta=True)
    return _model_struct("V1ObjectMeta")


def _model_name(group: str, version: str, kind: str) -> str | None:
    models = _models()
    ver = version[:1].upper() + version[1:]
    prefix = (group.split(".")[0] or "core").capitalize()
    for name in (f"{prefix}{ver}{kind}", f"{ver}{kind}"):
        if hasattr(models, name):
            return name
    return None


@lru_cache(maxsize=256)
def _builtin(group: str, version: str, kind: str) -> Struct | None:
    name = _model_name(group, version, kind)
    return _model_struct(name) if name is not None else None


# -- custom resources, from the CRD's openAPIV3Schema ----------------------------------------


def _from_json_schema(schema: Any) -> Node:
    """The node of a structural schema (as a CRD holds it)."""
    if not isinstance(schema, dict):
        return OPAQUE
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if schema.get("x-kubernetes-int-or-string") is True:
        return OPAQUE
    properties = schema.get("properties")
    fields = {
        name: _from_json_schema(sub)
        for name, sub in (properties.items() if isinstance(properties, dict) else ())
    }
    if schema.get("x-kubernetes-embedded-resource") is True:
        fields.setdefault("apiVersion", OPAQUE)
        fields.setdefault("kind", OPAQUE)
        fields["metadata"] = object_meta(embedded=True)
        return FieldsStruct(fields, preserve)
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        keys = schema.get("x-kubernetes-list-map-keys")
        list_type = schema.get("x-kubernetes-list-type") or "atomic"
        return ListOf(
            _from_json_schema(items) if isinstance(items, dict) else OPAQUE,
            str(list_type),
            tuple(str(k) for k in keys) if isinstance(keys, list) else (),
        )
    if kind == "object" or properties is not None or "additionalProperties" in schema:
        extra = schema.get("additionalProperties")
        if not fields and isinstance(extra, dict):
            return MapOf(_from_json_schema(extra))
        if not fields and extra is True:
            return MapOf(OPAQUE)
        if not fields and preserve:
            return OPAQUE
        return FieldsStruct(fields, preserve)
    return OPAQUE


@lru_cache(maxsize=256)
def _custom(schema_json: str) -> Struct | None:
    schema = json.loads(schema_json) if schema_json else None
    if not isinstance(schema, dict):
        return None  # no schema: nothing is checked
    root = _from_json_schema(dict(schema, type="object"))
    fields = dict(root.fields) if isinstance(root, FieldsStruct) else {}
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    fields["apiVersion"] = OPAQUE
    fields["kind"] = OPAQUE
    fields["metadata"] = object_meta()
    return FieldsStruct(fields, preserve)


# -- lookup ----------------------------------------------------------------------------------

SCALE_GROUP = "autoscaling"
SCALE_VERSION = "v1"


def scale_schema() -> Struct | None:
    """The schema of ``autoscaling/v1`` Scale (the /scale subresource's body)."""
    return _builtin(SCALE_GROUP, SCALE_VERSION, "Scale")


def schema_for(rtype: ResourceType, version: str) -> Struct | None:
    """The schema a write to ``rtype`` at ``version`` is checked against; None when the
    kind declares no schema (a CRD version without ``openAPIV3Schema``)."""
    if rtype.custom:
        return _custom(rtype.schema_json(version))
    return _builtin(rtype.group, version, rtype.kind)
