"""The cluster writes of a sync, one task at a time, and the bounded pool they run on.

``TaskWriter`` turns a planned ``Task`` into requests: a dry-run, an apply (server-side apply
as field manager ``kajitori`` with conflicts forced, as Argo CD applies with
``ServerSideApply=true``; or replace/create with ``Replace=true``; deleted and re-created
when ``Force=true`` and the server refuses the change), a prune (delete with the task's
propagation policy), the deletion of a hook before it is created again, and the removal of
the hook finalizer. Every object written carries the tracking annotation
``kajitori.dev/tracking-id`` for its key; hooks also carry ``kajitori.dev/sync-operation``,
the operation that created them, so that a resumed operation recognises its own hooks.

Results are ``Outcome`` values; ClusterError never escapes a write (it becomes a SyncFailed
outcome naming the object and the server's reason) except from reads.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from reconciler.cluster_protocol import (
    ClusterProtocol,
    ConflictError,
    PropagationPolicy,
    UnknownKindError,
)
from reconciler.errors import ClusterError
from reconciler.hooks import HOOK_FINALIZER, OPERATION_ANNOTATION
from reconciler.model import ResourceKey
from reconciler.plan_types import Task
from reconciler.sync_cluster import ExtraWrites, extra_writes
from reconciler.sync_types import PRUNE_SKIPPED, PRUNED, SYNC_FAILED, SYNCED
from reconciler.tracking import with_tracking

PROPAGATION: Final = {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}
_RECREATE_TIMEOUT = 60.0
_EXISTING_NAMESPACE = "default"
_UPDATE_KINDS = frozenset({("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")})

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome:
    """The result of one write: a result code (Synced, SyncFailed, Pruned, PruneSkipped), a
    message for people, and the object the server returned (None for deletions)."""

    status: str
    message: str
    live: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.status == SYNC_FAILED


def describe_key(key: ResourceKey) -> str:
    """kubectl's way of naming an object in messages: ``deployment.apps/carts``."""
    kind = key.kind.lower() + (f".{key.group}" if key.group else "")
    return f"{kind}/{key.name}"


