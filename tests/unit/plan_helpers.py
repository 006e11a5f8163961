"""Builders shared by the sync-plan tests: small manifests, plan construction with a fixed
revision and start time, and a one-line rendering of a plan's order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from reconciler.model import ResourceKey
from reconciler.plan import Plan, Resource, build_plan

FIXTURES = Path(__file__).parent / "fixtures" / "plan"
REVISION = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
STARTED = 1700000000
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole"}
CRD_API = "apiextensions.k8s.io/v1"
CREATE_FRESH: dict[str, Any] = {
    "app_sync_options": ["CreateNamespace=true"],
    "destination_namespace": "fresh",
    "destination_namespace_exists": False,
}


ANNOTATIONS = {
    "wave": "argocd.argoproj.io/sync-wave",
    "hook": "argocd.argoproj.io/hook",
    "policy": "argocd.argoproj.io/hook-delete-policy",
    "options": "argocd.argoproj.io/sync-options",
    "helm": "helm.sh/hook",
    "weight": "helm.sh/hook-weight",
}


def obj(kind: str, name: str, api: str = "v1", ns: str = "shop", **ann: str) -> dict[str, Any]:
    """A manifest. ``name`` "" gives generateName "gen-"; keyword arguments are annotations
    by short name (wave, hook, policy, options, helm, weight)."""
    meta: dict[str, Any] = {"name": name} if name else {"generateName": "gen-"}
    if ns and kind not in CLUSTER_SCOPED:
        meta["namespace"] = ns
    if ann:
        meta["annotations"] = {ANNOTATIONS[k]: v for k, v in ann.items()}
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def res(target: dict[str, Any], live: dict[str, Any] | None = None) -> Resource:
    return Resource(ResourceKey.of(target), target, live)


def gone(live: dict[str, Any]) -> Resource:
    return Resource(ResourceKey.of(live), None, live)


def plan(targets: list[Resource], prunes: list[Resource] | None = None, **kwargs: Any) -> Plan:
    kwargs.setdefault("prune", True)
    return build_plan(targets, prunes or [], revision=REVISION, started_at=STARTED, **kwargs)


def order(p: Plan) -> list[str]:
    """Tasks as 'Phase/wave Kind/name' ('-' prefix for prunes), in execution order."""
    return [
        f"{'-' if t.is_prune else ''}{t.phase}/{t.wave} {t.key.kind}/{t.key.name}" for t in p.tasks
    ]


def shop_app() -> list[Resource]:
    resources = []
    for doc in yaml.safe_load_all((FIXTURES / "shop-app.yaml").read_text()):
        default_ns = "" if doc["kind"] in CLUSTER_SCOPED else "shop"
        resources.append(Resource(ResourceKey.of(doc, default_ns), doc))
    return resources


def sock_shop(corpus: Path) -> list[dict[str, Any]]:
    """The 29 sock-shop manifests of the corpus (plain YAML under base/)."""
    docs: list[dict[str, Any]] = []
    for path in sorted((corpus / "argocd-example-apps" / "sock-shop" / "base").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs
