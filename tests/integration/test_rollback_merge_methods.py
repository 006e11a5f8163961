"""A rollback ends the same whichever way a team merges its revert pull request: "Create a
merge commit", "Squash and merge" or "Rebase and merge". Each merges through the GitHub
sandbox (real PyGithub, real Git, signed push webhooks to a real Controller on the Kubernetes
emulator) after a reviewer added a commit to the revert branch and main moved on, so squash
and rebase really write new commits on a newer base. In every case kajitori resumes auto-sync,
the app is Synced at the new head of main with the rolled-back image still running, and
RollbackCompleted names that head: the merge commit, the squash commit, or the last commit
the rebase replayed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from reconciler.rollback_record import RollbackCompleted
from sandbox.github import GitHubSandbox
from tests.integration.rollback_helpers import (
    HOOK_SECRET,
    OWNER,
    THREAD,
    TOKEN,
    PushReceiver,
    World,
    github_client,
    live_image,
    make_world,
)

MERGER, MERGER_TOKEN = "lead-bo", "ghp-merger-token"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GitHubSandbox]:
    """kajitori's token is ``kajitori-bot``'s; a person, ``lead-bo``, merges."""
    with GitHubSandbox(tmp_path / "github", token=TOKEN, login="kajitori-bot") as gh:
        gh.add_user(MERGER, MERGER_TOKEN)
        yield gh


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_merging_the_revert_by_any_method_completes_the_rollback(
    tmp_path: Path, kubeconfig: Path, sandbox: GitHubSandbox, method: str
) -> None:
    worlds: list[World] = []
    receiver = PushReceiver(worlds)
    sandbox.configure_webhook(receiver.url, HOOK_SECRET)
    world = make_world(tmp_path, kubeconfig, sandbox, github=True)
    worlds.append(world)
    gh = github_client(sandbox, MERGER_TOKEN)
    try:
        world.deploy_new_version()
        world.controller.rollback(
            "web", actor="U0ALICE", history_id=world.first_deployment(), thread_url=THREAD
        )
        world.harness.wait_phase("web", "Succeeded", revision=world.target, timeout=20)
        record = world.controller.rollback_status("web")
        assert record is not None and record.state == "pending" and record.manifest_pr
        note = sandbox.commit_files(
            OWNER,
            "manifests",
            record.branch,
            {"docs/rollbacks.md": "web: v2 crashed on start, back to v1\n"},
            "Note why web was rolled back",
            author="rev-carol",
        )
        moved = sandbox.commit_files(
            OWNER, "manifests", "main", {"other/config.yaml": "a: 1\n"}, "Unrelated change"
        )
        pull = gh.get_repo(f"{OWNER}/manifests").get_pull(record.manifest_pr.number)
        revert_sha = pull.get_commits()[0].sha

        result = pull.merge(merge_method=method)

        bare = git.Repo(world.manifest_bare)
        head = bare.heads.main.commit
        assert result.merged and result.sha == head.hexsha
        done = world.harness.recorder.wait_for(RollbackCompleted, timeout=20)
        assert done.revision == head.hexsha and done.target == world.target
        assert done.pull_request_url == record.manifest_pr.url and done.thread_url == THREAD
        assert world.controller.auto_sync_enabled("web")
        world.harness.wait_synced("web", head.hexsha)
        assert live_image(world.harness) == f"ghcr.io/acme/web:{world.app_v1}"
        final = world.controller.rollback_status("web")
        assert final is not None and final.state == "completed"
        assert final.merge_sha == final.synced_revision == head.hexsha

        # The history each method leaves, so the revision named above is the right one.
        parents = [p.hexsha for p in head.parents]
        if method == "merge":
            assert parents == [moved, note]
        elif method == "squash":
            assert parents == [moved]
            assert head.author.name == "kajitori-bot"  # who opened the revert pull request
        else:
            replayed_revert = head.parents[0]
            assert str(head.message).startswith("Note why web was rolled back")
            assert head.author.name == "rev-carol" and head.committer.name == MERGER
            assert [p.hexsha for p in replayed_revert.parents] == [moved]
            assert replayed_revert.hexsha != revert_sha
            assert replayed_revert.author.name == "kajitori"
    finally:
        gh.close()
        world.close()
        receiver.close()
