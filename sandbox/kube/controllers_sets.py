"""Simulated ReplicaSet, StatefulSet and DaemonSet controllers, and the two-step pattern that
the Deployment controller shares with them.

A workload converges in two steps, each a timer: OBSERVE_DELAY after a new generation the
controller "observes" it (observedGeneration, new revision, replicas counted but not yet
ready), then READY_DELAY later every replica is ready and available. Between the two, Argo
CD's health checks see Progressing; afterwards Healthy. Status counters that the real API
omits when zero are omitted here too.
"""

from __future__ import annotations

from sandbox.kube.controllers_base import (
    OBSERVE_DELAY,
    READY_DELAY,
    Context,
    KindController,
    Obj,
    fetch,
    generation,
    ident,
    int_field,
    log,
    meta,
    spec,
    status,
    template_hash,
)


def without_zeros(values: dict[str, int], keep: tuple[str, ...] = ()) -> Obj:
    """Counters as the API serialises them: zero values dropped unless listed in keep."""
    return {k: v for k, v in values.items() if v or k in keep}


class TwoStepController(KindController):
    """Drives one kind through observe -> ready, re-reading the object at each timer."""

    def on_event(self, event: str, obj: Obj) -> None:
        if event == "DELETED":
            self.forget(str(meta(obj).get("uid") or ""))
            return
        group, kind, ns, name, uid = ident(obj)
        if not name or not uid or meta(obj).get("deletionTimestamp"):
            return
        gen = generation(obj)
        current = status(obj)
        if current.get("observedGeneration") != gen:
            self.ctx.later(
                OBSERVE_DELAY,
                lambda: self._step(True, group, kind, ns, name, uid, gen),
                key=("observe", uid, gen),
            )
        elif not self.settled(obj, current):
            self.ctx.later(
                READY_DELAY,
                lambda: self._step(False, group, kind, ns, name, uid, gen),
                key=("ready", uid, gen),
            )

    def _step(
        self, observe: bool, group: str, kind: str, ns: str | None, name: str, uid: str, gen: int
    ) -> None:
        obj = fetch(self.ctx, group, kind, ns, name, uid)
        if obj is None or generation(obj) != gen:
            return
        current = status(obj)
        try:
            if observe:
                if current.get("observedGeneration") == gen:
                    return  # a duplicate timer: this generation was observed already
                new = self.observed(obj, current)
            elif current.get("observedGeneration") != gen or self.settled(obj, current):
                return
            else:
                new = self.ready(obj, current)
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            log.warning("%s %s/%s skipped: %s", kind, ns, name, err)
            return
        if new is not None and new != obj.get("status"):
            self.ctx.store.update_status(group, kind, ns, name, new)

    def forget(self, uid: str) -> None:
        """Drop in-memory state about a deleted object."""

    def settled(self, obj: Obj, current: Obj) -> bool:
        """True when nothing is left to do for the observed generation."""
        raise NotImplementedError

    def observed(self, obj: Obj, current: Obj) -> Obj | None:
        """The status right after the new generation is observed (None: write nothing)."""
        raise NotImplementedError

    def ready(self, obj: Obj, current: Obj) -> Obj | None:
        """The status once every replica is ready."""
        raise NotImplementedError


