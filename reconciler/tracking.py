"""Resource tracking: which app an object in the cluster belongs to.

kajitori marks every object it applies with the annotation ``kajitori.dev/tracking-id`` in
Argo CD's form ``<app>:<group>/<kind>:<namespace>/<name>``. Ownership is read back from that
annotation only: an object another app (or a person) created never carries this app's id, and
an object whose id names a *different* object (a controller copied the annotation onto a child,
or someone copied a manifest) is not this object's owner record, so neither is ever pruned or
counted. Pure functions over plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.jsoncopy import json_copy
from reconciler.model import TRACKING_ANNOTATION, ResourceKey


@dataclass(frozen=True)
class TrackingId:
    """A parsed tracking id: the app and the key of the object the id was written for."""

    app: str
    key: ResourceKey

    def __str__(self) -> str:
        return self.key.tracking_id(self.app)


def parse_tracking_id(value: str) -> TrackingId | None:
    """``app:group/kind:namespace/name`` parsed, or None when ``value`` is not of that form."""
    app, sep, rest = value.partition(":")
    group_kind, sep2, namespace_name = rest.partition(":")
    if not (sep and sep2 and app) or "/" not in group_kind or "/" not in namespace_name:
        return None
    group, _, kind = group_kind.partition("/")
    namespace, _, name = namespace_name.partition("/")
    if not kind or not name:
        return None
    return TrackingId(app, ResourceKey(group, kind, namespace, name))


def tracking_of(obj: Mapping[str, Any]) -> TrackingId | None:
    """The tracking id an object carries, or None."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(TRACKING_ANNOTATION)
    return parse_tracking_id(value) if isinstance(value, str) else None


def owner_app(obj: Mapping[str, Any], key: ResourceKey | None = None) -> str | None:
    """The app that owns ``obj``: the tracking id's app if the id names ``obj`` itself
    (``key``, or the object's own key), else None."""
    tracking = tracking_of(obj)
    if tracking is None:
        return None
    return tracking.app if tracking.key == (key or ResourceKey.of(obj)) else None


def with_tracking(obj: Mapping[str, Any], app: str, key: ResourceKey) -> dict[str, Any]:
    """A copy of ``obj`` carrying ``app``'s tracking id for ``key``."""
    result = json_copy(dict(obj))
    meta = result.setdefault("metadata", {})
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        annotations = {}
        meta["annotations"] = annotations
    annotations[TRACKING_ANNOTATION] = key.tracking_id(app)
    return result
