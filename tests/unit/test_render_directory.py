"""The directory source's rules (pure): which files are manifests, how they parse, globs."""

from __future__ import annotations

import pytest

from reconciler.errors import RenderError
from reconciler.model import (
    ApplicationSource,
    DirectorySource,
    HelmSource,
    KustomizeSource,
)
from reconciler.render import detect_source_type, normalize_path, render
from reconciler.render_directory import glob_match, render_directory, select_files

CM = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n"


def cm(name: str) -> bytes:
    return CM % name.encode()


def names(objects: list[dict[str, object]]) -> list[str]:
    return [obj["metadata"]["name"] for obj in objects]  # type: ignore[index]


def test_yaml_and_json_files_with_several_documents_and_empty_ones() -> None:
    files = {
        "a.yaml": b"---\n" + cm("one") + b"---\n---\n# only a comment\n---\n" + cm("two"),
        "b.yml": cm("three"),
        "c.json": b'{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "four"}}',
        "README.md": b"apiVersion: v1\nkind: ConfigMap\n",
        "notes.txt": b"not yaml: [",
    }
    objects = render_directory(files, DirectorySource())
    assert names(objects) == ["one", "two", "three", "four"]
    assert objects[3]["kind"] == "Secret"


def test_list_kinds_are_flattened() -> None:
    files = {
        "list.yaml": b"apiVersion: v1\nkind: List\nitems:\n"
        b"- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n"
        b"- {apiVersion: v1, kind: Service, metadata: {name: y}}\n",
        "cml.yaml": b"apiVersion: v1\nkind: ConfigMapList\nitems:\n"
        b"- {apiVersion: v1, kind: ConfigMap, metadata: {name: z}}\n",
    }
    objects = render_directory(files, DirectorySource())
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ConfigMap", "z"),
        ("ConfigMap", "x"),
        ("Service", "y"),
    ]


def test_subdirectories_only_with_recurse_and_in_walk_order() -> None:
    files = {
        "top.yaml": cm("top"),
        "b/c.yaml": cm("nested"),
        "b-x.yaml": cm("dash"),
        "b/d/e.yaml": cm("deep"),
    }
    assert names(render_directory(files, DirectorySource())) == ["dash", "top"]
    # A depth-first walk sorts names per folder: folder "b" comes before file "b-x.yaml".
    assert names(render_directory(files, DirectorySource(recurse=True))) == [
        "nested",
        "deep",
        "dash",
        "top",
    ]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.yaml", "a.yaml", True),
        ("*.yaml", "sub/a.yaml", True),  # '*' crosses '/' as in Argo CD
        ("*.yaml", "a.yml", False),
        ("{config.json,env-usw2/*}", "config.json", True),
        ("{config.json,env-usw2/*}", "env-usw2/x.yaml", True),
        ("{config.json,env-usw2/*}", "env-use1/x.yaml", False),
        ("svc-?.yaml", "svc-1.yaml", True),
        ("svc-?.yaml", "svc-10.yaml", False),
        ("[ab]*.yaml", "b.yaml", True),
        ("[!ab]*.yaml", "b.yaml", False),
        ("{a,{b,c}}.yaml", "c.yaml", True),
        ("a.yaml", "xa.yaml", False),
        ("file\\*.yaml", "file*.yaml", True),
    ],
)
def test_glob_match(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected


def test_unclosed_brace_is_a_clear_error() -> None:
    with pytest.raises(RenderError, match="unclosed"):
        glob_match("{a,b", "a")


def test_include_and_exclude_with_exclude_winning() -> None:
    files = {
        "app.yaml": cm("app"),
        "db.yaml": cm("db"),
        "dev/app.yaml": cm("dev"),
        "prod/app.yaml": cm("prod"),
    }
    options = DirectorySource(recurse=True, include="{app.yaml,prod/*}")
    assert names(render_directory(files, options)) == ["app", "prod"]
    options = DirectorySource(recurse=True, include="*.yaml", exclude="{dev/*,db.yaml}")
    assert names(render_directory(files, options)) == ["app", "prod"]
    options = DirectorySource(recurse=True, include="*app.yaml", exclude="*app.yaml")
    assert render_directory(files, options) == []


def test_kustomize_and_helm_files_are_not_manifests() -> None:
    kustomization = b"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    files = {
        "kustomization.yaml": kustomization,
        "overlay/kustomization.yml": kustomization,
        "app.yaml": cm("app"),
        "chart/Chart.yaml": b"apiVersion: v2\nname: c\nversion: 0.1.0\n",
        "chart/values.yaml": b"kind: whatever\napiVersion: v9\nmetadata: {}\n",
        "chart/values-production.yaml": b"replicas: 2\n",
        "chart/templates/cm.yaml": b"apiVersion: v1\nkind: ConfigMap\n"
        b"metadata:\n  name: {{ .Release.Name }}\n",
        "chart/extra/plain.yaml": cm("plain"),
    }
    selected = select_files(files, DirectorySource(recurse=True))
    assert selected == ["app.yaml", "chart/extra/plain.yaml"]
    assert names(render_directory(files, DirectorySource(recurse=True))) == ["app", "plain"]


