"""The demo's manifest repository: a small web app written the way an Argo CD user would.

``acme/demo-manifests`` on the GitHub stand-in holds one app under ``demo/``:

- wave -2: the ``demo`` Namespace;
- wave -1: the ``web-config`` ConfigMap;
- PreSync: the ``db-migrate`` Job, a database migration that waits for a person's approval
  (``kajitori.dev/approval: required``) and runs only when it changed
  (``kajitori.dev/hook-run: on-change``), recreated at each run (``BeforeHookCreation``);
- wave 0: the ``web`` Deployment (two replicas of ``ghcr.io/acme/web:<version>``) and its
  Service;
- wave 1: the ``web`` Ingress, published once the Deployment is healthy.

:func:`demo_files` renders the files for a release of the web image; a "new commit" in the
demo is the next release (:func:`next_version`): only the Deployment's image changes, so the
migration is skipped as unchanged and the deploy needs no approval. Pure: strings only.
"""

from __future__ import annotations

import re
from typing import Any, Final

import yaml

OWNER: Final = "acme"
REPO: Final = "demo-manifests"
APP_PATH: Final = "demo"
NAMESPACE: Final = "demo"
DEPLOYMENT: Final = "web"
IMAGE: Final = "ghcr.io/acme/web"
FIRST_VERSION: Final = "1.0.0"
MIGRATION_IMAGE: Final = "ghcr.io/acme/web-migrations:2024.06.1"
REPLICAS: Final = 2

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_WAVE: Final = "argocd.argoproj.io/sync-wave"
_LABELS: Final = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "demo"}


def next_version(version: str) -> str:
    """The next patch release: ``1.0.0`` → ``1.0.1``. ValueError for anything but X.Y.Z."""
    match = _VERSION.match(version)
    if match is None:
        raise ValueError(f"version {version!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in match.groups())
    return f"{major}.{minor}.{patch + 1}"


def _meta(name: str, wave: int | None = None, **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(_LABELS)}
    if name != NAMESPACE:
        meta["namespace"] = NAMESPACE
    notes = dict(annotations)
    if wave is not None:
        notes[_WAVE] = str(wave)
    if notes:
        meta["annotations"] = notes
    return meta


def namespace() -> dict[str, Any]:
    meta = _meta(NAMESPACE, -2)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta("web-config", -1),
        "data": {"GREETING": "Hello from kajitori's demo", "LOG_LEVEL": "info"},
    }


def migration_job() -> dict[str, Any]:
    meta = _meta(
        "db-migrate",
        None,
        **{
            "argocd.argoproj.io/hook": "PreSync",
            "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
            "kajitori.dev/approval": "required",
            "kajitori.dev/hook-run": "on-change",
        },
    )
    container = {
        "name": "migrate",
        "image": MIGRATION_IMAGE,
        "command": ["sh", "-c", "echo applying migrations && sleep 2 && echo done"],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
        },
    }


def deployment(version: str) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": "web"}
    container = {
        "name": "web",
        "image": f"{IMAGE}:{version}",
        "ports": [{"name": "http", "containerPort": 8080}],
        "envFrom": [{"configMapRef": {"name": "web-config"}}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(DEPLOYMENT, 0),
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": dict(_LABELS)},
                "spec": {"containers": [container]},
            },
        },
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta("web", 0),
        "spec": {
            "selector": {"app.kubernetes.io/name": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def ingress() -> dict[str, Any]:
    backend = {"service": {"name": "web", "port": {"name": "http"}}}
    rule = {
        "host": "demo.kajitori.local",
        "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta("web", 1),
        "spec": {"rules": [rule]},
    }


def _yaml(*objects: dict[str, Any]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


def demo_files(version: str = FIRST_VERSION) -> dict[str, str]:
    """The repository's files for the ``web`` image ``version`` (path → YAML text)."""
    next_version(version)  # validates the version
    return {
        "README.md": (
            "# demo-manifests\n\nManifests of kajitori's demo app, synced from `demo/`.\n"
        ),
        f"{APP_PATH}/namespace.yaml": _yaml(namespace()),
        f"{APP_PATH}/config.yaml": _yaml(config_map()),
        f"{APP_PATH}/migrate-job.yaml": _yaml(migration_job()),
        f"{APP_PATH}/web.yaml": _yaml(deployment(version), service()),
        f"{APP_PATH}/ingress.yaml": _yaml(ingress()),
    }


def release_files(version: str) -> dict[str, str]:
    """Only the files a release of ``version`` changes (the Deployment's image)."""
    return {f"{APP_PATH}/web.yaml": _yaml(deployment(version), service())}
