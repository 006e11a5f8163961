"""Validation: what kube-apiserver refuses to store.

Names (RFC 1123 subdomains, labels for Namespaces and Services, path segments for RBAC), the
types of ``labels``/``annotations``/``data`` (400, as a decoding failure would be), selectors
that must match their templates, CRD naming rules, and the immutable fields: Job template and
selector, workload selectors, Service cluster IP, data of immutable ConfigMaps and Secrets
(422 Invalid, listing every cause).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from sandbox.kube.errors import bad_request, invalid
from sandbox.kube.resources import ResourceType

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_PATH_SEGMENT_BAD = re.compile(r"[/%]|^\.\.?$")
_RBAC_GROUP = "rbac.authorization.k8s.io"

Check = Callable[[dict[str, Any], dict[str, Any] | None], list[tuple[str, str]]]


def _string_map(obj: dict[str, Any], path: tuple[str, ...], what: str) -> None:
    current: Any = obj
    for part in path:
        if not isinstance(current, dict):
            return
        current = current.get(part)
    if current is None:
        return
    dotted = ".".join(path)
    if not isinstance(current, dict):
        raise bad_request(f"{what}: {dotted} must be a map of strings")
    for key, value in current.items():
        if not isinstance(value, str):
            raise bad_request(f"{what}: {dotted}[{key!r}] must be a string, not {_tname(value)}")


def _tname(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}.get(
        type(value), "null" if value is None else "string"
    )


def _name_problem(rtype: ResourceType, name: str) -> str | None:
    if rtype.group == _RBAC_GROUP:
        return "may not contain '/' or '%'" if _PATH_SEGMENT_BAD.search(name) else None
    if rtype.kind in ("Namespace", "Service") and not rtype.custom:
        pattern = _LABEL if rtype.kind == "Namespace" else _DNS1035
        if len(name) > 63 or not pattern.match(name):
            return (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character"
            )
        return None
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    return None


_META_STRINGS = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "selfLink",
)
_REF_STRINGS = ("apiVersion", "kind", "name", "uid")


def check_shape(rtype: ResourceType, obj: dict[str, Any]) -> None:
    """Raise 400 when metadata fields (or spec/status) have the wrong JSON type, as
    kube-apiserver does when it cannot decode a body."""
    what = rtype.kind
    meta = obj.get("metadata")
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise bad_request(f"{what}: metadata must be an object, not {_tname(meta)}")
    for key in _META_STRINGS:
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise bad_request(f"{what}: metadata.{key} must be a string, not {_tname(meta[key])}")
    for key in ("generation", "deletionGracePeriodSeconds"):
        value = meta.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise bad_request(f"{what}: metadata.{key} must be an integer")
    _string_map(obj, ("metadata", "labels"), what)
    _string_map(obj, ("metadata", "annotations"), what)
    finalizers = meta.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        raise bad_request(f"{what}: metadata.finalizers must be a list of strings")
    refs = meta.get("ownerReferences")
    if refs is not None:
        if not isinstance(refs, list):
            raise bad_request(f"{what}: metadata.ownerReferences must be a list")
        for i, ref in enumerate(refs):
            if not isinstance(ref, dict) or not all(
                isinstance(ref.get(k), str) for k in _REF_STRINGS
            ):
                raise bad_request(
                    f"{what}: metadata.ownerReferences[{i}] must be an object with string "
                    "apiVersion, kind, name and uid"
                )
    managed = meta.get("managedFields")
    if managed is not None and not isinstance(managed, list):
        raise bad_request(f"{what}: metadata.managedFields must be a list")
    for key in ("spec", "status"):
        value = obj.get(key)
        if value is not None and not isinstance(value, dict):
            raise bad_request(f"{what}: {key} must be an object, not {_tname(value)}")


def validate(rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Raise 400 (wrong types) or 422 (invalid values, immutable fields) for ``obj``."""
    meta = obj.get("metadata")
    what = f"{rtype.kind}"
    if not isinstance(meta, dict):
        raise bad_request(f"{what}: metadata must be an object")
    _string_map(obj, ("metadata", "labels"), what)
    _string_map(obj, ("metadata", "annotations"), what)
    name = str(meta.get("name") or "")
    causes: list[tuple[str, str]] = []
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif old is None:
        problem = _name_problem(rtype, name)
        if problem:
            causes.append(("metadata.name", f'Invalid value: "{name}": {problem}'))
    if not rtype.custom:
        check = _CHECKS.get(rtype.kind)
        if check is not None:
            causes.extend(check(obj, old))
    if causes:
        raise invalid(rtype.kind, rtype.group, name, causes)


