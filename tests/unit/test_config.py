"""Configuration files: Argo CD Applications and AppProjects parsed into the model, and every
problem reported with file, document, object, field and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import Config, load_config, parse_config
from reconciler.config_fields import parse_duration
from reconciler.errors import ConfigError
from reconciler.model import (
    DEFAULT_PROJECT,
    Automated,
    Backoff,
    Destination,
    DirectorySource,
    HelmParameter,
    IgnoreDifferences,
    KustomizeSource,
)
from tests.unit.config_helpers import MINIMAL_SPEC, app_doc, problems

FULL_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: apps
  labels: {team: web}
  annotations: {notifications.argoproj.io/subscribe.on-sync-succeeded.slack: deploys}
spec:
  project: default
  source:
    repoURL: https://github.com/example/apps.git
    targetRevision: v1.2.0
    path: charts/guestbook
    helm:
      valueFiles: [values-prod.yaml]
      values: |
        replicas: 3
      valuesObject:
        image: {tag: "1.2"}
        ports: [80, 443]
      parameters:
        - name: service.port
          value: "8080"
          forceString: true
        - {name: ingress.enabled, value: "true"}
      releaseName: gb
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  syncPolicy:
    automated: {prune: true, selfHeal: true, allowEmpty: false}
    syncOptions: [CreateNamespace=true, PruneLast=true]
    retry:
      limit: 5
      backoff: {duration: 5s, factor: 2, maxDuration: 3m}
  ignoreDifferences:
    - group: apps
      kind: Deployment
      name: guestbook
      jsonPointers: [/spec/replicas]
    - kind: "*"
      group: "*"
      jqPathExpressions: [.metadata.labels.foo]
      managedFieldsManagers: [kube-controller-manager]
  revisionHistoryLimit: 3
"""


def test_full_application_is_parsed_into_the_model() -> None:
    config = parse_config(FULL_APP, "apps.yaml")
    app = config.app("guestbook")
    assert app.namespace == "apps"
    assert app.labels == {"team": "web"}
    assert "notifications.argoproj.io/subscribe.on-sync-succeeded.slack" in app.annotations
    source = app.spec.source
    assert (source.repo_url, source.target_revision, source.path) == (
        "https://github.com/example/apps.git",
        "v1.2.0",
        "charts/guestbook",
    )
    assert source.directory is None and source.kustomize is None
    helm = source.helm
    assert helm is not None
    assert helm.value_files == ("values-prod.yaml",)
    assert helm.values == "replicas: 3\n"
    assert helm.values_object == {"image": {"tag": "1.2"}, "ports": [80, 443]}
    assert type(helm.values_object) is dict  # a plain mapping, not the loader's line-tracking dict
    assert helm.parameters == (
        HelmParameter("service.port", "8080", force_string=True),
        HelmParameter("ingress.enabled", "true", force_string=False),
    )
    assert helm.release_name == "gb"
    assert app.spec.destination == Destination(
        namespace="guestbook", server="https://kubernetes.default.svc"
    )
    policy = app.spec.sync_policy
    assert policy.automated == Automated(prune=True, self_heal=True, allow_empty=False)
    assert policy.sync_options == ("CreateNamespace=true", "PruneLast=true")
    assert policy.retry is not None and policy.retry.limit == 5
    assert policy.retry.backoff == Backoff(duration=5.0, factor=2.0, max_duration=180.0)
    assert app.spec.ignore_differences == (
        IgnoreDifferences(
            kind="Deployment", group="apps", name="guestbook", json_pointers=("/spec/replicas",)
        ),
        IgnoreDifferences(
            kind="*",
            group="*",
            jq_path_expressions=(".metadata.labels.foo",),
            managed_fields_managers=("kube-controller-manager",),
        ),
    )
    assert app.spec.revision_history_limit == 3
    assert config.project_of(app) is DEFAULT_PROJECT


def test_defaults_of_a_minimal_application() -> None:
    app = parse_config(app_doc(MINIMAL_SPEC)).app("guestbook")
    assert app.namespace == "argocd"
    assert app.spec.project == "default"
    assert app.spec.source.target_revision == "HEAD"
    assert app.spec.sync_policy.automated is None and app.spec.sync_policy.retry is None
    assert app.spec.revision_history_limit == 10


