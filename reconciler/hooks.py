"""Reading a manifest's sync annotations: is it a hook, in which sync phases does it run, how is
it deleted, in which wave does it go, and what is a ``generateName`` hook called.

The rules are Argo CD's (gitops-engine ``pkg/sync/hook``, ``hook/helm``, ``syncwaves``):

- ``argocd.argoproj.io/hook`` is a comma list of PreSync, Sync, PostSync, SyncFail, Skip; one
  sync task is made per phase. ``Skip`` alone means the object is never applied; listed with
  other values it is dropped. PreDelete and PostDelete hooks run only when an Application is
  deleted, so a sync ignores them (reported, not an error).
- Without that annotation, ``helm.sh/hook`` maps pre-install/pre-upgrade to PreSync and
  post-install/post-upgrade to PostSync; every other Helm hook (test, pre-delete, ...) makes
  the object a hook that a sync ignores; ``crd-install`` is not a hook at all.
- ``argocd.argoproj.io/sync-wave`` gives the wave, else ``helm.sh/hook-weight``, else 0.
- Delete policies come from both ``argocd.argoproj.io/hook-delete-policy`` and
  ``helm.sh/hook-delete-policy``; BeforeHookCreation when neither gives one.

Where Argo CD silently drops a value it does not know (a misspelt hook type, a wave that is not
an integer, an unknown delete policy), kajitori raises ``PlanError`` naming the object and the
value, because the silent fallback runs a migration in the wrong phase or order. Live objects
(what a prune reads) are read leniently with Argo CD's fallbacks: a prune must not be blocked by
an annotation that is no longer in Git. Helm's own annotations are read leniently too, since
charts are third-party code; what is ignored there is reported as a note.

kajitori's own hook annotations are read here too (``approval_required``, ``runs_on_change``):
``kajitori.dev/approval: required`` and ``kajitori.dev/hook-run: on-change``; an unknown value,
or either on an object that is not a hook, raises ``PlanError`` rather than being ignored.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from reconciler.errors import KajitoriError
from reconciler.model import (
    HELM_HOOK_ANNOTATION,
    HELM_HOOK_WEIGHT_ANNOTATION,
    HOOK_ANNOTATION,
    HOOK_DELETE_POLICY_ANNOTATION,
    SYNC_WAVE_ANNOTATION,
    ResourceKey,
)

PRE_SYNC: Final = "PreSync"
SYNC: Final = "Sync"
POST_SYNC: Final = "PostSync"
SYNC_FAIL: Final = "SyncFail"
SKIP: Final = "Skip"
PRE_DELETE: Final = "PreDelete"
POST_DELETE: Final = "PostDelete"

# The sync phases in execution order (Argo CD's syncPhaseOrder: -1, 0, 1, 2).
SYNC_PHASES: Final = (PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL)
PHASE_ORDER: Final[Mapping[str, int]] = {PRE_SYNC: -1, SYNC: 0, POST_SYNC: 1, SYNC_FAIL: 2}
DELETION_HOOKS: Final = (PRE_DELETE, POST_DELETE)

HOOK_SUCCEEDED: Final = "HookSucceeded"
HOOK_FAILED: Final = "HookFailed"
BEFORE_HOOK_CREATION: Final = "BeforeHookCreation"
NEVER: Final = "Never"
DELETE_POLICIES: Final = (HOOK_SUCCEEDED, HOOK_FAILED, BEFORE_HOOK_CREATION, NEVER)
DEFAULT_DELETE_POLICIES: Final = (BEFORE_HOOK_CREATION,)

HELM_HOOK_DELETE_POLICY_ANNOTATION: Final = "helm.sh/hook-delete-policy"
HELM_HOOK_PHASES: Final[Mapping[str, str]] = {
    "pre-install": PRE_SYNC,
    "pre-upgrade": PRE_SYNC,
    "post-install": POST_SYNC,
    "post-upgrade": POST_SYNC,
}
HELM_DELETE_POLICIES: Final[Mapping[str, str]] = {
    "before-hook-creation": BEFORE_HOOK_CREATION,
    "hook-succeeded": HOOK_SUCCEEDED,
    "hook-failed": HOOK_FAILED,
}
HELM_CRD_INSTALL: Final = "crd-install"

# kajitori adds this finalizer to every hook it creates and removes it once the hook's result
# is recorded, so a Job with ttlSecondsAfterFinished cannot vanish before it is read (Argo CD
# uses argocd.argoproj.io/hook-finalizer; kajitori's own additions use kajitori.dev/).
HOOK_FINALIZER: Final = "kajitori.dev/hook-finalizer"
# The hooks a sync operation creates carry its id, so a resumed operation recognises them.
OPERATION_ANNOTATION: Final = "kajitori.dev/sync-operation"

# kajitori's own hook annotations (issue 8). ``kajitori.dev/approval: required`` holds the sync
# before the hook is created until a person approves it; ``kajitori.dev/hook-run: on-change``
# skips the hook when its spec equals the one that last succeeded for the app.
APPROVAL_ANNOTATION: Final = "kajitori.dev/approval"
APPROVAL_REQUIRED: Final = "required"
APPROVAL_VALUES: Final = (APPROVAL_REQUIRED, "none")
HOOK_RUN_ANNOTATION: Final = "kajitori.dev/hook-run"
HOOK_RUN_ALWAYS: Final = "always"
HOOK_RUN_ON_CHANGE: Final = "on-change"
HOOK_RUN_VALUES: Final = (HOOK_RUN_ALWAYS, HOOK_RUN_ON_CHANGE)

_INTEGER = re.compile(r"[+-]?[0-9]+")


class PlanError(KajitoriError):
    """Manifests whose sync annotations cannot be read. ``problems`` holds one message per
    problem, each naming the object and the annotation value."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class HookSpec:
    """How the sync treats one object, read from its hook annotations.

    ``hook``: the object is a hook, not a managed resource (never in sync status, never pruned).
    ``phases``: the sync phases it runs in, in execution order; empty for a hook a sync ignores.
    ``skip``: annotated ``Skip`` alone, so it is neither applied nor a hook.
    ``delete_policies``: for hooks only, in annotation order, at least one.
    ``notes``: why parts of the annotations are ignored, for the plan's problems.
    """

    hook: bool
    phases: tuple[str, ...]
    skip: bool = False
    delete_policies: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def applied(self) -> bool:
        """Whether the sync creates or updates the object at all."""
        return not self.skip and bool(self.phases)


