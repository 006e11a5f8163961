"""reconciler.diff, diff_ignore and diff_jq: pure comparison of one desired and one live object.

Fixtures under fixtures/diff/<kind>-<state>.yaml hold two documents: desired, then live.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.diff import MASK, diff, mask_secret_data, normalize, overlay, unified_diff
from reconciler.diff_ignore import copy_managed_fields, remove_ignored, rules_for
from reconciler.diff_jq import compile_path_expression
from reconciler.errors import ComparisonError
from reconciler.model import IgnoreDifferences, ResourceKey
from reconciler.tracking import owner_app, parse_tracking_id, tracking_of, with_tracking

FIXTURES = Path(__file__).parent / "fixtures" / "diff"

Obj = dict[str, Any]


def load(name: str) -> tuple[Obj, Obj]:
    desired, live = yaml.safe_load_all((FIXTURES / f"{name}.yaml").read_text())
    return desired, live


def modified(name: str, *rules: IgnoreDifferences) -> bool:
    return diff(*load(name), rules=rules).modified


def rule(kind: str, group: str = "", **fields: Any) -> IgnoreDifferences:
    return IgnoreDifferences(kind=kind, group=group, **fields)


REPLICAS_POINTER = rule("Deployment", "apps", json_pointers=("/spec/replicas",))
HPA_MANAGER = rule("Deployment", "apps", managed_fields_managers=("kube-controller-manager",))
SIDECAR_JQ = rule(
    "Deployment",
    "apps",
    jq_path_expressions=('.spec.template.spec.containers[] | select(.name == "istio-proxy")',),
)


# -- whole pipeline over fixtures -----------------------------------------------------------


def test_server_set_fields_status_and_annotations_are_not_drift() -> None:
    assert not modified("deployment-synced")


def test_changed_image_is_drift() -> None:
    assert modified("deployment-image-changed")


def test_changed_image_diff_names_resource_and_shows_both_images() -> None:
    text = diff(*load("deployment-image-changed")).text
    assert text.splitlines()[:2] == [
        "--- live/Deployment.apps/guestbook/guestbook-ui",
        "+++ desired/Deployment.apps/guestbook/guestbook-ui",
    ]
    assert "-      - image: gcr.io/heptio-images/ks-guestbook-demo:0.2" in text.splitlines()
    assert "+      - image: gcr.io/heptio-images/ks-guestbook-demo:0.3" in text.splitlines()


def test_hpa_scaled_replicas_are_drift_without_rules() -> None:
    assert modified("deployment-hpa-scaled")


def test_hpa_scaled_replicas_ignored_by_json_pointer() -> None:
    assert not modified("deployment-hpa-scaled", REPLICAS_POINTER)


def test_hpa_scaled_replicas_ignored_by_managed_fields_manager() -> None:
    assert not modified("deployment-hpa-scaled", HPA_MANAGER)


def test_managed_fields_manager_of_another_name_does_not_hide_drift() -> None:
    assert modified(
        "deployment-hpa-scaled", rule("Deployment", "apps", managed_fields_managers=("x",))
    )


def test_rule_for_another_group_does_not_apply() -> None:
    assert modified(
        "deployment-hpa-scaled", rule("Deployment", "", json_pointers=("/spec/replicas",))
    )


def test_rule_with_kind_glob_and_any_group_applies() -> None:
    assert not modified(
        "deployment-hpa-scaled", rule("Deploy*", "*", json_pointers=("/spec/replicas",))
    )


def test_rule_for_another_name_does_not_apply() -> None:
    named = rule("Deployment", "apps", name="other", json_pointers=("/spec/replicas",))
    assert modified("deployment-hpa-scaled", named)


def test_rule_for_matching_name_and_namespace_applies() -> None:
    named = rule(
        "Deployment", "apps", name="web", namespace="shop", json_pointers=("/spec/replicas",)
    )
    assert not modified("deployment-hpa-scaled", named)


def test_injected_sidecar_is_drift_without_rules() -> None:
    assert modified("deployment-sidecar-injected")


def test_injected_sidecar_ignored_by_jq_select() -> None:
    assert not modified("deployment-sidecar-injected", SIDECAR_JQ)


def test_injected_sidecar_ignored_by_its_managers_fields() -> None:
    injector = rule("Deployment", "apps", managed_fields_managers=("istio-injector",))
    assert not modified("deployment-sidecar-injected", injector)


def test_rotated_value_ignored_by_jq_bracket_key_and_pointer_with_escaped_slash() -> None:
    cert = rule(
        "ConfigMap",
        jq_path_expressions=('.data["ca.crt"]',),
        json_pointers=("/metadata/annotations/cert-manager.io~1rotated-at",),
    )
    assert not modified("configmap-rotated-cert", cert)


def test_rotated_value_still_drift_when_only_the_annotation_is_ignored() -> None:
    cert = rule("ConfigMap", json_pointers=("/metadata/annotations/cert-manager.io~1rotated-at",))
    assert modified("configmap-rotated-cert", cert)


def test_ca_bundles_ignored_by_optional_iteration() -> None:
    bundles = rule(
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        jq_path_expressions=(".webhooks[]?.clientConfig.caBundle",),
    )
    assert not modified("mutatingwebhookconfiguration-cabundle", bundles)


def test_pointers_and_expressions_naming_missing_paths_are_skipped() -> None:
    missing = rule(
        "Deployment",
        "apps",
        json_pointers=("/spec/nothing/here", "/spec/template/spec/containers/9/image"),
        jq_path_expressions=(".spec.none[].x", ".status.conditions[]?"),
    )
    assert modified("deployment-image-changed", missing)
    assert not modified("deployment-synced", missing)


def test_creation_and_pruning_are_always_modifications() -> None:
    desired, live = load("deployment-synced")
    created = diff(desired, None)
    pruned = diff(None, live)
    assert created.modified and pruned.modified
    assert all(line.startswith(("+", "@")) for line in created.text.splitlines()[2:])
    assert all(line.startswith(("-", "@")) for line in pruned.text.splitlines()[2:])


def test_nothing_on_either_side_is_no_modification() -> None:
    assert diff(None, None).text == ""


# -- Secrets --------------------------------------------------------------------------------


def test_secret_string_data_equal_to_live_data_is_synced() -> None:
    assert not modified("secret-synced")


def test_changed_secret_is_drift() -> None:
    assert modified("secret-changed")


def test_changed_secret_diff_never_shows_values_plain_or_base64() -> None:
    desired, live = load("secret-changed")
    text = diff(desired, live).text
    for value in ("admin", "n3w-Passw0rd!", "old-Passw0rd!"):
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text


def test_changed_secret_diff_shows_a_longer_mask_for_the_other_value() -> None:
    # As in Argo CD, the desired side is masked first: its value gets 8 pluses, live's 12.
    lines = diff(*load("secret-changed")).text.splitlines()
    assert "-  password: ++++++++++++" in lines
    assert "+  password: ++++++++" in lines
    assert "   username: ++++++++" in lines


def test_masking_gives_equal_values_equal_masks_and_distinct_values_longer_masks() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"a": "eA==", "b": "eQ==", "c": "eg=="},
    }
    live = {"apiVersion": "v1", "kind": "Secret", "data": {"a": "eA==", "b": "dw=="}}
    masked_desired, masked_live = mask_secret_data(desired, live)
    assert masked_desired is not None and masked_live is not None
    assert masked_desired["data"] == {"a": MASK, "b": MASK, "c": MASK}
    assert masked_live["data"] == {"a": MASK, "b": MASK + "++++"}


def test_masking_leaves_other_kinds_and_inputs_alone() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "x"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "data": {"a": "eA=="}}
    assert mask_secret_data(config, None)[0] == config
    mask_secret_data(secret, None)
    assert secret["data"] == {"a": "eA=="}


# -- normalize ------------------------------------------------------------------------------


def test_normalize_drops_server_fields_and_kajitori_annotations_but_keeps_user_ones() -> None:
    _, live = load("deployment-synced")
    live["metadata"]["annotations"]["team"] = "web"
    meta = normalize(live)["metadata"]
    assert sorted(meta) == ["annotations", "labels", "name", "namespace"]
    assert meta["annotations"] == {"team": "web"}


def test_normalize_drops_status_unless_asked_to_keep_it() -> None:
    _, live = load("deployment-synced")
    assert "status" not in normalize(live)
    assert normalize(live, keep_status=True)["status"]["replicas"] == 1


def test_normalize_folds_string_data_into_base64_data_and_nulls_into_empty() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "data": {"a": None}, "stringData": {"b": "hé"}}
    assert normalize(secret)["data"] == {"a": "", "b": base64.b64encode("hé".encode()).decode()}


def test_normalize_does_not_mutate_its_argument() -> None:
    _, live = load("deployment-synced")
    before = yaml.safe_dump(live)
    normalize(live)
    assert yaml.safe_dump(live) == before


# -- ignore rules ---------------------------------------------------------------------------


def test_rules_for_matches_group_and_kind_globs_and_exact_name_and_namespace() -> None:
    key = ResourceKey("apps", "Deployment", "shop", "web")
    rules = [
        rule("Deployment", "apps"),
        rule("*", "*"),
        rule("Deployment"),
        rule("Deployment", "apps", name="web", namespace="shop"),
        rule("Deployment", "apps", namespace="other"),
    ]
    assert rules_for(rules, key) == [rules[0], rules[1], rules[3]]


def test_malformed_json_pointer_is_a_comparison_error_naming_it() -> None:
    with pytest.raises(ComparisonError, match="spec/replicas"):
        remove_ignored({}, [rule("Deployment", json_pointers=("spec/replicas",))])


def test_json_pointer_removes_a_list_item_by_index() -> None:
    doc = {"a": [{"x": 1}, {"x": 2}]}
    assert remove_ignored(doc, [rule("K", json_pointers=("/a/0",))]) == {"a": [{"x": 2}]}


def test_copy_managed_fields_takes_owned_keyed_list_items_and_drops_none_of_the_rest() -> None:
    desired, live = load("deployment-sidecar-injected")
    result = copy_managed_fields(desired, live, {"istio-injector"})
    containers = result["spec"]["template"]["spec"]["containers"]
    assert containers == live["spec"]["template"]["spec"]["containers"]
    assert result["metadata"] == desired["metadata"]


def test_copy_managed_fields_removes_owned_field_absent_from_live() -> None:
    live = {
        "metadata": {
            "managedFields": [
                {"manager": "m", "fieldsV1": {"f:spec": {"f:paused": {}, "f:replicas": {}}}}
            ]
        },
        "spec": {"replicas": 4},
    }
    desired = {"spec": {"replicas": 1, "paused": True, "minReadySeconds": 5}}
    result = copy_managed_fields(desired, live, {"m"})
    assert result == {"spec": {"replicas": 4, "minReadySeconds": 5}}


# -- jq subset ------------------------------------------------------------------------------

DOC = {
    "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
    "data": {"key.with.dots": "1", "plain": "2"},
}


@pytest.mark.parametrize(
    ("expression", "paths"),
    [
        (".data.plain", [("data", "plain")]),
        ('.data."key.with.dots"', [("data", "key.with.dots")]),
        ('.data["key.with.dots"]', [("data", "key.with.dots")]),
        ('.["data"].plain', [("data", "plain")]),
        (".spec.containers[]", [("spec", "containers", 0), ("spec", "containers", 1)]),
        (".spec.containers[1].image", [("spec", "containers", 1, "image")]),
        (".spec.containers[-1].name", [("spec", "containers", 1, "name")]),
        (
            ".spec.containers[]?.image",
            [("spec", "containers", 0, "image"), ("spec", "containers", 1, "image")],
        ),
        ('.spec.containers[] | select(.name == "b")', [("spec", "containers", 1)]),
        (
            '.spec.containers[] | select(.name != "b") | .image',
            [("spec", "containers", 0, "image")],
        ),
        (
            '.spec.containers[] | select(.name == "a" or .image == "y")',
            [("spec", "containers", 0), ("spec", "containers", 1)],
        ),
        ('.spec.containers[] | select(.name == "a" and .image == "y")', []),
        ('.spec.containers[] | select(.image | startswith("y"))', [("spec", "containers", 1)]),
        ('.spec.containers[] | select(.name | test("^[ab]$") | not)', []),
        (
            '.spec.containers[] | select(has("image"))',
            [("spec", "containers", 0), ("spec", "containers", 1)],
        ),
        (".missing.deeper", []),
        (".missing[]", []),
        (".data.plain[]?", []),
    ],
)
def test_jq_subset_names_the_paths_jq_would(expression: str, paths: list[tuple[Any, ...]]) -> None:
    assert compile_path_expression(expression).paths(DOC) == paths


@pytest.mark.parametrize(
    "expression", ["..", ".a | length", ".a[1:2]", "map(.x)", ".a + 1", "select(.a == )", ".a[", ""]
)
def test_jq_expression_outside_the_subset_is_refused_with_its_text(expression: str) -> None:
    with pytest.raises(ComparisonError, match="jqPathExpression"):
        compile_path_expression(expression)


def test_jq_delete_removes_several_list_items_without_shifting_the_wrong_ones() -> None:
    doc = {"a": [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]}
    compile_path_expression(".a[] | select(.n == 2 or .n == 3)").delete_from(doc)
    assert doc == {"a": [{"n": 1}, {"n": 4}]}


# -- overlay, text and tracking -------------------------------------------------------------


def test_overlay_merges_maps_and_named_lists_and_keeps_live_only_fields() -> None:
    live = {"spec": {"a": 1, "containers": [{"name": "c", "image": "old", "tty": False}]}}
    desired = {"spec": {"containers": [{"name": "c", "image": "new"}]}}
    assert overlay(live, desired) == {
        "spec": {"a": 1, "containers": [{"name": "c", "image": "new", "tty": False}]}
    }


def test_unified_diff_of_equal_objects_is_empty() -> None:
    desired, _ = load("deployment-synced")
    assert unified_diff("x", desired, desired) == ""


def test_tracking_id_round_trips_including_cluster_scoped_and_colon_names() -> None:
    key = ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "system:reader")
    parsed = parse_tracking_id(key.tracking_id("guestbook"))
    assert parsed is not None and (parsed.app, parsed.key) == ("guestbook", key)


@pytest.mark.parametrize("value", ["", "guestbook", "guestbook:apps/Deployment", ":/Kind:ns/n"])
def test_malformed_tracking_ids_are_not_parsed(value: str) -> None:
    assert parse_tracking_id(value) is None


def test_owner_app_only_when_the_id_names_the_object_itself() -> None:
    desired, _ = load("deployment-synced")
    key = ResourceKey.of(desired)
    tracked = with_tracking(desired, "shop", key)
    copied = with_tracking(desired, "shop", ResourceKey("apps", "Deployment", "guestbook", "other"))
    assert (owner_app(tracked), owner_app(copied)) == ("shop", None)
    assert str(tracking_of(tracked)) == "shop:apps/Deployment:guestbook/guestbook-ui"
