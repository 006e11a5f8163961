"""How Kubernetes merges the lists inside its built-in objects.

Strategic merge patch and server-side apply both need to know, for every list in an object,
whether it is *atomic* (replaced whole), a *set* of scalars (unioned) or a *map* of items
identified by key fields (merged item by item). The real API server reads this from struct
tags and OpenAPI extensions (``patchMergeKey``, ``x-kubernetes-list-type``); the emulator has no
Go types, so this module encodes the same facts by field name and path suffix.

A path is the tuple of field names from the object root to the list, with list positions
omitted: ``("spec", "template", "spec", "containers")``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final, Literal

ListType = Literal["atomic", "set", "map"]

ATOMIC: Final[tuple[ListType, tuple[str, ...]]] = ("atomic", ())
SET: Final[tuple[ListType, tuple[str, ...]]] = ("set", ())

#: Lists of containers, wherever they appear (Pod, templates, CronJob job templates).
CONTAINER_LISTS: Final = frozenset({"containers", "initContainers", "ephemeralContainers"})

#: Lists keyed by field name inside a container.
_CONTAINER_CHILD_LISTS: Final[dict[str, tuple[str, ...]]] = {
    "ports": ("containerPort", "protocol"),
    "env": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "resizePolicy": ("resourceName",),
}

#: Lists keyed by field name directly inside a pod spec.
_POD_SPEC_LISTS: Final[dict[str, tuple[str, ...]]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "resourceClaims": ("name",),
    "schedulingGates": ("name",),
}

#: Values the API server defaults into key fields before it compares list items, so an item
#: written without them still matches the stored one (a container port without ``protocol``
#: is the TCP port).
KEY_DEFAULTS: Final[dict[str, Any]] = {"protocol": "TCP"}


def _is_pod_spec(prefix: tuple[str, ...]) -> bool:
    """True when ``prefix`` leads to a pod spec: a Pod's ``spec`` or any ``template.spec``."""
    if prefix == ("spec",):
        return True
    return len(prefix) >= 2 and prefix[-1] == "spec" and prefix[-2] == "template"


@lru_cache(maxsize=2048)
def _classify(path: tuple[str, ...]) -> tuple[ListType, tuple[str, ...]]:
    if not path:
        return ATOMIC
    name = path[-1]
    parent = path[:-1]
    if name in CONTAINER_LISTS:
        return ("map", ("name",))
    if parent and parent[-1] in CONTAINER_LISTS and name in _CONTAINER_CHILD_LISTS:
        return ("map", _CONTAINER_CHILD_LISTS[name])
    if name in _POD_SPEC_LISTS and _is_pod_spec(parent):
        return ("map", _POD_SPEC_LISTS[name])
    if path == ("spec", "ports"):  # Service
        return ("map", ("port", "protocol"))
    if parent and parent[-1] == "metadata":
        if name == "finalizers":
            return SET
        if name == "ownerReferences":
            return ("map", ("uid",))
    if path == ("status", "conditions"):
        return ("map", ("type",))
    return ATOMIC


def list_type(path: tuple[str, ...]) -> tuple[ListType, tuple[str, ...]]:
    """The merge behaviour of the list at ``path`` and, for map lists, its key fields.

    The first key is the one strategic merge patch uses (``patchMergeKey``); server-side apply
    uses all of them. Anything not known here is atomic, as for an unannotated Go slice.
    """
    return _classify(tuple(path))
