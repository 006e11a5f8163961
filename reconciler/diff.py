"""Pure comparison of one desired object with one live object.

``diff(desired, live, key=..., rules=...)`` is the whole pipeline:

1. managedFieldsManagers: fields those managers own in live are copied into desired;
2. ``normalize`` both sides: server-set bookkeeping, ``status`` (Argo CD's default
   ``ignoreResourceStatusField: all``), the last-applied and tracking annotations go;
   Secret ``stringData`` is folded into base64 ``data`` as the API server does;
3. jsonPointers and jqPathExpressions of the matching ignoreDifferences rules are removed
   from both sides;
4. the sides are compared for equality (on the real values);
5. Secret ``data`` values are masked on both sides (``mask_secret_data``) and a unified YAML
   diff is rendered for people.

The caller decides what "desired" means: ``reconciler.compare`` passes the API server's
server-side-apply dry-run result (the predicted live object), so defaults and fields other
managers own already match. Everything here is a pure function over plain dicts; arguments are
never mutated.
"""

from __future__ import annotations

import base64
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

import yaml

from reconciler.diff_ignore import managers_of, merge_managed_fields, rules_for, strip_ignored
from reconciler.jsoncopy import json_copy
from reconciler.model import (
    LAST_APPLIED_ANNOTATION,
    TRACKING_ANNOTATION,
    IgnoreDifferences,
    ResourceKey,
)

SERVER_SET_METADATA: Final = (
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
)
DROPPED_ANNOTATIONS: Final = (LAST_APPLIED_ANNOTATION, TRACKING_ANNOTATION)
MASK: Final = "++++++++"
_MASK_STEP: Final = "++++"

__all__ = [
    "MASK",
    "DiffResult",
    "diff",
    "mask_secret_data",
    "normalize",
    "overlay",
    "rules_for",
    "unified_diff",
]


@dataclass(frozen=True)
class DiffResult:
    """The outcome for one resource. ``desired`` and ``live`` are the normalised, masked
    sides (None where absent); ``text`` is the unified diff, "" when ``modified`` is False."""

    modified: bool
    desired: dict[str, Any] | None
    live: dict[str, Any] | None
    text: str


def normalize(obj: Mapping[str, Any], *, keep_status: bool = False) -> dict[str, Any]:
    """A deep copy of ``obj`` without what the server or kajitori sets on its own.

    Drops metadata.{managedFields, resourceVersion, uid, generation, creationTimestamp,
    selfLink}, ``status`` (unless ``keep_status``), the last-applied and tracking annotations
    and then-empty labels/annotations maps; folds a Secret's stringData into base64 data and
    turns null data values into "" (what the API server stores). The copy is built without
    the dropped fields (``managedFields`` is often half of a live object), so they are never
    copied; ``obj`` is not changed."""
    result: dict[str, Any] = {}
    for name, value in obj.items():
        if name == "status" and not keep_status:
            continue
        if name == "metadata" and isinstance(value, dict):
            meta = _normalized_metadata(value)
            if meta:
                result[name] = meta
            continue
        result[name] = json_copy(value)
    if _is_secret(result):
        _fold_string_data(result)
    return result


def _normalized_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``metadata`` without server-set fields, kajitori's annotations and then-empty
    labels/annotations."""
    result: dict[str, Any] = {}
    for name, value in meta.items():
        if name in SERVER_SET_METADATA:
            continue
        if name == "annotations" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in DROPPED_ANNOTATIONS}
        if name in ("annotations", "labels") and not value:
            continue
        result[name] = json_copy(value)
    return result


def mask_secret_data(
    desired: Mapping[str, Any] | None, live: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Both sides with every Secret data value replaced by pluses (Argo CD's scheme).

    Per key, the first distinct value seen gets ``++++++++``, the next a mask four characters
    longer, and so on, so equal values still look equal and a changed value still shows as a
    change, while no value (nor its length) ever appears. Non-Secrets pass through copied;
    the arguments are not changed."""
    copied_desired = json_copy(dict(desired)) if desired is not None else None
    copied_live = json_copy(dict(live)) if live is not None else None
    _mask_in_place(copied_desired, copied_live)
    return copied_desired, copied_live


