"""Rollback that returns Git to the truth: a real Controller on the Kubernetes emulator, real
Git repositories served by the GitHub sandbox, the real PyGithub client, and the sandbox's
signed push webhooks fed to ``Controller.on_push``."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from github import Auth, Github

from reconciler.config import Config, parse_config
from reconciler.controller import Controller
from reconciler.controller_api import OperationRefused
from reconciler.events import EventBus
from reconciler.github import GitHubClient
from reconciler.livecache import LiveCache
from reconciler.metrics import Metrics
from reconciler.model import ResourceKey
from reconciler.rollback_record import RollbackCompleted
from reconciler.state import SQLiteStore
from reconciler.webhooks import parse_push, verify_signature
from sandbox.github import GitHubSandbox
from tests.integration.controller_helpers import Harness, app_yaml, config_text, deployment

TOKEN = "ghp-ROLLBACK-test-token-13579"
HOOK_SECRET = "hook-secret-rollback"
OWNER = "acme"
THREAD = "https://acme.slack.example/archives/C1/p1700000000000100"
APP_BRANCH = "trunk"


class _Url:
    """What ``app_yaml`` needs of a remote: its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


def manifests(image: str, replicas: int = 1) -> str:
    return yaml.safe_dump(deployment("web", image, replicas))


def rev_parse(bare: Path, rev: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(bare), "rev-parse", rev], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


class GitHubHarness(Harness):
    """The controller harness with a GitHub client (throttle off) handed to the controller."""

    def __init__(
        self, kubeconfig: Path, root: Path, config: Config, github: GitHubClient | None
    ) -> None:
        self.github = github
        super().__init__(kubeconfig, root, config)

    def _build(self) -> Controller:
        self.events = EventBus()
        self.events.subscribe(self.recorder, "recorder")
        self.store = SQLiteStore(self.config.settings.controller.state_path)
        self.live_cache = LiveCache(self.watch_source, backoff_initial=0.05, backoff_max=0.5)
        self.metrics = Metrics()
        return Controller(
            self.config,
            cluster=self.cluster,
            git=self.git,
            store=self.store,
            events=self.events,
            metrics=self.metrics,
            live_cache=self.live_cache,
            poll_interval=0.05,
            github=self.github,
        )


class World:
    """The sandbox with a manifest and an application repository, and the controller."""

    def __init__(self, root: Path, kubeconfig: Path, sandbox: GitHubSandbox, github: bool):
        self.sandbox = sandbox
        # The application repository's default branch is not main: kajitori asks GitHub.
        self.app_bare = sandbox.create_repo(
            OWNER, "web-app", files={"main.py": "v = 1\n"}, default_branch=APP_BRANCH
        )
        self.app_v1 = rev_parse(self.app_bare, APP_BRANCH)
        self.manifest_bare = sandbox.create_repo(
            OWNER,
            "manifests",
            files={"web/deploy.yaml": manifests(f"ghcr.io/acme/web:{self.app_v1}")},
        )
        self.target = rev_parse(self.manifest_bare, "main")
        self.manifest_url = self.manifest_bare.as_uri()
        self.app_url = self.app_bare.as_uri()
        app = app_yaml("web", _Url(self.manifest_url), namespace="web", automated={})  # type: ignore[arg-type]
        text = config_text([app], root / "state.db", interval="30s")
        if github:
            text += yaml.safe_dump(
                {
                    "github": {
                        "token": TOKEN,
                        "baseUrl": sandbox.url,
                        "appRepositories": {"web": f"{OWNER}/web-app"},
                        "repositoryMap": {
                            self.manifest_url: f"{OWNER}/manifests",
                            self.app_url: f"{OWNER}/web-app",
                        },
                    }
                }
            )
        self.config = parse_config(text, root / "kajitori.yaml")
        client = None
        if github:
            client = GitHubClient(
                TOKEN,
                sandbox.url,
                repository_map={
                    self.manifest_url: f"{OWNER}/manifests",
                    self.app_url: f"{OWNER}/web-app",
                },
                retries=0,
                seconds_between_requests=None,
                seconds_between_writes=None,
            )
        self.harness = GitHubHarness(kubeconfig, root, self.config, client)
        self.controller = self.harness.start()
        self.harness.wait_synced("web", self.target, timeout=20)

    def deploy_new_version(self) -> tuple[str, str]:
        """An application commit, and the manifest commit deploying it (auto-synced)."""
        app_v2 = self.sandbox.commit_files(
            OWNER, "web-app", APP_BRANCH, {"main.py": "v = 2\n"}, "v2"
        )
        bump = self.sandbox.commit_files(
            OWNER,
            "manifests",
            "main",
            {"web/deploy.yaml": manifests(f"ghcr.io/acme/web:{app_v2}", replicas=2)},
            "Deploy web v2",
        )
        self.controller.refresh("web")
        self.harness.wait_synced("web", bump, timeout=20)
        self.harness.wait_phase("web", "Succeeded", revision=bump, timeout=20)
        return app_v2, bump

    def first_deployment(self) -> int:
        return next(e.id for e in self.controller.history("web") if e.revision == self.target)

    def close(self) -> None:
        self.harness.close()
        if self.harness.github is not None:
            self.harness.github.close()