class TaskWriter:
    """Writes the tasks of one operation of one app to a cluster."""

    def __init__(
        self,
        cluster: ClusterProtocol,
        app_name: str,
        operation_id: str,
        *,
        sleeper: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cluster = cluster
        self.app_name = app_name
        self.operation_id = operation_id
        self._extra: ExtraWrites | None = extra_writes(cluster)
        self._sleep = sleeper

    # -- what is sent ----------------------------------------------------------------------

    def prepared(self, task: Task, *, track: bool = True) -> dict[str, Any]:
        """The object a task writes: its target with the tracking annotation (and for a hook
        the operation annotation). ``track`` False leaves the object untracked (the namespace
        CreateNamespace makes, which is never pruned)."""
        assert task.target is not None, f"{task.key} has no target"
        if not track:
            return copy.deepcopy(dict(task.target))
        obj = with_tracking(task.target, self.app_name, task.key)
        if task.is_hook:
            obj["metadata"]["annotations"][OPERATION_ANNOTATION] = self.operation_id
        return obj

    def created_by_this_operation(self, live: Mapping[str, Any] | None) -> bool:
        """Whether a live hook was created by this very operation (before a restart)."""
        annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
        return annotations.get(OPERATION_ANNOTATION) == self.operation_id

    # -- dry run ---------------------------------------------------------------------------

    def dry_run(self, task: Task, live: Mapping[str, Any] | None, new_namespaces: set[str]) -> str:
        """Ask the server whether the task's write would be accepted; "" when it would (or
        when the refusal is expected: a kind whose CRD this sync installs, a namespace this
        sync creates, a change only deletion and re-creation can make). Else the reason.

        An object in a namespace that this sync creates cannot be dry-run where it goes (the
        server answers 404 for the namespace); it is dry-run in ``default`` instead, so that
        its schema is still checked before anything is written (Argo CD's client-side dry-run
        checks nothing there)."""
        try:
            if task.is_prune:
                assert task.live is not None
                if not task.prune_skip_message:
                    self.cluster.delete(
                        task.key, propagation=_propagation(self.propagation(task)), dry_run=True
                    )
                return ""
            obj = self.prepared(task)
            if task.options.replace:
                self._replace_or_create(obj, live, task, dry_run=True)
            else:
                self._apply(obj, task, dry_run=True)
        except UnknownKindError as error:
            return "" if task.skip_dry_run_if_missing else str(error)
        except ClusterError as error:
            if error.code == 404 and task.key.namespace in new_namespaces:
                return self._dry_run_elsewhere(task)
            recreated = task.options.force or (task.deletes_before_creation and live is not None)
            if recreated and error.code in (409, 422):
                return ""
            return str(error)
        return ""

    def _dry_run_elsewhere(self, task: Task) -> str:
        obj = self.prepared(task)
        obj["metadata"]["namespace"] = _EXISTING_NAMESPACE
        try:
            if task.options.replace:
                self._writes("Replace=true").create(
                    obj, dry_run=True, validate=task.options.validate
                )
            else:
                self._apply(obj, task, dry_run=True)
        except ClusterError as error:
            if error.code in (404, 409):
                return ""  # no "default" namespace, or a namesake there: nothing to learn
            return str(error).replace(f"/{_EXISTING_NAMESPACE}/", f"/{task.key.namespace}/")
        return ""

    # -- writes ----------------------------------------------------------------------------

    def apply(self, task: Task, live: Mapping[str, Any] | None, *, track: bool = True) -> Outcome:
        """Create or update the task's object."""
        obj = self.prepared(task, track=track)
        try:
            if task.options.replace:
                result, verb = self._replace_or_create(obj, live, task, dry_run=False)
            else:
                try:
                    result, verb = self._apply(obj, task, dry_run=False), ""
                except ClusterError as error:
                    if not (task.options.force and live is not None and error.code in (409, 422)):
                        raise
                    result, verb = self._recreate(obj, task), "replaced"
        except ClusterError as error:
            return Outcome(SYNC_FAILED, str(error))
        if not verb:
            verb = _verb(live, result)
        return Outcome(SYNCED, f"{describe_key(task.key)} {verb}", result)

    def prune(self, task: Task) -> Outcome:
        """Delete a prune candidate (or report why it is kept)."""
        if task.prune_skip_message:
            return Outcome(PRUNE_SKIPPED, task.prune_skip_message)
        live = task.live or {}
        if (live.get("metadata") or {}).get("deletionTimestamp"):
            return Outcome(PRUNED, "pruned")
        try:
            self.cluster.delete(task.key, propagation=_propagation(self.propagation(task)))
        except ClusterError as error:
            return Outcome(SYNC_FAILED, str(error))
        return Outcome(PRUNED, "pruned")

    def delete(self, key: ResourceKey, propagation: str = "Foreground") -> None:
        """Delete an object (a hook); gone already is fine."""
        self.cluster.delete(key, propagation=_propagation(propagation))

    def remove_finalizer(self, task: Task, live: Mapping[str, Any]) -> None:
        """Take the hook finalizer off a live hook so that it can go away. Raises
        ClusterError when the server refuses."""
        finalizers = [str(f) for f in (live.get("metadata") or {}).get("finalizers") or []]
        if HOOK_FINALIZER not in finalizers:
            return
        if task.target is not None and self.created_by_this_operation(live):
            obj = self.prepared(task)
            meta = obj["metadata"]
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != HOOK_FINALIZER]
            try:
                updated = self.cluster.apply(obj, force=True)
            except ClusterError as error:
                if error.code == 404:
                    return
                raise
            kept = (updated.get("metadata") or {}).get("finalizers") or []
            if HOOK_FINALIZER not in kept:
                return
        self._update_without_finalizer(task.key, live)

    def propagation(self, task: Task) -> str:
        return PROPAGATION[task.options.prune_propagation_policy]

    # -- helpers ---------------------------------------------------------------------------

    def _apply(self, obj: dict[str, Any], task: Task, *, dry_run: bool) -> dict[str, Any]:
        if not task.options.validate and self._extra is not None:
            return self._extra.apply_unvalidated(obj, force=True, dry_run=dry_run)
        return self.cluster.apply(obj, force=True, dry_run=dry_run)

    def _replace_or_create(
        self, obj: dict[str, Any], live: Mapping[str, Any] | None, task: Task, *, dry_run: bool
    ) -> tuple[dict[str, Any], str]:
        extra = self._writes("Replace=true")
        validate = task.options.validate
        if live is None:
            return extra.create(obj, dry_run=dry_run, validate=validate), "created"
        if (task.key.group, task.key.kind) in _UPDATE_KINDS:
            # Replacing a Namespace or a CRD would delete what lives in it: update instead.
            version = (live.get("metadata") or {}).get("resourceVersion")
            obj["metadata"]["resourceVersion"] = version
            return extra.replace(obj, dry_run=dry_run, validate=validate), "updated"
        try:
            return extra.replace(obj, dry_run=dry_run, validate=validate), "replaced"
        except ClusterError as error:
            if dry_run or not task.options.force or error.code not in (409, 422):
                raise
            return self._recreate(obj, task), "replaced"

    def _recreate(self, obj: dict[str, Any], task: Task) -> dict[str, Any]:
        """Force=true: delete the object, wait until it is gone, create it again."""
        self.cluster.delete(task.key, propagation="Background")
        deadline = time.monotonic() + _RECREATE_TIMEOUT
        while self.cluster.get(task.key, str(obj.get("apiVersion"))) is not None:
            if time.monotonic() > deadline:
                raise ClusterError(f"{task.key}: still being deleted after {_RECREATE_TIMEOUT:g} s")
            self._sleep(0.05)
        if task.options.replace:
            return self._writes("Replace=true").create(obj, validate=task.options.validate)
        return self._apply(obj, task, dry_run=False)

    def _update_without_finalizer(self, key: ResourceKey, live: Mapping[str, Any]) -> None:
        extra = self._writes("removing the hook finalizer")
        current: Mapping[str, Any] | None = live
        for _ in range(3):
            if current is None:
                return
            updated = copy.deepcopy(dict(current))
            meta = updated.setdefault("metadata", {})
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != HOOK_FINALIZER]
            try:
                extra.replace(updated)
                return
            except ConflictError:
                current = self.cluster.get(key, str(live.get("apiVersion")))
            except ClusterError as error:
                if error.code == 404:
                    return
                raise
        raise ClusterError(
            f"{key}: the hook finalizer could not be removed (the object kept changing)"
        )

    def _writes(self, purpose: str) -> ExtraWrites:
        if self._extra is None:
            raise ClusterError(
                f"{purpose} needs create and replace, which this cluster client lacks"
            )
        return self._extra