def test_unrelated_yaml_is_ignored_but_broken_manifests_are_errors() -> None:
    files = {
        "settings.yaml": b"replicas: 3\nfeature: on\n",
        "list.yaml": b"- a\n- b\n",
        "ok.yaml": cm("ok"),
    }
    assert names(render_directory(files, DirectorySource())) == ["ok"]

    broken = {"x.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n"}
    with pytest.raises(RenderError) as raised:
        render_directory(broken, DirectorySource(), base="apps/one")
    assert raised.value.file == "apps/one/x.yaml"
    assert raised.value.line == 5
    assert "apps/one/x.yaml:5" in str(raised.value)


def test_a_document_without_kind_next_to_objects_names_its_line() -> None:
    files = {"two.yaml": cm("ok") + b"---\napiVersion: v1\nmetadata:\n  name: nokind\n"}
    with pytest.raises(RenderError, match="no kind") as raised:
        render_directory(files, DirectorySource())
    assert (raised.value.file, raised.value.line) == ("two.yaml", 6)


def test_invalid_json_names_file_and_line() -> None:
    files = {"bad.json": b'{\n  "apiVersion": "v1",\n  "kind": \n}'}
    with pytest.raises(RenderError) as raised:
        render_directory(files, DirectorySource())
    assert raised.value.file == "bad.json"
    assert raised.value.line == 4


def test_values_stay_as_kubernetes_reads_them() -> None:
    files = {
        "cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n"
        b"data:\n  day: 2024-01-02\n  stamp: 2024-01-02T03:04:05Z\n  80: port\n"
    }
    (obj,) = render_directory(files, DirectorySource())
    assert obj["data"] == {"day": "2024-01-02", "stamp": "2024-01-02T03:04:05Z", "80": "port"}


def test_source_type_detection_follows_argo_cd() -> None:
    chart = {"Chart.yaml": b"", "values.yaml": b""}
    kust = {"kustomization.yaml": b"", "a.yaml": b""}
    plain = {"a.yaml": b"", "sub/Chart.yaml": b""}
    bare = ApplicationSource(repo_url="r")
    assert detect_source_type(bare, chart) == "Helm"
    assert detect_source_type(bare, kust) == "Kustomize"
    assert detect_source_type(bare, {"Kustomization": b""}) == "Kustomize"
    assert detect_source_type(bare, plain) == "Directory"
    explicit = ApplicationSource(repo_url="r", directory=DirectorySource())
    assert detect_source_type(explicit, kust) == "Directory"
    assert detect_source_type(ApplicationSource(repo_url="r", helm=HelmSource()), {}) == "Helm"
    kustomize = ApplicationSource(repo_url="r", kustomize=KustomizeSource())
    assert detect_source_type(kustomize, chart) == "Kustomize"


def test_render_of_a_directory_source_names_files_under_the_path() -> None:
    source = ApplicationSource(repo_url="r", path="./apps/web/")
    assert normalize_path(source.path) == "apps/web"
    objects = render(source, {"a.yaml": cm("a")}, app_name="web", namespace="ns")
    assert names(objects) == ["a"]
    with pytest.raises(RenderError) as raised:
        render(source, {"b.yaml": b"apiVersion: v1\nkind: [\n"}, app_name="web", namespace="ns")
    assert raised.value.file == "apps/web/b.yaml"
    with pytest.raises(RenderError, match="leaves the repository"):
        normalize_path("../other")
