"""Rendering the chart in helm/kajitori for the chart tests: Helm's own engine through
helm-python-sdk, the value sets the tests try, and lookups in what it renders."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import helm_python
import yaml

from tests.conftest import PROJECT_ROOT

Obj = dict[str, Any]

CHART: Final = PROJECT_ROOT / "helm" / "kajitori"
RELEASE: Final = "kajitori"
NAMESPACE: Final = "kajitori"
CONFIG_KEY: Final = "config.yaml"

# An app, a project and the settings a real installation would have: Slack over HTTP, a GitHub
# token, the refresh endpoint, Git credentials from the Secret.
APPS: Final[Obj] = {
    "guestbook": {
        "annotations": {"notifications.argoproj.io/subscribe.on-deployed.slack": "deploys"},
        "labels": {"team": "a"},
        "project": "team",
        "source": {
            "repoURL": "https://github.com/acme/manifests.git",
            "path": "guestbook",
            "targetRevision": "HEAD",
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "team-a"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    }
}
PROJECTS: Final[Obj] = {
    "team": {
        "sourceRepos": ["https://github.com/acme/*"],
        "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-*"}],
    }
}
SETTINGS: Final[Obj] = {
    "controller": {"reconciliationInterval": "1m"},
    "repositories": [
        {
            "url": "https://github.com/acme/",
            "username": "x-access-token",
            "password": {"env": "GIT_PASSWORD"},
        }
    ],
    "slack": {
        "mode": "http",
        "botToken": {"env": "SLACK_BOT_TOKEN"},
        "signingSecret": {"env": "SLACK_SIGNING_SECRET"},
    },
    "github": {"token": {"env": "GITHUB_TOKEN"}},
    "server": {"refreshToken": {"env": "KAJITORI_REFRESH_TOKEN"}},
}
INGRESS: Final[Obj] = {
    "enabled": True,
    "className": "nginx",
    "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
    "tls": [{"secretName": "kajitori-tls", "hosts": ["kajitori.example.com"]}],
}

# The value sets every structural test renders: the defaults and each optional feature.
VARIANTS: Final[dict[str, Obj]] = {
    "defaults": {},
    "namespaced-rbac": {"rbac": {"namespaces": ["team-a", "team-b", "team-a"]}},
    "existing-secret": {"existingSecret": "kajitori-tokens"},
    "ingress": {"ingress": INGRESS},
    "servicemonitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "emptydir": {"persistence": {"enabled": False}},
    "everything": {
        "applications": APPS,
        "projects": PROJECTS,
        "settings": SETTINGS,
        "secretEnv": {"SLACK_BOT_TOKEN": "xoxb-1", "GIT_PASSWORD": "hunter2"},
        "rbac": {"namespaces": ["team-a"]},
        "ingress": INGRESS,
        "serviceMonitor": {"enabled": True},
        "persistence": {"enabled": False},
        "image": {"repository": "registry.example.com/kajitori", "tag": "1.2.3"},
    },
}


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> Obj:
    """``override`` over ``base``, maps merged key by key (as Helm merges values)."""
    result: Obj = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def render(values: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The chart's templates rendered for an install of release ``kajitori`` into namespace
    ``kajitori``, by template path (``kajitori/templates/...``)."""
    with helm_python.Chart.load(CHART) as chart:
        return chart.render(dict(values or {}), name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(values: Mapping[str, Any] | None = None) -> list[Obj]:
    """Every object the chart renders (NOTES.txt is not a manifest)."""
    found: list[Obj] = []
    for name, text in sorted(render(values).items()):
        if name.endswith("NOTES.txt"):
            continue
        found.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return found


def notes(values: Mapping[str, Any] | None = None) -> str:
    return render(values)[f"{CHART.name}/templates/NOTES.txt"]


def only(found: Iterable[Obj], kind: str) -> Obj:
    """The one object of ``kind``; fails when there are none or several."""
    matching = [obj for obj in found if obj["kind"] == kind]
    assert len(matching) == 1, f"expected one {kind}, got {len(matching)}"
    return matching[0]


def kinds(found: Iterable[Obj]) -> list[str]:
    return sorted(obj["kind"] for obj in found)


def pod_spec(found: Iterable[Obj]) -> Obj:
    spec: Obj = only(found, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(found: Iterable[Obj]) -> Obj:
    (main,) = pod_spec(found)["containers"]
    result: Obj = main
    return result


def pod_annotations(found: Iterable[Obj]) -> dict[str, str]:
    annotations: dict[str, str] = only(found, "Deployment")["spec"]["template"]["metadata"].get(
        "annotations", {}
    )
    return annotations


def config_text(found: Iterable[Obj]) -> str:
    text: str = only(found, "ConfigMap")["data"][CONFIG_KEY]
    return text


def chart_files(root: Path = CHART) -> dict[str, bytes]:
    """The chart's files by path relative to the chart folder, as a Git source hands them to
    kajitori's Helm renderer."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
