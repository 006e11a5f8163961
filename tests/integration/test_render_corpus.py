"""The corpus apps (Argo CD's example apps) copied into a fresh Git repository and rendered
through ManifestLoader, as the reconciler would: plain YAML, Kustomize, Helm, sock-shop."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifests import ManifestLoader
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
    HelmParameter,
    HelmSource,
    KustomizeSource,
)
from reconciler.source import GitSource

pytestmark = pytest.mark.corpus

APPS = ("guestbook", "kustomize-guestbook", "helm-guestbook", "sock-shop")
GIT = ["git", "-c", "user.name=Corpus", "-c", "user.email=corpus@example.org"]


@pytest.fixture(scope="module")
def repo_url(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A bare repository whose main branch holds the four corpus apps."""
    root = tmp_path_factory.mktemp("corpus-repo")
    work, bare = root / "work", root / "apps.git"
    for name in APPS:
        shutil.copytree(corpus / "argocd-example-apps" / name, work / name)
    for args in (
        ["init", "-q", "-b", "main", str(work)],
        ["-C", str(work), "add", "-A"],
        ["-C", str(work), "commit", "-q", "-m", "example apps"],
        ["clone", "-q", "--bare", str(work), str(bare)],
    ):
        subprocess.run([*GIT, *args], check=True, capture_output=True)
    return str(bare)


@pytest.fixture(scope="module")
def loader(repo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManifestLoader]:
    git = GitSource(tmp_path_factory.mktemp("cache"))
    yield ManifestLoader(git)
    git.close()


def application(name: str, url: str, path: str, **options: Any) -> Application:
    source = ApplicationSource(repo_url=url, path=path, target_revision="main", **options)
    return Application(
        name=name, spec=ApplicationSpec(source=source, destination=Destination(namespace="demo"))
    )


def summary(objects: tuple[dict[str, Any], ...]) -> list[tuple[str, str]]:
    return sorted((obj["kind"], obj["metadata"]["name"]) for obj in objects)


def by_kind(objects: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    (found,) = [obj for obj in objects if obj["kind"] == kind]
    return found


def test_guestbook_plain_yaml(loader: ManifestLoader, repo_url: str) -> None:
    manifests = loader.load(application("guestbook", repo_url, "guestbook"))
    assert summary(manifests.objects) == [
        ("Deployment", "guestbook-ui"),
        ("Service", "guestbook-ui"),
    ]
    assert all("namespace" not in obj["metadata"] for obj in manifests.objects)
    deployment = by_kind(manifests.objects, "Deployment")
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "gcr.io/google-samples/gb-frontend:v5"
    )
    assert manifests.commit.message == "example apps"


def test_kustomize_guestbook(loader: ManifestLoader, repo_url: str) -> None:
    manifests = loader.load(application("kustomize-guestbook", repo_url, "kustomize-guestbook"))
    assert summary(manifests.objects) == [
        ("Deployment", "kustomize-guestbook-ui"),
        ("Service", "kustomize-guestbook-ui"),
    ]
    assert all("namespace" not in obj["metadata"] for obj in manifests.objects)


def test_kustomize_options_from_the_application(loader: ManifestLoader, repo_url: str) -> None:
    options = KustomizeSource(
        name_prefix="staging-",
        name_suffix="-v2",
        images=("gcr.io/google-samples/gb-frontend=registry.local/gb:v6",),
        common_labels={"team": "web"},
    )
    manifests = loader.load(application("kg", repo_url, "kustomize-guestbook", kustomize=options))
    assert summary(manifests.objects) == [
        ("Deployment", "staging-guestbook-ui-v2"),
        ("Service", "staging-guestbook-ui-v2"),
    ]
    deployment = by_kind(manifests.objects, "Deployment")
    assert (
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/gb:v6"
    )
    assert deployment["metadata"]["labels"]["team"] == "web"
    assert deployment["spec"]["selector"]["matchLabels"]["team"] == "web"
    assert by_kind(manifests.objects, "Service")["spec"]["selector"]["team"] == "web"


def test_helm_guestbook_defaults(loader: ManifestLoader, repo_url: str) -> None:
    manifests = loader.load(application("guestbook", repo_url, "helm-guestbook"))
    # NOTES.txt and _helpers.tpl are not manifests; the release is named after the app.
    assert summary(manifests.objects) == [
        ("Deployment", "guestbook-helm-guestbook"),
        ("Service", "guestbook-helm-guestbook"),
    ]
    service = by_kind(manifests.objects, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["metadata"]["labels"]["release"] == "guestbook"
    deployment = by_kind(manifests.objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1


def test_helm_guestbook_with_values_production(loader: ManifestLoader, repo_url: str) -> None:
    helm = HelmSource(value_files=("values-production.yaml",), release_name="prod")
    manifests = loader.load(application("guestbook", repo_url, "helm-guestbook", helm=helm))
    assert summary(manifests.objects) == [
        ("Deployment", "prod-helm-guestbook"),
        ("Service", "prod-helm-guestbook"),
    ]
    assert by_kind(manifests.objects, "Service")["spec"]["type"] == "LoadBalancer"


def test_helm_values_layers_and_parameters(loader: ManifestLoader, repo_url: str) -> None:
    helm = HelmSource(
        value_files=("values-production.yaml",),
        values="service:\n  type: NodePort\n  port: 8080\nreplicaCount: 2\n",
        parameters=(
            HelmParameter("replicaCount", "3"),
            HelmParameter("image.tag", "1234", force_string=True),
        ),
    )
    manifests = loader.load(application("gb", repo_url, "helm-guestbook", helm=helm))
    service = by_kind(manifests.objects, "Service")
    assert service["spec"]["type"] == "NodePort"  # values beat value files
    assert service["spec"]["ports"][0]["port"] == 8080
    deployment = by_kind(manifests.objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3  # parameters beat values, parsed as numbers
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "gcr.io/google-samples/gb-frontend:1234"

    as_object = HelmSource(values="replicaCount: 7\n", values_object={"replicaCount": 5})
    manifests = loader.load(application("gb", repo_url, "helm-guestbook", helm=as_object))
    assert by_kind(manifests.objects, "Deployment")["spec"]["replicas"] == 5


def test_sock_shop(loader: ManifestLoader, repo_url: str) -> None:
    manifests = loader.load(application("sock-shop", repo_url, "sock-shop"))
    objects = manifests.objects
    assert len(objects) == 29
    assert Counter(obj["kind"] for obj in objects) == {
        "Deployment": 14,
        "Service": 14,
        "Ingress": 1,
    }
    names = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "Deployment"}
    assert {
        "front-end",
        "carts",
        "carts-db",
        "catalogue",
        "orders",
        "payment",
        "queue-master",
        "rabbitmq",
        "session-db",
        "shipping",
        "user",
        "user-db",
    } <= names
    ingress = by_kind(objects, "Ingress")
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["metadata"]["name"] == "front-end-ingress"
    assert all("namespace" not in obj["metadata"] for obj in objects)
    assert len({(obj["kind"], obj["metadata"]["name"]) for obj in objects}) == 29
