"""Helm (helm-python-sdk) and Kustomize (kubectl kustomize) rendering beyond the corpus:
hooks, CRDs, NOTES, files outside the app's path, and the errors people see."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.errors import RenderError
from reconciler.manifests import ManifestLoader
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
    HelmSource,
    KustomizeSource,
)
from reconciler.render import render
from reconciler.render_kustomize import apply_options, parse_image, reachable_files
from reconciler.source import GitSource

CHART = {
    "Chart.yaml": b"apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "values.yaml": b"greeting: hello\nmigrate: true\n",
    "templates/NOTES.txt": b"Installed {{ .Release.Name }}\n",
    "templates/_helpers.tpl": b'{{- define "demo.name" -}}{{ .Release.Name }}-demo{{- end }}\n',
    "templates/cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
    b'  name: {{ include "demo.name" . }}\n  namespace: {{ .Release.Namespace }}\n'
    b"data:\n  greeting: {{ .Values.greeting | quote }}\n",
    "templates/migrate.yaml": b"{{- if .Values.migrate }}\napiVersion: batch/v1\nkind: Job\n"
    b"metadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-upgrade,pre-install\n"
    b"    helm.sh/hook-weight: '-5'\nspec:\n  template:\n    spec:\n"
    b"      restartPolicy: Never\n      containers: [{name: m, image: busybox}]\n{{- end }}\n",
    "crds/widgets.yaml": b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
    b"metadata:\n  name: widgets.example.org\n",
}


def helm_render(files: dict[str, bytes], helm: HelmSource | None = None) -> list[dict[str, object]]:
    source = ApplicationSource(repo_url="r", path="charts/demo", helm=helm)
    return render(source, files, app_name="shop", namespace="prod")


def test_helm_output_keeps_hooks_and_crds_and_drops_notes() -> None:
    objects = helm_render(CHART)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]  # type: ignore[index]
    assert kinds == [
        ("CustomResourceDefinition", "widgets.example.org"),
        ("ConfigMap", "shop-demo"),
        ("Job", "migrate"),
    ]
    config_map, job = objects[1], objects[2]
    assert config_map["metadata"]["namespace"] == "prod"  # type: ignore[index]
    assert config_map["data"] == {"greeting": "hello"}
    assert job["metadata"]["annotations"] == {  # type: ignore[index]
        "helm.sh/hook": "pre-upgrade,pre-install",
        "helm.sh/hook-weight": "-5",
    }
    broken_crd = dict(CHART, **{"crds/widgets.yaml": b"apiVersion: v1\nkind: [\n"})
    with pytest.raises(RenderError) as raised:
        helm_render(broken_crd)
    assert raised.value.file == "charts/demo/crds/widgets.yaml"
    no_hook = helm_render(CHART, HelmSource(values_object={"migrate": False}))
    assert [o["kind"] for o in no_hook] == ["CustomResourceDefinition", "ConfigMap"]


def test_helm_template_errors_name_the_template_and_line() -> None:
    broken = dict(CHART)
    broken["templates/bad.yaml"] = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        b"  name: x\ndata:\n  v: {{ .Values.nested.missing }}\n"
    )
    with pytest.raises(RenderError) as raised:
        helm_render(broken)
    assert raised.value.file == "charts/demo/templates/bad.yaml"
    assert raised.value.line == 6
    failing = dict(CHART, **{"templates/fail.yaml": b'{{ fail "greeting is required" }}\n'})
    with pytest.raises(RenderError, match="greeting is required") as raised:
        helm_render(failing)
    assert raised.value.file == "charts/demo/templates/fail.yaml"


def test_helm_output_that_is_not_yaml_names_the_template() -> None:
    bad_output = dict(CHART, **{"templates/x.yaml": b"apiVersion: v1\nkind: [\n"})
    with pytest.raises(RenderError, match="invalid YAML") as raised:
        helm_render(bad_output)
    assert raised.value.file.startswith("charts/demo/templates/x.yaml")


def test_helm_value_problems_are_named() -> None:
    with pytest.raises(RenderError, match=r"value file 'missing\.yaml' not found") as raised:
        helm_render(CHART, HelmSource(value_files=("missing.yaml",)))
    assert raised.value.file == "charts/demo/missing.yaml"
    with pytest.raises(RenderError) as raised:
        helm_render(CHART, HelmSource(values="greeting: [unclosed\n"))
    assert raised.value.file == "spec.source.helm.values"
    with pytest.raises(RenderError, match="release name"):
        helm_render(CHART, HelmSource(release_name="Not_Valid"))
    with pytest.raises(RenderError, match="remote value files"):
        helm_render(CHART, HelmSource(value_files=("https://example.org/v.yaml",)))
    with_dependency = dict(CHART)
    with_dependency["Chart.yaml"] += (
        b"dependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.org\n"
    )
    with pytest.raises(RenderError, match="redis are declared but missing") as raised:
        helm_render(with_dependency)
    assert raised.value.file == "charts/demo/Chart.yaml"
    without_chart = {k: v for k, v in CHART.items() if k != "Chart.yaml"}
    with pytest.raises(RenderError, match="helm"):
        helm_render(without_chart, HelmSource())


def test_kustomize_image_overrides_and_edits() -> None:
    assert parse_image("nginx:1.25") == {"name": "nginx", "newTag": "1.25"}
    assert parse_image("reg:5000/app@sha256:ab") == {"name": "reg:5000/app", "digest": "sha256:ab"}
    assert parse_image("nginx=my/nginx:2") == {
        "name": "nginx",
        "newName": "my/nginx",
        "newTag": "2",
    }
    assert parse_image("reg:5000/app") == {"name": "reg:5000/app"}
    edited = apply_options(
        {
            "namePrefix": "a-",
            "images": [{"name": "nginx", "newTag": "1"}, {"name": "redis"}],
            "commonLabels": {"app": "x", "tier": "web"},
        },
        KustomizeSource(name_prefix="b-", images=("nginx:2",), common_labels={"app": "y"}),
    )
    assert edited["namePrefix"] == "b-"
    assert edited["images"] == [{"name": "redis"}, {"name": "nginx", "newTag": "2"}]
    assert edited["commonLabels"] == {"app": "y", "tier": "web"}


def test_kustomize_errors_are_clear() -> None:
    source = ApplicationSource(repo_url="r", path="app")
    files = {"kustomization.yaml": b"resources:\n- missing.yaml\n"}
    with pytest.raises(RenderError, match="kubectl kustomize failed") as raised:
        render(source, files, app_name="a", namespace="n")
    assert raised.value.file == "app/kustomization.yaml"
    assert "missing.yaml" in str(raised.value) and "kajitori-kustomize-" not in str(raised.value)
    ok = {"kustomization.yaml": b"resources: []\n"}
    with pytest.raises(RenderError, match="'kubectl-not-installed' was not found on PATH"):
        render(source, ok, app_name="a", namespace="n", kubectl="kubectl-not-installed")


def test_files_outside_the_path_through_the_loader(tmp_path: Path) -> None:
    """Kustomize bases in ../base and Helm value files beside the chart come from the same
    commit of the same repository."""
    work = tmp_path / "work"
    files = {
        "base/kustomization.yaml": "resources:\n- cm.yaml\n",
        "base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
        "overlays/prod/kustomization.yaml": "resources:\n- ../../base\nnamePrefix: prod-\n",
        "env/prod-values.yaml": "greeting: bonjour\n",
        **{f"charts/demo/{k}": v.decode() for k, v in CHART.items()},
    }
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", "-C", str(work)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "layout"], check=True)

    def app(path: str, **options: object) -> Application:
        source = ApplicationSource(repo_url=str(work), path=path, **options)  # type: ignore[arg-type]
        return Application(
            name="shop",
            spec=ApplicationSpec(source=source, destination=Destination(namespace="prod")),
        )

    source = GitSource(tmp_path / "cache")
    loader = ManifestLoader(source)
    overlay = loader.load(app("overlays/prod")).objects
    assert [o["metadata"]["name"] for o in overlay] == ["prod-settings"]
    helm = HelmSource(value_files=("../../env/prod-values.yaml",))
    chart = loader.load(app("charts/demo", helm=helm)).objects
    config_map = next(o for o in chart if o["kind"] == "ConfigMap")
    assert config_map["data"] == {"greeting": "bonjour"}
    source.close()


LAYERED = {
    "apps/shop/overlays/prod/kustomization.yaml": (
        "resources:\n- ../../../../bases/web\nnamePrefix: prod-\n"
        "patches:\n- path: replicas.yaml\n"
        "configMapGenerator:\n- name: settings\n  files:\n  - app.ini\n"
    ),
    "apps/shop/overlays/prod/replicas.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n"
    ),
    "apps/shop/overlays/prod/app.ini": "workers=4\n",
    "bases/web/kustomization.yaml": (
        "resources:\n- deployment.yaml\ncomponents:\n- ../../components/team\n"
    ),
    "bases/web/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n"
        "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
        "    spec:\n      containers: [{name: web, image: 'nginx:1.27'}]\n"
    ),
    "components/team/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        "commonAnnotations:\n  team: payments\n"
    ),
    "unrelated/broken/kustomization.yaml": "resources: [\n",
    **{
        f"unrelated/bulk/cm-{i}.yaml": f"kind: ConfigMap\nmetadata: {{name: c{i}}}\n"
        for i in range(50)
    },
}


def commit_tree(work: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", "-C", str(work)]
    if not (work / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", message], check=True)


def test_a_base_and_its_component_outside_the_path_through_the_loader(tmp_path: Path) -> None:
    """Only the overlay, the base it names and the component the base names are written for
    kubectl; they still come from the app's commit, and a change to the component (outside
    the app's path) shows at the next commit."""
    work = tmp_path / "work"
    commit_tree(work, LAYERED, "layered")
    source = ApplicationSource(repo_url=str(work), path="apps/shop/overlays/prod")
    app = Application("shop", ApplicationSpec(source, Destination(namespace="prod")))
    git = GitSource(tmp_path / "cache")
    try:
        loader = ManifestLoader(git)
        objects = loader.load(app).objects
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        config_map = next(o for o in objects if o["kind"] == "ConfigMap")
        assert deployment["metadata"]["name"] == "prod-web"
        assert deployment["spec"]["replicas"] == 3
        assert deployment["metadata"]["annotations"] == {"team": "payments"}
        assert config_map["metadata"]["name"].startswith("prod-settings-")
        assert config_map["data"] == {"app.ini": "workers=4\n"}
        assert len(objects) == 2
        tree = git.read_tree(str(work), git.resolve(str(work), "main", fetch=False), ".")
        written = reachable_files(tree, source.path)
        assert sorted({name.split("/")[0] for name in written}) == ["apps", "bases", "components"]
        assert len(written) == 6 and len(tree) == len(LAYERED)

        commit_tree(
            work,
            {
                "components/team/kustomization.yaml": (
                    "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
                    "commonAnnotations:\n  team: checkout\n"
                )
            },
            "new owner",
        )
        again = loader.load(app).objects
        deployment = next(o for o in again if o["kind"] == "Deployment")
        assert deployment["metadata"]["annotations"] == {"team": "checkout"}
        assert loader.render_count == 2
    finally:
        git.close()


def test_kustomize_errors_beyond_the_path_are_kustomize_s_own() -> None:
    """A missing base outside the path, and a base that does not parse (so every file is
    written), both fail with kustomize's explanation, named after the app's kustomization."""
    source = ApplicationSource(repo_url="r", path="apps/shop")
    for own, repo, detail in (
        (b"resources: [../../gone]\n", {}, "gone"),
        (b"resources: [../../web]\n", {"web/kustomization.yaml": b"resources: [\n"}, "web"),
    ):
        files = {"apps/shop/kustomization.yaml": own, **repo}
        with pytest.raises(RenderError, match="kubectl kustomize failed") as raised:
            render(
                source, {"kustomization.yaml": own}, app_name="a", namespace="n", repo_files=files
            )
        assert raised.value.file == "apps/shop/kustomization.yaml"
        assert detail in str(raised.value) and "kajitori-kustomize-" not in str(raised.value)
