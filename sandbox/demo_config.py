"""The configuration file ``kajitori demo`` writes and runs kajitori with.

It is an ordinary kajitori configuration, the same a platform team would write, pointed at the
three stand-ins: the Application ``demo`` (automated sync with prune, self-heal off so a
manual edit shows up as drift), its AppProject, and the Settings with Slack in HTTP mode
(``apiUrl`` is the Slack stand-in), GitHub (``baseUrl`` is the GitHub stand-in and
``repositoryMap`` names the ``file://`` clone URL), notifications to ``#deploys`` and RBAC
making alice an admin. Secrets are ``{env: NAME}`` references, as in production; the demo
hands their values to kajitori in the environment mapping (:func:`demo_env`).

Pure: builds text from the values given.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

import yaml

from sandbox import demo_repo

APP: Final = "demo"
PROJECT: Final = "demo"
CHANNEL: Final = "deploys"
ADMIN: Final = "U0ALICE"  # the sandbox's alice, whom the console acts as by default
DEPLOYERS: Final = "S0DEVS"  # the sandbox's @developers group
IN_CLUSTER: Final = "https://kubernetes.default.svc"

SLACK_TOKEN_ENV: Final = "KAJITORI_DEMO_SLACK_BOT_TOKEN"
SLACK_SECRET_ENV: Final = "KAJITORI_DEMO_SLACK_SIGNING_SECRET"
GITHUB_TOKEN_ENV: Final = "KAJITORI_DEMO_GITHUB_TOKEN"
WEBHOOK_SECRET_ENV: Final = "KAJITORI_DEMO_WEBHOOK_SECRET"

NOTIFY_TRIGGERS: Final = (
    "on-sync-running",
    "on-approval-required",
    "on-deployed",
    "on-sync-failed",
    "on-health-degraded",
    "on-out-of-sync",
)


@dataclass(frozen=True, repr=False)
class DemoSecrets:
    """The stand-ins' credentials, fresh for each demo."""

    slack_bot_token: str
    slack_signing_secret: str
    github_token: str
    webhook_secret: str

    @classmethod
    def generate(cls) -> DemoSecrets:
        return cls(
            slack_bot_token="xoxb-demo-" + secrets.token_hex(8),
            slack_signing_secret=secrets.token_hex(16),
            github_token="ghp_demo" + secrets.token_hex(12),
            webhook_secret=secrets.token_hex(16),
        )

    def __repr__(self) -> str:
        return "DemoSecrets(<redacted>)"


@dataclass(frozen=True)
class DemoTargets:
    """Where the stand-ins listen and what the demo tunes."""

    slack_api_url: str  # ends in /api/
    github_api_url: str  # ends in /api/v3
    repo_url: str  # the file:// clone URL of acme/demo-manifests
    wave_delay: float = 1.0  # seconds between sync waves
    drift_debounce: float = 5.0  # seconds an edit must last before "drift detected"
    poll_interval: float = 60.0  # Git polling; pushes arrive as webhooks at once


def demo_env(keys: DemoSecrets) -> dict[str, str]:
    """The environment variables the configuration's ``{env: NAME}`` references read."""
    return {
        SLACK_TOKEN_ENV: keys.slack_bot_token,
        SLACK_SECRET_ENV: keys.slack_signing_secret,
        GITHUB_TOKEN_ENV: keys.github_token,
        WEBHOOK_SECRET_ENV: keys.webhook_secret,
    }


def _seconds(value: float) -> str:
    return f"{value:g}s"


def settings_doc(targets: DemoTargets) -> dict[str, Any]:
    return {
        "apiVersion": "kajitori.dev/v1alpha1",
        "kind": "Settings",
        "controller": {
            "reconciliationInterval": _seconds(targets.poll_interval),
            "waveDelay": _seconds(targets.wave_delay),
            "statePath": "state/state.db",
            "cacheDir": "state/cache",
        },
        "server": {"host": "127.0.0.1", "port": 0},
        "logging": {"level": "info", "format": "text"},
        "slack": {
            "mode": "http",
            "botToken": {"env": SLACK_TOKEN_ENV},
            "signingSecret": {"env": SLACK_SECRET_ENV},
            "apiUrl": targets.slack_api_url,
            "channels": {"default": f"#{CHANNEL}"},
        },
        "github": {
            "token": {"env": GITHUB_TOKEN_ENV},
            "baseUrl": targets.github_api_url,
            "webhookSecret": {"env": WEBHOOK_SECRET_ENV},
            "repositoryMap": {targets.repo_url: f"{demo_repo.OWNER}/{demo_repo.REPO}"},
        },
        "notifications": {
            "context": {"outOfSyncDebounceSeconds": targets.drift_debounce},
            "subscriptions": [
                {"recipients": [f"slack:{CHANNEL}"], "triggers": list(NOTIFY_TRIGGERS)}
            ],
        },
        "rbac": {
            "projects": {
                "*": {"viewers": ["*"]},
                PROJECT: {"admins": [ADMIN], "deployers": [DEPLOYERS]},
            }
        },
    }


def project_doc(targets: DemoTargets) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": PROJECT},
        "spec": {
            "description": "kajitori's demo app",
            "sourceRepos": [targets.repo_url],
            "destinations": [{"server": IN_CLUSTER, "namespace": demo_repo.NAMESPACE}],
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
        },
    }


def application_doc(targets: DemoTargets) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": APP},
        "spec": {
            "project": PROJECT,
            "source": {
                "repoURL": targets.repo_url,
                "path": demo_repo.APP_PATH,
                "targetRevision": "main",
            },
            "destination": {"server": IN_CLUSTER, "namespace": demo_repo.NAMESPACE},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": False}},
        },
    }


def demo_config(targets: DemoTargets) -> str:
    """The configuration file's text: Settings, AppProject and Application documents."""
    header = (
        "# Written by `kajitori demo`: an ordinary kajitori configuration pointed at local\n"
        "# stand-ins for Kubernetes, GitHub and Slack. Secrets come from the environment.\n"
    )
    docs = [settings_doc(targets), project_doc(targets), application_doc(targets)]
    return header + yaml.safe_dump_all(docs, sort_keys=False)
