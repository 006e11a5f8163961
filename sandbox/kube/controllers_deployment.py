"""Simulated Deployment controller: one ReplicaSet per pod template, status in two steps.

Observe step (OBSERVE_DELAY after a new generation): the ReplicaSet `<name>-<hash>` for the
current pod template is created (owned by the Deployment, labelled and selected by
pod-template-hash) or scaled, and status gets the new observedGeneration with
Progressing=True/ReplicaSetUpdated while the new replicas are not yet available.
Ready step (READY_DELAY later): older ReplicaSets are scaled to zero and status shows every
replica updated, ready and available, Available=True/MinimumReplicasAvailable and
Progressing=True/NewReplicaSetAvailable. A paused Deployment only has its new generation
observed (Progressing=Unknown/DeploymentPaused) and is otherwise left alone. No Pods are
created for Deployments: nothing in kajitori needs them and they would cost speed.
"""

from __future__ import annotations

import copy

from sandbox.kube.controllers_base import (
    Context,
    Obj,
    controller_owner,
    deleting,
    find_condition,
    generation,
    log,
    meta,
    now_rfc3339,
    owner_reference,
    percent_or_int,
    put_condition,
    spec,
    template_hash,
)
from sandbox.kube.controllers_sets import TwoStepController, desired_replicas, without_zeros
from sandbox.kube.errors import StoreError

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
DESIRED = "deployment.kubernetes.io/desired-replicas"


