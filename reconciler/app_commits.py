"""Which application commits the reverted manifest commits deployed. Pure.

When manifests and application code live in two repositories, a manifest commit usually
deploys an application commit, and says which in one of two ways:

* an image tag that is the commit's SHA (7 to 40 hex digits, optionally written ``sha-<hex>``
  or ``git-<hex>`` as CI tooling such as docker/metadata-action does) in ``image:``, or in a
  Kustomize ``newTag:`` / Helm ``tag:`` / ``imageTag:`` value;
* a trailer in the commit message: ``App-Commit: <sha>`` or ``Source-Commit: <sha>``
  (``owner/repo@<sha>`` names the repository too).

Rolling the manifests back therefore rolls those application commits back, and
:func:`find_app_commits` lists them so the application repository can get its revert pull
request too. A tag only counts when the reverted commit introduced it (it is in the file after
the commit and not before), and it must hold at least one of a-f: a tag of digits only is far
more often a build number or a date than a commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from reconciler.source import CommitInfo

MAX_SCANNED_BYTES: Final = 1 << 20  # larger files are not manifests worth scanning

_PAIR: Final = re.compile(
    r"""(?:^|[\s{,\[-])["']?(?P<key>image|tag|newTag|imageTag|repository|newName|name)["']?"""
    r"""\s*:\s*["']?(?P<value>[^\s"',{}\[\]#]+)"""
)
_SHA_TAG: Final = re.compile(r"^(?:sha-|git-)?(?P<sha>[0-9a-fA-F]{7,40})$")
_TRAILER: Final = re.compile(
    r"^\s*(?:App|Application|Source)-Commit\s*:\s*"
    r"(?:(?P<repo>[\w.-]+/[\w.-]+)@)?(?P<sha>[0-9a-fA-F]{7,40})\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_NAME_KEYS: Final = frozenset({"repository", "newName", "name"})


@dataclass(frozen=True)
class ManifestChange:
    """One reverted manifest commit and the files under the app's path it changed:
    repository-relative path -> (content before, content after), None where absent."""

    commit: CommitInfo
    files: Mapping[str, tuple[bytes | None, bytes | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageTag:
    """An image reference's tag as found in a manifest; ``image`` is the image name where
    the file says it ("" when only a bare tag was found)."""

    image: str
    tag: str


@dataclass(frozen=True)
class AppCommit:
    """An application commit a reverted manifest commit deployed.

    ``via`` says how it was found; ``previous_sha`` is the tag the same image had before
    (the application commit the rollback returns to), when that was a SHA too;
    ``repository`` is set when a trailer named it (``owner/name``)."""

    sha: str
    via: Literal["image-tag", "trailer"]
    manifest_commit: str
    image: str = ""
    file: str = ""
    previous_sha: str = ""
    repository: str = ""


def commit_sha_of_tag(tag: str) -> str | None:
    """The commit SHA an image tag stands for (lower case), or None."""
    match = _SHA_TAG.match(tag.strip())
    if match is None:
        return None
    sha = match.group("sha").lower()
    return sha if re.search(r"[a-f]", sha) else None


def split_image(reference: str) -> ImageTag:
    """``registry/name:tag@digest`` as (name, tag); the tag is "" when there is none."""
    ref = reference.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ImageTag(ref[:colon], ref[colon + 1 :])
    return ImageTag(ref, "")


def image_tags(text: str) -> list[ImageTag]:
    """Every image tag written in a manifest, values file or kustomization, in file order.

    Works on text, not parsed YAML, so Helm templates and JSON count too: ``image: x:tag``
    gives (x, tag); a ``tag``/``newTag``/``imageTag`` value is paired with the nearest
    ``repository``/``newName``/``name`` before it in the same block."""
    found: list[ImageTag] = []
    label = ""
    for line in text.splitlines():
        if line.lstrip().startswith("-"):
            label = ""  # a new list item: a new image
        for match in _PAIR.finditer(line):
            key, value = match.group("key"), match.group("value")
            if key == "image":
                ref = split_image(value)
                if ref.tag:
                    found.append(ref)
                else:
                    label = ref.image
            elif key in _NAME_KEYS:
                label = value
            else:
                found.append(ImageTag(label, value))
    return found


def _tags(content: bytes | None) -> list[ImageTag]:
    if content is None or len(content) > MAX_SCANNED_BYTES:
        return []
    return image_tags(content.decode("utf-8", "replace"))


def _from_files(change: ManifestChange) -> list[AppCommit]:
    found: list[AppCommit] = []
    for path in sorted(change.files):
        before, after = change.files[path]
        old_tags, new_tags = _tags(before), _tags(after)
        old_set = set(old_tags)
        for tag in new_tags:
            sha = commit_sha_of_tag(tag.tag)
            if sha is None or tag in old_set:
                continue
            previous = [
                old_sha
                for old in old_tags
                if old.image == tag.image and old not in new_tags
                for old_sha in [commit_sha_of_tag(old.tag)]
                if old_sha is not None
            ]
            found.append(
                AppCommit(
                    sha=sha,
                    via="image-tag",
                    manifest_commit=change.commit.sha,
                    image=tag.image,
                    file=path,
                    previous_sha=previous[0] if previous else "",
                )
            )
    return found


def _from_trailers(change: ManifestChange) -> list[AppCommit]:
    return [
        AppCommit(
            sha=match.group("sha").lower(),
            via="trailer",
            manifest_commit=change.commit.sha,
            repository=match.group("repo") or "",
        )
        for match in _TRAILER.finditer(change.commit.message)
    ]


def _same_commit(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _dedupe(commits: Iterable[AppCommit]) -> list[AppCommit]:
    """First mention of each commit wins; a longer SHA of the same commit replaces a prefix."""
    result: list[AppCommit] = []
    for commit in commits:
        index = next((i for i, seen in enumerate(result) if _same_commit(seen.sha, commit.sha)), -1)
        if index < 0:
            result.append(commit)
        elif len(commit.sha) > len(result[index].sha):
            kept = result[index]
            result[index] = AppCommit(
                sha=commit.sha,
                via=kept.via,
                manifest_commit=kept.manifest_commit,
                image=kept.image or commit.image,
                file=kept.file or commit.file,
                previous_sha=kept.previous_sha or commit.previous_sha,
                repository=kept.repository or commit.repository,
            )
    return result


def find_app_commits(changes: Sequence[ManifestChange]) -> list[AppCommit]:
    """The application commits that ``changes`` (reverted manifest commits, newest first)
    deployed, newest first, each once: trailers first, then image tags, per commit."""
    found: list[AppCommit] = []
    for change in changes:
        found.extend(_from_trailers(change))
        found.extend(_from_files(change))
    return _dedupe(found)


def app_revert_target(commits: Sequence[AppCommit]) -> str | None:
    """The application commit that ran before the oldest of ``commits`` (newest first):
    the revision the application repository's revert returns to, when the manifests say."""
    for commit in reversed(commits):
        if commit.previous_sha:
            return commit.previous_sha
    return None
