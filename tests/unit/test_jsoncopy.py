"""reconciler.jsoncopy: a deep copy of JSON-shaped trees equal to copy.deepcopy's."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

from reconciler.jsoncopy import json_copy


def containers(tree: Any) -> list[Any]:
    """Every dict and list in ``tree``, outermost first."""
    found: list[Any] = []
    if isinstance(tree, dict):
        found.append(tree)
        for value in tree.values():
            found += containers(value)
    elif isinstance(tree, list):
        found.append(tree)
        for value in tree:
            found += containers(value)
    return found


TREE: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "metadata": {"name": "web", "labels": {"app": "web"}, "generation": 3},
    "spec": {
        "replicas": 2,
        "paused": False,
        "ratio": 0.5,
        "nothing": None,
        "containers": [{"name": "web", "ports": [{"containerPort": 80}]}, [1, [2, {}]]],
    },
}


def test_copy_equals_the_original_and_shares_no_dict_or_list() -> None:
    result = json_copy(TREE)
    assert result == TREE == copy.deepcopy(TREE)
    originals = {id(node) for node in containers(TREE)}
    assert not originals & {id(node) for node in containers(result)}


def test_changing_the_copy_leaves_the_original_alone() -> None:
    before = copy.deepcopy(TREE)
    result = json_copy(TREE)
    result["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    result["spec"]["containers"][1][1].append(3)
    result["metadata"]["labels"].clear()
    assert before == TREE


def test_scalars_come_back_as_they_are() -> None:
    for value in ("text", 7, 1.5, True, None):
        assert json_copy(value) is value


def test_other_types_are_deep_copied_like_deepcopy_does() -> None:
    inner = [1, 2]
    tree: dict[str, Any] = {"pair": (inner, "x"), "ordered": OrderedDict(a=[1]), "raw": b"b"}
    result = json_copy(tree)
    assert result == copy.deepcopy(tree)
    assert isinstance(result["pair"], tuple) and isinstance(result["ordered"], OrderedDict)
    result["pair"][0].append(3)
    result["ordered"]["a"].append(2)
    assert inner == [1, 2] and tree["ordered"]["a"] == [1]