def test_directory_and_kustomize_sources() -> None:
    text = app_doc(
        "source:\n  repoURL: https://g/x\n  directory: {recurse: true, include: '*.yaml',"
        " exclude: 'test/*'}\ndestination: {name: in-cluster, namespace: a}\n",
        "plain",
    )
    text += "---\n" + app_doc(
        "source:\n  repoURL: https://g/x\n  kustomize:\n    namePrefix: p-\n    nameSuffix: -s\n"
        "    images: [nginx:1.25]\n    commonLabels: {tier: web}\n"
        "destination: {server: https://kubernetes.default.svc}\n",
        "kust",
    )
    config = parse_config(text)
    assert config.app("plain").spec.source.directory == DirectorySource(True, "*.yaml", "test/*")
    assert config.app("plain").spec.source.path == "."
    assert config.app("kust").spec.source.kustomize == KustomizeSource(
        "p-", "-s", ("nginx:1.25",), {"tier": "web"}
    )
    assert list(config.applications) == ["plain", "kust"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5s", 5),
        ("3m", 180),
        ("1h", 3600),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("30", 30),
        ("1.5h", 5400),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "-5s", "1d", "s", "5s3"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_numeric_backoff_duration_is_seconds_and_automated_enabled_false_disables() -> None:
    spec = MINIMAL_SPEC + (
        "syncPolicy:\n  automated: {enabled: false, prune: true}\n"
        "  retry: {backoff: {duration: 7, maxDuration: 1h}}\n"
    )
    policy = parse_config(app_doc(spec)).app("guestbook").spec.sync_policy
    assert policy.automated is None
    assert policy.retry is not None
    assert policy.retry.backoff == Backoff(duration=7.0, factor=2.0, max_duration=3600.0)


def test_missing_repo_url_names_file_document_app_and_field() -> None:
    text = (
        app_doc(MINIMAL_SPEC, "other")
        + "---\n"
        + app_doc(
            "source: {path: guestbook}\ndestination: {server: https://kubernetes.default.svc}\n"
        )
    )
    [problem] = problems(text)
    assert problem == (
        "apps.yaml: document 2 (Application guestbook): spec.source.repoURL: required (line 14)"
    )


def test_wrong_boolean_and_unknown_field_with_suggestion() -> None:
    spec = MINIMAL_SPEC.replace("source:", "sourc:") + "syncPolicy:\n  automated:\n    prune: yes\n"
    found = problems(app_doc(spec))
    prefix = "apps.yaml: document 1 (Application guestbook): "
    assert prefix + "spec.sourc: unknown field (did you mean 'source'?) (line 6)" in found
    assert prefix + "spec.source: required (line 6)" in found
    assert prefix + "spec.syncPolicy.automated.prune: expected a boolean, got 'yes' (line 10)" in (
        found
    )


def test_every_problem_is_reported_in_document_order() -> None:
    text = """\
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata: {name: one}
    spec:
      source: {repoURL: https://g/x, targetRevision: 1.0}
      destination: {server: https://kubernetes.default.svc}
      revisionHistoryLimit: -1
    ---
    kind: Aplication
    ---
    apiVersion: argoproj.io/v1
    kind: AppProject
    metadata: {name: team}
    spec: {sourceRepos: "*"}
    ---
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata: {name: Bad_Name}
    spec:
      project: teem
      source: {repoURL: https://g/x}
      destination: {namespace: x}
      syncPolicy: {syncOptions: [CreateNamspace=true]}
      ignoreDifferences: [{jsonPointers: [spec/replicas]}]
    """
    found = problems(text)
    assert [p.split(":")[1].strip() for p in found] == [
        "document 1 (Application one)",
        "document 1 (Application one)",
        "document 2 (Aplication)",
        "document 3 (AppProject team)",
        "document 3 (AppProject team)",
        *["document 4 (Application Bad_Name)"] * 6,
    ]
    joined = "\n".join(found)
    assert "spec.source.targetRevision: expected a string (quote it), got 1.0" in joined
    assert "spec.revisionHistoryLimit: must be at least 0, got -1" in joined
    assert "kind: unknown kind 'Aplication' (did you mean 'Application'?)" in joined
    assert "apiVersion: expected 'argoproj.io/v1alpha1' for AppProject, got 'argoproj.io/v1'" in (
        joined
    )
    assert "spec.sourceRepos: expected a list of strings, got '*'" in joined
    assert "metadata.name: 'Bad_Name' is not a valid name" in joined
    assert "spec.destination: server or name required" in joined
    assert "unknown sync option 'CreateNamspace' (did you mean 'CreateNamespace'?)" in joined
    assert "spec.ignoreDifferences[0].kind: required" in joined
    assert "'spec/replicas' is not a JSON pointer" in joined
    assert "spec.project: unknown project 'teem' (did you mean 'team'?)" in joined


def test_duplicate_names_and_unknown_project() -> None:
    text = app_doc(MINIMAL_SPEC) + "---\n" + app_doc(MINIMAL_SPEC + "project: nope\n")
    found = problems(text)
    assert (
        "apps.yaml: document 2 (Application guestbook): metadata.name: duplicate application "
        "name 'guestbook' (first defined in document 1) (line 12)" in found
    )
    assert any("spec.project: unknown project 'nope'" in p for p in found)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            MINIMAL_SPEC.replace("path: guestbook", "chart: redis"),
            "spec.source.chart: not supported yet: Helm repository charts",
        ),
        (
            "sources: [{repoURL: https://g/x}]\ndestination: {server: https://x}\n",
            "spec.sources: not supported yet: multi-source applications",
        ),
        (
            MINIMAL_SPEC + "syncPolicy: {retry: {refresh: true}}\n",
            "spec.syncPolicy.retry.refresh: not supported yet",
        ),
        (
            MINIMAL_SPEC.replace("path: guestbook", "path: guestbook, plugin: {name: x}"),
            "spec.source.plugin: not supported yet",
        ),
    ],
)
def test_unsupported_argo_fields_are_refused_not_ignored(spec: str, expected: str) -> None:
    assert any(expected in p for p in problems(app_doc(spec)))


