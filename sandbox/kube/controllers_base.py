"""Shared pieces of the simulated controllers: the store they need, their clock, the base
delays, and helpers for owner references, conditions and template hashes.

Every simulated controller is a :class:`KindController` that gets store events on the timer
thread (never on the store's thread), re-reads the object it works on when its timer fires,
and writes only through the store, so the API server's watchers see each step.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import threading
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, Protocol

from sandbox.kube.controllers_timers import TimerQueue
from sandbox.kube.errors import StoreError

log = logging.getLogger("sandbox.kube.controllers")

MANAGER = "kube-controller-manager"

# Base delays in seconds of simulated time; the real delay is this times time_factor().
OBSERVE_DELAY = 0.1  # a workload controller notices a new generation
READY_DELAY = 0.5  # a workload's new pods become ready after it was observed
POD_START_DELAY = 0.1  # a Pod (direct or a Job's) is scheduled and starts running
JOB_START_DELAY = 0.05  # a Job controller creates the Job's Pod
DEFAULT_RUN_SECONDS = 1.0  # a container that executes no `sleep` runs this long
PVC_BIND_DELAY = 0.1  # a PersistentVolumeClaim becomes Bound
ADDRESS_DELAY = 0.2  # a LoadBalancer Service or an Ingress gets an address

Obj = dict[str, Any]
Listener = Callable[[str, Obj], None]


class ControllerStore(Protocol):
    """What the controllers use of sandbox.kube.store.Store (see kube-contracts.md)."""

    def get(self, group: str, kind: str, namespace: str | None, name: str) -> Obj | None: ...

    def list(
        self,
        group: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> list[Obj]: ...

    def create(self, obj: Obj, manager: str = MANAGER) -> Obj: ...

    def update(self, obj: Obj, manager: str = MANAGER) -> Obj: ...

    def patch_metadata(
        self,
        group: str,
        kind: str,
        namespace: str | None,
        name: str,
        labels: dict[str, str | None] | None = None,
        annotations: dict[str, str | None] | None = None,
        manager: str = MANAGER,
    ) -> Obj | None: ...

    def update_status(
        self,
        group: str,
        kind: str,
        namespace: str | None,
        name: str,
        status: Obj,
        manager: str = MANAGER,
    ) -> Obj | None: ...

    def delete(
        self,
        group: str,
        kind: str,
        namespace: str | None,
        name: str,
        propagation: str = "Background",
    ) -> None: ...

    def add_listener(self, listener: Listener) -> None: ...


class AddressPool:
    """Hands out addresses in turn from a range, wrapping around (nothing tracks reuse: the
    emulator only needs plausible, mostly distinct addresses). A range past 255 spans two
    octets: prefix "10.244." with 2..65534 gives 10.244.0.2 ... 10.244.255.254."""

    def __init__(self, prefix: str, first: int, last: int) -> None:
        self._prefix = prefix
        self._first = first
        self._last = last
        self._next = first
        self._lock = threading.Lock()

    def take(self) -> str:
        """The next address."""
        with self._lock:
            value = self._next
            self._next = self._first if value >= self._last else value + 1
        if self._last > 255:
            return f"{self._prefix}{value // 256}.{value % 256}"
        return f"{self._prefix}{value}"

    def reset(self) -> None:
        """Start again from the first address."""
        with self._lock:
            self._next = self._first


class Context:
    """What every controller shares: the store, the timer queue, the time factor and the
    address pools (pod IPs 10.244.x.y, load-balancer IPs 127.0.0.x)."""

    def __init__(
        self, store: ControllerStore, timers: TimerQueue, time_factor: Callable[[], float]
    ) -> None:
        self.store = store
        self.timers = timers
        self._time_factor = time_factor
        self.pod_ips = AddressPool("10.244.", 2, 65534)
        self.lb_ips = AddressPool("127.0.0.", 2, 254)

    def factor(self) -> float:
        """The current time factor; a broken or odd factor counts as 1."""
        try:
            value = float(self._time_factor())
        except Exception:
            log.exception("time_factor() failed; using 1.0")
            return 1.0
        if math.isnan(value) or value < 0:
            return 1.0
        return value

    def later(self, seconds: float, fn: Callable[[], None], key: Hashable | None = None) -> bool:
        """Run fn after `seconds` of simulated time (scaled by the time factor)."""
        return self.after(seconds * self.factor(), fn, key)

    def after(
        self, real_seconds: float, fn: Callable[[], None], key: Hashable | None = None
    ) -> bool:
        """Run fn after `real_seconds` of wall-clock time (already scaled by the caller)."""
        return self.timers.call_later(real_seconds, lambda: _guarded(fn, key), key)


def _guarded(fn: Callable[[], None], key: Hashable | None) -> None:
    """Run controller work; a refusal from the store (say, a namespace being deleted under
    the object) is an expected race and logged on one line."""
    try:
        fn()
    except StoreError as err:
        log.info("controller work %s refused by the store: %s %s", key, err.code, err.message)


class KindController:
    """Base of one simulated controller: handles the kinds in `kinds`."""

    kinds: tuple[tuple[str, str], ...] = ()

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def on_event(self, event: str, obj: Obj) -> None:
        """React to a store event (runs on the timer thread)."""

    def reset(self) -> None:
        """Forget in-memory state (pending timers are cleared by the queue)."""


def now_rfc3339() -> str:
    """The current UTC time in the seconds-resolution form Kubernetes status fields use."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def group_of(obj: Obj) -> str:
    """The API group of an object from its apiVersion ("" for the core group)."""
    api_version = str(obj.get("apiVersion") or "")
    return api_version.rpartition("/")[0]


