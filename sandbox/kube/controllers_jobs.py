"""Simulated Job controller: one Pod per Job, run for the time its command says.

JOB_START_DELAY after a Job appears, the controller creates its Pod (`<job>-xxxxx`, owned by
the Job, labelled job-name / controller-uid) and sets startTime and active=1. The Pod runs
POD_START_DELAY later (Job ready=1). After the first container's simulated run time
(controllers_command: `sleep N` scaled, DEFAULT_RUN_SECONDS when it never sleeps) the Pod
ends Succeeded or Failed and the Job Complete (SuccessCriteriaMet + Complete, succeeded =
spec.completions) or Failed (FailureTarget + Failed, reason BackoffLimitExceeded, failed=1;
retries are not simulated). spec.activeDeadlineSeconds cuts a longer run short with reason
DeadlineExceeded. spec.suspend or parallelism 0 keep the Job from starting;
ttlSecondsAfterFinished deletes a finished Job after that many (scaled) seconds. A CronJob
needs nothing: it never fires and keeps its empty status.
"""

from __future__ import annotations

import copy
import time

from sandbox.kube.controllers_base import (
    JOB_START_DELAY,
    POD_START_DELAY,
    Context,
    KindController,
    Obj,
    fetch,
    find_condition,
    ident,
    int_field,
    log,
    meta,
    now_rfc3339,
    owner_reference,
    put_condition,
    spec,
    status,
)
from sandbox.kube.controllers_command import RunOutcome
from sandbox.kube.controllers_pods import (
    finished_status,
    outcome_of,
    remaining_delay,
    running_status,
    seconds_since,
)

STAMPS = ("lastProbeTime",)


def finished(current: Obj) -> bool:
    """True when the Job has a Complete or Failed condition that is True."""
    for ctype in ("Complete", "Failed"):
        cond = find_condition(current, ctype)
        if cond is not None and cond.get("status") == "True":
            return True
    return False


