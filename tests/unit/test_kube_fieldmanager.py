"""Server-side apply (sandbox.kube.fieldmanager.apply): merge, ownership, conflicts, prune."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sandbox.kube.fieldmanager import ApplyConflict, apply, record_update
from sandbox.kube.patch import PatchError
from tests.unit.fieldmanager_helpers import (
    T0,
    T1,
    T2,
    T3,
    containers,
    deployment,
    entries,
    fields_of,
    without_managed_fields,
)

# --- create / re-apply ----------------------------------------------------------------------


def test_create_returns_config_with_an_apply_entry_in_the_servers_shape() -> None:
    config = deployment()
    obj = apply(None, config, "kubectl", False, T0)
    assert without_managed_fields(obj) == config
    assert entries(obj) == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {"f:matchLabels": {"f:app": {}}},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"web"}': {
                                    ".": {},
                                    "f:name": {},
                                    "f:image": {},
                                    "f:ports": {
                                        'k:{"containerPort":80,"protocol":"TCP"}': {
                                            ".": {},
                                            "f:containerPort": {},
                                        }
                                    },
                                }
                            }
                        },
                    },
                },
            },
        }
    ]


def test_reapplying_the_same_config_changes_nothing() -> None:
    live = apply(None, deployment(), "kubectl", False, T0)
    live["metadata"].update(uid="u-1", resourceVersion="7", creationTimestamp=T0, generation=1)
    again = apply(live, deployment(), "kubectl", False, T1)
    assert again == live  # same object, same managedFields, same time
    changed = apply(live, deployment(replicas=3), "kubectl", False, T2)
    assert changed["spec"]["replicas"] == 3
    assert entries(changed)[0]["time"] == T2
    assert changed["metadata"]["uid"] == "u-1" and changed["metadata"]["resourceVersion"] == "7"


def test_apply_never_mutates_or_shares_with_its_arguments() -> None:
    live = apply(None, deployment(), "a", False, T0)
    live = record_update(live, {**live, "status": {"replicas": 1}}, "controller", T0, "status")
    config = deployment(replicas=5)
    before_live, before_config = copy.deepcopy(live), copy.deepcopy(config)
    result = apply(live, config, "b", True, T1)
    assert live == before_live and config == before_config
    result["metadata"]["labels"]["x"] = "y"
    containers(result)[0]["image"] = "changed"
    entries(result)[0]["fieldsV1"]["f:spec"] = {}
    result["status"]["replicas"] = 9
    assert live == before_live and config == before_config


def test_bookkeeping_fields_are_never_tracked_or_removed() -> None:
    config = deployment()
    config["metadata"].update(resourceVersion="3", uid="u", generation=4, creationTimestamp=T0)
    obj = apply(None, config, "kubectl", False, T0)
    fields = fields_of(obj, "kubectl")
    assert set(fields) == {"f:metadata", "f:spec"}  # no f:apiVersion, f:kind
    assert set(fields["f:metadata"]) == {"f:labels"}  # no name, namespace, uid, ...
    live = copy.deepcopy(obj)
    live["metadata"]["deletionTimestamp"] = T1
    bare = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    pruned = apply(live, bare, "kubectl", False, T1)
    assert pruned["metadata"]["name"] == "web" and pruned["metadata"]["namespace"] == "default"
    assert pruned["metadata"]["uid"] == "u" and pruned["metadata"]["deletionTimestamp"] == T1
    assert pruned["apiVersion"] == "apps/v1" and pruned["kind"] == "Deployment"
    assert "labels" not in pruned["metadata"] and "managedFields" not in pruned["metadata"]


# --- several managers ------------------------------------------------------------------------


def test_two_managers_share_a_field_with_the_same_value() -> None:
    live = apply(None, deployment(replicas=3), "alice", False, T0)
    both = apply(live, {**deployment(replicas=3)}, "bob", False, T1)
    assert "f:replicas" in fields_of(both, "alice")["f:spec"]
    assert "f:replicas" in fields_of(both, "bob")["f:spec"]
    # alice stops applying replicas: bob still owns it, so it stays
    alice_drops = apply(both, deployment(replicas=None), "alice", False, T2)
    assert alice_drops["spec"]["replicas"] == 3
    assert "f:replicas" not in fields_of(alice_drops, "alice")["f:spec"]
    # bob stops too: nobody owns it any more, so it goes
    bob_drops = apply(alice_drops, deployment(replicas=None), "bob", False, T3)
    assert "replicas" not in bob_drops["spec"]


def test_conflict_without_force_lists_manager_and_path() -> None:
    live = apply(None, deployment(replicas=3), "alice", False, T0)
    config = deployment(5, {"name": "web", "image": "nginx:2", "ports": [{"containerPort": 80}]})
    with pytest.raises(ApplyConflict) as caught:
        apply(live, config, "bob", False, T1)
    assert sorted(caught.value.conflicts) == [
        ("alice", ".spec.replicas"),
        ("alice", '.spec.template.spec.containers[name="web"].image'),
    ]
    message = str(caught.value)
    # an applier is named without the "using <apiVersion>" an updater gets
    assert message.startswith('Apply failed with 2 conflicts: conflicts with "alice":\n- ')
    assert "\n- .spec.replicas" in message
    with pytest.raises(ApplyConflict) as single:
        apply(live, deployment(replicas=4), "bob", False, T1)
    assert (
        str(single.value) == 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas'
    )


def test_conflict_names_an_updater_with_its_version_and_subresource() -> None:
    live = apply(None, deployment(replicas=3), "alice", False, T0)
    scaled = record_update(live, deployment(replicas=5), "kubectl", T1, "scale")
    with pytest.raises(ApplyConflict) as caught:
        apply(scaled, deployment(replicas=3), "alice", False, T2)
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
        "using apps/v1: .spec.replicas"
    )


def test_force_takes_ownership_of_the_conflicting_fields_only() -> None:
    live = apply(None, deployment(replicas=3), "alice", False, T0)
    forced = apply(live, deployment(replicas=5), "bob", True, T1)
    assert forced["spec"]["replicas"] == 5
    alice = fields_of(forced, "alice")
    assert "f:replicas" not in alice["f:spec"]
    assert "f:template" in alice["f:spec"]  # fields with equal values stay shared
    assert "f:template" in fields_of(forced, "bob")["f:spec"]
    assert [e["time"] for e in entries(forced) if e["manager"] == "alice"] == [T0]
    with pytest.raises(ApplyConflict) as caught:
        apply(forced, deployment(replicas=3), "alice", False, T2)
    assert caught.value.conflicts == [("bob", ".spec.replicas")]


def test_a_dropped_field_is_removed_only_when_nobody_else_owns_it() -> None:
    config = deployment()
    config["metadata"]["annotations"] = {"team": "a", "tier": "web"}
    containers(config)[0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    live = apply(None, config, "alice", False, T0)
    # another writer (an Update) takes over the "tier" annotation
    edited = copy.deepcopy(live)
    edited["metadata"]["annotations"]["tier"] = "backend"
    live = record_update(live, edited, "kubectl-edit", T1)
    smaller = deployment()
    result = apply(live, smaller, "alice", False, T2)
    assert result["metadata"]["annotations"] == {"tier": "backend"}
    assert "env" not in containers(result)[0]
    assert "f:annotations" not in fields_of(result, "alice")["f:metadata"]


def test_map_list_items_are_owned_per_key() -> None:
    web = {"name": "web", "image": "nginx:1"}
    side = {"name": "side", "image": "busybox:1"}
    live = apply(None, deployment(2, web), "alice", False, T0)
    side_only: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [side]}}},
    }
    both = apply(live, side_only, "bob", False, T1)
    assert containers(both) == [web, side]
    assert list(fields_of(both, "alice")["f:spec"]["f:template"]["f:spec"]["f:containers"]) == [
        'k:{"name":"web"}'
    ]
    assert fields_of(both, "bob") == {
        "f:spec": {
            "f:template": {
                "f:spec": {
                    "f:containers": {'k:{"name":"side"}': {".": {}, "f:name": {}, "f:image": {}}}
                }
            }
        }
    }
    # bob changes its container without touching alice's
    side_only["spec"]["template"]["spec"]["containers"] = [{"name": "side", "image": "busybox:2"}]
    bumped = apply(both, side_only, "bob", False, T2)
    assert containers(bumped) == [web, {"name": "side", "image": "busybox:2"}]
    # bob drops its container: only that item goes
    side_only["spec"]["template"]["spec"]["containers"] = []
    dropped = apply(bumped, side_only, "bob", False, T3)
    assert containers(dropped) == [web]


def test_an_item_partly_owned_by_another_manager_keeps_that_part_and_its_key() -> None:
    side = {"name": "side", "image": "busybox:1", "args": ["sleep"]}
    live = apply(None, deployment(2, {"name": "web", "image": "w"}, side), "alice", False, T0)
    edited = copy.deepcopy(live)
    containers(edited)[1]["env"] = [{"name": "DEBUG", "value": "1"}]
    live = record_update(live, edited, "kubectl-edit", T1)
    result = apply(live, deployment(2, {"name": "web", "image": "w"}), "alice", False, T2)
    assert containers(result)[1] == {"name": "side", "env": [{"name": "DEBUG", "value": "1"}]}


def test_dropped_list_values_labels_and_containers_go_when_unowned() -> None:
    config = deployment(2, {"name": "web", "image": "w"}, {"name": "side", "image": "s"})
    config["metadata"]["finalizers"] = ["example.com/a", "example.com/b"]
    live = apply(None, config, "alice", False, T0)
    assert fields_of(live, "alice")["f:metadata"]["f:finalizers"] == {
        'v:"example.com/a"': {},
        'v:"example.com/b"': {},
    }
    smaller = deployment(2, {"name": "web", "image": "w"})
    smaller["metadata"]["finalizers"] = ["example.com/b"]
    del smaller["metadata"]["labels"]
    result = apply(live, smaller, "alice", False, T1)
    assert result["metadata"]["finalizers"] == ["example.com/b"]
    assert "labels" not in result["metadata"]
    assert [c["name"] for c in containers(result)] == ["web"]


def test_null_in_the_config_removes_the_field_and_owns_it() -> None:
    live = apply(None, deployment(replicas=3), "alice", False, T0)
    config = deployment(replicas=None)
    config["spec"]["replicas"] = None
    result = apply(live, config, "alice", False, T1)
    assert "replicas" not in result["spec"]
    assert fields_of(result, "alice")["f:spec"]["f:replicas"] == {}


def test_apply_to_the_status_subresource_has_its_own_entry() -> None:
    live = apply(None, deployment(), "alice", False, T0)
    status = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "status": {"replicas": 2},
    }
    result = apply(live, status, "alice", False, T1, subresource="status")
    applies = [e for e in entries(result) if e["operation"] == "Apply"]
    assert len(applies) == 2
    assert [e.get("subresource") for e in applies] == [None, "status"]
    assert result["spec"] == live["spec"]  # the main entry was not pruned


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"metadata": {"managedFields": [{"manager": "x"}]}}, "managedFields must be nil"),
        ({"metadata": "web"}, "metadata: must be an object"),
        (
            {"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}},
            'duplicate entries for key \\[name="a"\\]',
        ),
        ({"metadata": {"finalizers": [{"a": 1}]}}, "set items must be scalars"),
    ],
)
def test_bad_configurations_are_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(PatchError, match=message):
        apply(None, config, "alice", False, T0)
    with pytest.raises(PatchError, match="must be an object"):
        apply(None, ["not", "an", "object"], "alice", False, T0)  # type: ignore[arg-type]


def test_a_keyed_list_whose_items_lack_the_keys_is_merged_whole() -> None:
    """A custom resource's ``spec.ports`` is not a Service's: without ``port`` it is atomic."""
    entry: dict[str, Any] = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "ext"},
        "spec": {"ports": [{"number": 443, "name": "https", "protocol": "TLS"}]},
    }
    live = apply(None, entry, "alice", False, T0)
    assert live["spec"]["ports"] == entry["spec"]["ports"]
    assert fields_of(live, "alice")["f:spec"] == {"f:ports": {}}
    entry["spec"]["ports"] = [{"number": 8443, "name": "alt"}]
    assert apply(live, entry, "alice", False, T1)["spec"]["ports"] == [
        {"number": 8443, "name": "alt"}
    ]
    with pytest.raises(ApplyConflict):
        apply(live, entry, "bob", False, T1)
