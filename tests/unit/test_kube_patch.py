"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as sandbox.kube.patch applies them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sandbox.kube.patch import PatchError, json_patch, merge_patch

# --- RFC 7386 -----------------------------------------------------------------------------

# The test cases of RFC 7386 appendix A: (target, patch, result).
RFC7386_CASES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC7386_CASES)
def test_merge_patch_rfc7386_examples(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_merge_patch_does_not_mutate_or_share_with_its_arguments() -> None:
    target = {"metadata": {"labels": {"a": "1"}}, "spec": {"list": [{"x": 1}]}}
    patch = {"metadata": {"labels": {"b": "2"}}, "spec": {"new": {"deep": [1]}}}
    before_target, before_patch = copy.deepcopy(target), copy.deepcopy(patch)
    result = merge_patch(target, patch)
    assert target == before_target and patch == before_patch
    result["spec"]["list"][0]["x"] = 99
    result["spec"]["new"]["deep"].append(2)
    assert target == before_target and patch == before_patch


# --- RFC 6902 -----------------------------------------------------------------------------


def test_json_patch_add_object_member_and_array_elements() -> None:
    doc = {"foo": ["bar", "baz"]}
    assert json_patch(doc, [{"op": "add", "path": "/baz", "value": "qux"}]) == {
        "foo": ["bar", "baz"],
        "baz": "qux",
    }
    assert json_patch(doc, [{"op": "add", "path": "/foo/1", "value": "qux"}]) == {
        "foo": ["bar", "qux", "baz"]
    }
    assert json_patch(doc, [{"op": "add", "path": "/foo/-", "value": "end"}]) == {
        "foo": ["bar", "baz", "end"]
    }
    assert json_patch(doc, [{"op": "add", "path": "/foo/2", "value": "end"}]) == {
        "foo": ["bar", "baz", "end"]
    }
    assert json_patch(doc, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]) == {
        "foo": ["bar", "baz", ["abc", "def"]]
    }


def test_json_patch_add_replaces_an_existing_member_and_the_root() -> None:
    assert json_patch({"a": 1}, [{"op": "add", "path": "/a", "value": 2}]) == {"a": 2}
    assert json_patch({"a": 1}, [{"op": "add", "path": "", "value": [1]}]) == [1]


def test_json_patch_remove_and_replace() -> None:
    doc = {"baz": "qux", "foo": "bar", "list": [1, 2, 3]}
    assert json_patch(doc, [{"op": "remove", "path": "/baz"}]) == {
        "foo": "bar",
        "list": [1, 2, 3],
    }
    assert json_patch(doc, [{"op": "remove", "path": "/list/1"}])["list"] == [1, 3]
    assert json_patch(doc, [{"op": "replace", "path": "/baz", "value": "boo"}])["baz"] == "boo"
    assert json_patch(doc, [{"op": "replace", "path": "/list/0", "value": 9}])["list"] == [9, 2, 3]
    assert json_patch(doc, [{"op": "replace", "path": "", "value": {"x": 1}}]) == {"x": 1}


def test_json_patch_move_and_copy() -> None:
    doc = {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}
    assert json_patch(doc, [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]) == {
        "foo": {"bar": "baz"},
        "qux": {"corge": "grault", "thud": "fred"},
    }
    moved = json_patch(
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
    )
    assert moved == {"foo": ["all", "cows", "eat", "grass"]}
    copied = json_patch(doc, [{"op": "copy", "from": "/foo", "path": "/copy"}])
    assert copied["copy"] == doc["foo"]
    copied["copy"]["bar"] = "changed"  # the copy is independent of the source
    assert copied["foo"]["bar"] == "baz"
    assert json_patch({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}]) == {"a": 1}


def test_json_patch_escaped_pointers() -> None:
    doc = {"a/b": 1, "m~n": 2, "~1": 3}
    assert json_patch(doc, [{"op": "test", "path": "/a~1b", "value": 1}]) == doc
    assert json_patch(doc, [{"op": "replace", "path": "/m~0n", "value": 5}])["m~n"] == 5
    # ~01 means "~1" (unescape ~1 first would wrongly give "/")
    assert json_patch(doc, [{"op": "remove", "path": "/~01"}]) == {"a/b": 1, "m~n": 2}
    annotated = json_patch(
        {"metadata": {}},
        [
            {"op": "add", "path": "/metadata/annotations", "value": {}},
            {"op": "add", "path": "/metadata/annotations/example.com~1team", "value": "x"},
        ],
    )
    assert annotated == {"metadata": {"annotations": {"example.com/team": "x"}}}


