"""The sync plan: which objects a sync operation applies, prunes or runs as hooks, and in which
order, as Argo CD orders them (gitops-engine ``pkg/sync/sync_tasks.go`` and
``sync_context.go`` ``getSyncTasks``).

``build_plan`` turns the desired objects (with their live counterparts) and the prune
candidates into ``Task`` values sorted by (phase, wave, kind order, name):

- Non-hook objects run in phase Sync; hooks in the phases their annotations name (one task per
  phase); Skip objects and hooks a sync ignores get no task (see ``reconciler.hooks``).
- Kind order is Helm's install order (Namespace first ... APIService), other kinds after it; the
  namespace is not part of the key. Ties (same name in several namespaces or groups) are broken
  by namespace and group so that the order is deterministic.
- After sorting, a Namespace that a task earlier in the list lives in, and a CRD whose custom
  resources come earlier, move just ahead of the first such task and take its phase and wave.
- Prune tasks keep their live object's wave, then the distinct prune waves are mirrored
  (lowest <-> highest) so the last created is pruned first. PruneLast (app or object option)
  puts a prune in an extra wave after the last Sync-phase wave (at least wave 1).
- ApplyOutOfSyncOnly drops non-hook apply tasks whose object exists and is not out of sync.
- kajitori's hook annotations ``kajitori.dev/approval`` and ``kajitori.dev/hook-run`` are read
  into ``Task.approval_required`` and ``Task.run_on_change`` (``PlanError`` for an unknown
  value, or for ``required``/``on-change`` on an object that is not a hook).

The sync engine (``reconciler.sync``) runs ``Plan.groups()`` one (phase, wave) group per step
and ``Plan.sync_fail_tasks`` on failure. The plan is deterministic in its inputs (revision and
operation start included), so the engine may rebuild it at every step, as Argo CD does, and a
resumed operation sees the same tasks and hook names.

Pure: no clients, no clock (the operation start is passed in), no environment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Set
from typing import Any

from reconciler.hooks import (
    PRE_SYNC,
    SYNC,
    PlanError,
    approval_required,
    describe,
    hook_name,
    hook_spec,
    prepared_hook,
    runs_on_change,
    sync_wave,
)
from reconciler.model import ResourceKey
from reconciler.plan_backoff import retry_allowed, retry_delay, self_heal_delay
from reconciler.plan_order import crd_group_kind, order_tasks
from reconciler.plan_types import (
    APPLY,
    HOOK,
    HOOK_IGNORED,
    KIND_ORDER,
    PRUNE,
    PRUNE_NEEDS_CONFIRMATION,
    PRUNE_SKIPPED,
    UNKNOWN_SYNC_OPTION,
    Plan,
    PlanProblem,
    Resource,
    Task,
    kind_order,
)
from reconciler.sync_options import SyncOptions, parse_sync_options, task_sync_options

__all__ = [
    "APPLY",
    "HOOK",
    "KIND_ORDER",
    "PRUNE",
    "Plan",
    "PlanError",
    "PlanProblem",
    "Resource",
    "Task",
    "build_plan",
    "kind_order",
    "retry_allowed",
    "retry_delay",
    "self_heal_delay",
]

STRATEGIES = ("hook", "apply")

# Argo CD's result messages for a prune that is not carried out.
PRUNE_DISABLED_MESSAGE = "ignored (requires pruning)"
NO_PRUNE_MESSAGE = "ignored (no prune)"


def build_plan(
    targets: Iterable[Resource],
    prune_candidates: Iterable[Resource] = (),
    *,
    app_sync_options: Iterable[str] | SyncOptions = (),
    prune: bool,
    revision: str,
    started_at: int,
    strategy: str = "hook",
    selected: Set[ResourceKey] | None = None,
    out_of_sync: Set[ResourceKey] | None = None,
    destination_namespace: str = "",
    destination_namespace_exists: bool = True,
) -> Plan:
    """Build the ordered plan of one sync operation.

    ``prune``: the operation may delete prune candidates (else they are PruneSkipped).
    ``strategy`` "apply" skips hooks, and so does a non-empty ``selected`` (selective sync,
    where a key with an empty namespace matches every namespace, as in Argo CD).
    ``out_of_sync``: keys the comparison found OutOfSync, used by ApplyOutOfSyncOnly.
    ``destination_namespace`` with ``destination_namespace_exists`` False and CreateNamespace
    adds a PreSync task creating it unless a manifest declares that Namespace.
    Raises ``PlanError`` listing every object whose annotations cannot be read.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"sync strategy must be 'hook' or 'apply', not {strategy!r}")
    targets = list(targets)
    problems: list[PlanProblem] = []
    if isinstance(app_sync_options, SyncOptions):
        app_options = app_sync_options
    else:
        app_options, messages = parse_sync_options(
            app_sync_options, scope="app", where="Application syncOptions"
        )
        problems += [PlanProblem(UNKNOWN_SYNC_OPTION, message) for message in messages]
    skip_hooks = strategy == "apply" or bool(selected)
    crd_kinds = {gk for r in targets if (gk := crd_group_kind(r.target)) is not None}
    wanted = _selector(selected)
    errors: list[str] = []
    tasks: list[Task] = []
    for resource in targets:
        if resource.target is None:
            raise ValueError(f"target {resource.key} has no target object")
        if wanted(resource.key):
            try:
                tasks += _target_tasks(
                    resource, app_options, crd_kinds, skip_hooks, revision, started_at, problems
                )
            except PlanError as error:
                errors += error.problems
    if errors:
        raise PlanError(errors)
    for resource in prune_candidates:
        if resource.live is None:
            raise ValueError(f"prune candidate {resource.key} has no live object")
        if wanted(resource.key):
            tasks += _prune_task(resource, app_options, prune, problems)
    namespace_task = _namespace_task(
        targets, app_options, destination_namespace, destination_namespace_exists
    )
    if namespace_task is not None:
        tasks.append(namespace_task)
    tasks = order_tasks(tasks)
    if namespace_task is not None:  # the ordering may have moved it to an earlier wave
        namespace_task = next(t for t in tasks if t.target is namespace_task.target)
    multi_step = bool(tasks) and (tasks[0].phase, tasks[0].wave) != (
        tasks[-1].phase,
        tasks[-1].wave,
    )
    if out_of_sync is not None:
        tasks = [task for task in tasks if not _already_synced(task, out_of_sync)]
    return Plan(
        tasks=tuple(tasks),
        revision=revision,
        started_at=started_at,
        problems=tuple(problems),
        skip_hooks=skip_hooks,
        multi_step=multi_step,
        namespace_task=namespace_task,
    )


