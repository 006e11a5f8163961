"""AppProject rules: globs, sourceRepos, destinations and resource allow/deny lists."""

from __future__ import annotations

import pytest

from reconciler.config import (
    destination_permitted,
    glob_match,
    normalize_repo_url,
    project_permits,
    source_permitted,
)
from reconciler.model import (
    DEFAULT_PROJECT,
    AppProject,
    Destination,
    GroupKind,
    ProjectDestination,
)


@pytest.mark.parametrize(
    ("pattern", "value", "separator", "expected"),
    [
        ("*", "anything/at/all", "/", True),
        ("https://github.com/org/*", "https://github.com/org/repo", "/", True),
        ("https://github.com/org/*", "https://github.com/org/sub/repo", "/", False),
        ("https://github.com/org/**", "https://github.com/org/sub/repo", "/", True),
        ("team-*", "team-a/b", "", True),
        ("team-?", "team-ab", "", False),
        ("team-[ab]", "team-b", "", True),
        ("team-[!ab]", "team-b", "", False),
        ("{dev,prod}-*", "prod-web", "", True),
        ("{dev,prod}-*", "qa-web", "", False),
        ("a.b", "axb", "", False),
        ("", "", "", True),
    ],
)
def test_glob_match(pattern: str, value: str, separator: str, expected: bool) -> None:
    assert glob_match(pattern, value, separator) is expected


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://GitHub.com/Org/Repo.git", "https://github.com/org/repo"),
        ("https://github.com/org/repo/", "https://github.com/org/repo"),
        ("https://user:token@github.com/org/repo", "https://github.com/org/repo"),
        ("git@github.com:org/repo.git", "ssh://git@github.com/org/repo"),
        ("ssh://git@github.com/org/repo", "ssh://git@github.com/org/repo"),
    ],
)
def test_normalize_repo_url(url: str, normalized: str) -> None:
    assert normalize_repo_url(url) == normalized


def project(**fields: object) -> AppProject:
    return AppProject(name="p", **fields)  # type: ignore[arg-type]


def test_source_repos() -> None:
    team = project(source_repos=("https://github.com/team/*", "git@github.com:team/*"))
    assert source_permitted(team, "https://github.com/team/web.git")
    assert source_permitted(team, "ssh://git@github.com/team/web")
    assert not source_permitted(team, "https://github.com/other/web")
    assert not source_permitted(project(source_repos=()), "https://github.com/team/web")
    assert source_permitted(DEFAULT_PROJECT, "https://anything.example/x")


def test_source_repo_negation() -> None:
    denied = project(source_repos=("*", "!https://github.com/team/secret"))
    assert not source_permitted(denied, "https://github.com/team/secret.git")
    assert source_permitted(denied, "https://github.com/team/web")
    # A lone deny pattern allows everything it does not match, as in Argo CD.
    assert source_permitted(project(source_repos=("!https://x/y",)), "https://x/z")


def dest(server: str = "", namespace: str = "", name: str = "") -> Destination:
    return Destination(namespace=namespace, server=server, name=name)


def test_destinations_match_server_or_name_and_namespace() -> None:
    team = project(
        destinations=(
            ProjectDestination(server="https://kubernetes.default.svc", namespace="team-*"),
            ProjectDestination(server="", name="staging", namespace="*"),
        )
    )
    local = "https://kubernetes.default.svc"
    assert destination_permitted(team, dest(local, "team-web"))
    assert not destination_permitted(team, dest(local, "other"))
    assert destination_permitted(team, dest(name="staging", namespace="anything"))
    assert not destination_permitted(team, dest(server="https://staging", namespace="x"))
    # The local cluster is the same by server URL or by the name "in-cluster".
    assert destination_permitted(team, dest(name="in-cluster", namespace="team-a"))
    by_name = project(
        destinations=(ProjectDestination(server="", name="in-cluster", namespace="*"),)
    )
    assert destination_permitted(by_name, dest(local, "x"))
    assert not destination_permitted(project(destinations=()), dest(local, "x"))
    assert destination_permitted(DEFAULT_PROJECT, dest("https://remote", "x"))


def test_destination_negation_denies_outright() -> None:
    guarded = project(
        destinations=(
            ProjectDestination(server="*", namespace="!kube-*"),
            ProjectDestination(server="*", namespace="kube-system"),
        )
    )
    assert destination_permitted(guarded, dest("https://x", "web"))
    # The second entry would allow it, but the first one's "!" denies it outright.
    assert not destination_permitted(guarded, dest("https://x", "kube-system"))
    no_prod = project(
        destinations=(
            ProjectDestination(server="!https://prod", namespace="*"),
            ProjectDestination(server="*", namespace="*"),
        )
    )
    assert not destination_permitted(no_prod, dest("https://prod", "web"))
    assert destination_permitted(no_prod, dest("https://dev", "web"))


def test_cluster_scoped_kinds_need_the_whitelist() -> None:
    empty = project()
    assert not project_permits(empty, "", "Namespace", namespaced=False)
    assert project_permits(DEFAULT_PROJECT, "rbac.authorization.k8s.io", "ClusterRole", False)
    listed = project(
        cluster_resource_whitelist=(GroupKind("", "Namespace"), GroupKind("rbac.*", "*")),
        cluster_resource_blacklist=(GroupKind("rbac.authorization.k8s.io", "ClusterRoleBinding"),),
    )
    assert project_permits(listed, "", "Namespace", False)
    assert project_permits(listed, "rbac.authorization.k8s.io", "ClusterRole", False)
    assert not project_permits(listed, "rbac.authorization.k8s.io", "ClusterRoleBinding", False)
    assert not project_permits(listed, "apiextensions.k8s.io", "CustomResourceDefinition", False)


def test_namespaced_kinds_are_allowed_unless_listed_against() -> None:
    assert project_permits(project(), "apps", "Deployment", namespaced=True)
    blacklist = project(namespace_resource_blacklist=(GroupKind("", "ResourceQuota"),))
    assert not project_permits(blacklist, "", "ResourceQuota", True)
    assert project_permits(blacklist, "", "ConfigMap", True)
    whitelist = project(namespace_resource_whitelist=(GroupKind("apps", "*"),))
    assert project_permits(whitelist, "apps", "StatefulSet", True)
    assert not project_permits(whitelist, "", "ConfigMap", True)
    assert not project_permits(project(namespace_resource_whitelist=()), "apps", "Deployment", True)
