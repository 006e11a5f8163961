"""Argo CD sync options as one typed value: the app's ``spec.syncPolicy.syncOptions`` list and
the per-object ``argocd.argoproj.io/sync-options`` annotation (a comma list).

Why a typed object: Argo CD tests option strings (``"Prune=false"``) wherever it needs them; a
misspelt option then silently does nothing. Here every option is parsed once, an option that is
not understood is reported, and the sync engine reads plain fields. Object options override the
app's (``app.merged(object)``), which is how Argo CD documents Prune, Delete, ServerSideApply,
RespectIgnoreDifferences and the rest. As in Argo CD, names and values are case-sensitive
(``Validate=False`` is not understood, and is reported).

Pure: no I/O, no clock (``deletion_approved`` takes the operation start as an argument).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from reconciler.model import SYNC_OPTIONS_ANNOTATION, annotation_options

DELETION_APPROVED_ANNOTATION: Final = "argocd.argoproj.io/deletion-approved"

BOOL_VALUES: Final = {"true": True, "false": False}
_BOOL: Final = ("true", "false")
PRUNE_VALUES: Final = ("true", "false", "confirm")
PROPAGATION_POLICIES: Final = ("foreground", "background", "orphan")

# Option name -> (SyncOptions field, accepted values). Booleans map "true"/"false".
_OPTIONS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "Prune": ("prune", PRUNE_VALUES),
    "Delete": ("delete", PRUNE_VALUES),
    "Validate": ("validate", _BOOL),
    "SkipDryRunOnMissingResource": ("skip_dry_run_on_missing_resource", _BOOL),
    "CreateNamespace": ("create_namespace", _BOOL),
    "ServerSideApply": ("server_side_apply", _BOOL),
    "Replace": ("replace", _BOOL),
    "Force": ("force", _BOOL),
    "PruneLast": ("prune_last", _BOOL),
    "ApplyOutOfSyncOnly": ("apply_out_of_sync_only", _BOOL),
    "RespectIgnoreDifferences": ("respect_ignore_differences", _BOOL),
    "FailOnSharedResource": ("fail_on_shared_resource", _BOOL),
    "PrunePropagationPolicy": ("prune_propagation_policy", PROPAGATION_POLICIES),
    "ClientSideApplyMigration": ("client_side_apply_migration", _BOOL),
}

# Options that act on the whole operation only; Argo CD ignores them on an object.
APP_ONLY_OPTIONS: Final = frozenset({"CreateNamespace", "FailOnSharedResource"})


@dataclass(frozen=True)
class SyncOptions:
    """Effective sync options. Every field holds its value with Argo CD's default filled in;
    ``explicit`` names the fields that were written, so that ``merged`` lets an object's
    options override only what the object actually says.

    ``prune`` and ``delete`` are "true" (default), "false" or "confirm".
    ``prune_propagation_policy`` is "foreground" (default), "background" or "orphan".
    """

    prune: str = "true"
    delete: str = "true"
    validate: bool = True
    skip_dry_run_on_missing_resource: bool = False
    create_namespace: bool = False
    server_side_apply: bool = False
    replace: bool = False
    force: bool = False
    prune_last: bool = False
    apply_out_of_sync_only: bool = False
    respect_ignore_differences: bool = False
    fail_on_shared_resource: bool = False
    prune_propagation_policy: str = "foreground"
    client_side_apply_migration: bool = True
    explicit: frozenset[str] = frozenset()

    def merged(self, override: SyncOptions) -> SyncOptions:
        """These options with every field that ``override`` sets explicitly taken from it."""
        changes: dict[str, Any] = {name: getattr(override, name) for name in override.explicit}
        return dataclasses.replace(self, **changes, explicit=self.explicit | override.explicit)

    def is_set(self, field_name: str) -> bool:
        """Whether ``field_name`` was written (as opposed to holding its default)."""
        return field_name in self.explicit


DEFAULT_SYNC_OPTIONS: Final = SyncOptions()


def parse_sync_options(
    options: Iterable[str], *, scope: str = "app", where: str = "syncOptions"
) -> tuple[SyncOptions, list[str]]:
    """Parse ``Name=value`` options into ``SyncOptions``, with a message for each option that
    is not understood (unknown name, unknown value, or an app-only option on an object).

    ``scope`` is "app" (spec.syncPolicy.syncOptions) or "object" (the annotation); ``where``
    names the source in the messages (an object, or the app). Later entries win.
    """
    if scope not in ("app", "object"):
        raise ValueError(f"scope must be 'app' or 'object', not {scope!r}")
    values: dict[str, Any] = {}
    problems: list[str] = []
    for raw in options:
        option = raw.strip()
        if not option:
            continue
        name, sep, value = option.partition("=")
        name, value = name.strip(), value.strip()
        spec = _OPTIONS.get(name)
        if not sep or spec is None:
            problems.append(f"{where}: unknown sync option {option!r}")
            continue
        field_name, accepted = spec
        if value not in accepted:
            problems.append(
                f"{where}: sync option {option!r} has an unknown value "
                f"(expected {name}={' or '.join(accepted)})"
            )
            continue
        if scope == "object" and name in APP_ONLY_OPTIONS:
            problems.append(
                f"{where}: sync option {option!r} only takes effect in the Application's "
                "spec.syncPolicy.syncOptions; ignored on an object"
            )
            continue
        values[field_name] = BOOL_VALUES[value] if accepted == _BOOL else value
    return SyncOptions(**values, explicit=frozenset(values)), problems


def object_sync_options(obj: Mapping[str, Any], where: str) -> tuple[SyncOptions, list[str]]:
    """The options an object carries in ``argocd.argoproj.io/sync-options``."""
    return parse_sync_options(
        annotation_options(obj, SYNC_OPTIONS_ANNOTATION), scope="object", where=where
    )


def task_sync_options(
    app: SyncOptions,
    target: Mapping[str, Any] | None,
    live: Mapping[str, Any] | None,
    where: str,
) -> tuple[SyncOptions, list[str]]:
    """The options that govern one object in a sync, as Argo CD reads them.

    An apply reads the target's annotation; a prune (no target) reads the live object's. As in
    Argo CD, ``Replace=true`` or ``Force=true`` on the live object also counts for an apply
    unless the target sets the option itself. Problems are reported for the object read.
    """
    if target is None:
        if live is None:
            return app, []
        live_options, problems = object_sync_options(live, where)
        return app.merged(live_options), problems
    options, problems = object_sync_options(target, where)
    merged = app.merged(options)
    if live is not None:
        live_options, _ = object_sync_options(live, where)
        carried: dict[str, Any] = {
            name: True
            for name in ("replace", "force")
            if getattr(live_options, name) and not options.is_set(name)
        }
        if carried:
            merged = merged.merged(SyncOptions(**carried, explicit=frozenset(carried)))
    return merged, problems


def deletion_approved(app_annotations: Mapping[str, str], started_at: int) -> bool:
    """Whether ``Prune=confirm`` prunes may go ahead: the Application carries
    ``argocd.argoproj.io/deletion-approved`` with an RFC 3339 time at or after the operation's
    start (unix seconds). A missing or unreadable value approves nothing."""
    raw = app_annotations.get(DELETION_APPROVED_ANNOTATION, "")
    if not raw:
        return False
    try:
        approved = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    if approved.tzinfo is None:
        return False
    return approved.timestamp() >= started_at
