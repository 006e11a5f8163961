"""Schemas, unknown and duplicate fields, and Go-style quoting for the emulator's field
validation (sandbox/kube typeschema, unknownfields, gotext, fieldvalidation helpers)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.kube.errors import StoreError
from sandbox.kube.fieldvalidation import FieldValidation, directive, yaml_duplicates
from sandbox.kube.gotext import go_float, go_quote, go_value
from sandbox.kube.resources import BUILTIN_TYPES, crd_resource_type
from sandbox.kube.scale import scale_of, selector_string
from sandbox.kube.typeschema import scale_schema, schema_for
from sandbox.kube.unknownfields import (
    decode_errors,
    json_patch_errors,
    parse_pairs,
    prune,
    unknown_fields,
)

DEPLOYMENT = next(t for t in BUILTIN_TYPES if t.kind == "Deployment")
SERVICE = next(t for t in BUILTIN_TYPES if t.kind == "Service")


def _deployment(**spec_extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"any": "label"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "imagePullPolicyy": 1}]},
            },
            **spec_extra,
        },
    }


def _crd(schema: dict[str, Any] | None) -> Any:
    version: dict[str, Any] = {"name": "v1", "served": True, "storage": True}
    if schema is not None:
        version["schema"] = {"openAPIV3Schema": schema}
    rtype = crd_resource_type(
        {
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [version],
            }
        }
    )
    assert rtype is not None
    return rtype


# -- built-in schemas ------------------------------------------------------------------------


def test_a_declared_deployment_has_no_unknown_fields_and_a_typo_is_found_with_both_paths() -> None:
    schema = schema_for(DEPLOYMENT, "v1")
    found = unknown_fields(_deployment(replica=3), schema)
    assert found == [
        ("spec.replica", ".spec.replica"),
        (
            "spec.template.spec.containers[0].imagePullPolicyy",
            '.spec.template.spec.containers[name="web"].imagePullPolicyy',
        ),
    ]
    clean = prune(_deployment(replica=3), schema)
    assert unknown_fields(clean, schema) == []
    assert "replica" not in clean["spec"] and clean["metadata"]["labels"] == {"any": "label"}


def test_map_list_items_are_named_by_all_their_keys_in_the_apply_form() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "protocol": "TCP", "bogus": True}]},
    }
    assert unknown_fields(service, schema_for(SERVICE, "v1")) == [
        ("spec.ports[0].bogus", '.spec.ports[port=80,protocol="TCP"].bogus')
    ]


def test_json_decoder_order_reports_an_unknown_key_once_and_a_known_repeat_as_duplicate() -> None:
    text = (
        '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","name":"b"},'
        '"spec":{"zz":1,"zz":2,"paused":true,"paused":false}}'
    )
    assert decode_errors(parse_pairs(text), schema_for(DEPLOYMENT, "v1")) == [
        'duplicate field "metadata.name"',
        'unknown field "spec.zz"',
        'duplicate field "spec.paused"',
    ]
    # an unstructured decode reports every repeat, known or not
    assert decode_errors(parse_pairs(text), None) == [
        'duplicate field "metadata.name"',
        'duplicate field "spec.zz"',
        'duplicate field "spec.paused"',
    ]


def test_json_patch_operations_are_checked_themselves() -> None:
    ops = '[{"op":"add","path":"/a","value":1,"foo":2},{"op":"add","path":"/b","path":"/c"}]'
    assert json_patch_errors(parse_pairs(ops)) == [
        'json patch unknown field "[0].foo"',
        'json patch duplicate field "[1].path"',
    ]


def test_the_scale_schema_declares_spec_replicas_only() -> None:
    scale = {"spec": {"replicas": 2, "replica": 3}, "status": {"selector": "a=b"}}
    assert unknown_fields(scale, scale_schema()) == [("spec.replica", ".spec.replica")]


# -- CRD schemas -------------------------------------------------------------------------------


def test_crd_schema_prunes_undeclared_fields_keeps_preserved_and_maps() -> None:
    rtype = _crd(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "size": {"type": "integer"},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                        "ports": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["port"],
                            "items": {
                                "type": "object",
                                "properties": {"port": {"type": "integer"}},
                            },
                        },
                        "inner": {
                            "type": "object",
                            "x-kubernetes-embedded-resource": True,
                            "x-kubernetes-preserve-unknown-fields": True,
                        },
                    },
                }
            },
        }
    )
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "oops": 1},
        "spec": {
            "size": 1,
            "colour": "red",
            "free": {"anything": {"goes": 1}},
            "tags": {"a": "b"},
            "ports": [{"port": 80, "name": "x"}],
            "inner": {"kind": "X", "metadata": {"name": "i", "bad": 1}, "extra": 1},
        },
        "status": {"ready": True},
    }
    found = unknown_fields(obj, schema_for(rtype, "v1"), metadata_first=True)
    assert [path for path, _ in found] == [
        "metadata.oops",
        "spec.colour",
        "spec.ports[0].name",
        "status",
        "spec.inner.metadata.bad",
    ]
    assert found[2][1] == ".spec.ports[port=80].name"
    pruned = prune(obj, schema_for(rtype, "v1"))
    assert pruned["spec"]["free"] == {"anything": {"goes": 1}}
    assert pruned["spec"]["inner"]["extra"] == 1 and "status" not in pruned


def test_a_crd_version_without_schema_checks_nothing_and_an_empty_object_schema_everything() -> (
    None
):
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}, "spec": {"a": 1}}
    assert schema_for(_crd(None), "v1") is None
    assert unknown_fields(obj, schema_for(_crd(None), "v1")) == []
    assert unknown_fields(obj, schema_for(_crd({"type": "object"}), "v1")) == [("spec", ".spec")]
    preserved = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert unknown_fields(obj, schema_for(_crd(preserved), "v1")) == []


# -- YAML duplicates, directives ---------------------------------------------------------------


def test_yaml_duplicates_name_the_line_of_the_repeated_value_in_decoding_order() -> None:
    body = b"metadata:\n  name: a\n  name: b\nspec:\n  template:\n    x: 1\n    x: 2\n  paused: 1\n"
    assert yaml_duplicates(body) == [
        'line 3: key "name" already set in map',
        'line 7: key "x" already set in map',
    ]
    assert yaml_duplicates(b'{"a": 1,\n "a": 2}') == ['line 2: key "a" already set in map']
    assert yaml_duplicates(b"a: [unclosed") == []


@pytest.mark.parametrize(
    ("value", "mode"), [("", "Warn"), ("Strict", "Strict"), ("Ignore", "Ignore")]
)
def test_directive_defaults_to_warn(value: str, mode: str) -> None:
    assert directive({"fieldValidation": value} if value else {}, "CreateOptions") == mode


def test_an_unknown_directive_is_refused_with_the_servers_wording() -> None:
    with pytest.raises(StoreError) as caught:
        directive({"fieldValidation": "strict"}, "PatchOptions")
    assert caught.value.code == 422
    assert caught.value.message == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )


# -- Go text ---------------------------------------------------------------------------------


def test_go_quote_escapes_like_strconv_quote() -> None:
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'


def test_go_value_prints_maps_sorted_with_go_numbers() -> None:
    patch = json.loads('{"spec":{"b":[1,"x",null],"a":1.5,"c":true,"d":100000.0,"e":1e21}}')
    assert go_value(patch) == "map[spec:map[a:1.5 b:[1 x <nil>] c:true d:100000 e:1e+21]]"
    assert go_float(0.00001) == "1e-05"


# -- Scale -----------------------------------------------------------------------------------


def test_selector_string_sorts_requirements_by_key() -> None:
    selector = {
        "matchLabels": {"tier": "web", "app": "shop"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "dev"]},
            {"key": "zone", "operator": "Exists"},
            {"key": "beta", "operator": "DoesNotExist"},
            {"key": "old", "operator": "NotIn", "values": ["x"]},
        ],
    }
    assert selector_string(selector) == (
        "app=shop,!beta,env in (dev,prod),old notin (x),tier=web,zone"
    )
    assert selector_string(None) == "" and selector_string({}) == ""


def test_scale_of_omits_zero_spec_replicas() -> None:
    parent = {
        "metadata": {"name": "w", "namespace": "d", "uid": "u", "resourceVersion": "7", "x": 1},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "w"}}},
    }
    assert scale_of(parent) == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "w", "namespace": "d", "uid": "u", "resourceVersion": "7"},
        "spec": {},
        "status": {"replicas": 0, "selector": "app=w"},
    }


def test_apply_duplicates_of_a_json_body_are_reported_by_line() -> None:
    configmaps = next(t for t in BUILTIN_TYPES if t.kind == "ConfigMap")
    body = b'{"apiVersion": "v1", "kind": "ConfigMap",\n "data": {"a": "1",\n "a": "2"}}'
    with pytest.raises(StoreError) as caught:
        FieldValidation(
            "Strict", configmaps, "v1", body, "application/apply-patch+yaml"
        ).check_apply_yaml()
    assert caught.value.code == 400
    assert caught.value.message.endswith('unmarshal errors:\n  line 3: key "a" already set in map')
    clean = b'{"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}}'
    warned = FieldValidation("Warn", configmaps, "v1", clean, "application/apply-patch+yaml")
    warned.check_apply_yaml()
    assert warned.warnings == []
