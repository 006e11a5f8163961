"""The world of the rollback tests: the GitHub sandbox holding a manifest repository and an
application repository, a real Controller on the Kubernetes emulator with a GitHub client (no
throttle), and an endpoint that checks the sandbox's signed push webhooks and hands each to
``Controller.on_push``."""

from __future__ import annotations

import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from github import Auth, Github

from reconciler.config import parse_config
from reconciler.github import GitHubClient
from reconciler.model import ResourceKey
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
        self.harness = Harness(kubeconfig, root, self.config, client)
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


def live_image(harness: Harness) -> str:
    obj = harness.cluster.get(ResourceKey("apps", "Deployment", "web", "web"))
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"]) if obj else ""


class PushReceiver:
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


def make_world(tmp_path: Path, kubeconfig: Path, sandbox: GitHubSandbox, github: bool) -> World:
    """The world under ``tmp_path/world``, the controller started and synced at the target."""
    return World(tmp_path / "world", kubeconfig, sandbox, github)


def github_client(sandbox: GitHubSandbox, token: str = TOKEN, *, lazy: bool = False) -> Github:
    """A PyGithub client acting as the person who reviews and merges the reverts (by
    default with kajitori's own token); ``lazy`` objects are not read until used."""
    return Github(
        auth=Auth.Token(token),
        lazy=lazy,
        base_url=sandbox.url,
        seconds_between_requests=None,
        seconds_between_writes=None,
        retry=None,
    )