def meta(obj: Obj) -> Obj:
    """metadata as a dict (empty when missing or malformed)."""
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def spec(obj: Obj) -> Obj:
    """spec as a dict (empty when missing or malformed)."""
    value = obj.get("spec")
    return value if isinstance(value, dict) else {}


def status(obj: Obj) -> Obj:
    """A copy of status as a dict (empty when missing or malformed)."""
    value = obj.get("status")
    return copy.deepcopy(value) if isinstance(value, dict) else {}


def ident(obj: Obj) -> tuple[str, str, str | None, str, str]:
    """(group, kind, namespace, name, uid) of an object."""
    md = meta(obj)
    return (
        group_of(obj),
        str(obj.get("kind") or ""),
        md.get("namespace"),
        str(md.get("name") or ""),
        str(md.get("uid") or ""),
    )


def generation(obj: Obj) -> int:
    """metadata.generation (1 when absent)."""
    value = meta(obj).get("generation", 1)
    return value if isinstance(value, int) else 1


def deleting(obj: Obj) -> bool:
    """True when the object carries a deletionTimestamp."""
    return bool(meta(obj).get("deletionTimestamp"))


def int_field(value: Any, default: int, what: str) -> int:
    """An integer spec field; None means the default, anything else non-integer is an error."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} is not an integer: {value!r}")
    return value


def fetch(ctx: Context, group: str, kind: str, ns: str | None, name: str, uid: str) -> Obj | None:
    """The live object if it is still the same incarnation (uid) and not being deleted."""
    obj = ctx.store.get(group, kind, ns, name)
    if obj is None or meta(obj).get("uid") != uid or deleting(obj):
        return None
    return obj


def owner_reference(owner: Obj) -> Obj:
    """A controller ownerReference pointing at `owner`."""
    md = meta(owner)
    return {
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": md.get("name"),
        "uid": md.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_owner(obj: Obj) -> Obj | None:
    """The ownerReference with controller: true, if any."""
    refs = meta(obj).get("ownerReferences")
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return ref
    return None


_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Any) -> str:
    """A short, stable, name-safe hash of a pod template (like pod-template-hash values)."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"), default=str)
    number = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:8], "big")
    chars = []
    for _ in range(10):
        number, digit = divmod(number, len(_HASH_ALPHABET))
        chars.append(_HASH_ALPHABET[digit])
    return "".join(chars)


def put_condition(
    conditions: Any,
    ctype: str,
    cstatus: str,
    reason: str,
    message: str,
    now: str,
    stamps: tuple[str, ...] = ("lastUpdateTime",),
) -> list[Obj]:
    """conditions with the one of type `ctype` set in place. An unchanged condition (same
    status, reason, message) is kept as it is; otherwise `stamps` (lastUpdateTime or
    lastProbeTime) become now, and lastTransitionTime too when the status changes."""
    result = [c for c in conditions if isinstance(c, dict)] if isinstance(conditions, list) else []
    for index, old in enumerate(result):
        if old.get("type") != ctype:
            continue
        if (old.get("status"), old.get("reason"), old.get("message")) == (
            cstatus,
            reason or None,
            message or None,
        ):
            return result
        transition = old.get("lastTransitionTime") if old.get("status") == cstatus else None
        result[index] = _condition(ctype, cstatus, reason, message, now, stamps, transition)
        return result
    result.append(_condition(ctype, cstatus, reason, message, now, stamps, None))
    return result


def _condition(
    ctype: str,
    cstatus: str,
    reason: str,
    message: str,
    now: str,
    stamps: tuple[str, ...],
    transition: Any,
) -> Obj:
    cond: Obj = {"type": ctype, "status": cstatus}
    for stamp in stamps:
        cond[stamp] = now
    cond["lastTransitionTime"] = transition or now
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def find_condition(obj_status: Obj, ctype: str) -> Obj | None:
    """The condition of a type in a status, if present."""
    conditions = obj_status.get("conditions")
    if isinstance(conditions, list):
        for cond in conditions:
            if isinstance(cond, dict) and cond.get("type") == ctype:
                return cond
    return None


def percent_or_int(value: Any, total: int, round_up: bool, default: int) -> int:
    """Resolve an IntOrString such as maxUnavailable ("25%" or 1) against `total`."""
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, value)
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = float(value[:-1])
        except ValueError:
            return default
        raw = total * percent / 100.0
        return max(0, math.ceil(raw) if round_up else math.floor(raw))
    return default
