"""The copying contracts of the comparison path: reconciler.diff, diff_ignore and DryRunCache
never change their arguments, and what they return shares nothing a caller could change.

``diff`` copies each side once and works on that copy in place; these tests are what keeps
that optimisation honest. "Scribbling" on a result changes every dict and list in it; if any
of them were shared with an argument, the argument's snapshot would no longer match.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.compare_types import DryRunCache
from reconciler.diff import diff, mask_secret_data, normalize, overlay
from reconciler.diff_ignore import (
    copy_managed_fields,
    merge_managed_fields,
    remove_ignored,
    strip_ignored,
)
from reconciler.model import IgnoreDifferences, ResourceKey

FIXTURES = Path(__file__).parent / "fixtures" / "diff"
Obj = dict[str, Any]

POINTER = IgnoreDifferences(kind="Deployment", group="apps", json_pointers=("/spec/replicas",))
JQ = IgnoreDifferences(
    kind="Deployment",
    group="apps",
    jq_path_expressions=('.spec.template.spec.containers[] | select(.name == "istio-proxy")',),
)
MANAGERS = IgnoreDifferences(
    kind="Deployment",
    group="apps",
    managed_fields_managers=("kube-controller-manager", "istio-injector"),
)
ALL_RULES = (POINTER, JQ, MANAGERS)


def load(name: str) -> tuple[Obj, Obj]:
    desired, live = yaml.safe_load_all((FIXTURES / f"{name}.yaml").read_text())
    return desired, live


def scribble(tree: Any) -> None:
    """Change every dict and list in ``tree``."""
    if isinstance(tree, dict):
        for value in list(tree.values()):
            scribble(value)
        tree["scribbled"] = True
    elif isinstance(tree, list):
        for value in tree:
            scribble(value)
        tree.append("scribbled")


FIXTURE_NAMES = (
    "deployment-synced",
    "deployment-hpa-scaled",
    "deployment-sidecar-injected",
    "secret-changed",
    "secret-synced",
    "configmap-rotated-cert",
)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_diff_leaves_both_sides_alone_and_returns_sides_of_its_own(name: str) -> None:
    desired, live = load(name)
    before = copy.deepcopy((desired, live))
    result = diff(desired, live, rules=ALL_RULES)
    assert (desired, live) == before
    scribble(result.desired)
    scribble(result.live)
    assert (desired, live) == before
    assert diff(desired, live, rules=ALL_RULES).desired != result.desired


def test_diff_of_creation_and_pruning_leaves_the_side_alone() -> None:
    desired, live = load("secret-changed")
    before = copy.deepcopy((desired, live))
    scribble(diff(desired, None).desired)
    scribble(diff(None, live).live)
    assert (desired, live) == before


def test_normalize_copy_shares_nothing_with_its_argument() -> None:
    _, live = load("deployment-hpa-scaled")
    live["metadata"]["annotations"] = {"team": "web"}
    live["metadata"]["labels"] = {"app": "web"}
    before = copy.deepcopy(live)
    result = normalize(live, keep_status=True)
    assert "managedFields" not in result["metadata"]
    scribble(result)
    assert live == before


def test_normalize_keeps_a_non_mapping_metadata_and_drops_an_emptied_one() -> None:
    assert normalize({"kind": "X", "metadata": None}) == {"kind": "X", "metadata": None}
    emptied = {"kind": "X", "metadata": {"uid": "1", "labels": {}, "annotations": None}}
    assert normalize(emptied) == {"kind": "X"}
    assert emptied["metadata"] == {"uid": "1", "labels": {}, "annotations": None}


def test_remove_ignored_copies_and_strip_ignored_edits_in_place() -> None:
    desired, _ = load("deployment-hpa-scaled")
    before = copy.deepcopy(desired)
    result = remove_ignored(desired, [POINTER])
    assert "replicas" not in result["spec"] and desired == before
    scribble(result)
    assert desired == before
    strip_ignored(desired, [POINTER])
    assert "replicas" not in desired["spec"]


def test_copy_managed_fields_result_shares_nothing_with_either_argument() -> None:
    desired, live = load("deployment-sidecar-injected")
    before = copy.deepcopy((desired, live))
    result = copy_managed_fields(desired, live, {"istio-injector"})
    assert result == merge_managed_fields(desired, live, {"istio-injector"})
    scribble(result)
    assert (desired, live) == before


def test_merge_managed_fields_does_not_change_its_arguments() -> None:
    desired, live = load("deployment-hpa-scaled")
    before = copy.deepcopy((desired, live))
    merged = merge_managed_fields(desired, live, {"kube-controller-manager"})
    assert merged["spec"]["replicas"] == 5
    assert (desired, live) == before


def test_mask_secret_data_and_overlay_leave_their_arguments_alone() -> None:
    desired, live = load("secret-changed")
    before = copy.deepcopy((desired, live))
    masked = mask_secret_data(desired, live)
    scribble(masked[0])
    scribble(masked[1])
    scribble(overlay(live, desired))
    assert (desired, live) == before


def test_dry_run_cache_copies_in_and_out_and_shares_only_on_request() -> None:
    cache = DryRunCache()
    predicted: Obj = {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}
    key = DryRunCache.key(ResourceKey("", "ConfigMap", "ns", "a"), predicted, "7")
    assert cache.get(key) is None and cache.misses == 1
    cache.put(key, predicted)
    predicted["data"]["k"] = "changed after put"
    copied = cache.get(key)
    assert copied is not None and copied["data"] == {"k": "v"}
    scribble(copied)
    shared = cache.get_shared(key)
    assert shared == {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}
    assert cache.get_shared(key) is shared
    assert (cache.hits, cache.misses) == (3, 1)