def _count(current: Obj, field: str) -> int:
    value = current.get(field, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def desired_replicas(obj: Obj) -> int:
    """spec.replicas (1 when unset); a negative or non-integer value is an error."""
    replicas = int_field(spec(obj).get("replicas"), 1, "spec.replicas")
    if replicas < 0:
        raise ValueError(f"spec.replicas is negative: {replicas}")
    return replicas


class ReplicaSetController(TwoStepController):
    """ReplicaSet: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas."""

    kinds = (("apps", "ReplicaSet"),)

    def settled(self, obj: Obj, current: Obj) -> bool:
        want = desired_replicas(obj)
        return all(
            _count(current, f) == want
            for f in ("replicas", "readyReplicas", "availableReplicas", "fullyLabeledReplicas")
        )

    def observed(self, obj: Obj, current: Obj) -> Obj:
        want = desired_replicas(obj)
        ready = min(_count(current, "readyReplicas"), want)
        counts = {
            "replicas": want,
            "fullyLabeledReplicas": want,
            "readyReplicas": ready,
            "availableReplicas": min(_count(current, "availableReplicas"), want),
        }
        return {**without_zeros(counts, ("replicas",)), "observedGeneration": generation(obj)}

    def ready(self, obj: Obj, current: Obj) -> Obj:
        want = desired_replicas(obj)
        counts = dict.fromkeys(
            ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas"), want
        )
        return {**without_zeros(counts, ("replicas",)), "observedGeneration": generation(obj)}


class StatefulSetController(TwoStepController):
    """StatefulSet: revisions named <name>-<template hash>; currentRevision catches up with
    updateRevision when the rollout is ready."""

    kinds = (("apps", "StatefulSet"),)

    def _revision(self, obj: Obj) -> str:
        return f"{meta(obj).get('name')}-{template_hash(spec(obj).get('template'))}"

    def settled(self, obj: Obj, current: Obj) -> bool:
        want = desired_replicas(obj)
        revision = self._revision(obj)
        return (
            current.get("updateRevision") == revision
            and current.get("currentRevision") == revision
            and all(
                _count(current, f) == want
                for f in ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas")
            )
        )

    def observed(self, obj: Obj, current: Obj) -> Obj:
        want = desired_replicas(obj)
        revision = self._revision(obj)
        previous = current.get("updateRevision")
        same = previous in (None, revision)
        ready = min(_count(current, "readyReplicas"), want)
        counts = {
            "replicas": want,
            "readyReplicas": ready,
            "currentReplicas": ready if same else min(_count(current, "currentReplicas"), want),
            "updatedReplicas": ready if same else 0,
            "availableReplicas": ready,
        }
        return {
            **without_zeros(counts, ("replicas", "availableReplicas")),
            "observedGeneration": generation(obj),
            "currentRevision": current.get("currentRevision") or revision,
            "updateRevision": revision,
            "collisionCount": _count(current, "collisionCount"),
        }

    def ready(self, obj: Obj, current: Obj) -> Obj:
        want = desired_replicas(obj)
        revision = self._revision(obj)
        counts = dict.fromkeys(
            (
                "replicas",
                "readyReplicas",
                "currentReplicas",
                "updatedReplicas",
                "availableReplicas",
            ),
            want,
        )
        return {
            **without_zeros(counts, ("replicas", "availableReplicas")),
            "observedGeneration": generation(obj),
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": _count(current, "collisionCount"),
        }


class DaemonSetController(TwoStepController):
    """DaemonSet on a one-node cluster: desiredNumberScheduled is always 1."""

    kinds = (("apps", "DaemonSet"),)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._rolled_out: dict[str, str] = {}  # uid -> template hash whose pod is ready

    def reset(self) -> None:
        self._rolled_out.clear()

    def forget(self, uid: str) -> None:
        self._rolled_out.pop(uid, None)

    def _hash(self, obj: Obj) -> str:
        return template_hash(spec(obj).get("template"))

    def settled(self, obj: Obj, current: Obj) -> bool:
        uid = str(meta(obj).get("uid"))
        return self._rolled_out.get(uid) == self._hash(obj) and all(
            _count(current, f) == 1
            for f in ("numberReady", "numberAvailable", "updatedNumberScheduled")
        )

    def observed(self, obj: Obj, current: Obj) -> Obj:
        uid = str(meta(obj).get("uid"))
        template_changed = self._rolled_out.get(uid) != self._hash(obj)
        ready = min(_count(current, "numberReady"), 1)
        updated = 1 if not template_changed else (0 if ready else 1)
        counts = {
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "updatedNumberScheduled": updated,
            "numberAvailable": ready,
            "numberUnavailable": 1 - ready,
        }
        keep = ("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled")
        return {
            **without_zeros(counts, (*keep, "numberReady")),
            "observedGeneration": generation(obj),
        }

    def ready(self, obj: Obj, current: Obj) -> Obj:
        self._rolled_out[str(meta(obj).get("uid"))] = self._hash(obj)
        counts = {
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1,
            "numberMisscheduled": 0,
            "numberReady": 1,
            "updatedNumberScheduled": 1,
            "numberAvailable": 1,
        }
        return {**counts, "observedGeneration": generation(obj)}
