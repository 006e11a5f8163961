"""Simulated kubelet for Pods: status shapes for a running, finished or crash-looping Pod,
and the controller for Pods created directly (a Job's Pods are driven by the Job controller).

A direct Pod starts Running with Ready=True POD_START_DELAY after it is created. With
restartPolicy Never or OnFailure it then ends Succeeded or Failed after the time its first
container's command says (see controllers_command). With restartPolicy Always it keeps
running, unless its command fails: then, after the command's run time, it shows
CrashLoopBackOff (phase Running, Ready=False), as a real kubelet would.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sandbox.kube.controllers_base import (
    DEFAULT_RUN_SECONDS,
    POD_START_DELAY,
    Context,
    KindController,
    Obj,
    controller_owner,
    fetch,
    ident,
    log,
    meta,
    now_rfc3339,
    spec,
    status,
    template_hash,
)
from sandbox.kube.controllers_command import RunOutcome, simulate

HOST_IP = "10.0.0.1"


def containers(pod_spec: Obj, field: str = "containers") -> list[Obj]:
    """The container list of a pod spec, skipping malformed entries."""
    value = pod_spec.get(field)
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


def outcome_of(pod_spec: Obj) -> RunOutcome:
    """How the first container of a pod spec runs (a pod without containers: default)."""
    first = next(iter(containers(pod_spec)), None)
    if first is None:
        return RunOutcome(DEFAULT_RUN_SECONDS, 0)
    command = first.get("command")
    args = first.get("args")
    return simulate(
        command if isinstance(command, list) else None,
        args if isinstance(args, list) else None,
        DEFAULT_RUN_SECONDS,
    )


def _condition(ctype: str, cstatus: str, now: str, reason: str = "", message: str = "") -> Obj:
    cond: Obj = {"type": ctype, "status": cstatus, "lastProbeTime": None}
    cond["lastTransitionTime"] = now
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _container_id(uid: str, name: str) -> str:
    return f"containerd://{template_hash([uid, name])}{template_hash([name, uid])}"


def _qos(pod_spec: Obj) -> str:
    resources = [c.get("resources") for c in containers(pod_spec)]
    return "Burstable" if any(isinstance(r, dict) and r for r in resources) else "BestEffort"


def running_status(pod: Obj, pod_ip: str, now: str) -> Obj:
    """A Pod that was scheduled and whose containers all run and are ready."""
    pod_spec = spec(pod)
    uid = str(meta(pod).get("uid") or "")
    statuses = [
        {
            "name": c.get("name"),
            "image": c.get("image"),
            "imageID": "",
            "containerID": _container_id(uid, str(c.get("name"))),
            "ready": True,
            "started": True,
            "restartCount": 0,
            "lastState": {},
            "state": {"running": {"startedAt": now}},
        }
        for c in containers(pod_spec)
    ]
    result: Obj = {
        "phase": "Running",
        "conditions": [
            _condition("PodReadyToStartContainers", "True", now),
            _condition("Initialized", "True", now),
            _condition("Ready", "True", now),
            _condition("ContainersReady", "True", now),
            _condition("PodScheduled", "True", now),
        ],
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": now,
        "qosClass": _qos(pod_spec),
        "containerStatuses": statuses,
    }
    init = containers(pod_spec, "initContainers")
    if init:
        result["initContainerStatuses"] = [
            {
                "name": c.get("name"),
                "image": c.get("image"),
                "imageID": "",
                "containerID": _container_id(uid, str(c.get("name"))),
                "ready": True,
                "started": False,
                "restartCount": 0,
                "lastState": {},
                "state": {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": now,
                        "finishedAt": now,
                    }
                },
            }
            for c in init
        ]
    return result


def finished_status(current: Obj, exit_code: int, now: str, reason: str = "") -> Obj:
    """A running Pod's status after its containers exited: Succeeded when exit_code is 0."""
    succeeded = exit_code == 0
    phase = "Succeeded" if succeeded else "Failed"
    why = "PodCompleted" if succeeded else "PodFailed"
    new = dict(current)
    new["phase"] = phase
    if reason:
        new["reason"] = reason
        new["message"] = "Pod was active on the node longer than the specified deadline"
    started = str(current.get("startTime") or now)
    new["conditions"] = [
        _condition("PodReadyToStartContainers", "False", now),
        _condition("Initialized", "True", started, why),
        _condition("Ready", "False", now, why),
        _condition("ContainersReady", "False", now, why),
        _condition("PodScheduled", "True", started),
    ]
    statuses = []
    for index, old in enumerate(current.get("containerStatuses") or []):
        if not isinstance(old, dict):
            continue
        code = exit_code if index == 0 else 0
        running = (old.get("state") or {}).get("running") or {}
        terminated = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": running.get("startedAt", started),
            "finishedAt": now,
            "containerID": old.get("containerID"),
        }
        statuses.append(
            {**old, "ready": False, "started": False, "state": {"terminated": terminated}}
        )
    new["containerStatuses"] = statuses
    return new


