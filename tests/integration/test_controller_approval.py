"""A gated hook (``kajitori.dev/approval: required``) through the controller: the operation
waits with a Pending approval in its status, ApprovalRequested is published with the hook and
the commit, and a person's decision lets it go on (once: a second decision changes nothing)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import parse_config
from reconciler.controller_api import OperationRefused
from reconciler.events import ApprovalRequested
from reconciler.model import ResourceKey
from tests.integration.controller_helpers import (
    Harness,
    Remote,
    app_yaml,
    config_of,
    config_text,
    configmap,
    created,
    hook_job,
)


def gated(name: str) -> dict[str, Any]:
    job = hook_job(name, "PreSync", "true")
    job["metadata"]["annotations"]["kajitori.dev/approval"] = "required"
    return job


def test_a_gated_hook_waits_for_a_decision_made_through_the_controller(
    kube: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    remote = Remote(tmp_path / "repo")
    revision = remote.commit({"db/app.yaml": [gated("migrate"), configmap("settings")]}, "migrate")
    app = app_yaml("db", remote, namespace="db", automated={})
    harness = Harness(kubeconfig, tmp_path, config_of([app], tmp_path / "state.db"))
    try:
        controller = harness.start()
        requested = harness.recorder.wait_for(ApprovalRequested)
        assert requested.resource == ResourceKey("batch", "Job", "db", "migrate")
        assert requested.revision == revision and requested.initiated_by == "automated"
        assert requested.commit is not None and requested.commit.title == "migrate"
        approval = harness.status("db")["status"]["operationState"]["approval"]
        assert approval["state"] == "Pending" and approval["id"] == requested.approval_id
        assert created(kube, "Job") == []

        decision = controller.decide_approval("db", requested.approval_id, True, actor="U0ALICE")
        assert decision.state == "Approved" and decision.decided_by == "U0ALICE"
        again = controller.decide_approval("db", requested.approval_id, False, actor="U0BOB")
        assert again.state == "Approved" and again.decided_by == "U0ALICE"
        harness.wait_phase("db", "Succeeded", revision=revision)
        assert len(created(kube, "Job", "migrate")) == 1
        assert len(harness.recorder.of(ApprovalRequested)) == 1
        with pytest.raises(OperationRefused, match="nothing to approve"):
            controller.decide_approval("db", requested.approval_id, True, actor="U0ALICE")
        actions = [(a.actor, a.action) for a in controller.runtime.audit("db")]
        assert actions == [("U0ALICE", "approve"), ("U0BOB", "reject")]
    finally:
        harness.close()


def test_the_approval_timeout_comes_from_the_controller_settings(
    kube: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    remote = Remote(tmp_path / "repo")
    remote.commit({"db/app.yaml": [gated("migrate"), configmap("settings")]}, "migrate")
    app = app_yaml("db", remote, namespace="db", automated={})
    text = config_text([app], tmp_path / "state.db").replace(
        "controller:\n", "controller:\n  approvalTimeout: 90s\n"
    )
    harness = Harness(kubeconfig, tmp_path, parse_config(text, "test.yaml"))
    try:
        harness.start()
        harness.recorder.wait_for(ApprovalRequested)
        approval = harness.status("db")["status"]["operationState"]["approval"]
        requested = datetime.fromisoformat(approval["requestedAt"].replace("Z", "+00:00"))
        expires = datetime.fromisoformat(approval["expiresAt"].replace("Z", "+00:00"))
        assert (expires - requested).total_seconds() == 90
    finally:
        harness.close()
