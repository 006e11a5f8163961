"""Strategic merge patch, including the patches `kubectl apply` (client-side) sends."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from sandbox.kube.patch import PatchError, strategic_merge_patch

# --- strategic merge patch ----------------------------------------------------------------


def deployment(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": list(containers), **spec},
            },
        },
    }


def containers_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def pod_patch(**pod_spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": pod_spec}}}


WEB = {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]}
SIDE = {"name": "side", "image": "busybox", "args": ["sleep", "1"]}


def test_smp_merges_containers_by_name() -> None:
    live = deployment(WEB, SIDE)
    result = strategic_merge_patch(live, pod_patch(containers=[{"name": "side", "image": "b:2"}]))
    assert containers_of(result) == [WEB, {**SIDE, "image": "b:2"}]
    added = strategic_merge_patch(live, pod_patch(containers=[{"name": "new", "image": "n"}]))
    assert [c["name"] for c in containers_of(added)] == ["web", "side", "new"]


def test_smp_merges_env_ports_volumes_and_mounts_by_key() -> None:
    live = deployment(
        {
            "name": "web",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
            "volumeMounts": [{"mountPath": "/data", "name": "data"}],
        },
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    patch = pod_patch(
        containers=[
            {
                "name": "web",
                "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                "ports": [{"containerPort": 80, "name": "web"}, {"containerPort": 443}],
                "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
            }
        ],
        volumes=[{"name": "cache", "emptyDir": {}}],
    )
    result = strategic_merge_patch(live, patch)
    web = containers_of(result)[0]
    assert web["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]
    # the port without a protocol is the stored TCP port
    assert web["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "web"},
        {"containerPort": 443},
    ]
    assert web["volumeMounts"] == [{"mountPath": "/data", "name": "data", "readOnly": True}]
    assert result["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "emptyDir": {}},
        {"name": "cache", "emptyDir": {}},
    ]


def test_smp_service_ports_merge_by_port() -> None:
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    result = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]


def test_smp_atomic_lists_are_replaced() -> None:
    live = deployment(SIDE, tolerations=[{"key": "a"}, {"key": "b"}])
    patch = pod_patch(
        containers=[{"name": "side", "args": ["sleep", "9"]}], tolerations=[{"key": "c"}]
    )
    result = strategic_merge_patch(live, patch)
    assert containers_of(result)[0]["args"] == ["sleep", "9"]
    assert result["spec"]["template"]["spec"]["tolerations"] == [{"key": "c"}]


def test_smp_null_deletes_fields_and_map_keys() -> None:
    live = deployment(WEB)
    patch = {"metadata": {"labels": {"app": None, "tier": "front"}}, "spec": {"replicas": None}}
    result = strategic_merge_patch(live, patch)
    assert result["metadata"]["labels"] == {"tier": "front"}
    assert "replicas" not in result["spec"]
    # nulls inside content that did not exist are dropped, never stored
    fresh = strategic_merge_patch({}, {"metadata": {"annotations": {"a": None, "b": "1"}}})
    assert fresh == {"metadata": {"annotations": {"b": "1"}}}


def test_smp_patch_delete_removes_a_list_item_by_key() -> None:
    live = deployment(WEB, SIDE)
    result = strategic_merge_patch(
        live, pod_patch(containers=[{"$patch": "delete", "name": "side"}])
    )
    assert containers_of(result) == [WEB]
    # deleting an item that is not there changes nothing
    same = strategic_merge_patch(live, pod_patch(containers=[{"$patch": "delete", "name": "x"}]))
    assert same == live


def test_smp_patch_replace_list_and_map() -> None:
    live = deployment(WEB, SIDE)
    result = strategic_merge_patch(
        live, pod_patch(containers=[{"$patch": "replace"}, {"name": "only", "image": "o"}])
    )
    assert containers_of(result) == [{"name": "only", "image": "o"}]
    replaced = strategic_merge_patch(
        live, {"metadata": {"labels": {"$patch": "replace", "new": "1"}}}
    )
    assert replaced["metadata"]["labels"] == {"new": "1"}
    deleted = strategic_merge_patch(live, {"metadata": {"labels": {"$patch": "delete"}}})
    assert "labels" not in deleted["metadata"]
    merged = strategic_merge_patch(live, {"metadata": {"labels": {"$patch": "merge", "x": "1"}}})
    assert merged["metadata"]["labels"] == {"app": "web", "x": "1"}


def test_smp_set_element_order() -> None:
    a, b, c = ({"name": n, "image": n} for n in "abc")
    live = deployment(a, b, c)
    patch = pod_patch(
        **{
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "c", "image": "c2"}],
        }
    )
    result = strategic_merge_patch(live, patch)
    assert [(x["name"], x["image"]) for x in containers_of(result)] == [
        ("c", "c2"),
        ("a", "a"),
        ("b", "b"),
    ]
    # items only the server has keep their place relative to the ordered ones
    x = {"name": "x", "image": "x"}
    live2 = deployment(a, x, b)
    new = {"name": "n", "image": "n"}
    patch2 = pod_patch(
        **{
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "n"}],
            "containers": [new],
        }
    )
    assert [x["name"] for x in containers_of(strategic_merge_patch(live2, patch2))] == [
        "a",
        "x",
        "b",
        "n",
    ]


def test_smp_primitive_set_lists_union_order_and_delete() -> None:
    live = {"metadata": {"finalizers": ["a", "b"]}}
    assert strategic_merge_patch(live, {"metadata": {"finalizers": ["b", "c"]}}) == {
        "metadata": {"finalizers": ["a", "b", "c"]}
    }
    removed = strategic_merge_patch(
        live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    )
    assert removed == {"metadata": {"finalizers": ["b"]}}
    ordered = strategic_merge_patch(
        live,
        {"metadata": {"$setElementOrder/finalizers": ["c", "b", "a"], "finalizers": ["c"]}},
    )
    assert ordered == {"metadata": {"finalizers": ["c", "b", "a"]}}


def test_smp_retain_keys_drops_the_other_members_of_a_union() -> None:
    live = {
        "spec": {
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            }
        }
    }
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge_patch(live, patch) == {"spec": {"strategy": {"type": "Recreate"}}}
    volume_live = deployment(volumes=[{"name": "v", "emptyDir": {}}])
    volume_patch = pod_patch(
        volumes=[{"$retainKeys": ["configMap", "name"], "name": "v", "configMap": {"name": "cm"}}]
    )
    result = strategic_merge_patch(volume_live, volume_patch)
    assert result["spec"]["template"]["spec"]["volumes"] == [
        {"name": "v", "configMap": {"name": "cm"}}
    ]
    with pytest.raises(PatchError, match="not in \\$retainKeys"):
        strategic_merge_patch(live, {"spec": {"strategy": {"$retainKeys": [], "type": "x"}}})


def test_smp_directives_never_reach_the_result() -> None:
    live = deployment(WEB)
    patch = pod_patch(
        **{
            "$setElementOrder/containers": [{"name": "web"}, {"name": "new"}],
            "containers": [
                {
                    "name": "new",
                    "image": "n",
                    "$setElementOrder/env": [{"name": "A"}],
                    "env": [{"name": "A", "value": "1", "$patch": "merge"}],
                }
            ],
            "$retainKeys": ["containers"],
        }
    )
    result = strategic_merge_patch(live, patch)
    assert "$" not in json.dumps(result)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (pod_patch(containers=[{"image": "no-name"}]), "merge key 'name'"),
        (pod_patch(containers=["web"]), "must be objects"),
        ({"metadata": {"$patch": "explode"}}, "unknown \\$patch"),
        ({"metadata": {"finalizers": [{"a": 1}]}}, "must be scalars"),
        ({"metadata": {"$retainKeys": "labels"}}, "list of field names"),
        (pod_patch(**{"$setElementOrder/containers": "web"}), "must be a list"),
    ],
)
def test_smp_errors(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(PatchError, match=message):
        strategic_merge_patch(deployment(WEB), patch)


def test_smp_never_mutates_or_shares() -> None:
    live = deployment(WEB, SIDE)
    patch = pod_patch(containers=[{"name": "new", "image": "n", "env": [{"name": "A"}]}])
    before_live, before_patch = copy.deepcopy(live), copy.deepcopy(patch)
    result = strategic_merge_patch(live, patch)
    assert live == before_live and patch == before_patch
    containers_of(result)[0]["ports"].append({"containerPort": 1})
    containers_of(result)[2]["env"].append({"name": "B"})
    result["metadata"]["labels"]["x"] = "y"
    assert live == before_live and patch == before_patch


# --- the patches `kubectl apply` (client-side) sends ----------------------------------------

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def test_client_side_apply_sequence() -> None:
    """The three-way patches kubectl computes from last-applied, the new file and live."""
    v1 = deployment(
        {
            "name": "web",
            "image": "nginx:1",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        },
        SIDE,
    )
    v1["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    live = copy.deepcopy(v1)
    live["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(v1)}
    # the server and a controller added fields nobody applied
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    live["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"

    # 1. new image, env B removed, a label removed, a container added at the front
    patch1 = {
        "metadata": {"annotations": {LAST_APPLIED: "{...v2...}"}, "labels": {"app": None}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [
                        {"name": "init"},
                        {"name": "web"},
                        {"name": "side"},
                    ],
                    "containers": [
                        {"name": "init", "image": "alpine"},
                        {
                            "$setElementOrder/env": [{"name": "A"}],
                            "env": [{"$patch": "delete", "name": "B"}],
                            "image": "nginx:2",
                            "name": "web",
                        },
                    ],
                }
            }
        },
    }
    live = strategic_merge_patch(live, patch1)
    assert "labels" not in live["metadata"] or "app" not in live["metadata"]["labels"]
    assert live["metadata"]["annotations"][LAST_APPLIED] == "{...v2...}"
    names = [c["name"] for c in containers_of(live)]
    assert names == ["init", "web", "side"]
    web = containers_of(live)[1]
    assert web == {
        "name": "web",
        "image": "nginx:2",
        "env": [{"name": "A", "value": "1"}],
        "imagePullPolicy": "IfNotPresent",  # not in any file: kept
    }
    assert live["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"

    # 2. strategy switched to Recreate: kubectl sends $retainKeys
    patch2 = {
        "spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}
    }
    live = strategic_merge_patch(live, patch2)
    assert live["spec"]["strategy"] == {"type": "Recreate"}

    # 3. the sidecar removed from the file, replicas changed
    patch3 = {
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "init"}, {"name": "web"}],
                    "containers": [{"$patch": "delete", "name": "side"}],
                }
            },
        }
    }
    live = strategic_merge_patch(live, patch3)
    assert [c["name"] for c in containers_of(live)] == ["init", "web"]
    assert live["spec"]["replicas"] == 3

    # 4. a finalizer dropped from the file
    live["metadata"]["finalizers"] = ["example.com/a", "example.com/b"]
    patch4 = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}}
    live = strategic_merge_patch(live, patch4)
    assert live["metadata"]["finalizers"] == ["example.com/b"]
    assert "$" not in json.dumps(live)
