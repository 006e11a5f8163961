"""The start of an attempt of a sync operation: read the cluster, build the plan and the
``StepRunner`` over it (``build_runner``), then the checks and writes that come before the first
(phase, wave) group (``first_step``): FailOnSharedResource, the server-side dry-run of every
task, the end of a dry-run operation, and CreateNamespace.

Split from ``reconciler.sync`` so that ``SyncOperation`` keeps to the operation's life (steps,
retries, approvals, termination).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.cluster_protocol import ClusterProtocol
from reconciler.model import Application
from reconciler.plan import build_plan
from reconciler.plan_types import UNKNOWN_SYNC_OPTION, Plan, Task
from reconciler.sync_exec import Pool, TaskWriter
from reconciler.sync_gate import HookGate
from reconciler.sync_inventory import Inventory, take_inventory
from reconciler.sync_options import SyncOptions, parse_sync_options
from reconciler.sync_progress import EVENT_DRY_RUN, EVENT_WARNING, SyncEvent, dry_run_result
from reconciler.sync_steps import StepRunner
from reconciler.sync_types import FAILED, SUCCEEDED, SYNC_FAILED, OperationState, ResourceResult

EventSink = Callable[[SyncEvent], None]


def build_runner(
    app: Application,
    desired: Sequence[Mapping[str, Any]],
    cluster: ClusterProtocol,
    state: OperationState,
    *,
    writer: TaskWriter,
    gate: HookGate,
    pool: Pool,
    emit: EventSink,
) -> StepRunner:
    """Read the cluster and plan the attempt; warnings (unknown sync options) are emitted.
    Raises PlanError or ComparisonError for manifests that cannot be planned, ClusterError
    when the cluster cannot be read."""
    options, problems = parse_sync_options(
        state.request.sync_options, scope="app", where=f"Application {app.name} syncOptions"
    )
    for problem in problems:
        emit(SyncEvent(EVENT_WARNING, problem))
    inventory = take_inventory(app, desired, cluster, options)
    plan = _plan(app, state, inventory, options, emit)
    return StepRunner(app, plan, inventory, writer, pool, state, emit, gate)


def _plan(
    app: Application,
    state: OperationState,
    inventory: Inventory,
    options: SyncOptions,
    emit: EventSink,
) -> Plan:
    request = state.request
    plan = build_plan(
        inventory.targets,
        inventory.prune_candidates,
        app_sync_options=options,
        prune=request.prune,
        revision=state.revision,
        started_at=state.started_at,
        strategy=request.strategy,
        selected=set(request.resources) or None,
        out_of_sync=inventory.out_of_sync,
        destination_namespace=app.spec.destination.namespace,
        destination_namespace_exists=inventory.destination_namespace_exists,
    )
    for problem in plan.problems:
        if problem.code == UNKNOWN_SYNC_OPTION:
            emit(SyncEvent(EVENT_WARNING, problem.message))
    return plan


def first_step(steps: StepRunner, state: OperationState, emit: EventSink) -> tuple[str, str] | None:
    """What comes before the first group of an attempt. Returns the (phase, message) the
    operation ends with when it ends here (a shared resource, a failed dry-run, a dry-run
    operation, a namespace that cannot be created), None when the groups may run."""
    options, _ = parse_sync_options(state.request.sync_options, scope="app")
    if options.fail_on_shared_resource and steps.inventory.shared:
        return FAILED, "Shared resource found: " + "; ".join(steps.inventory.shared)
    failed = dry_run(steps)
    if failed:
        for result in failed:
            state.record(result)
        reasons = ", ".join(f"{r.key}: {r.message}" for r in failed)
        return FAILED, f"one or more objects failed to apply (dry run), reason: {reasons}"
    plan = steps.plan
    checked = len(plan.tasks) - (plan.namespace_task is not None)
    emit(SyncEvent(EVENT_DRY_RUN, f"dry run passed for {checked} tasks"))
    if state.request.dry_run:
        for task in plan.tasks:
            state.record(dry_run_result(task))
        return SUCCEEDED, "successfully synced (dry run)"
    if plan.namespace_task is not None:
        result = create_namespace(steps, plan.namespace_task)
        if result.status == SYNC_FAILED:
            return FAILED, f"namespace auto creation failed: {result.message}"
    return None


def dry_run(steps: StepRunner) -> list[ResourceResult]:
    """Dry-run every task (the CreateNamespace task excepted); the failures."""
    plan = steps.plan
    tasks = [t for t in plan.tasks if t is not plan.namespace_task]
    new_namespaces = {
        t.key.name
        for t in plan.tasks
        if t.key.group == "" and t.key.kind == "Namespace" and not t.is_prune
    }
    reasons = steps.pool.map(lambda t: steps.writer.dry_run(t, t.live, new_namespaces), tasks)
    return [
        ResourceResult(t.key, t.phase, status=SYNC_FAILED, message=why, hook_phase=FAILED)
        for t, why in zip(tasks, reasons, strict=True)
        if why
    ]


def create_namespace(steps: StepRunner, task: Task) -> ResourceResult:
    """CreateNamespace: the destination namespace, created before any group runs and left
    untracked (Argo CD never prunes it)."""
    outcome = steps.writer.apply(task, None, track=False)
    phase = FAILED if outcome.failed else SUCCEEDED
    return steps.record(task, outcome.status, phase, outcome.message)
