"""PATCH: JSON merge patch, JSON patch, strategic merge patch and server-side apply.

The patch is applied to the live object with the pure functions of :mod:`sandbox.kube.patch`
and :mod:`sandbox.kube.fieldmanager`, and the result goes through the same preparation as an
update (see :mod:`sandbox.kube.writes`). Server-side apply creates a missing object, refuses
with 409 Conflict to change fields other managers own unless forced, and strips the status
from applies to the main resource of kinds with a status subresource. Strategic merge patch
is refused (415) for custom resources, as kube-apiserver does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.kube import fieldmanager, patch
from sandbox.kube.errors import StoreError, bad_request, not_found
from sandbox.kube.resources import ResourceType
from sandbox.kube.state import Entry
from sandbox.kube.validation import check_shape
from sandbox.kube.writes import Writes

if TYPE_CHECKING:
    from sandbox.kube.fieldvalidation import FieldValidation

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
}


class Patching(Writes):
    """The patch verb on top of the write verbs."""

    def patch_object(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        body: Any,
        manager: str,
        force: bool = False,
        subresource: str | None = None,
        dry_run: bool = False,
        check: FieldValidation | None = None,
    ) -> tuple[Entry, bool]:
        """PATCH in one of the four patch types; returns (entry, created). Only server-side
        apply creates a missing object. ``check`` validates the fields of the patched
        object (or of the applied configuration) and drops the undeclared ones."""
        with self._txn():
            now = self.now()
            live = self.entry(rtype.group, rtype.kind, namespace if rtype.namespaced else "", name)
            if patch_type == "apply":
                return self._apply(
                    rtype,
                    namespace,
                    name,
                    live,
                    body,
                    manager,
                    force,
                    subresource,
                    dry_run,
                    now,
                    check,
                )
            if live is None:
                raise not_found(rtype.group, rtype.plural, name)
            try:
                if patch_type == "merge":
                    patched = patch.merge_patch(live.obj, body)
                elif patch_type == "json":
                    patched = patch.json_patch(live.obj, body)
                elif patch_type == "strategic":
                    if rtype.custom:
                        raise StoreError(
                            415,
                            "UnsupportedMediaType",
                            "strategic merge patch is not supported for custom "
                            "resources; use a JSON merge patch",
                        )
                    if not isinstance(body, dict):
                        raise bad_request("a strategic merge patch must be a JSON object")
                    patched = patch.strategic_merge_patch(live.obj, body)
                else:
                    raise StoreError(
                        415, "UnsupportedMediaType", f"unsupported patch type {patch_type!r}"
                    )
            except patch.PatchError as err:
                raise StoreError(422, "Invalid", f"the patch could not be applied: {err}") from None
            if not isinstance(patched, dict):
                raise bad_request("the patched object is not a JSON object")
            if check is not None:
                patched = check.check_patched(patch_type, body, patched)
            new = self._prepare_update(rtype, live.obj, patched, manager, now, subresource)
            if new is None:
                return live, False
            return self._finish(rtype, new, dry_run), False

    def _apply(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        live: Entry | None,
        config: Any,
        manager: str,
        force: bool,
        subresource: str | None,
        dry_run: bool,
        now: str,
        check: FieldValidation | None,
    ) -> tuple[Entry, bool]:
        if not isinstance(config, dict):
            raise bad_request("an apply configuration must be a YAML or JSON object")
        if not manager:
            raise bad_request(
                "PATCH requests of type application/apply-patch+yaml require fieldManager to be set"
            )
        meta = config.get("metadata")
        if not isinstance(meta, dict):
            raise bad_request("an apply configuration must have metadata")
        if meta.get("name") not in (None, name):
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the "
                f"name on the URL ({name})"
            )
        check_shape(rtype, config)
        if check is not None:
            check.check_apply(config)
        config = dict(config, metadata=dict(meta, name=name))
        if rtype.namespaced:
            config["metadata"]["namespace"] = namespace
        if rtype.status_subresource and subresource is None:
            config.pop("status", None)
        elif subresource == "status":
            config = {
                k: v for k, v in config.items() if k in ("apiVersion", "kind", "metadata", "status")
            }
        try:
            merged = fieldmanager.apply(live.obj if live else None, config, manager, force, now)
        except fieldmanager.ApplyConflict as err:
            raise apply_conflict(rtype, name, err) from None
        except patch.PatchError as err:
            raise StoreError(422, "Invalid", f"the apply could not be performed: {err}") from None
        if check is not None:
            check.check_apply_yaml()
        if live is None:
            if subresource == "status":
                raise not_found(rtype.group, rtype.plural, name)
            new = self._prepare_create(rtype, merged, namespace, manager, now, managed=False)
            return self._finish(rtype, new, dry_run), True
        new_or_none = self._prepare_update(
            rtype, live.obj, merged, manager, now, subresource, managed=False
        )
        if new_or_none is None:
            return live, False
        return self._finish(rtype, new_or_none, dry_run), False


def apply_conflict(rtype: ResourceType, name: str, err: fieldmanager.ApplyConflict) -> StoreError:
    """409 listing the fields other managers own, in kube-apiserver's wording."""
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {label}", "field": path}
        for (_, path), label in zip(err.conflicts, err.labels, strict=True)
    ]
    details: dict[str, Any] = {"name": name, "kind": rtype.plural, "causes": causes}
    if rtype.group:
        details["group"] = rtype.group
    return StoreError(409, "Conflict", str(err), details)
