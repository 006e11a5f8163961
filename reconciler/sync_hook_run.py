"""Hooks that run only when they changed: ``kajitori.dev/hook-run: on-change`` (issue 8).

Such a hook is skipped when its rendered spec is identical to the one that last succeeded for
the app, so a database migration runs when its image, command or arguments change and not at
every deploy. The comparison is by fingerprint: a SHA-256 of the hook's manifest as rendered
from Git, without what differs from one sync to the next although the hook does not:

- ``metadata.name`` when the name is generated (``generateName`` stays and counts);
- what kajitori adds: the tracking and sync-operation annotations, the hook finalizer, and its
  own control annotations ``kajitori.dev/approval`` and ``kajitori.dev/hook-run`` (gating a
  migration or marking it on-change does not make it a different migration);
- ``status`` and the server's bookkeeping in ``metadata`` (resourceVersion, uid, ...).

A hook is known by its stable identity ``group/kind/namespace/<name or generateName>:phase``
(a generated name changes at every sync; its ``generateName`` does not). The caller keeps a
``HookRecord`` per identity (``reconciler.state.Store.hook_fingerprints``) and hands the
records to the sync; the sync reports the fingerprints of the on-change hooks that succeeded in
``status.operationState.hookFingerprints`` for the caller to save. A skipped hook's result is
``status: Synced``, ``hookPhase: Skipped`` with the message ``unchanged since <revision>``.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from reconciler.hooks import (
    APPROVAL_ANNOTATION,
    HOOK_FINALIZER,
    HOOK_RUN_ANNOTATION,
    OPERATION_ANNOTATION,
)
from reconciler.model import TRACKING_ANNOTATION
from reconciler.plan_types import Task
from reconciler.sync_fields import StateError, as_mapping

SKIPPED: Final = "Skipped"

_ADDED_ANNOTATIONS: Final = frozenset(
    {TRACKING_ANNOTATION, OPERATION_ANNOTATION, APPROVAL_ANNOTATION, HOOK_RUN_ANNOTATION}
)
_SERVER_METADATA: Final = frozenset(
    {
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "generation",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)


@dataclass(frozen=True)
class HookRecord:
    """The fingerprint of a hook's spec when it last succeeded, and the revision synced."""

    fingerprint: str
    revision: str

    def to_dict(self) -> dict[str, str]:
        return {"fingerprint": self.fingerprint, "revision": self.revision}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "hookFingerprints") -> HookRecord:
        data = as_mapping(data, where)
        fingerprint = data.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint:
            raise StateError(f"{where}.fingerprint is missing")
        return cls(fingerprint=fingerprint, revision=str(data.get("revision", "")))


def hook_identity(task: Task) -> str:
    """The identity of a hook task that stays the same from one sync to the next."""
    meta = (task.target or {}).get("metadata") or {}
    name = str(meta.get("generateName") or "") or task.key.name
    key = task.key
    return f"{key.group}/{key.kind}/{key.namespace}/{name}:{task.phase}"


def fingerprint(target: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the hook's manifest without the noise listed in the module
    docstring; equal specs give equal fingerprints whatever their key order."""
    content = {key: value for key, value in target.items() if key != "status"}
    meta = dict(content.get("metadata") or {})
    if meta.get("generateName"):
        meta.pop("name", None)
    for field in _SERVER_METADATA:
        meta.pop(field, None)
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k not in _ADDED_ANNOTATIONS
    }
    finalizers = [f for f in meta.get("finalizers") or [] if f != HOOK_FINALIZER]
    meta.pop("annotations", None)
    meta.pop("finalizers", None)
    if annotations:
        meta["annotations"] = annotations
    if finalizers:
        meta["finalizers"] = finalizers
    content["metadata"] = meta
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def short_revision(revision: str) -> str:
    """The first 7 characters of a commit, as people write it."""
    return revision[:7]


def unchanged_since(task: Task, known: Mapping[str, HookRecord]) -> HookRecord | None:
    """The record that lets an on-change hook be skipped: the one of its identity, when the
    fingerprint is the same. None for a hook that runs (changed, never succeeded, or not
    on-change)."""
    if not (task.is_hook and task.run_on_change and task.target is not None):
        return None
    record = known.get(hook_identity(task))
    if record is None or record.fingerprint != fingerprint(task.target):
        return None
    return record


def skipped_message(record: HookRecord) -> str:
    """The result message of a skipped hook: ``unchanged since 3f2a1bc``."""
    revision = short_revision(record.revision)
    return f"unchanged since {revision}" if revision else "unchanged since its last success"


def records_from_dict(data: Any, where: str = "hookFingerprints") -> dict[str, HookRecord]:
    """Records by identity from their JSON object; StateError naming the field otherwise."""
    return {
        str(identity): HookRecord.from_dict(item, f"{where}[{identity!r}]")
        for identity, item in as_mapping(data or {}, where).items()
    }