def _selector(selected: Set[ResourceKey] | None) -> Callable[[ResourceKey], bool]:
    """A predicate over keys for selective sync (everything when nothing is selected)."""
    if not selected:
        return lambda key: True
    index: dict[tuple[str, str, str], set[str]] = {}
    for key in selected:
        index.setdefault((key.group, key.kind, key.name), set()).add(key.namespace)

    def wanted(key: ResourceKey) -> bool:
        namespaces = index.get((key.group, key.kind, key.name))
        return namespaces is not None and ("" in namespaces or key.namespace in namespaces)

    return wanted


def _target_tasks(
    resource: Resource,
    app_options: SyncOptions,
    crd_kinds: set[tuple[str, str]],
    skip_hooks: bool,
    revision: str,
    started_at: int,
    problems: list[PlanProblem],
) -> list[Task]:
    target = resource.target
    assert target is not None
    errors: list[str] = []
    try:
        spec = hook_spec(target)
    except PlanError as error:
        errors += error.problems
    try:
        wave = sync_wave(target)
    except PlanError as error:
        errors += error.problems
    gated = on_change = False
    if not errors:
        try:
            gated = approval_required(target, hook=spec.hook)
        except PlanError as error:
            errors += error.problems
        try:
            on_change = runs_on_change(target, hook=spec.hook)
        except PlanError as error:
            errors += error.problems
    if errors:
        raise PlanError(errors)
    problems += [PlanProblem(HOOK_IGNORED, note, resource.key) for note in spec.notes]
    if not spec.applied or (spec.hook and skip_hooks):
        return []
    options, messages = task_sync_options(app_options, target, resource.live, describe(target))
    problems += [PlanProblem(UNKNOWN_SYNC_OPTION, m, resource.key) for m in messages]
    key = resource.key
    skip_dry_run = options.skip_dry_run_on_missing_resource or (key.group, key.kind) in crd_kinds
    if not spec.hook:
        task = _task(SYNC, wave, key, APPLY, target, resource.live, options)
        return [dataclasses.replace(task, skip_dry_run_if_missing=skip_dry_run)]
    tasks = []
    for phase in spec.phases:
        name = hook_name(target, revision, phase, started_at)
        generated = name != key.name
        hook_key = dataclasses.replace(key, name=name)
        live = None if generated else resource.live
        task = _task(phase, wave, hook_key, HOOK, prepared_hook(target, name), live, options)
        tasks.append(
            dataclasses.replace(
                task,
                hook_type=phase,
                delete_policies=spec.delete_policies,
                skip_dry_run_if_missing=skip_dry_run,
                approval_required=gated,
                run_on_change=on_change,
            )
        )
    return tasks


