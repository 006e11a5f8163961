"""Ordering a sync's tasks exactly as Argo CD does (gitops-engine ``sync_tasks.go`` Sort and
adjustDeps, and the prune-wave rules of ``sync_context.go`` getSyncTasks).

``order_tasks`` runs the three steps in Argo CD's sequence: prune waves (mirrored, then
PruneLast), the sort by (phase, wave, kind order, name), then dependencies first (Namespaces,
then CRDs). Pure functions over ``Task`` values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from reconciler.hooks import SYNC
from reconciler.model import ResourceKey
from reconciler.plan_types import Task

CRD_GROUP: Final = "apiextensions.k8s.io"
CRD_KIND: Final = "CustomResourceDefinition"

_TaskKey = Callable[[Task], str | None]


def order_tasks(tasks: Iterable[Task]) -> list[Task]:
    """The tasks in execution order, with prune waves and dependency moves applied."""
    ordered = with_prune_waves(tasks)
    ordered.sort(key=order_key)
    return dependencies_first(ordered)


def with_prune_waves(tasks: Iterable[Task]) -> list[Task]:
    """Prune waves: the distinct waves of prune tasks are mirrored (lowest <-> highest, the
    middle one stays), so what was created last is pruned first. Then prunes with PruneLast
    go to an extra wave one past the highest Sync-phase wave (counting the mirrored prunes,
    and at least wave 1), after everything else in phase Sync."""
    tasks = list(tasks)
    waves = sorted({task.wave for task in tasks if task.is_prune})
    mirrored = dict(zip(waves, reversed(waves), strict=True))
    tasks = [
        dataclasses.replace(task, wave=mirrored[task.wave]) if task.is_prune else task
        for task in tasks
    ]
    last_wave = max([0] + [task.wave for task in tasks if task.phase == SYNC]) + 1
    return [
        dataclasses.replace(task, wave=last_wave)
        if task.is_prune and task.options.prune_last
        else task
        for task in tasks
    ]


def order_key(task: Task) -> tuple[int, int, int, str, str, str, str]:
    """Argo CD's sort key (phase, wave, kind order, name), then namespace, group and action so
    that ties sort the same way every time (Argo CD leaves them in no particular order)."""
    k = task.key
    return (*task.sort_key, k.namespace, k.group, task.action)


def crd_group_kind(obj: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(spec.group, spec.names.kind) of a CustomResourceDefinition manifest, else None."""
    if obj is None or obj.get("kind") != CRD_KIND or ResourceKey.of(obj).group != CRD_GROUP:
        return None
    spec = obj.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    return (str(group), str(kind)) if group and kind else None


def dependencies_first(tasks: list[Task]) -> list[Task]:
    """Argo CD's adjustDeps, run for Namespaces and then for CRDs on a sorted list.

    A core Namespace moves just ahead of the first task placed before it whose key is in that
    namespace; a CRD just ahead of the first custom resource of its group and kind placed
    before it. The moved task takes that task's phase and wave, so a namespace needed by a
    PreSync hook is created in PreSync. (Argo CD reads the target's metadata.namespace, which
    it fills with the destination namespace even for cluster-scoped objects; kajitori uses
    the key, where cluster-scoped objects have no namespace.)
    """
    tasks = _move_dependencies(
        tasks,
        lambda t: t.key.name if t.key.group == "" and t.key.kind == "Namespace" else None,
        lambda t: t.key.namespace or None,
    )
    return _move_dependencies(
        tasks,
        lambda t: _joined(crd_group_kind(t.target)),
        lambda t: f"{t.key.group}/{t.key.kind}",
    )


def _joined(pair: tuple[str, str] | None) -> str | None:
    return None if pair is None else f"{pair[0]}/{pair[1]}"


def _move_dependencies(tasks: list[Task], dependency: _TaskKey, reference: _TaskKey) -> list[Task]:
    """Move each dependency task (``dependency(task)`` gives what it provides) just ahead of
    the first earlier task that references it (``reference(task)``), taking that task's phase
    and wave. Prune tasks neither move nor reference; a dependency references nothing."""
    tasks = list(tasks)
    first_reference: dict[str, int] = {}
    for i in range(len(tasks)):
        task = tasks[i]
        if task.target is None:
            continue
        provided = dependency(task)
        if provided is not None:
            index = first_reference.get(provided)
            if index is not None:
                anchor = tasks[index]
                moved = dataclasses.replace(task, phase=anchor.phase, wave=anchor.wave)
                del tasks[i]
                tasks.insert(index, moved)
                for ref, position in first_reference.items():
                    if position >= index:
                        first_reference[ref] = position + 1
            continue
        referenced = reference(task)
        if referenced is not None:
            first_reference.setdefault(referenced, i)
    return tasks