def _live_image(harness: Harness) -> str:
    obj = harness.cluster.get(ResourceKey("apps", "Deployment", "web", "web"))
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"]) if obj else ""


class _Receiver:
    """A webhook endpoint: checks the signature, hands each push to the controller."""

    def __init__(self, world_ref: list[World]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify_signature(HOOK_SECRET, body, self.headers.get("X-Hub-Signature-256"))
                if ok and self.headers.get("X-GitHub-Event") == "push" and world_ref:
                    outer.pushes += 1
                    world_ref[0].controller.on_push(parse_push(body))
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.pushes = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/github"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GitHubSandbox]:
    with GitHubSandbox(tmp_path / "github", token=TOKEN) as gh:
        yield gh


def _world(tmp_path: Path, kubeconfig: Path, sandbox: GitHubSandbox, github: bool) -> World:
    return World(tmp_path / "world", kubeconfig, sandbox, github)


def _gh(sandbox: GitHubSandbox) -> Github:
    return Github(
        auth=Auth.Token(TOKEN),
        base_url=sandbox.url,
        seconds_between_requests=None,
        seconds_between_writes=None,
        retry=None,
    )


def test_rollback_opens_both_reverts_and_merging_resumes_auto_sync(
    tmp_path: Path, kubeconfig: Path, sandbox: GitHubSandbox
) -> None:
    worlds: list[World] = []
    receiver = _Receiver(worlds)
    sandbox.configure_webhook(receiver.url, HOOK_SECRET)
    world = _world(tmp_path, kubeconfig, sandbox, github=True)
    worlds.append(world)
    gh = _gh(sandbox)
    try:
        app_v2, bump = world.deploy_new_version()
        assert _live_image(world.harness) == f"ghcr.io/acme/web:{app_v2}"

        ticket = world.controller.rollback(
            "web", actor="U0ALICE", history_id=world.first_deployment(), thread_url=THREAD
        )
        assert ticket.revision == world.target
        world.harness.wait_phase("web", "Succeeded", revision=world.target, timeout=20)
        assert _live_image(world.harness) == f"ghcr.io/acme/web:{world.app_v1}"
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
        assert _live_image(world.harness) == f"ghcr.io/acme/web:{world.app_v1}"
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
    world = _world(tmp_path, kubeconfig, sandbox, github=True)
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
    world = _world(tmp_path, kubeconfig, sandbox, github=True)
    try:
        world.deploy_new_version()
        sandbox.inject_fault("POST", f"/repos/{OWNER}/manifests/pulls", count=5, status=503)
        ticket = world.controller.rollback(
            "web", actor="U0ALICE", history_id=world.first_deployment()
        )
        world.harness.wait_phase("web", "Succeeded", revision=ticket.revision, timeout=20)
        assert _live_image(world.harness) == f"ghcr.io/acme/web:{world.app_v1}"
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
    world = _world(tmp_path, kubeconfig, sandbox, github=False)
    try:
        world.deploy_new_version()
        ticket = world.controller.rollback(
            "web", actor="U0ALICE", history_id=world.first_deployment()
        )
        world.harness.wait_phase("web", "Succeeded", revision=ticket.revision, timeout=20)
        record = world.controller.rollback_status("web")
        assert record is not None and record.state == "not-configured"
        assert "Git is left to you" in record.summary()
        gh = _gh(sandbox)
        assert gh.get_repo(f"{OWNER}/manifests").get_pulls(state="all").totalCount == 0
        gh.close()
    finally:
        world.close()
