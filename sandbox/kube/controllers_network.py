"""Simulated storage and load-balancer controllers.

- PersistentVolumeClaim: PVC_BIND_DELAY after it appears, status.phase Bound with the
  requested access modes and capacity (no PersistentVolume object is created).
- Service of type LoadBalancer: ADDRESS_DELAY later, status.loadBalancer.ingress
  [{ip: 127.0.0.x}]; a Service that stops being a LoadBalancer loses the address.
- Ingress: ADDRESS_DELAY later, status.loadBalancer.ingress [{ip: 127.0.0.x}].
An object keeps its address for its lifetime; addresses come from a pool of 253 that wraps.
"""

from __future__ import annotations

from sandbox.kube.controllers_base import (
    ADDRESS_DELAY,
    PVC_BIND_DELAY,
    Context,
    KindController,
    Obj,
    fetch,
    ident,
    meta,
    spec,
    status,
)


class PersistentVolumeClaimController(KindController):
    """Binds every claim (see the module docstring)."""

    kinds = (("", "PersistentVolumeClaim"),)

    def on_event(self, event: str, obj: Obj) -> None:
        _, _, ns, name, uid = ident(obj)
        if event == "DELETED" or not uid or meta(obj).get("deletionTimestamp"):
            return
        if status(obj).get("phase") != "Bound":
            self.ctx.later(PVC_BIND_DELAY, lambda: self._bind(ns, name, uid), key=("bind", uid))

    def _bind(self, ns: str | None, name: str, uid: str) -> None:
        claim = fetch(self.ctx, "", "PersistentVolumeClaim", ns, name, uid)
        if claim is None or status(claim).get("phase") == "Bound":
            return
        claim_spec = spec(claim)
        new = status(claim)
        new["phase"] = "Bound"
        modes = claim_spec.get("accessModes")
        if isinstance(modes, list):
            new["accessModes"] = list(modes)
        resources = claim_spec.get("resources")
        requests = resources.get("requests") if isinstance(resources, dict) else None
        if isinstance(requests, dict) and "storage" in requests:
            new["capacity"] = {"storage": requests["storage"]}
        self.ctx.store.update_status("", "PersistentVolumeClaim", ns, name, new)


def _has_address(current: Obj) -> bool:
    balancer = current.get("loadBalancer")
    return isinstance(balancer, dict) and bool(balancer.get("ingress"))


class AddressController(KindController):
    """Gives LoadBalancer Services and Ingresses an address (see the module docstring)."""

    kinds = (("", "Service"), ("networking.k8s.io", "Ingress"))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._addresses: dict[str, str] = {}  # uid -> address handed out

    def reset(self) -> None:
        self._addresses.clear()

    def on_event(self, event: str, obj: Obj) -> None:
        group, kind, ns, name, uid = ident(obj)
        if event == "DELETED":
            self._addresses.pop(uid, None)
            return
        if not uid or meta(obj).get("deletionTimestamp"):
            return
        wants = self._wants_address(kind, obj)
        if wants != _has_address(status(obj)):
            self.ctx.later(
                ADDRESS_DELAY,
                lambda: self._assign(group, kind, ns, name, uid),
                key=("address", uid),
            )

    @staticmethod
    def _wants_address(kind: str, obj: Obj) -> bool:
        return kind == "Ingress" or spec(obj).get("type") == "LoadBalancer"

    def _assign(self, group: str, kind: str, ns: str | None, name: str, uid: str) -> None:
        obj = fetch(self.ctx, group, kind, ns, name, uid)
        if obj is None:
            return
        current = status(obj)
        wants = self._wants_address(kind, obj)
        if wants == _has_address(current):
            return
        if wants:
            address = self._addresses.get(uid) or self.ctx.lb_ips.take()
            self._addresses[uid] = address
            current["loadBalancer"] = {"ingress": [{"ip": address}]}
        else:
            current["loadBalancer"] = {}
        self.ctx.store.update_status(group, kind, ns, name, current)