def _prune_task(
    resource: Resource, app_options: SyncOptions, prune: bool, problems: list[PlanProblem]
) -> list[Task]:
    live = resource.live
    assert live is not None
    spec = hook_spec(live, strict=False)
    if spec.hook or spec.skip:
        return []  # hooks and Skip objects are never pruned (Argo CD skips them too)
    options, _ = task_sync_options(app_options, None, live, describe(live))
    key = resource.key
    skip_message, confirm = "", False
    if not prune:
        skip_message = PRUNE_DISABLED_MESSAGE
    elif options.prune == "false":
        skip_message = NO_PRUNE_MESSAGE
    elif options.prune == "confirm":
        confirm = True
        problems.append(
            PlanProblem(
                PRUNE_NEEDS_CONFIRMATION,
                f"{key}: Prune=confirm; pruning waits for the Application's "
                "argocd.argoproj.io/deletion-approved annotation",
                key,
            )
        )
    if skip_message:
        problems.append(PlanProblem(PRUNE_SKIPPED, f"{key}: prune {skip_message}", key))
    task = _task(SYNC, sync_wave(live, strict=False), key, PRUNE, None, live, options)
    return [
        dataclasses.replace(task, prune_skip_message=skip_message, requires_confirmation=confirm)
    ]


def _namespace_task(
    targets: list[Resource], app_options: SyncOptions, namespace: str, exists: bool
) -> Task | None:
    """Argo CD's CreateNamespace: a PreSync task creating the destination namespace when it is
    missing and no manifest declares it. The namespace is not tracked, so never pruned."""
    if not app_options.create_namespace or not namespace or exists:
        return None
    for resource in targets:
        if resource.key.group == "" and resource.key.kind == "Namespace":
            spec = hook_spec(resource.target or {}, strict=False)
            if resource.key.name == namespace and not spec.hook:
                return None
    target = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    key = ResourceKey("", "Namespace", "", namespace)
    return _task(PRE_SYNC, 0, key, APPLY, target, None, app_options)


def _task(
    phase: str,
    wave: int,
    key: ResourceKey,
    action: str,
    target: Mapping[str, Any] | None,
    live: Mapping[str, Any] | None,
    options: SyncOptions,
) -> Task:
    return Task(phase, wave, kind_order(key.kind), key, action, target, live, options=options)


def _already_synced(task: Task, out_of_sync: Set[ResourceKey]) -> bool:
    """ApplyOutOfSyncOnly: a non-hook apply of an existing object that is not out of sync."""
    return (
        task.action == APPLY
        and task.live is not None
        and task.options.apply_out_of_sync_only
        and task.key not in out_of_sync
    )