class JobController(KindController):
    """Jobs and their Pods (see the module docstring)."""

    kinds = (("batch", "Job"),)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._ends: dict[str, float] = {}  # job uid -> monotonic time of its scheduled end
        self._pods: dict[str, str] = {}  # job uid -> its pod's name
        self._done: dict[str, float] = {}  # job uid -> monotonic time it finished

    def reset(self) -> None:
        self._ends.clear()
        self._pods.clear()
        self._done.clear()

    def on_event(self, event: str, obj: Obj) -> None:
        _, _, ns, name, uid = ident(obj)
        if event == "DELETED":
            self._ends.pop(uid, None)
            self._pods.pop(uid, None)
            self._done.pop(uid, None)
            return
        if not name or not uid or meta(obj).get("deletionTimestamp"):
            return
        job_spec = spec(obj)
        current = status(obj)
        if finished(current):
            self._ends.pop(uid, None)
            self._schedule_ttl(ns, name, uid, job_spec, current)
            return
        if job_spec.get("suspend") is True or job_spec.get("parallelism") == 0:
            return
        if not current.get("startTime"):
            self.ctx.later(
                JOB_START_DELAY, lambda: self._start(ns, name, uid), key=("job-start", uid)
            )
        elif uid not in self._ends:
            # Running but no timer (the controllers were reset): finish on the wall clock.
            outcome, reason = self._plan(obj)
            if outcome.seconds is not None:
                delay = remaining_delay(self.ctx, outcome.seconds, current.get("startTime"))
                self._schedule_end(ns, name, uid, delay, outcome, reason)

    def _plan(self, job: Obj) -> tuple[RunOutcome, str]:
        """How the Job's run ends: the command's outcome, or the active deadline first."""
        template = spec(job).get("template")
        pod_spec = spec(template) if isinstance(template, dict) else {}
        outcome = outcome_of(pod_spec)
        deadline = int_field(spec(job).get("activeDeadlineSeconds"), 0, "activeDeadlineSeconds")
        if deadline > 0 and (outcome.seconds is None or outcome.seconds > deadline):
            return RunOutcome(float(deadline), 1), "DeadlineExceeded"
        return outcome, ""

    def _start(self, ns: str | None, name: str, uid: str) -> None:
        job = fetch(self.ctx, "batch", "Job", ns, name, uid)
        if job is None or status(job).get("startTime"):
            return
        try:
            outcome, reason = self._plan(job)
            pod = self._pod(job)
        except (TypeError, ValueError, AttributeError) as err:
            log.warning("Job %s/%s skipped: %s", ns, name, err)
            return
        created = self.ctx.store.create(pod)
        pod_name = str(meta(created).get("name"))
        self._pods[uid] = pod_name
        now = now_rfc3339()
        current = status(job)
        current.update(
            {
                "startTime": now,
                "active": 1,
                "ready": 0,
                "terminating": 0,
                "uncountedTerminatedPods": {},
            }
        )
        self.ctx.store.update_status("batch", "Job", ns, name, current)
        factor = self.ctx.factor()
        self.ctx.after(
            POD_START_DELAY * factor,
            lambda: self._pod_running(ns, name, uid, pod_name),
            key=("job-pod-start", uid),
        )
        if outcome.seconds is not None:
            delay = max(outcome.seconds, POD_START_DELAY) * factor
            self._schedule_end(ns, name, uid, delay, outcome, reason)

    def _pod(self, job: Obj) -> Obj:
        md = meta(job)
        template = spec(job).get("template")
        if not isinstance(template, dict):
            raise ValueError("spec.template is missing or not an object")
        template_meta = template.get("metadata")
        template_meta = template_meta if isinstance(template_meta, dict) else {}
        job_name = str(md.get("name"))
        uid = str(md.get("uid"))
        labels = {
            **(template_meta.get("labels") or {}),
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": job_name,
            "controller-uid": uid,
            "job-name": job_name,
        }
        pod_meta: Obj = {
            "generateName": f"{job_name}-",
            "namespace": md.get("namespace"),
            "labels": labels,
            "ownerReferences": [owner_reference(job)],
        }
        annotations = template_meta.get("annotations")
        if isinstance(annotations, dict) and annotations:
            pod_meta["annotations"] = dict(annotations)
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": pod_meta,
            "spec": copy.deepcopy(spec(template)),
        }

    def _pod_running(self, ns: str | None, name: str, uid: str, pod_name: str) -> None:
        job = fetch(self.ctx, "batch", "Job", ns, name, uid)
        pod = self.ctx.store.get("", "Pod", ns, pod_name)
        if job is None or pod is None or finished(status(job)):
            return
        if status(pod).get("phase") in (None, "", "Pending"):
            new = running_status(pod, self.ctx.pod_ips.take(), now_rfc3339())
            self.ctx.store.update_status("", "Pod", ns, pod_name, new)
        current = status(job)
        current["ready"] = 1
        self.ctx.store.update_status("batch", "Job", ns, name, current)

    def _schedule_end(
        self,
        ns: str | None,
        name: str,
        uid: str,
        real_delay: float,
        outcome: RunOutcome,
        reason: str,
    ) -> None:
        self._ends[uid] = time.monotonic() + real_delay
        self.ctx.after(
            real_delay, lambda: self._end(ns, name, uid, outcome, reason), key=("job-end", uid)
        )

    def _end(self, ns: str | None, name: str, uid: str, outcome: RunOutcome, reason: str) -> None:
        job = fetch(self.ctx, "batch", "Job", ns, name, uid)
        if job is None or finished(status(job)):
            return
        now = now_rfc3339()
        pod_name = self._pods.get(uid) or self._find_pod(job)
        if pod_name:
            pod = self.ctx.store.get("", "Pod", ns, pod_name)
            if pod is not None and status(pod).get("phase") in (None, "", "Pending", "Running"):
                pod_status = status(pod)
                if not pod_status.get("containerStatuses"):
                    pod_status = running_status(pod, self.ctx.pod_ips.take(), now)
                new_pod = finished_status(pod_status, outcome.exit_code, now, reason)
                self.ctx.store.update_status("", "Pod", ns, pod_name, new_pod)
        self._done[uid] = time.monotonic()
        self.ctx.store.update_status("batch", "Job", ns, name, self._final(job, outcome, reason))

    def _find_pod(self, job: Obj) -> str | None:
        uid = meta(job).get("uid")
        for pod in self.ctx.store.list("", "Pod", meta(job).get("namespace")):
            for ref in meta(pod).get("ownerReferences") or []:
                if isinstance(ref, dict) and ref.get("uid") == uid:
                    return str(meta(pod).get("name"))
        return None

    def _final(self, job: Obj, outcome: RunOutcome, reason: str) -> Obj:
        now = now_rfc3339()
        current = status(job)
        for field in ("active", "succeeded", "failed"):
            current.pop(field, None)
        current.update({"ready": 0, "terminating": 0, "uncountedTerminatedPods": {}})
        conditions = current.get("conditions")
        if outcome.succeeded and not reason:
            try:
                completions = int_field(spec(job).get("completions"), 1, "spec.completions")
            except ValueError:
                completions = 1
            message = "Reached expected number of succeeded pods"
            for ctype in ("SuccessCriteriaMet", "Complete"):
                conditions = put_condition(
                    conditions, ctype, "True", "CompletionsReached", message, now, STAMPS
                )
            current["succeeded"] = max(1, completions)
            current["completionTime"] = now
        else:
            why = reason or "BackoffLimitExceeded"
            message = (
                "Job was active longer than specified deadline"
                if reason
                else "Job has reached the specified backoff limit"
            )
            for ctype in ("FailureTarget", "Failed"):
                conditions = put_condition(conditions, ctype, "True", why, message, now, STAMPS)
            current["failed"] = 1
        current["conditions"] = conditions
        return current

    def _schedule_ttl(
        self, ns: str | None, name: str, uid: str, job_spec: Obj, current: Obj
    ) -> None:
        ttl = job_spec.get("ttlSecondsAfterFinished")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
            return
        if uid in self._done:
            elapsed = time.monotonic() - self._done[uid]
        else:
            elapsed = seconds_since(current.get("completionTime") or _condition_time(current))
        delay = max(0.0, ttl * self.ctx.factor() - elapsed)
        self.ctx.after(delay, lambda: self._expire(ns, name, uid), key=("job-ttl", uid))

    def _expire(self, ns: str | None, name: str, uid: str) -> None:
        if fetch(self.ctx, "batch", "Job", ns, name, uid) is not None:
            self.ctx.store.delete("batch", "Job", ns, name, propagation="Background")


def _condition_time(current: Obj) -> object:
    cond = find_condition(current, "Failed") or find_condition(current, "Complete") or {}
    return cond.get("lastTransitionTime")
