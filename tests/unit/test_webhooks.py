"""reconciler.webhooks: signature and bearer checks, push payload parsing, URL normalisation
and which apps a push concerns."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
)
from reconciler.settings import Secret
from reconciler.webhooks import (
    MANIFEST_PATHS_ANNOTATION,
    PushEvent,
    WebhookError,
    apps_for_push,
    check_bearer,
    normalize_repo_url,
    parse_push,
    revision_matches,
    sign,
    verify_signature,
    watches,
)

SECRET = "It's a Secret to Everybody"
SHA = "a" * 40
OLD = "b" * 40


def payload(ref: str = "refs/heads/main", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ref": ref,
        "before": OLD,
        "after": SHA,
        "created": False,
        "deleted": False,
        "repository": {
            "full_name": "Acme/Manifests",
            "html_url": "https://github.com/Acme/Manifests",
            "clone_url": "https://github.com/Acme/Manifests.git",
            "ssh_url": "git@github.com:Acme/Manifests.git",
            "git_url": "git://github.com/Acme/Manifests.git",
            "default_branch": "main",
        },
        "commits": [
            {"id": "c" * 40, "added": ["apps/web/new.yaml"], "removed": [], "modified": []},
            {"id": SHA, "added": [], "removed": ["old.txt"], "modified": ["apps/db/db.yaml"]},
        ],
        "pusher": {"name": "ada", "email": "ada@example.com"},
    }
    data.update(overrides)
    return data


def push(ref: str = "refs/heads/main", **overrides: Any) -> PushEvent:
    return parse_push(json.dumps(payload(ref, **overrides)).encode())


def app(
    name: str,
    repo: str = "https://github.com/acme/manifests.git",
    revision: str = "HEAD",
    path: str = "apps/web",
    annotations: dict[str, str] | None = None,
) -> Application:
    return Application(
        name=name,
        spec=ApplicationSpec(
            source=ApplicationSource(repo_url=repo, path=path, target_revision=revision),
            destination=Destination(namespace="default"),
        ),
        annotations=annotations or {},
    )


# -- signatures and tokens -----------------------------------------------------------------


def test_github_documented_example_signature() -> None:
    # the example in GitHub's "Validating webhook deliveries" documentation
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(SECRET, b"Hello, World!") == expected
    assert verify_signature(SECRET, b"Hello, World!", expected)


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        (SECRET, b"{}", sign("other secret", b"{}")),  # signed with another secret
        (SECRET, b"{} ", sign(SECRET, b"{}")),  # body changed after signing
        (SECRET, b"{}", ""),  # header empty
        (SECRET, b"{}", "sha1=" + hmac.new(SECRET.encode(), b"{}", hashlib.sha1).hexdigest()),
        (SECRET, b"{}", "sha256="),
        (SECRET, b"{}", "garbage"),
        ("", b"{}", "sha256=" + hmac.new(b"", b"{}", hashlib.sha256).hexdigest()),
    ],
)
def test_bad_signatures_are_refused(secret: str, body: bytes, header: str) -> None:
    assert not verify_signature(secret, body, header)


def test_signature_accepts_secret_objects_and_bytes() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    header = sign(SECRET, body)
    assert verify_signature(Secret(SECRET), body, header)
    assert verify_signature(SECRET.encode(), body, header)
    assert verify_signature(SECRET, body, header.upper().replace("SHA256=", "sha256="))
    assert not verify_signature(SECRET, body, None)


def test_bearer_token_check() -> None:
    token = Secret("t0ken-value")
    assert check_bearer(token, "Bearer t0ken-value")
    assert check_bearer(token, "bearer   t0ken-value ")
    assert not check_bearer(token, "Bearer t0ken-valuE")
    assert not check_bearer(token, "Basic t0ken-value")
    assert not check_bearer(token, "t0ken-value")
    assert not check_bearer(token, None)
    assert not check_bearer("", "Bearer ")


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Acme/Manifests.git",
        "https://github.com/acme/manifests",
        "https://github.com/acme/manifests/",
        "http://github.com/acme/manifests.git",
        "https://user:token@github.com/acme/manifests.git",
        "https://github.com:443/acme/manifests.git",
        "git@github.com:acme/manifests.git",
        "git@github.com:acme/manifests",
        "ssh://git@github.com/acme/manifests.git",
        "ssh://git@github.com:22/acme/manifests.git",
        "git://github.com/acme/manifests.git",
        "  https://GitHub.com/acme/manifests.git  ",
    ],
)
def test_repository_url_forms_normalise_alike(url: str) -> None:
    assert normalize_repo_url(url) == "github.com/acme/manifests"


def test_different_repositories_stay_different() -> None:
    assert normalize_repo_url("https://github.com/acme/other") != normalize_repo_url(
        "https://github.com/acme/manifests"
    )
    assert normalize_repo_url("https://gitlab.com/acme/manifests") != normalize_repo_url(
        "https://github.com/acme/manifests"
    )
    assert normalize_repo_url("/srv/git/acme/manifests.git") == normalize_repo_url(
        "file:///srv/git/acme/manifests.git"
    )


# -- parsing -------------------------------------------------------------------------------


def test_parse_push_reads_ref_urls_commits_and_files() -> None:
    event = push()
    assert event.repository == "Acme/Manifests"
    assert event.repo_urls == {"github.com/acme/manifests"}
    assert (event.branch, event.tag, event.after, event.before) == ("main", None, SHA, OLD)
    assert event.default_branch == "main"
    assert event.commit_shas == ("c" * 40, SHA)
    assert event.changed_files == frozenset({"apps/web/new.yaml", "old.txt", "apps/db/db.yaml"})
    assert event.pusher == "ada"
    assert event.is_repo("git@github.com:ACME/manifests.git")


def test_parse_push_of_a_tag_and_of_a_deleted_branch() -> None:
    tag = push("refs/tags/v1.2.0", commits=[])
    assert (tag.branch, tag.tag, tag.changed_files) == (None, "v1.2.0", None)
    gone = push("refs/heads/feature", after="0" * 40, deleted=True, commits=[])
    assert gone.deleted and gone.branch == "feature" and gone.changed_files is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (json.dumps({"repository": {}}).encode(), "'ref'"),
        (json.dumps({"ref": "refs/heads/main"}).encode(), "'repository'"),
        (json.dumps({"ref": "refs/heads/main", "repository": {}}).encode(), "no clone_url"),
        (json.dumps(payload(commits={"a": 1})).encode(), "'commits' must be a list"),
        (json.dumps(payload(commits=[1])).encode(), r"commits\[0\]"),
    ],
)
def test_parse_push_names_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(WebhookError, match=message) as info:
        parse_push(body)
    assert info.value.status == 400


# -- matching ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "ref", "expected"),
    [
        ("HEAD", "refs/heads/main", True),
        ("", "refs/heads/main", True),
        ("HEAD", "refs/heads/feature", False),
        ("HEAD", "refs/tags/v1", False),
        ("main", "refs/heads/main", True),
        ("refs/heads/main", "refs/heads/main", True),
        ("feature", "refs/heads/main", False),
        ("refs/heads/feature", "refs/heads/feature", True),
        ("v1.2.0", "refs/tags/v1.2.0", True),
        ("refs/tags/v1.2.0", "refs/tags/v1.2.0", True),
        ("refs/tags/v1.2.0", "refs/heads/v1.2.0", False),
        ("v1.2.0", "refs/tags/v1.3.0", False),
        (SHA, "refs/heads/main", True),  # the push brought the pinned commit
        (SHA[:8], "refs/heads/other", True),
        ("c" * 40, "refs/heads/main", True),  # an intermediate commit of the push
        ("d" * 40, "refs/heads/main", False),
        ("v1.*", "refs/tags/v1.3.0", True),  # a constraint: any tag push may satisfy it
        (">=1.0.0", "refs/tags/1.4.0", True),
        ("v1.*", "refs/heads/main", False),
    ],
)
def test_revision_matching(target: str, ref: str, expected: bool) -> None:
    assert revision_matches(target, push(ref)) is expected


def test_head_matches_any_branch_when_the_default_branch_is_unknown() -> None:
    repository = dict(payload()["repository"], default_branch=None)
    assert revision_matches("HEAD", push("refs/heads/dev", repository=repository))


def test_apps_for_push_picks_apps_by_repository_and_revision() -> None:
    apps = [
        app("web"),
        app("web-ssh", repo="git@github.com:Acme/Manifests.git"),
        app("web-dev", revision="dev"),
        app("pinned", revision=SHA),
        app("elsewhere", repo="https://github.com/acme/other.git"),
    ]
    assert [a.name for a in apps_for_push(apps, push())] == ["web", "web-ssh", "pinned"]
    assert [a.name for a in apps_for_push(apps, push("refs/heads/dev"))] == ["web-dev", "pinned"]


def test_manifest_generate_paths_narrows_refreshes_to_touched_paths() -> None:
    event = push()  # touches apps/web/new.yaml, apps/db/db.yaml, old.txt
    here = {MANIFEST_PATHS_ANNOTATION: "."}
    assert watches(app("web", path="apps/web", annotations=here), event)
    assert not watches(app("api", path="apps/api", annotations=here), event)
    both = {MANIFEST_PATHS_ANNOTATION: ".; /apps/db"}
    assert watches(app("api", path="apps/api", annotations=both), event)
    sibling = {MANIFEST_PATHS_ANNOTATION: "../db"}
    assert watches(app("api", path="apps/api", annotations=sibling), event)
    glob = {MANIFEST_PATHS_ANNOTATION: "/apps/*/db.yaml"}
    assert watches(app("api", path="apps/api", annotations=glob), event)
    root = {MANIFEST_PATHS_ANNOTATION: "/"}
    assert watches(app("api", path="apps/api", annotations=root), event)
    # a prefix of a name is not a parent directory
    assert not watches(app("we", path="apps/we", annotations=here), event)
    # when the push does not list its files, refresh to be safe
    unknown = push("refs/heads/main", commits=[])
    assert watches(app("api", path="apps/api", annotations=here), unknown)