def _get(obj: dict[str, Any] | None, *path: str) -> Any:
    current: Any = obj
    for part in path:
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _immutable(field: str) -> tuple[str, str]:
    return (field, "field is immutable")


def _check_config(obj: dict[str, Any], old: dict[str, Any] | None) -> list[tuple[str, str]]:
    kind = obj.get("kind", "")
    _string_map(obj, ("data",), kind)
    if kind == "ConfigMap":
        _string_map(obj, ("binaryData",), kind)
    else:
        for key, value in (obj.get("data") or {}).items():
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                raise bad_request(f"Secret.data[{key!r}]: illegal base64 data") from None
    if old is None or not old.get("immutable"):
        return []
    causes = []
    if obj.get("immutable") is not True:
        causes.append(_immutable("immutable"))
    for key in ("data", "binaryData"):
        if (obj.get(key) or {}) != (old.get(key) or {}):
            causes.append(("data", "Forbidden: field is immutable when `immutable` is set"))
            break
    return causes


def _selector_matches(selector: Any, labels: Any) -> bool:
    if not isinstance(selector, dict):
        return False
    labels = labels if isinstance(labels, dict) else {}
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, dict):
        return False
    return all(labels.get(k) == v for k, v in match_labels.items())


def _check_workload(obj: dict[str, Any], old: dict[str, Any] | None) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    selector = _get(obj, "spec", "selector")
    if selector is None:
        causes.append(("spec.selector", "Required value"))
    elif not _selector_matches(selector, _get(obj, "spec", "template", "metadata", "labels")):
        causes.append(
            (
                "spec.template.metadata.labels",
                "Invalid value: `selector` does not match template `labels`",
            )
        )
    replicas = _get(obj, "spec", "replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        causes.append(("spec.replicas", "Invalid value: must be greater than or equal to 0"))
    if old is not None and selector != _get(old, "spec", "selector"):
        causes.append(_immutable("spec.selector"))
    return causes


def _check_job(obj: dict[str, Any], old: dict[str, Any] | None) -> list[tuple[str, str]]:
    if old is None:
        return []
    causes = []
    if _get(obj, "spec", "selector") != _get(old, "spec", "selector"):
        causes.append(_immutable("spec.selector"))
    if _get(obj, "spec", "template") != _get(old, "spec", "template"):
        causes.append(_immutable("spec.template"))
    return causes


def _check_service(obj: dict[str, Any], old: dict[str, Any] | None) -> list[tuple[str, str]]:
    causes = []
    for i, port in enumerate(_get(obj, "spec", "ports") or []):
        number = port.get("port") if isinstance(port, dict) else None
        if not isinstance(number, int) or not 0 < number < 65536:
            causes.append(
                (
                    f"spec.ports[{i}].port",
                    f"Invalid value: {number}: must be between 1 and 65535, inclusive",
                )
            )
    old_ip = _get(old, "spec", "clusterIP")
    if old_ip and _get(obj, "spec", "clusterIP") != old_ip:
        causes.append(_immutable("spec.clusterIP"))
    return causes


def _check_crd(obj: dict[str, Any], old: dict[str, Any] | None) -> list[tuple[str, str]]:
    raw_spec = obj.get("spec")
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    group, names = spec.get("group"), spec.get("names") or {}
    plural = names.get("plural") if isinstance(names, dict) else None
    causes = []
    if not group:
        causes.append(("spec.group", "Required value"))
    if not plural or not (isinstance(names, dict) and names.get("kind")):
        causes.append(("spec.names", "Required value: plural and kind are required"))
    name = _get(obj, "metadata", "name")
    if group and plural and name != f"{plural}.{group}":
        causes.append(
            ("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            ("spec.scope", 'Unsupported value: supported values: "Cluster", "Namespaced"')
        )
    versions = spec.get("versions")
    if not isinstance(versions, list):
        versions = []
    if sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        causes.append(
            (
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    if old is not None and group != _get(old, "spec", "group"):
        causes.append(_immutable("spec.group"))
    return causes


_CHECKS: dict[str, Check] = {
    "ConfigMap": _check_config,
    "Secret": _check_config,
    "Deployment": _check_workload,
    "ReplicaSet": _check_workload,
    "StatefulSet": _check_workload,
    "DaemonSet": _check_workload,
    "Job": _check_job,
    "Service": _check_service,
    "CustomResourceDefinition": _check_crd,
}