def describe(obj: Mapping[str, Any]) -> str:
    """A short name for an object in messages: ``Kind/namespace/name``, with ``generateName*``
    standing in for a name the API server would generate."""
    meta = obj.get("metadata") or {}
    key = ResourceKey.of(obj)
    if not key.name:
        generated = meta.get("generateName")
        name = f"{generated}*" if generated else "<unnamed>"
        key = ResourceKey(key.group, key.kind, key.namespace, name)
    return str(key) if key.kind else f"object {key.name} without a kind"


def annotation(obj: Mapping[str, Any], name: str) -> str | None:
    """The raw value of one annotation, or None when absent."""
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    value = annotations.get(name)
    return None if value is None else str(value)


def csv_values(raw: str | None) -> tuple[str, ...]:
    """A comma list as Argo CD reads it: trimmed, empty items dropped, duplicates removed
    (first occurrence kept, so the result is deterministic)."""
    if raw is None:
        return ()
    seen: dict[str, None] = {}
    for item in raw.split(","):
        value = item.strip()
        if value:
            seen.setdefault(value, None)
    return tuple(seen)


def hook_spec(obj: Mapping[str, Any], *, strict: bool = True) -> HookSpec:
    """Read an object's hook annotations. With ``strict`` (targets from Git), an unknown or
    empty ``argocd.argoproj.io/hook`` value or an unknown delete policy raises ``PlanError``;
    without it (live objects) such values are dropped as Argo CD drops them."""
    where = describe(obj)
    raw = annotation(obj, HOOK_ANNOTATION)
    if raw is not None:
        values = csv_values(raw)
        known = set(SYNC_PHASES) | {SKIP} | set(DELETION_HOOKS)
        unknown = [value for value in values if value not in known]
        if strict and (unknown or not values):
            shown = ", ".join(repr(value) for value in unknown) if unknown else "''"
            raise PlanError(
                [
                    f"{where}: unknown {HOOK_ANNOTATION} value {shown} (expected a comma list "
                    f"of {', '.join((*SYNC_PHASES, SKIP, *DELETION_HOOKS))})"
                ]
            )
        types = [value for value in values if value in known]
        if types:
            return _argo_hook(obj, where, types, strict=strict)
        # Argo CD falls back to the Helm annotation when no Argo CD type is understood; the
        # object stays a hook either way.
    return _helm_hook(obj, where, strict=strict, argo_annotated=raw is not None)


