"""managedFields for non-apply writes (record_update), real manifests, and apply's speed."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.kube.fieldmanager import ApplyConflict, apply, record_update
from sandbox.kube.patch import PatchError
from tests.unit.fieldmanager_helpers import (
    T0,
    T1,
    T2,
    containers,
    deployment,
    entries,
    fields_of,
    without_managed_fields,
)

# --- record_update ---------------------------------------------------------------------------


def test_create_by_update_owns_every_field_with_added_maps_marked() -> None:
    obj = record_update(None, deployment(), "kubectl-create", T0)
    assert without_managed_fields(obj) == deployment()
    (entry,) = entries(obj)
    assert entry["operation"] == "Update" and entry["manager"] == "kubectl-create"
    assert entry["time"] == T0 and entry["fieldsType"] == "FieldsV1"
    fields = entry["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    assert "." not in fields["f:spec"] and "." not in fields["f:spec"]["f:template"]
    web = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert web["."] == {} and web["f:image"] == {}
    assert web["f:ports"]['k:{"containerPort":80,"protocol":"TCP"}'] == {
        ".": {},
        "f:containerPort": {},
    }


def test_update_transfers_ownership_of_changed_fields() -> None:
    live = apply(None, deployment(replicas=3), "alice", False, T0)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 7
    result = record_update(live, scaled, "hpa-controller", T1)
    assert fields_of(result, "hpa-controller", "Update") == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in fields_of(result, "alice")["f:spec"]
    assert [e["operation"] for e in entries(result)] == ["Apply", "Update"]  # server order
    with pytest.raises(ApplyConflict) as caught:
        apply(result, deployment(replicas=3), "alice", False, T2)
    assert caught.value.conflicts == [("hpa-controller", ".spec.replicas")]
    # without replicas in its config, alice no longer fights the autoscaler
    calm = apply(result, deployment(replicas=None), "alice", False, T2)
    assert calm["spec"]["replicas"] == 7


def test_update_that_changes_nothing_keeps_entries_and_times() -> None:
    live = record_update(None, deployment(), "kubectl-create", T0)
    same = record_update(live, copy.deepcopy(live), "kubectl-create", T1)
    assert same == live
    other = record_update(live, copy.deepcopy(live), "somebody", T1)
    assert other == live


def test_removed_fields_are_owned_by_nobody_and_empty_entries_dropped() -> None:
    live = apply(None, deployment(replicas=3), "alice", False, T0)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 4
    live = record_update(live, scaled, "scaler", T1)
    unset = copy.deepcopy(live)
    del unset["spec"]["replicas"]
    containers(unset)[0]["image"] = "nginx:9"
    result = record_update(live, unset, "editor", T2)
    managers = {e["manager"] for e in entries(result)}
    assert managers == {"alice", "editor"}  # scaler owned only replicas: entry dropped
    assert fields_of(result, "editor", "Update") == {
        "f:spec": {
            "f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}}
        }
    }


def test_status_writes_are_recorded_with_the_subresource() -> None:
    live = record_update(None, deployment(), "kubectl-create", T0)
    with_status = copy.deepcopy(live)
    with_status["status"] = {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    result = record_update(live, with_status, "kube-controller-manager", T1, "status")
    (status_entry,) = [e for e in entries(result) if e.get("subresource") == "status"]
    assert status_entry["fieldsV1"] == {
        "f:status": {
            "f:replicas": {},
            "f:conditions": {
                ".": {},
                'k:{"type":"Available"}': {".": {}, "f:type": {}, "f:status": {}},
            },
        }
    }
    # a second status write changing one condition field owns just that
    later = copy.deepcopy(result)
    later["status"]["conditions"][0]["status"] = "False"
    again = record_update(result, later, "kube-controller-manager", T2, "status")
    (entry,) = [e for e in entries(again) if e.get("subresource") == "status"]
    assert entry["time"] == T2 and "f:replicas" in entry["fieldsV1"]["f:status"]


def test_managed_fields_sent_by_the_writer() -> None:
    live = record_update(None, deployment(), "kubectl-create", T0)
    cleared = copy.deepcopy(live)
    cleared["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in record_update(live, cleared, "x", T1)["metadata"]
    replaced = copy.deepcopy(live)
    replaced["metadata"]["managedFields"] = [
        {
            "manager": "restored",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        }
    ]
    result = record_update(live, replaced, "x", T1)
    assert [e["manager"] for e in entries(result)] == ["restored"]
    bad = copy.deepcopy(live)
    bad["metadata"]["managedFields"] = [{"manager": "m", "operation": "Delete"}]
    with pytest.raises(PatchError, match=r"managedFields\[0\]\.operation"):
        record_update(live, bad, "x", T1)


def test_entries_are_sorted_like_the_server_does() -> None:
    live = record_update(None, deployment(), "zed", T2)
    live = apply(live, deployment(replicas=2), "bob", False, T1)
    edited = copy.deepcopy(live)
    edited["metadata"]["labels"]["x"] = "1"
    live = record_update(live, edited, "amy", T0)
    assert [(e["operation"], e["manager"]) for e in entries(live)] == [
        ("Apply", "bob"),
        ("Update", "amy"),
        ("Update", "zed"),
    ]


# --- real manifests and speed ------------------------------------------------------------------


@pytest.mark.corpus
def test_sock_shop_manifests_apply_and_reapply_unchanged(corpus: Path) -> None:
    documents: list[dict[str, Any]] = []
    for path in sorted((corpus / "argocd-example-apps" / "sock-shop" / "base").glob("*.yaml")):
        documents.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    assert len(documents) == 29
    for doc in documents:
        doc.setdefault("metadata", {})["namespace"] = "sock-shop"
        live = apply(None, doc, "kubectl", False, T0)
        assert without_managed_fields(live) == doc
        assert apply(live, doc, "kubectl", False, T1) == live
        assert apply(live, doc, "argocd-controller", False, T1) != live  # a second owner


def test_apply_is_fast() -> None:
    """The emulator needs 500+ applies per second; one apply should take well under 1 ms."""
    sidecars = [
        {
            "name": f"c{i}",
            "image": f"img:{i}",
            "args": ["run"],
            "env": [{"name": "A", "value": "1"}],
            "ports": [{"containerPort": 8000 + i}],
        }
        for i in range(3)
    ]
    config = deployment(3, *sidecars)
    live = apply(None, config, "kubectl", False, T0)
    live = record_update(live, {**live, "status": {"replicas": 3}}, "kcm", T0, "status")
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        apply(live, config, "kubectl", False, T1)
    per_apply = (time.perf_counter() - started) / rounds
    assert per_apply < 0.005  # generous for slow CI machines; measured ~0.15 ms
