"""Rollback that returns Git to the truth: a real Controller on the Kubernetes emulator, real
Git repositories served by the GitHub sandbox, the real PyGithub client, and the sandbox's
signed push webhooks fed to ``Controller.on_push`` (``tests.integration.rollback_helpers``).
The other merge methods are in ``test_rollback_merge_methods``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.controller_api import OperationRefused
from reconciler.rollback_record import RollbackCompleted, RollbackRecord
from sandbox.github import GitHubSandbox
from tests.integration.rollback_helpers import (
    APP_BRANCH,
    HOOK_SECRET,
    OWNER,
    THREAD,
    TOKEN,
    PushReceiver,
    World,
    github_client,
    live_image,
    make_world,
    rev_parse,
)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GitHubSandbox]:
    with GitHubSandbox(tmp_path / "github", token=TOKEN) as gh:
        yield gh


def test_rollback_opens_both_reverts_and_merging_resumes_auto_sync(
    tmp_path: Path, kubeconfig: Path, sandbox: GitHubSandbox
) -> None:
    worlds: list[World] = []
    receiver = PushReceiver(worlds)
    sandbox.configure_webhook(receiver.url, HOOK_SECRET)
    world = make_world(tmp_path, kubeconfig, sandbox, github=True)
    worlds.append(world)
    gh = github_client(sandbox)
    try:
        app_v2, bump = world.deploy_new_version()
        assert live_image(world.harness) == f"ghcr.io/acme/web:{app_v2}"

        ticket = world.controller.rollback(
            "web", actor="U0ALICE", history_id=world.first_deployment(), thread_url=THREAD
        )
        assert ticket.revision == world.target
        world.harness.wait_phase("web", "Succeeded", revision=world.target, timeout=20)
        assert live_image(world.harness) == f"ghcr.io/acme/web:{world.app_v1}"
        assert not world.controller.auto_sync_enabled("web")

        record = world.controller.rollback_status("web")
        assert record is not None and record.state == "pending", record
        assert record.manifest_pr is not None and record.app_pr is not None
        assert record.warnings == ()
        assert record.reverted == (bump,)
        manifest_pr = gh.get_repo(f"{OWNER}/manifests").get_pull(record.manifest_pr.number)
        body = manifest_pr.body or ""
        assert bump[:7] in body and "U0ALICE" in body and THREAD in body
        comments = [c.body for c in manifest_pr.get_issue_comments()]
        assert any(record.app_pr.url in text for text in comments), comments
        app_pr = gh.get_repo(f"{OWNER}/web-app").get_pull(record.app_pr.number)
        assert app_pr.title == f"Revert web application to {world.app_v1[:7]}"
        assert app_pr.base.ref == APP_BRANCH and manifest_pr.base.ref == "main"
        assert app_v2[:7] in (app_pr.body or "")
        assert record.manifest_pr.url in (app_pr.body or "")
        summary = record.summary()
        assert record.manifest_pr.url in summary and record.app_pr.url in summary

        # Git still says v2 and auto-sync is paused: the cluster stays rolled back.
        world.harness.wait(
            lambda: world.controller.app_status("web")["status"]["sync"]["status"] == "OutOfSync",
            what="OutOfSync against the unreverted branch",
        )

        merged = manifest_pr.merge(merge_method="merge")
        assert merged.merged
        merge_sha = rev_parse(world.manifest_bare, "main")
        done = world.harness.recorder.wait_for(RollbackCompleted, timeout=20)
        assert done.revision == merge_sha and done.target == world.target
        assert done.thread_url == THREAD and done.pull_request_url == record.manifest_pr.url
        assert receiver.pushes >= 1
        assert world.controller.auto_sync_enabled("web")
        world.harness.wait_synced("web", merge_sha)
        assert live_image(world.harness) == f"ghcr.io/acme/web:{world.app_v1}"
        final = world.controller.rollback_status("web")
        assert final is not None and final.state == "completed"
        assert final.synced_revision == merge_sha
    finally:
        gh.close()
        world.close()
        receiver.close()


def test_a_second_rollback_while_one_is_pending_is_refused(
    tmp_path: Path, kubeconfig: Path, sandbox: GitHubSandbox
) -> None:
    world = make_world(tmp_path, kubeconfig, sandbox, github=True)
    try:
        world.deploy_new_version()
        first = world.first_deployment()
        world.controller.rollback("web", actor="U0ALICE", history_id=first)
        world.harness.wait_phase("web", "Succeeded", revision=world.target, timeout=20)
        record = world.controller.rollback_status("web")
        assert record is not None and record.manifest_pr is not None
        with pytest.raises(OperationRefused) as refused:
            world.controller.rollback("web", actor="U0BOB", history_id=first)
        assert "pending" in str(refused.value)
        assert record.manifest_pr.url in str(refused.value)
    finally:
        world.close()


def test_github_failing_still_rolls_the_cluster_back_with_a_warning(
    tmp_path: Path, kubeconfig: Path, sandbox: GitHubSandbox
) -> None:
    world = make_world(tmp_path, kubeconfig, sandbox, github=True)
    try:
        world.deploy_new_version()
        sandbox.inject_fault("POST", f"/repos/{OWNER}/manifests/pulls", count=5, status=503)
        ticket = world.controller.rollback(
            "web", actor="U0ALICE", history_id=world.first_deployment()
        )
        world.harness.wait_phase("web", "Succeeded", revision=ticket.revision, timeout=20)
        assert live_image(world.harness) == f"ghcr.io/acme/web:{world.app_v1}"
        record = world.controller.rollback_status("web")
        assert record is not None and record.state == "failed"
        warning = " ".join(record.warnings)
        assert "503" in warning and "by hand" in warning and record.branch == ""
        assert TOKEN not in warning
        assert "No revert pull request was opened" in record.summary()
        assert not world.controller.auto_sync_enabled("web")
        # Not pending, so a new rollback is allowed once GitHub is back.
        sandbox.clear_faults()
        world.controller.rollback("web", actor="U0ALICE", history_id=world.first_deployment())
        retried = world.controller.rollback_status("web")
        assert retried is not None and retried.state == "pending"
    finally:
        world.close()


def test_without_github_git_is_left_to_the_user(
    tmp_path: Path, kubeconfig: Path, sandbox: GitHubSandbox
) -> None:
    world = make_world(tmp_path, kubeconfig, sandbox, github=False)
    try:
        world.deploy_new_version()
        ticket = world.controller.rollback(
            "web", actor="U0ALICE", history_id=world.first_deployment()
        )
        world.harness.wait_phase("web", "Succeeded", revision=ticket.revision, timeout=20)
        record = world.controller.rollback_status("web")
        assert record is not None and record.state == "not-configured"
        assert "Git is left to you" in record.summary()
        gh = github_client(sandbox)
        assert gh.get_repo(f"{OWNER}/manifests").get_pulls(state="all").totalCount == 0
        gh.close()
    finally:
        world.close()


def _pending_rollback(world: World) -> RollbackRecord:
    """v2 deployed, rolled back to the target, the revert open and the app OutOfSync."""
    world.deploy_new_version()
    world.controller.rollback("web", actor="U0ALICE", history_id=world.first_deployment())
    world.harness.wait_phase("web", "Succeeded", revision=world.target, timeout=20)
    world.harness.wait(
        lambda: world.controller.app_status("web")["status"]["sync"]["status"] == "OutOfSync",
        what="OutOfSync against the unreverted branch",
    )
    record = world.controller.rollback_status("web")
    assert record is not None and record.state == "pending" and record.manifest_pr is not None
    return record


def test_a_merge_seen_by_a_refresh_that_does_not_fetch_never_redeploys_what_was_undone(
    tmp_path: Path, kubeconfig: Path, sandbox: GitHubSandbox
) -> None:
    # No webhook: kajitori learns of the merge when it reads the pull request, here during a
    # refresh that does not fetch (as one a live change asks for). Auto-sync resumes there
    # and then, so the Git cache must already hold the merge, else v2 comes back.
    world = make_world(tmp_path, kubeconfig, sandbox, github=True)
    gh = github_client(sandbox)
    try:
        record = _pending_rollback(world)
        assert record.manifest_pr is not None
        pull = gh.get_repo(f"{OWNER}/manifests").get_pull(record.manifest_pr.number)
        merge_sha = pull.merge(merge_method="rebase").sha
        deployments = len(world.controller.history("web"))

        status = world.controller.refresh_now("web", fetch=False)

        sync = status["status"]["sync"]
        assert (sync["status"], sync["revision"]) == ("Synced", merge_sha)
        assert world.controller.auto_sync_enabled("web")
        done = world.harness.recorder.wait_for(RollbackCompleted, timeout=20)
        assert done.revision == merge_sha
        assert len(world.controller.history("web")) == deployments  # nothing synced again
        assert live_image(world.harness) == f"ghcr.io/acme/web:{world.app_v1}"
    finally:
        gh.close()
        world.close()


def test_a_push_after_the_merge_still_completes_the_rollback(
    tmp_path: Path, kubeconfig: Path, sandbox: GitHubSandbox
) -> None:
    world = make_world(tmp_path, kubeconfig, sandbox, github=True)
    gh = github_client(sandbox, lazy=True)
    try:
        # kajitori cannot read the revert pull request until main has moved past the merge.
        sandbox.inject_fault("GET", f"/repos/{OWNER}/manifests/pulls/", 10_000, 503)
        record = _pending_rollback(world)
        assert record.manifest_pr is not None
        # A lazy pull request is not read: the merge is one PUT, which the fault lets through.
        pull = gh.get_repo(f"{OWNER}/manifests").get_pull(record.manifest_pr.number)
        merge_sha = pull.merge(merge_method="squash").sha
        later = sandbox.commit_files(
            OWNER, "manifests", "main", {"other/config.yaml": "a: 1\n"}, "Unrelated change"
        )
        world.controller.refresh_now("web")
        assert world.controller.rollback_status("web") == record  # still waiting for GitHub
        sandbox.clear_faults()

        world.controller.refresh("web")

        done = world.harness.recorder.wait_for(RollbackCompleted, timeout=20)
        assert done.revision == later
        final = world.controller.rollback_status("web")
        assert final is not None and final.state == "completed" and not final.active
        assert (final.merge_sha, final.synced_revision) == (merge_sha, later)
        assert live_image(world.harness) == f"ghcr.io/acme/web:{world.app_v1}"
    finally:
        gh.close()
        world.close()