def _mask_in_place(desired: dict[str, Any] | None, live: dict[str, Any] | None) -> None:
    """``mask_secret_data`` on private copies: masks the Secret sides where they are."""
    secrets = [side for side in (desired, live) if side is not None and _is_secret(side)]
    if not secrets:
        return
    for side in secrets:
        _fold_string_data(side)
    datas = [side["data"] for side in secrets if isinstance(side.get("data"), dict)]
    for key in sorted({key for data in datas for key in data}):
        masks: dict[str, str] = {}
        for data in datas:
            if key in data:
                value = "" if data[key] is None else str(data[key])
                if value not in masks:
                    masks[value] = MASK + _MASK_STEP * len(masks)
                data[key] = masks[value]


def unified_diff(
    key: ResourceKey | str, live: Mapping[str, Any] | None, desired: Mapping[str, Any] | None
) -> str:
    """A unified diff of two objects as YAML with sorted keys; headers name the resource.

    An absent side is empty, so creation and pruning show every line added or removed."""
    before = _to_yaml(live)
    after = _to_yaml(desired)
    lines = difflib.unified_diff(
        before, after, fromfile=f"live/{key}", tofile=f"desired/{key}", lineterm=""
    )
    text = "\n".join(line.rstrip("\n") for line in lines)
    return text + "\n" if text else ""


def diff(
    desired: Mapping[str, Any] | None,
    live: Mapping[str, Any] | None,
    *,
    key: ResourceKey | None = None,
    rules: Sequence[IgnoreDifferences] = (),
) -> DiffResult:
    """Compare ``desired`` with ``live`` after managed-fields copying, normalisation and the
    ignore rules that match the resource; masked sides and a unified diff for people.

    ``rules`` may hold every rule of the app: only those matching ``key`` (derived from the
    objects when omitted) are used. Either side may be None (creation or pruning), which is
    always a modification."""
    source = desired if desired is not None else live
    if source is None:
        return DiffResult(False, None, None, "")
    resource = key or ResourceKey.of(source)
    matching = rules_for(rules, resource)
    managers = managers_of(matching)
    if desired is not None and live is not None and managers:
        desired = merge_managed_fields(desired, live, managers)
    # Each side is copied once, by normalize; the later steps work on that private copy.
    sides = [normalize(obj) if obj is not None else None for obj in (desired, live)]
    for side in sides:
        if side is not None and matching:
            strip_ignored(side, matching)
    modified = desired is None or live is None or sides[0] != sides[1]
    masked_desired, masked_live = sides
    _mask_in_place(masked_desired, masked_live)
    text = unified_diff(resource, masked_live, masked_desired) if modified else ""
    return DiffResult(modified, masked_desired, masked_live, text)


def overlay(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """A rough prediction of ``live`` after applying ``desired``, without the API server:
    maps merge recursively, lists of named items merge by name, other lists and scalars are
    replaced. Used only when the server-side dry-run cannot be had, to still show people
    what differs; it knows neither defaults nor field ownership."""
    result = json_copy(dict(live))
    for name, value in desired.items():
        current = result.get(name)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            result[name] = overlay(current, value)
        elif _named_list(value) and _named_list(current):
            by_name = {item["name"]: item for item in current}
            result[name] = [
                overlay(by_name[item["name"]], item) if item["name"] in by_name else item
                for item in json_copy(value)
            ]
        else:
            result[name] = json_copy(value)
    return result


def _named_list(value: Any) -> TypeGuard[list[dict[str, Any]]]:
    return isinstance(value, list) and all(
        isinstance(item, Mapping) and isinstance(item.get("name"), str) for item in value
    )


def _is_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def _data(secret: dict[str, Any]) -> dict[str, Any]:
    data = secret.get("data")
    if not isinstance(data, dict):
        data = {}
        secret["data"] = data
    return data


def _fold_string_data(secret: dict[str, Any]) -> None:
    string_data = secret.pop("stringData", None)
    data = secret.get("data")
    if isinstance(string_data, Mapping) and string_data:
        data = _data(secret)
        for name, value in string_data.items():
            text = "" if value is None else str(value)
            data[name] = base64.b64encode(text.encode("utf-8")).decode("ascii")
    if isinstance(data, dict):
        for name, value in data.items():
            if value is None:
                data[name] = ""


def _to_yaml(obj: Mapping[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    text = yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False, allow_unicode=True)
    return text.splitlines()