def _verb(live: Mapping[str, Any] | None, result: Mapping[str, Any]) -> str:
    """created, unchanged or configured, judged on the object without its status and the
    server's bookkeeping (controllers may have written to it since it was read)."""
    if live is None:
        return "created"
    return "unchanged" if _content(live) == _content(result) else "configured"


_BOOKKEEPING: Final = frozenset({"resourceVersion", "managedFields", "generation"})


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    content = {k: v for k, v in obj.items() if k != "status"}
    meta = obj.get("metadata") or {}
    content["metadata"] = {k: v for k, v in meta.items() if k not in _BOOKKEEPING}
    return content


def _propagation(value: str) -> PropagationPolicy:
    if value not in ("Foreground", "Background", "Orphan"):
        raise ValueError(f"unknown propagation policy {value!r}")
    return cast(PropagationPolicy, value)


class Pool:
    """A bounded thread pool for the writes and reads of one operation."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._executor: ThreadPoolExecutor | None = None

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``function`` over ``items`` in parallel; results in input order. The first
        exception raised by a call is raised once every call has ended."""
        work = list(items)
        if len(work) <= 1 or self.workers == 1:
            return [function(item) for item in work]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="kajitori-sync")
        futures = [self._executor.submit(function, item) for item in work]
        results: list[R] = []
        error: BaseException | None = None
        for future in futures:
            try:
                results.append(future.result())
            except BaseException as exc:  # re-raised below, after every call has ended
                error = error or exc
        if error is not None:
            raise error
        return results

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def kind_runs(tasks: Sequence[Task]) -> list[list[Task]]:
    """Argo CD applies a group's tasks in runs of consecutive tasks of the same kind: each run
    in parallel, the runs one after another (a ServiceAccount before the Deployment using it)."""
    runs: list[list[Task]] = []
    for task in tasks:
        if runs and runs[-1][0].key.kind == task.key.kind:
            runs[-1].append(task)
        else:
            runs.append([task])
    return runs
