"""reconciler.render_kustomize.kustomize_reach and render.needs_repository: which files a
Kustomize build can read, so only those are read from Git and written for ``kubectl``."""

from __future__ import annotations

import pytest

from reconciler.model import ApplicationSource, KustomizeSource
from reconciler.render import needs_repository
from reconciler.render_kustomize import KustomizeReach, kustomize_reach, reachable_files

CM = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"

REPO: dict[str, bytes] = {
    "apps/shop/kustomization.yaml": b"""\
resources:
- deployment.yaml
- ../../bases/web
- https://github.com/example/remote//base?ref=v1
- github.com/example/other/base
patches:
- path: patches/replicas.yaml
- patch: |-
    - op: replace
      path: /spec/replicas
      value: 3
patchesStrategicMerge:
- |-
  apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
configMapGenerator:
- name: settings
  files:
  - app.ini=config/app.ini
  - ../../shared/config/extra.ini
  envs:
  - ../../shared/env/prod.env
""",
    "apps/shop/deployment.yaml": CM,
    "apps/shop/patches/replicas.yaml": CM,
    "apps/shop/config/app.ini": b"a=1\n",
    "bases/web/kustomization.yaml": b"resources: [svc.yaml]\n"
    b"components: [../../components/probes]\n",
    "bases/web/svc.yaml": CM,
    "components/probes/kustomization.yaml": b"kind: Component\nresources: [probe.yaml]\n",
    "components/probes/probe.yaml": CM,
    "components/unused/kustomization.yaml": b"resources: [../../nowhere]\n",
    "shared/config/extra.ini": b"b=2\n",
    "shared/env/prod.env": b"C=3\n",
    "shared/env/dev.env": b"C=4\n",
    "other/app/kustomization.yaml": b"resources: [cm.yaml]\n",
    "other/app/cm.yaml": CM,
    "README.md": b"manifests\n",
}


def test_a_base_outside_the_path_is_followed_through_its_own_kustomization() -> None:
    reach = kustomize_reach(REPO, "apps/shop")
    assert reach is not None
    assert reach.folders == {"apps/shop", "bases/web", "components/probes"}
    assert reach.files == {"shared/config/extra.ini", "shared/env/prod.env"}
    # local-looking references found nowhere: left to kustomize (it fetches remote bases)
    assert reach.absent == {"apps/shop/github.com/example/other/base"}


def test_only_reachable_files_are_kept() -> None:
    kept = reachable_files(REPO, "apps/shop")
    assert sorted(kept) == [
        "apps/shop/config/app.ini",
        "apps/shop/deployment.yaml",
        "apps/shop/kustomization.yaml",
        "apps/shop/patches/replicas.yaml",
        "bases/web/kustomization.yaml",
        "bases/web/svc.yaml",
        "components/probes/kustomization.yaml",
        "components/probes/probe.yaml",
        "shared/config/extra.ini",
        "shared/env/prod.env",
    ]
    assert all(kept[name] is REPO[name] for name in kept)


def test_references_inside_the_path_need_nothing_else() -> None:
    files = {
        "kustomization.yaml": b"resources: [base/cm.yaml, overlay]\n",
        "base/cm.yaml": CM,
        "overlay/kustomization.yaml": b"resources: [../base/cm.yaml]\n",
    }
    assert kustomize_reach(files, ".") == KustomizeReach(
        frozenset({".", "overlay"}), frozenset(), frozenset()
    )
    assert not needs_repository(ApplicationSource(repo_url="r", path="app"), files)


def test_the_repository_is_needed_when_a_reference_leaves_the_path() -> None:
    source = ApplicationSource(repo_url="r", path="apps/shop")
    own = {name[len("apps/shop/") :]: data for name, data in REPO.items() if "apps/shop/" in name}
    assert needs_repository(source, own)
    # also when it is a kustomization deeper in the path that leaves it
    nested = {
        "kustomization.yaml": b"resources: [overlay]\n",
        "overlay/kustomization.yaml": b"resources: [../../base]\n",
    }
    assert needs_repository(source, nested)


def test_a_kustomize_source_without_a_kustomization_needs_nothing_more() -> None:
    source = ApplicationSource(repo_url="r", path="app", kustomize=KustomizeSource())
    assert not needs_repository(source, {"cm.yaml": CM})


@pytest.mark.parametrize(
    "kustomization",
    [
        b"resources: [/etc/manifests]\n",  # absolute: depends on the machine
        b"resources: [../../../outside]\n",  # leaves the repository
        b"resources: [ok.yaml\n",  # does not parse
        b"resources: ok.yaml\n",  # not a list
        b"resources: [1]\n",  # not a path
        b"patches: [ok.yaml]\n",  # items must be maps
        b"- a list\n",  # not a mapping
    ],
)
def test_what_cannot_be_resolved_statically_means_everything(kustomization: bytes) -> None:
    files = {**REPO, "bases/web/kustomization.yaml": kustomization}
    assert kustomize_reach(files, "apps/shop") is None
    assert reachable_files(files, "apps/shop") is files


def test_a_reference_to_the_top_keeps_everything_and_cycles_end() -> None:
    files = {
        "a/kustomization.yaml": b"resources: [../b]\n",
        "b/kustomization.yaml": b"resources: [../a, ..]\n",
        "kustomization.yaml": b"resources: [a]\n",
        "c.yaml": CM,
    }
    reach = kustomize_reach(files, "a")
    assert reach is not None and reach.folders == {"a", "b", "."}
    assert reachable_files(files, "a") is files