def test_empty_unsupported_fields_and_bookkeeping_are_accepted() -> None:
    # What `kubectl get application -o yaml` prints for a plain directory app.
    text = app_doc(
        "source:\n  repoURL: https://g/x\n  directory: {jsonnet: {}, recurse: false}\n"
        "destination: {server: https://kubernetes.default.svc}\n"
    ).replace("metadata:\n", "metadata:\n  uid: 1234\n  finalizers: [resources-finalizer]\n")
    text += "status: {sync: {status: Synced}}\n"
    assert parse_config(text).app("guestbook").spec.source.directory == DirectorySource()


def test_source_shape_problems() -> None:
    spec = (
        "source:\n  repoURL: https://g/x\n  path: ../other\n  helm: {values: {a: 1}}\n"
        "  kustomize: {}\ndestination: {server: https://x, name: in-cluster}\n"
    )
    joined = "\n".join(problems(app_doc(spec)))
    assert "spec.source.path: '../other' must stay inside the repository" in joined
    assert "spec.source: set only one of directory, kustomize and helm (got kustomize, helm)" in (
        joined
    )
    assert "spec.source.helm.values: expected a string (a YAML document); use valuesObject" in (
        joined
    )
    assert "spec.destination: set server or name, not both" in joined


def test_yaml_syntax_error_has_line_and_column() -> None:
    # Lines count from the top of the file, across documents.
    text = app_doc(MINIMAL_SPEC) + "---\nkind: Application\nmetadata:\n  name: x\n   oops: y\n"
    [problem] = problems(text)
    assert problem == (
        "apps.yaml: document 2, line 12, column 8: invalid YAML: "
        "mapping values are not allowed here"
    )


def test_duplicate_key_is_an_error_with_its_line() -> None:
    found = problems(app_doc(MINIMAL_SPEC + "project: a\nproject: b\n"))
    assert found == [
        "apps.yaml: document 1, line 9, column 3: invalid YAML: duplicate key 'project'"
    ]


def test_yaml_error_never_quotes_the_offending_line() -> None:
    text = (
        "apiVersion: kajitori.dev/v1alpha1\nkind: Settings\nrepositories:\n"
        '  - url: https://g\n    password: "hunter2-SENTINEL\\q"\n'
    )
    [problem] = problems(text)
    assert "line 5" in problem and "SENTINEL" not in problem


def test_non_mapping_documents_and_empty_documents() -> None:
    assert parse_config("---\n---\n").applications == {}
    [problem] = problems("--- just a string\n")
    assert (
        problem
        == "apps.yaml: document 1: expected a mapping with apiVersion and kind, got a string"
    )


def test_only_one_settings_document() -> None:
    settings = "apiVersion: kajitori.dev/v1alpha1\nkind: Settings\n"
    [problem] = problems(settings + "---\n" + settings)
    assert problem == (
        "apps.yaml: document 2 (Settings): only one Settings document is allowed (the first is "
        "document 1) (line 4)"
    )


def test_config_app_lookup() -> None:
    config = parse_config(app_doc(MINIMAL_SPEC), "apps.yaml")
    assert isinstance(config, Config) and config.path == Path("apps.yaml")
    with pytest.raises(
        ConfigError,
        match=r"apps.yaml: unknown application 'guestbok' "
        r"\(did you mean 'guestbook'\?\)",
    ):
        config.app("guestbok")


def test_load_config_reads_a_file_and_reports_missing_ones(tmp_path: Path) -> None:
    path = tmp_path / "apps.yaml"
    path.write_text(app_doc(MINIMAL_SPEC), encoding="utf-8")
    assert list(load_config(path).applications) == ["guestbook"]
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.yaml")
    assert info.value.problems == [f"{tmp_path / 'missing.yaml'}: file not found"]
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        load_config(path)
