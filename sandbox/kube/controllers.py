"""Simulated Kubernetes controllers for the API emulator: they make workloads look alive.

The emulator runs no kubelet and no kube-controller-manager, yet a GitOps engine judges health
by status fields those would write. :class:`Controllers` listens to the store and writes those
fields through it (as manager "kube-controller-manager"), so every client and watcher sees
the same steps as on a real cluster.

Delays, in seconds of simulated time; each is multiplied by ``time_factor()`` when scheduled
(factor 1 = these values, 0.1 = ten times faster, 0 = as fast as the thread runs):

==========================  =====  ==========================================================
what                        delay  effect
==========================  =====  ==========================================================
observe (OBSERVE_DELAY)     0.1    Deployment / ReplicaSet / StatefulSet / DaemonSet: the new
                                   generation is observed: observedGeneration, new revision
                                   (Deployment: its ReplicaSet is created or scaled), replicas
                                   counted but not yet ready -> health Progressing
ready (READY_DELAY)         0.5    after the observe step: every replica ready and available;
                                   Deployment Available=True, Progressing=True
                                   (NewReplicaSetAvailable), old ReplicaSets scaled to 0
Job start (JOB_START_DELAY) 0.05   the Job's Pod is created; Job startTime, active=1
Pod start (POD_START_DELAY) 0.1    a Pod (direct or a Job's) is Running and Ready
run time                    N      `sleep N` in the first container's command/args (summed
                                   over an `sh -c` script); DEFAULT_RUN_SECONDS = 1 when the
                                   command never sleeps; `sleep infinity` never ends. Then
                                   the Pod is Succeeded/Failed and the Job Complete/Failed
activeDeadlineSeconds       N      a Job still running then fails with DeadlineExceeded
ttlSecondsAfterFinished     N      a finished Job is deleted
PVC bind (PVC_BIND_DELAY)   0.1    PersistentVolumeClaim status.phase Bound
address (ADDRESS_DELAY)     0.2    LoadBalancer Service / Ingress get status.loadBalancer
                                   .ingress [{ip: 127.0.0.x}]
==========================  =====  ==========================================================

Beyond the delays: a Deployment adopts orphaned ReplicaSets its selector matches and, going
back to an older pod template, reuses that template's ReplicaSet under a new revision
(deployment.kubernetes.io/revision). A restartPolicy Always Pod whose command fails shows
CrashLoopBackOff after its run time. No Pods are created for Deployments, ReplicaSets,
StatefulSets or DaemonSets; a Job gets exactly one Pod (no retries, no parallelism).

Listener callbacks only enqueue; all work runs on one daemon thread (controllers_timers),
re-reading the object when its timer fires, so a deleted object (gone, or carrying a
deletionTimestamp) is never brought back and a stale timer for an older generation does
nothing. Odd objects (missing or mistyped fields) are logged and skipped. The kinds live in
controllers_deployment, controllers_sets, controllers_jobs, controllers_pods and
controllers_network; the command simulation in controllers_command.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.kube.controllers_base import (
    ADDRESS_DELAY,
    DEFAULT_RUN_SECONDS,
    JOB_START_DELAY,
    OBSERVE_DELAY,
    POD_START_DELAY,
    PVC_BIND_DELAY,
    READY_DELAY,
    Context,
    ControllerStore,
    KindController,
    Obj,
    group_of,
    log,
    meta,
)
from sandbox.kube.controllers_deployment import DeploymentController
from sandbox.kube.controllers_jobs import JobController
from sandbox.kube.controllers_network import AddressController, PersistentVolumeClaimController
from sandbox.kube.controllers_pods import PodController
from sandbox.kube.controllers_sets import (
    DaemonSetController,
    ReplicaSetController,
    StatefulSetController,
)
from sandbox.kube.controllers_timers import TimerQueue

__all__ = [
    "ADDRESS_DELAY",
    "DEFAULT_RUN_SECONDS",
    "JOB_START_DELAY",
    "OBSERVE_DELAY",
    "POD_START_DELAY",
    "PVC_BIND_DELAY",
    "READY_DELAY",
    "Controllers",
]

_KINDS: tuple[type[KindController], ...] = (
    DeploymentController,
    ReplicaSetController,
    StatefulSetController,
    DaemonSetController,
    JobController,
    PodController,
    PersistentVolumeClaimController,
    AddressController,
)


class Controllers:
    """Every simulated controller, driven by store events on one worker thread."""

    def __init__(self, store: ControllerStore, time_factor: Callable[[], float]) -> None:
        self._store = store
        self._timers = TimerQueue("kube-controllers")
        self._ctx = Context(store, self._timers, time_factor)
        self._handlers: dict[tuple[str, str], KindController] = {}
        for cls in _KINDS:
            controller = cls(self._ctx)
            for group_kind in controller.kinds:
                self._handlers[group_kind] = controller
        self._listening = False
        self._running = False

    def start(self) -> None:
        """Register the store listener (once), start the worker thread and look at the
        objects already in the store."""
        if not self._listening:
            self._store.add_listener(self._on_change)
            self._listening = True
        self._timers.start()
        self._running = True
        self._timers.call_later(0.0, self._resync)

    def stop(self) -> None:
        """Stop the worker thread; pending work is dropped. Events are ignored until
        start() is called again."""
        self._running = False
        self._timers.stop()

    def reset(self) -> None:
        """Forget pending timers and in-memory state (called on /_sandbox/reset), then look at
        what the store holds now."""
        self._timers.clear()
        self._ctx.pod_ips.reset()
        self._ctx.lb_ips.reset()
        for controller in {id(c): c for c in self._handlers.values()}.values():
            controller.reset()
        if self._running:
            self._timers.call_later(0.0, self._resync)

    def idle(self) -> bool:
        """True when no work is due right now (pending timers may still wait)."""
        return self._timers.idle()

    def _on_change(self, event: str, obj: Obj) -> None:
        """Store listener: only enqueues (it runs on the store's caller thread)."""
        if not self._running or not isinstance(obj, dict):
            return
        group_kind = (group_of(obj), str(obj.get("kind") or ""))
        if group_kind in self._handlers:
            self._timers.call_later(0.0, lambda: self._dispatch(event, group_kind, obj))

    def _dispatch(self, event: str, group_kind: tuple[str, str], obj: Obj) -> None:
        controller = self._handlers[group_kind]
        try:
            controller.on_event(event, obj)
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            md = meta(obj)
            log.warning(
                "%s %s/%s skipped by the simulated controllers: %s",
                group_kind[1],
                md.get("namespace"),
                md.get("name"),
                err,
            )

    def _resync(self) -> None:
        """Treat every object of a handled kind as just added."""
        for group, kind in self._handlers:
            try:
                objects = self._store.list(group, kind)
            except Exception:
                log.exception("cannot list %s.%s for the simulated controllers", kind, group)
                continue
            for obj in objects:
                self._dispatch("ADDED", (group, kind), obj)