def _argo_hook(obj: Mapping[str, Any], where: str, types: list[str], *, strict: bool) -> HookSpec:
    if [value for value in types if value not in DELETION_HOOKS] == [SKIP]:
        return HookSpec(hook=False, phases=(), skip=True)
    notes = [
        f"{where}: {HOOK_ANNOTATION} {value} runs only when the Application is deleted; "
        "a sync does not run it"
        for value in types
        if value in DELETION_HOOKS
    ]
    phases = tuple(phase for phase in SYNC_PHASES if phase in types)
    return HookSpec(
        hook=True,
        phases=phases,
        delete_policies=delete_policies(obj, strict=strict),
        notes=tuple(notes),
    )


def _helm_hook(
    obj: Mapping[str, Any], where: str, *, strict: bool, argo_annotated: bool
) -> HookSpec:
    raw = annotation(obj, HELM_HOOK_ANNOTATION)
    if raw is None or raw.strip() == HELM_CRD_INSTALL:
        if argo_annotated:
            return HookSpec(hook=True, phases=(), delete_policies=DEFAULT_DELETE_POLICIES)
        return HookSpec(hook=False, phases=(SYNC,))
    values = csv_values(raw)
    phases = tuple(
        phase for phase in SYNC_PHASES if any(HELM_HOOK_PHASES.get(v) == phase for v in values)
    )
    ignored = [value for value in values if value not in HELM_HOOK_PHASES]
    notes: list[str] = []
    if not values:
        notes.append(f"{where}: empty {HELM_HOOK_ANNOTATION}; the object is not applied")
    if ignored:
        outcome = "the object is not applied" if not phases else "those values are ignored"
        notes.append(
            f"{where}: {HELM_HOOK_ANNOTATION} {', '.join(ignored)} is not a sync hook; "
            f"{outcome} (as in Argo CD)"
        )
    return HookSpec(
        hook=True,
        phases=phases,
        delete_policies=delete_policies(obj, strict=strict),
        notes=tuple(notes),
    )


def delete_policies(obj: Mapping[str, Any], *, strict: bool = True) -> tuple[str, ...]:
    """A hook's delete policies: Argo CD's annotation, then Helm's mapped ones, de-duplicated;
    ``(BeforeHookCreation,)`` when neither names one. Unknown Argo CD values raise
    ``PlanError`` when ``strict``; unknown Helm values are dropped."""
    found: dict[str, None] = {}
    argo_values = csv_values(annotation(obj, HOOK_DELETE_POLICY_ANNOTATION))
    unknown = [value for value in argo_values if value not in DELETE_POLICIES]
    if strict and unknown:
        raise PlanError(
            [
                f"{describe(obj)}: unknown {HOOK_DELETE_POLICY_ANNOTATION} value "
                f"{', '.join(repr(v) for v in unknown)} (expected {', '.join(DELETE_POLICIES)})"
            ]
        )
    for value in argo_values:
        if value in DELETE_POLICIES:
            found.setdefault(value, None)
    for value in csv_values(annotation(obj, HELM_HOOK_DELETE_POLICY_ANNOTATION)):
        if value in HELM_DELETE_POLICIES:
            found.setdefault(HELM_DELETE_POLICIES[value], None)
    return tuple(found) or DEFAULT_DELETE_POLICIES