def crashloop_status(current: Obj, pod_name: str, exit_code: int, now: str) -> Obj:
    """A restartPolicy Always Pod whose first container keeps failing."""
    new = dict(current)
    statuses = [s for s in current.get("containerStatuses") or [] if isinstance(s, dict)]
    if not statuses:
        return new
    first = statuses[0]
    name = first.get("name")
    running = (first.get("state") or {}).get("running") or {}
    statuses[0] = {
        **first,
        "ready": False,
        "started": False,
        "restartCount": 1,
        "lastState": {
            "terminated": {
                "exitCode": exit_code,
                "reason": "Error",
                "startedAt": running.get("startedAt", now),
                "finishedAt": now,
                "containerID": first.get("containerID"),
            }
        },
        "state": {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 10s restarting failed container={name} pod={pod_name}",
            }
        },
    }
    message = f"containers with unready status: [{name}]"
    conditions = [c for c in current.get("conditions") or [] if isinstance(c, dict)]
    for index, cond in enumerate(conditions):
        if cond.get("type") in ("Ready", "ContainersReady"):
            conditions[index] = _condition(
                str(cond["type"]), "False", now, "ContainersNotReady", message
            )
    new["conditions"] = conditions
    new["containerStatuses"] = statuses
    return new


def crashlooping(current: Obj) -> bool:
    """True when some container of the Pod waits in CrashLoopBackOff."""
    for entry in current.get("containerStatuses") or []:
        if isinstance(entry, dict):
            waiting = (entry.get("state") or {}).get("waiting") or {}
            if isinstance(waiting, dict) and waiting.get("reason") == "CrashLoopBackOff":
                return True
    return False


def seconds_since(timestamp: object) -> float:
    """Wall-clock seconds elapsed since an RFC 3339 timestamp (0 when unparsable)."""
    try:
        then = datetime.strptime(str(timestamp), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    return max(0.0, (datetime.now(UTC) - then).total_seconds())


def remaining_delay(ctx: Context, run_seconds: float, started: object) -> float:
    """Real seconds left of a scaled run that began at `started` (used after a restart of
    the controllers, when the in-memory timer is gone)."""
    return max(0.0, run_seconds * ctx.factor() - seconds_since(started))


class PodController(KindController):
    """Pods not owned by a Job (see the module docstring)."""

    kinds = (("", "Pod"),)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._ends: dict[str, float] = {}  # uid -> monotonic time of its scheduled end

    def reset(self) -> None:
        self._ends.clear()

    def on_event(self, event: str, obj: Obj) -> None:
        _, _, ns, name, uid = ident(obj)
        if event == "DELETED":
            self._ends.pop(uid, None)
            return
        owner = controller_owner(obj)
        if owner is not None and owner.get("kind") == "Job":
            return
        if not name or not uid or meta(obj).get("deletionTimestamp"):
            return
        current = status(obj)
        phase = current.get("phase")
        if phase in (None, "", "Pending") and not current.get("startTime"):
            self.ctx.later(
                POD_START_DELAY, lambda: self._start(ns, name, uid), key=("pod-start", uid)
            )
        elif phase == "Running" and uid not in self._ends and not crashlooping(current):
            outcome = outcome_of(spec(obj))
            if outcome.seconds is not None and self._ends_by_itself(obj, outcome):
                delay = remaining_delay(self.ctx, outcome.seconds, current.get("startTime"))
                self._schedule_end(ns, name, uid, delay, outcome)

    def _ends_by_itself(self, pod: Obj, outcome: RunOutcome) -> bool:
        policy = spec(pod).get("restartPolicy") or "Always"
        return policy != "Always" or not outcome.succeeded

    def _start(self, ns: str | None, name: str, uid: str) -> None:
        pod = fetch(self.ctx, "", "Pod", ns, name, uid)
        if pod is None or status(pod).get("phase") not in (None, "", "Pending"):
            return
        try:
            outcome = outcome_of(spec(pod))
            new = running_status(pod, self.ctx.pod_ips.take(), now_rfc3339())
        except (TypeError, ValueError, AttributeError) as err:
            log.warning("Pod %s/%s skipped: %s", ns, name, err)
            return
        self.ctx.store.update_status("", "Pod", ns, name, new)
        if outcome.seconds is not None and self._ends_by_itself(pod, outcome):
            self._schedule_end(ns, name, uid, outcome.seconds * self.ctx.factor(), outcome)

    def _schedule_end(
        self, ns: str | None, name: str, uid: str, real_delay: float, outcome: RunOutcome
    ) -> None:
        self._ends[uid] = time.monotonic() + real_delay
        self.ctx.after(real_delay, lambda: self._end(ns, name, uid, outcome), key=("pod-end", uid))

    def _end(self, ns: str | None, name: str, uid: str, outcome: RunOutcome) -> None:
        pod = fetch(self.ctx, "", "Pod", ns, name, uid)
        if pod is None:
            return
        current = status(pod)
        if current.get("phase") != "Running":
            return
        policy = spec(pod).get("restartPolicy") or "Always"
        if policy == "Always":
            new = crashloop_status(current, name, outcome.exit_code, now_rfc3339())
        else:
            new = finished_status(current, outcome.exit_code, now_rfc3339())
        self.ctx.store.update_status("", "Pod", ns, name, new)
