"""Application commits named by reverted manifest commits (reconciler.app_commits)."""

from __future__ import annotations

import pytest

from reconciler.app_commits import (
    AppCommit,
    ImageTag,
    ManifestChange,
    app_revert_target,
    commit_sha_of_tag,
    find_app_commits,
    image_tags,
    split_image,
)
from reconciler.source import CommitInfo

OLD = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
NEW = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"


def info(sha: str, message: str = "bump") -> CommitInfo:
    return CommitInfo(sha, "CI", "ci@example.com", "2024-05-01T12:00:00+00:00", message)


def deployment(image: str) -> bytes:
    return (
        "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
        f"        - name: web\n          image: {image}\n"
        "        - name: sidecar\n          image: envoyproxy/envoy:v1.29.1\n"
    ).encode()


@pytest.mark.parametrize(
    ("tag", "sha"),
    [
        ("abc1234", "abc1234"),
        ("ABC1234", "abc1234"),
        (NEW, NEW),
        ("sha-abc1234", "abc1234"),
        ("git-abc1234", "abc1234"),
        ("abc123", None),  # too short
        (NEW + "0", None),  # too long
        ("20240501", None),  # digits only: a date or build number
        ("v1.2.3", None),
        ("latest", None),
        ("abc1234-dirty", None),
    ],
)
def test_commit_sha_of_tag(tag: str, sha: str | None) -> None:
    assert commit_sha_of_tag(tag) == sha


def test_split_image() -> None:
    assert split_image("ghcr.io/acme/web:abc1234") == ImageTag("ghcr.io/acme/web", "abc1234")
    assert split_image("localhost:5000/web") == ImageTag("localhost:5000/web", "")
    assert split_image("localhost:5000/web:abc1234@sha256:" + "f" * 64) == ImageTag(
        "localhost:5000/web", "abc1234"
    )


def test_image_tags_in_manifests_values_and_kustomizations() -> None:
    manifest = deployment("ghcr.io/acme/web:abc1234").decode()
    assert image_tags(manifest) == [
        ImageTag("ghcr.io/acme/web", "abc1234"),
        ImageTag("envoyproxy/envoy", "v1.29.1"),
    ]
    values = 'replicaCount: 2\nimage:\n  repository: ghcr.io/acme/web\n  tag: "def5678"\n'
    assert image_tags(values) == [ImageTag("ghcr.io/acme/web", "def5678")]
    kustomization = (
        "resources:\n- deploy.yaml\nimages:\n"
        "- name: ghcr.io/acme/web\n  newTag: 1234abc\n"
        "- newTag: v2\n  name: ghcr.io/acme/api\n"
    )
    assert image_tags(kustomization) == [
        ImageTag("ghcr.io/acme/web", "1234abc"),
        ImageTag("", "v2"),
    ]
    json_manifest = '{"spec": {"containers": [\n  {"image": "ghcr.io/acme/web:abc1234",\n'
    assert image_tags(json_manifest) == [ImageTag("ghcr.io/acme/web", "abc1234")]
    templated = "image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n"
    assert image_tags(templated) == []


def test_image_tags_introduced_by_a_commit_are_app_commits() -> None:
    change = ManifestChange(
        info("m2"),
        {
            "apps/web/deploy.yaml": (
                deployment(f"ghcr.io/acme/web:{OLD}"),
                deployment(f"ghcr.io/acme/web:{NEW}"),
            ),
            "apps/web/new.yaml": (None, b"image: ghcr.io/acme/worker:sha-beef123\n"),
            "apps/web/gone.yaml": (b"image: ghcr.io/acme/old:dead456\n", None),
        },
    )
    assert find_app_commits([change]) == [
        AppCommit(
            sha=NEW,
            via="image-tag",
            manifest_commit="m2",
            image="ghcr.io/acme/web",
            file="apps/web/deploy.yaml",
            previous_sha=OLD,
        ),
        AppCommit(
            sha="beef123",
            via="image-tag",
            manifest_commit="m2",
            image="ghcr.io/acme/worker",
            file="apps/web/new.yaml",
        ),
    ]


def test_unchanged_tags_and_version_tags_are_not_app_commits() -> None:
    same = deployment("ghcr.io/acme/web:abc1234")
    change = ManifestChange(
        info("m1"),
        {
            "a.yaml": (same, same.replace(b"v1.29.1", b"v1.30.0")),
            "b.yaml": (b"image: web:v1\n", b"image: web:v2\n"),
        },
    )
    assert find_app_commits([change]) == []


def test_trailers_name_app_commits_and_repositories() -> None:
    message = (
        "Deploy web\n\nSome text mentioning abc1234 in passing.\n\n"
        f"App-Commit: {NEW}\nsource-commit: acme/api@cafe123\nSigned-off-by: CI <ci@x>"
    )
    found = find_app_commits([ManifestChange(info("m3", message))])
    assert [(a.sha, a.via, a.repository) for a in found] == [
        (NEW, "trailer", ""),
        ("cafe123", "trailer", "acme/api"),
    ]


def test_each_app_commit_once_newest_first_and_the_revert_target() -> None:
    newest = ManifestChange(
        info("m2", f"bump\n\nApp-Commit: {NEW[:7]}"),
        {"d.yaml": (deployment(f"web:{OLD[:10]}"), deployment(f"web:{NEW}"))},
    )
    oldest = ManifestChange(
        info("m1"),
        {"d.yaml": (deployment("web:fedcba9"), deployment(f"web:{OLD[:10]}"))},
    )
    found = find_app_commits([newest, oldest])
    # The short trailer SHA and the full image tag are one commit; the full SHA is kept.
    assert [(a.sha, a.manifest_commit, a.via) for a in found] == [
        (NEW, "m2", "trailer"),
        (OLD[:10], "m1", "image-tag"),
    ]
    assert found[0].previous_sha == OLD[:10]
    assert app_revert_target(found) == "fedcba9"
    assert app_revert_target([]) is None
    assert find_app_commits([]) == []