def sync_wave(obj: Mapping[str, Any], *, strict: bool = True) -> int:
    """The object's wave: ``argocd.argoproj.io/sync-wave``, else ``helm.sh/hook-weight``,
    else 0. Negative waves are allowed. A value that is not an integer raises ``PlanError``
    naming the object and the value when ``strict``; otherwise it is skipped as Argo CD skips
    it."""
    for name in (SYNC_WAVE_ANNOTATION, HELM_HOOK_WEIGHT_ANNOTATION):
        raw = annotation(obj, name)
        if raw is None:
            continue
        if _INTEGER.fullmatch(raw):
            return int(raw)
        if strict:
            raise PlanError(
                [f'{describe(obj)}: {name} {raw!r} is not an integer (for example "-1" or "2")']
            )
    return 0


def hook_name(obj: Mapping[str, Any], revision: str, phase: str, started_at: int) -> str:
    """The name a hook is created under. A hook with ``metadata.name`` keeps it; one with only
    ``generateName`` gets ``<generateName><rev[0:7]>-<phase>-<started_at>`` with the suffix in
    lower case, as Argo CD names it (the whole revision when it is shorter than 8 characters).
    The name depends only on (revision, phase, operation start), so a resumed operation finds
    the hook it created before."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    if name:
        return name
    generate_name = str(meta.get("generateName") or "")
    if not generate_name:
        raise PlanError([f"{describe(obj)}: a hook needs metadata.name or metadata.generateName"])
    short = revision[0:7] if len(revision) >= 8 else revision
    return f"{generate_name}{f'{short}-{phase}-{started_at}'.lower()}"


def prepared_hook(obj: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A copy of a hook manifest ready to create: ``metadata.name`` set and the hook finalizer
    added (``generateName`` is kept, as Argo CD keeps it; the server ignores it once a name is
    given)."""
    prepared = copy.deepcopy(dict(obj))
    meta = dict(prepared.get("metadata") or {})
    meta["name"] = name
    finalizers = [str(f) for f in meta.get("finalizers") or []]
    if HOOK_FINALIZER not in finalizers:
        finalizers.append(HOOK_FINALIZER)
    meta["finalizers"] = finalizers
    prepared["metadata"] = meta
    return prepared


def approval_required(obj: Mapping[str, Any], *, hook: bool) -> bool:
    """Whether a target asks for approval before it is created (``kajitori.dev/approval:
    required``; ``none`` or no annotation: no). Raises ``PlanError`` naming the object for an
    unknown value, and for ``required`` on an object that is not a hook: only hooks can be
    held, and a gate that silently does nothing would let a migration run unasked."""
    return _kajitori_choice(obj, APPROVAL_ANNOTATION, APPROVAL_VALUES, APPROVAL_REQUIRED, hook)


def runs_on_change(obj: Mapping[str, Any], *, hook: bool) -> bool:
    """Whether a target is a hook that runs only when its spec changed (``kajitori.dev/hook-run:
    on-change``; ``always`` or no annotation: it runs at every sync). ``PlanError`` as for
    ``approval_required``."""
    return _kajitori_choice(obj, HOOK_RUN_ANNOTATION, HOOK_RUN_VALUES, HOOK_RUN_ON_CHANGE, hook)


def _kajitori_choice(
    obj: Mapping[str, Any], name: str, values: Sequence[str], active: str, hook: bool
) -> bool:
    """Whether annotation ``name`` has the ``active`` value (checked against ``values``)."""
    raw = annotation(obj, name)
    if raw is None:
        return False
    value = raw.strip()
    if value not in values:
        raise PlanError(
            [f"{describe(obj)}: unknown {name} value {raw!r} (expected {' or '.join(values)})"]
        )
    if value == active and not hook:
        raise PlanError(
            [
                f"{describe(obj)}: {name}: {value} applies to hooks only (objects annotated "
                f"{HOOK_ANNOTATION}); remove it or make the object a hook"
            ]
        )
    return value == active
