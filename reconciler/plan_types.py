"""The values a sync plan is made of: the input ``Resource``, the ``Task`` (one apply, prune or
hook run), the ordered ``Plan`` and its ``PlanProblem`` notes, and Argo CD's kind order.

Built by ``reconciler.plan.build_plan``; read by the sync engine. Frozen, pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from reconciler.hooks import BEFORE_HOOK_CREATION, PHASE_ORDER, SYNC_FAIL
from reconciler.model import ResourceKey
from reconciler.sync_options import DEFAULT_SYNC_OPTIONS, SyncOptions

APPLY: Final = "apply"
PRUNE: Final = "prune"
HOOK: Final = "hook"

# Helm's install order, which Argo CD uses (gitops-engine sync_tasks.go kindOrder); kinds not
# listed (custom resources) sort after all of them. Only the kind string counts, not the group.
KIND_ORDER: Final = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
    "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
    "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "APIService",
)  # fmt: skip
_KIND_INDEX: Final = {kind: i - len(KIND_ORDER) for i, kind in enumerate(KIND_ORDER)}

# Problem codes.
PRUNE_SKIPPED: Final = "PruneSkipped"
PRUNE_NEEDS_CONFIRMATION: Final = "PruneNeedsConfirmation"
UNKNOWN_SYNC_OPTION: Final = "UnknownSyncOption"
HOOK_IGNORED: Final = "HookIgnored"


def kind_order(kind: str) -> int:
    """Argo CD's kind rank: negative for the listed kinds (Namespace lowest, -35), 0 for
    every other kind."""
    return _KIND_INDEX.get(kind, 0)


@dataclass(frozen=True)
class Resource:
    """One input object. A target has ``target`` (from Git) and ``live`` when it exists; a
    prune candidate has only ``live``. ``key`` carries the namespace already defaulted (by
    the comparison, which knows cluster-scoped kinds); for a ``generateName`` hook its name
    is empty."""

    key: ResourceKey
    target: Mapping[str, Any] | None = None
    live: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PlanProblem:
    """Something the plan does differently from what a reader of the manifests might expect.
    ``code`` is PruneSkipped, PruneNeedsConfirmation, UnknownSyncOption or HookIgnored;
    ``key`` is None for a problem of the Application itself."""

    code: str
    message: str
    key: ResourceKey | None = None


@dataclass(frozen=True)
class Task:
    """One step of a sync: apply ``target``, prune ``live``, or run a hook (apply ``target``).

    ``phase`` is PreSync, Sync, PostSync or SyncFail; ``wave`` is the effective wave (mirrored
    for prunes, moved for dependencies); ``hook_type`` is the phase for hooks, "" otherwise.
    ``delete_policies`` is set for hooks only. ``options`` are the app's options overridden by
    the object's. ``skip_dry_run_if_missing``: a dry-run that fails because the kind is unknown
    to the server is not an error (the CRD is in this sync, or SkipDryRunOnMissingResource).
    A prune with ``prune_skip_message`` is recorded as PruneSkipped with that message instead
    of deleting; ``requires_confirmation`` holds a prune until the Application's
    deletion-approved annotation confirms it (``sync_options.deletion_approved``).
    ``approval_required`` (hooks annotated ``kajitori.dev/approval: required``) holds the
    hook's group until a person approves it; ``run_on_change`` (``kajitori.dev/hook-run:
    on-change``) skips the hook when its spec equals the one that last succeeded.

    Hook targets are prepared copies (name set, finalizer added); other objects are shared
    with the caller, not copied: do not mutate them.
    """

    phase: str
    wave: int
    kind_order: int
    key: ResourceKey
    action: str
    target: Mapping[str, Any] | None
    live: Mapping[str, Any] | None
    hook_type: str = ""
    delete_policies: tuple[str, ...] = ()
    options: SyncOptions = DEFAULT_SYNC_OPTIONS
    skip_dry_run_if_missing: bool = False
    prune_skip_message: str = ""
    requires_confirmation: bool = False
    approval_required: bool = False
    run_on_change: bool = False

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def is_hook(self) -> bool:
        return self.action == HOOK

    @property
    def is_prune(self) -> bool:
        return self.action == PRUNE

    @property
    def sort_key(self) -> tuple[int, int, int, str]:
        """Argo CD's order: phase, wave, kind order, name (the namespace is not part of it)."""
        return (PHASE_ORDER[self.phase], self.wave, self.kind_order, self.key.name)

    @property
    def result_key(self) -> str:
        """Identity of this task's result across steps and restarts, Argo CD's form
        ``group/kind/namespace/name:phase``."""
        k = self.key
        return f"{k.group}/{k.kind}/{k.namespace}/{k.name}:{self.phase}"

    def has_delete_policy(self, policy: str) -> bool:
        """Whether a hook has this delete policy (always False for non-hooks)."""
        return policy in self.delete_policies

    @property
    def deletes_before_creation(self) -> bool:
        """A hook whose existing live object is deleted before it is created again."""
        return self.is_hook and BEFORE_HOOK_CREATION in self.delete_policies


@dataclass(frozen=True)
class Plan:
    """The ordered tasks of one sync operation.

    ``tasks`` is in execution order with the SyncFail hooks last. ``multi_step`` is Argo CD's
    flag (the tasks span more than one (phase, wave), SyncFail hooks included): when it is
    false the operation succeeds right after applying, without waiting for health.
    ``namespace_task`` is the CreateNamespace task (also in ``tasks``), which the engine
    creates before the dry-run. ``skip_hooks`` tells whether hooks were left out (strategy
    apply or selective sync).
    """

    tasks: tuple[Task, ...]
    revision: str
    started_at: int
    problems: tuple[PlanProblem, ...] = ()
    skip_hooks: bool = False
    multi_step: bool = False
    namespace_task: Task | None = None

    def groups(self) -> list[tuple[str, int, tuple[Task, ...]]]:
        """(phase, wave, tasks) in execution order, SyncFail hooks left out (they run only
        when the operation fails: ``sync_fail_tasks``)."""
        result: list[tuple[str, int, tuple[Task, ...]]] = []
        current: list[Task] = []
        for task in self.tasks:
            if task.phase == SYNC_FAIL:
                continue
            if current and (current[0].phase, current[0].wave) != (task.phase, task.wave):
                result.append((current[0].phase, current[0].wave, tuple(current)))
                current = []
            current.append(task)
        if current:
            result.append((current[0].phase, current[0].wave, tuple(current)))
        return result

    @property
    def sync_fail_tasks(self) -> tuple[Task, ...]:
        """The SyncFail hooks, created together when any task fails."""
        return tuple(task for task in self.tasks if task.phase == SYNC_FAIL)

    def find(self, result_key: str) -> Task | None:
        """The task with this ``result_key``, if the plan has it."""
        return next((task for task in self.tasks if task.result_key == result_key), None)

    def problems_with(self, code: str) -> tuple[PlanProblem, ...]:
        """The problems of one code."""
        return tuple(problem for problem in self.problems if problem.code == code)