def _count(current: Obj, field: str) -> int:
    value = current.get(field, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class DeploymentController(TwoStepController):
    """Deployment -> ReplicaSet + converging status (see the module docstring)."""

    kinds = (("apps", "Deployment"),)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        # uid -> whether older ReplicaSets still ran when the generation was observed
        # (unknown after a reset: the ready step then looks).
        self._old_running: dict[str, bool] = {}

    def reset(self) -> None:
        self._old_running.clear()

    def forget(self, uid: str) -> None:
        self._old_running.pop(uid, None)

    def settled(self, obj: Obj, current: Obj) -> bool:
        if spec(obj).get("paused") is True:
            return True
        progressing = find_condition(current, "Progressing")
        want = desired_replicas(obj)
        return (
            progressing is not None
            and progressing.get("reason") == "NewReplicaSetAvailable"
            and all(
                _count(current, f) == want
                for f in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
            )
        )

    def observed(self, obj: Obj, current: Obj) -> Obj:
        now = now_rfc3339()
        gen = generation(obj)
        if spec(obj).get("paused") is True:
            current["observedGeneration"] = gen
            current["conditions"] = put_condition(
                current.get("conditions"),
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                now,
            )
            return current
        want = desired_replicas(obj)
        template = spec(obj).get("template")
        if not isinstance(template, dict):
            raise ValueError("spec.template is missing or not an object")
        rs_name, fresh, old_running = self._ensure_replicaset(obj, template, want)
        self._old_running[str(meta(obj).get("uid"))] = old_running
        was_settled = find_condition(current, "Progressing") is not None and self.settled(
            obj, current
        )
        before = _count(current, "availableReplicas")
        if fresh and old_running:
            available = before  # old pods keep serving while the new ones start
            total = want + before
        elif fresh:
            available = 0
            total = want
        else:
            available = min(before, want)
            total = max(_count(current, "replicas"), want)
        counts = {
            "replicas": total,
            "updatedReplicas": want,
            "readyReplicas": available,
            "availableReplicas": available,
            "unavailableReplicas": max(0, want - available),
        }
        new = {**current, "observedGeneration": gen}
        for field in counts:
            new.pop(field, None)
        new.update(without_zeros(counts))
        conditions = self._available(obj, new.get("conditions"), available, want, now)
        if old_running or not (was_settled and total == want and available == want):
            conditions = put_condition(
                conditions,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                now,
            )
        new["conditions"] = conditions
        return new

    def ready(self, obj: Obj, current: Obj) -> Obj | None:
        if spec(obj).get("paused") is True:
            return None
        now = now_rfc3339()
        want = desired_replicas(obj)
        rs_name = f"{meta(obj).get('name')}-{template_hash(spec(obj).get('template'))}"
        if self._old_running.pop(str(meta(obj).get("uid")), True):
            for rs in self._owned_replicasets(obj):
                if meta(rs).get("name") != rs_name:
                    self._scale(rs, 0)
        new = {**current, "observedGeneration": generation(obj)}
        for field in (
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        ):
            new.pop(field, None)
        counts = dict.fromkeys(
            ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"), want
        )
        new.update(without_zeros(counts))
        conditions = self._available(obj, new.get("conditions"), want, want, now)
        new["conditions"] = put_condition(
            conditions,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
            now,
        )
        return new

    def _available(
        self, obj: Obj, conditions: object, available: int, want: int, now: str
    ) -> list[Obj]:
        strategy = spec(obj).get("strategy")
        strategy = strategy if isinstance(strategy, dict) else {}
        if strategy.get("type") == "Recreate":
            max_unavailable = want
        else:
            rolling = strategy.get("rollingUpdate")
            rolling = rolling if isinstance(rolling, dict) else {}
            default = percent_or_int("25%", want, False, 0)
            max_unavailable = percent_or_int(rolling.get("maxUnavailable"), want, False, default)
        if available >= want - max_unavailable:
            return put_condition(
                conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            )
        return put_condition(
            conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )

    def _owned_replicasets(self, obj: Obj) -> list[Obj]:
        uid = meta(obj).get("uid")
        result = []
        # The ReplicaSets carry the template's labels, which the selector's matchLabels
        # match: listing by them keeps a namespace of many Deployments cheap.
        selector = spec(obj).get("selector")
        match = selector.get("matchLabels") if isinstance(selector, dict) else None
        labels = ",".join(f"{k}={v}" for k, v in match.items()) if isinstance(match, dict) else ""
        namespace = meta(obj).get("namespace")
        for rs in self.ctx.store.list("apps", "ReplicaSet", namespace, labels or None):
            owner = controller_owner(rs)
            if owner is not None and owner.get("uid") == uid:
                result.append(rs)
            elif owner is None and labels and not deleting(rs):
                adopted = self._adopt(obj, rs)
                if adopted is not None:
                    result.append(adopted)
        return result

    def _adopt(self, obj: Obj, rs: Obj) -> Obj | None:
        """Take an orphaned ReplicaSet that the selector matches (say, left by a delete
        with propagationPolicy Orphan) under this Deployment, as the real controller does."""
        body = copy.deepcopy(rs)
        refs = meta(body).get("ownerReferences")
        meta(body)["ownerReferences"] = [
            *(refs if isinstance(refs, list) else []),
            owner_reference(obj),
        ]
        try:
            return self.ctx.store.update(body)
        except StoreError as err:
            log.info("ReplicaSet %s not adopted: %s", meta(rs).get("name"), err.message)
            return None

    def _ensure_replicaset(self, obj: Obj, template: Obj, want: int) -> tuple[str, bool, bool]:
        """Create or scale the ReplicaSet of the current template and record its revision
        (one more than any other owned ReplicaSet's) on it and on the Deployment.
        Returns (its name, whether it starts from no pods - created, or scaled up from zero
        on a rollback -, whether older ReplicaSets still run)."""
        md = meta(obj)
        ns = md.get("namespace")
        pod_hash = template_hash(template)
        rs_name = f"{md.get('name')}-{pod_hash}"
        owned = self._owned_replicasets(obj)
        others = [rs for rs in owned if meta(rs).get("name") != rs_name]
        running = any(_count(spec(rs), "replicas") > 0 for rs in others)
        revision = 1 + max((_revision(rs) for rs in others), default=0)
        current = next((rs for rs in owned if meta(rs).get("name") == rs_name), None)
        if current is None:
            self.ctx.store.create(
                self._replicaset(obj, template, rs_name, pod_hash, want, revision)
            )
        else:
            if _revision(current) < revision:  # a rollback: the old template is newest again
                self.ctx.store.patch_metadata(
                    "apps", "ReplicaSet", ns, rs_name, annotations={REVISION: str(revision)}
                )
            else:
                revision = _revision(current)
            latest = self.ctx.store.get("apps", "ReplicaSet", ns, rs_name)
            if latest is not None:
                self._scale(latest, want)
        annotations = md.get("annotations")
        if not isinstance(annotations, dict) or annotations.get(REVISION) != str(revision):
            self.ctx.store.patch_metadata(
                "apps", "Deployment", ns, str(md.get("name")), annotations={REVISION: str(revision)}
            )
        from_zero = current is None or _count(spec(current), "replicas") == 0
        return rs_name, from_zero, running

    def _replicaset(
        self, obj: Obj, template: Obj, rs_name: str, pod_hash: str, want: int, revision: int
    ) -> Obj:
        md = meta(obj)
        pod_template = copy.deepcopy(template)
        template_meta = pod_template.setdefault("metadata", {})
        labels = dict(template_meta.get("labels") or {})
        labels[HASH_LABEL] = pod_hash
        template_meta["labels"] = labels
        selector = copy.deepcopy(spec(obj).get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
        rs_spec: Obj = {"replicas": want, "selector": selector, "template": pod_template}
        min_ready = spec(obj).get("minReadySeconds")
        if isinstance(min_ready, int):
            rs_spec["minReadySeconds"] = min_ready
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": md.get("namespace"),
                "labels": labels,
                "annotations": {
                    REVISION: str(revision),
                    DESIRED: str(want),
                    "deployment.kubernetes.io/max-replicas": str(want + 1),
                },
                "ownerReferences": [owner_reference(obj)],
            },
            "spec": rs_spec,
        }

    def _scale(self, rs: Obj, replicas: int) -> None:
        """Set a ReplicaSet's spec.replicas (and its desired-replicas annotation), re-reading
        it when someone else wrote it in between (409)."""
        current: Obj | None = rs
        for _ in range(3):
            if current is None or deleting(current) or spec(current).get("replicas") == replicas:
                return
            body = copy.deepcopy(current)
            body["spec"]["replicas"] = replicas
            annotations = meta(body).get("annotations")
            if isinstance(annotations, dict) and DESIRED in annotations:
                annotations[DESIRED] = str(replicas)
            try:
                self.ctx.store.update(body)
                return
            except StoreError as err:
                if err.code != 409:
                    raise
            current = self.ctx.store.get(
                "apps", "ReplicaSet", meta(rs).get("namespace"), str(meta(rs).get("name"))
            )
        log.warning("ReplicaSet %s kept changing; not scaled", meta(rs).get("name"))


def _revision(rs: Obj) -> int:
    annotations = meta(rs).get("annotations")
    if isinstance(annotations, dict):
        try:
            return int(annotations.get(REVISION, 0))
        except (TypeError, ValueError):
            return 0
    return 0
