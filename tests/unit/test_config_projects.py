"""AppProject documents in a configuration file, and the apps they permit or refuse."""

from __future__ import annotations

from reconciler.config import parse_config
from reconciler.model import DEFAULT_PROJECT
from tests.unit.config_helpers import MINIMAL_SPEC, app_doc, problems


def test_implicit_default_project_and_file_defined_default() -> None:
    config = parse_config(app_doc(MINIMAL_SPEC))
    assert config.projects == {"default": DEFAULT_PROJECT}
    restricted = (
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: default}\n"
        "spec: {sourceRepos: ['https://other/*'], destinations: [{server: '*', namespace: '*'}]}\n"
    )
    found = problems(restricted + "---\n" + app_doc(MINIMAL_SPEC))
    assert found == [
        "apps.yaml: document 2 (Application guestbook): spec.source.repoURL: project 'default' "
        "does not permit repository 'https://github.com/example/apps.git' (sourceRepos: "
        "'https://other/*') (line 11)"
    ]


PROJECT = """\
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: team}
spec:
  description: the team
  sourceRepos: ["https://github.com/team/*", "!https://github.com/team/secret"]
  destinations:
    - {server: https://kubernetes.default.svc, namespace: "team-*"}
    - {name: in-cluster, namespace: "!kube-system"}
  clusterResourceWhitelist: [{group: "", kind: Namespace}]
  namespaceResourceBlacklist: [{group: "", kind: ResourceQuota}]
"""


def team_app(repo: str, namespace: str, name: str = "guestbook") -> str:
    return app_doc(
        f"project: team\nsource: {{repoURL: '{repo}'}}\n"
        f"destination: {{server: https://kubernetes.default.svc, namespace: {namespace}}}\n",
        name,
    )


def test_project_is_parsed_and_permits_matching_apps() -> None:
    text = PROJECT + "---\n" + team_app("https://github.com/team/web.git", "team-web")
    config = parse_config(text)
    project = config.projects["team"]
    assert project.description == "the team"
    assert project.source_repos[1] == "!https://github.com/team/secret"
    assert project.namespace_resource_whitelist is None
    assert [gk.kind for gk in project.cluster_resource_whitelist] == ["Namespace"]
    assert config.project_of(config.app("guestbook")) is project


def test_project_refuses_repo_and_destination_without_leaking_url_credentials() -> None:
    text = (
        PROJECT
        + "---\n"
        + team_app("https://bot:SENTINEL@github.com/team/secret", "team-a", "a")
        + "---\n"
        + team_app("https://github.com/other/x", "kube-system", "b")
    )
    found = problems(text)
    # As in Argo CD, a "!" pattern allows every URL it does not match, so other/x is allowed.
    assert len(found) == 2
    assert "SENTINEL" not in "\n".join(found)
    assert found[0].startswith(
        "apps.yaml: document 2 (Application a): spec.source.repoURL: project 'team' does not "
        "permit repository 'https://bot:***@github.com/team/secret'"
    )
    assert found[1] == (
        "apps.yaml: document 3 (Application b): spec.destination: project 'team' does not "
        "permit destination server 'https://kubernetes.default.svc', namespace 'kube-system' "
        "(line 29)"
    )


def test_project_unsupported_and_missing_fields() -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: p}\n"
        "spec:\n  roles: [{name: admin}]\n  syncWindows: []\n  destinations: [{namespace: a}]\n"
        "  clusterResourceWhitelist: [{group: apps}]\n  namespaceResourceWhitelist: []\n"
    )
    joined = "\n".join(problems(text))
    assert "spec.roles: not supported yet: project roles" in joined
    assert "syncWindows" not in joined  # empty: nothing to refuse
    assert "spec.destinations[0]: server or name required" in joined
    assert "spec.clusterResourceWhitelist[0].kind: required" in joined


def test_empty_namespace_whitelist_differs_from_absent() -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: p}\n"
        "spec: {namespaceResourceWhitelist: []}\n"
    )
    project = parse_config(text).projects["p"]
    assert project.namespace_resource_whitelist == ()
    assert project.source_repos == () and project.destinations == ()