def test_json_patch_test_operation() -> None:
    doc = {"baz": "qux", "foo": ["a", 2, "c"], "n": 1, "flag": True}
    ops = [
        {"op": "test", "path": "/baz", "value": "qux"},
        {"op": "test", "path": "/foo/1", "value": 2},
        {"op": "test", "path": "/n", "value": 1.0},  # JSON numbers compare by value
        {"op": "test", "path": "", "value": doc},
    ]
    assert json_patch(doc, ops) == doc
    with pytest.raises(PatchError, match="test failed"):
        json_patch(doc, [{"op": "test", "path": "/baz", "value": "bar"}])
    with pytest.raises(PatchError, match="test failed"):
        json_patch(doc, [{"op": "test", "path": "/foo/1", "value": "2"}])  # string vs number
    with pytest.raises(PatchError, match="test failed"):
        json_patch(doc, [{"op": "test", "path": "/n", "value": True}])  # true is not 1
    with pytest.raises(PatchError, match="test failed"):
        json_patch(doc, [{"op": "test", "path": "/flag", "value": 1}])


def test_json_patch_value_may_be_null() -> None:
    assert json_patch({"a": 1}, [{"op": "replace", "path": "/a", "value": None}]) == {"a": None}
    assert json_patch({"a": None}, [{"op": "test", "path": "/a", "value": None}]) == {"a": None}


def test_json_patch_is_atomic_and_never_mutates() -> None:
    doc = {"a": {"b": [1, 2]}}
    before = copy.deepcopy(doc)
    ops = [
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "remove", "path": "/a/missing"},
    ]
    with pytest.raises(PatchError):
        json_patch(doc, ops)
    assert doc == before
    value = {"deep": [1]}
    result = json_patch(doc, [{"op": "add", "path": "/v", "value": value}])
    result["v"]["deep"].append(2)
    assert value == {"deep": [1]}


@pytest.mark.parametrize(
    ("doc", "ops", "message"),
    [
        ({}, {"op": "add"}, "array of operations"),
        ({}, ["add"], "must be an object"),
        ({}, [{"op": "frobnicate", "path": "/a"}], "'op' must be one of"),
        ({}, [{"path": "/a", "value": 1}], "'op' must be one of"),
        ({}, [{"op": "add", "value": 1}], "missing 'path'"),
        ({}, [{"op": "add", "path": "/a"}], "missing 'value'"),
        ({}, [{"op": "replace", "path": "/a", "value": 1}], "does not exist"),
        ({}, [{"op": "remove", "path": "/a"}], "does not exist"),
        ({}, [{"op": "add", "path": "/a/b", "value": 1}], "does not exist"),
        ({}, [{"op": "add", "path": "a", "value": 1}], "must start with '/'"),
        ({}, [{"op": "add", "path": 5, "value": 1}], "must be a string"),
        ({"a": 1}, [{"op": "test", "path": "/a~2", "value": 1}], "'~' not followed"),
        ({"l": [1]}, [{"op": "add", "path": "/l/3", "value": 1}], "out of bounds"),
        ({"l": [1]}, [{"op": "remove", "path": "/l/1"}], "out of bounds"),
        ({"l": [1]}, [{"op": "remove", "path": "/l/-"}], "'-' names no existing"),
        (
            {"l": [1, 2]},
            [{"op": "replace", "path": "/l/01", "value": 1}],
            "not a valid array index",
        ),
        ({"l": [1]}, [{"op": "add", "path": "/l/x", "value": 1}], "not a valid array index"),
        ({"s": "x"}, [{"op": "add", "path": "/s/t", "value": 1}], "cannot add"),
        ({"a": {"b": {}}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], "its children"),
        ({"a": 1}, [{"op": "move", "path": "/b"}], "missing 'from'"),
        ({"a": 1}, [{"op": "copy", "from": "/x", "path": "/b"}], "does not exist"),
        ({"a": 1}, [{"op": "remove", "path": ""}], "whole document"),
    ],
)
def test_json_patch_errors_name_the_problem(doc: Any, ops: Any, message: str) -> None:
    with pytest.raises(PatchError, match=message.replace("(", r"\(")) as caught:
        json_patch(doc, ops)
    if isinstance(ops, list) and ops and isinstance(ops[0], dict):
        assert "operation 0" in str(caught.value)


def test_json_patch_error_does_not_leak_values() -> None:
    secret = {"data": {"password": "hunter2"}}
    with pytest.raises(PatchError) as caught:
        json_patch(secret, [{"op": "test", "path": "/data/password", "value": "guess"}])
    assert "hunter2" not in str(caught.value) and "guess" not in str(caught.value)
