"""Comparison of an app's desired objects with the cluster: what is Synced, what is OutOfSync,
what must be pruned, and how healthy it all is.

Pairing. Desired and live objects are paired by (group, kind, namespace, name). A desired
object without a namespace gets the app's destination namespace, but only when discovery says
its kind is namespaced (a cluster-scoped object loses any namespace it was given). Live objects
come from two places: the desired keys are looked up directly, and every object whose tracking
annotation (``kajitori.dev/tracking-id``) names this app is listed across all kinds; a tracked
object no longer desired is a prune candidate. An object whose tracking id names another app,
or names a different object, is never pruned and never counted.

Diff strategy: server-side-apply dry-run. For a desired object that exists live, kajitori asks
the API server what the object would become if it applied it now (``PATCH`` with
``application/apply-patch+yaml``, ``dryRun=All``, field manager ``kajitori``, forced) and compares
that prediction with the live object after normalisation (``reconciler.diff``). Chosen over
Argo CD's legacy three-way diff (last-applied annotation + strategic merge patch) because:

- it is exactly what a sync will do (kajitori syncs with server-side apply), so "Synced" means
  "a sync would change nothing", with no second merge implementation that could disagree;
- defaults (``strategy``, ``clusterIP``, ``terminationMessagePath``, ...), admission mutations,
  CRDs without a Go schema and list merge keys are all handled by the server, where a client
  three-way diff needs the OpenAPI schema and a built-in defaulting table to avoid false drift;
- it needs no ``last-applied-configuration`` annotation, which is absent on server-side-applied
  objects and which leaks Secret values;
- fields other managers own (an HPA's replicas, injected sidecars) stay as they are in the
  prediction unless kajitori sets them, which is what people expect.

Its costs are a request per object and per comparison, hence ``DryRunCache`` keyed on (sha256
of the object sent, live resourceVersion): while neither Git nor the live object changes, a
poll makes no dry-run request. It is not used for creation (desired only: OutOfSync at once, no
request; a missing namespace is reported) nor for pruning (live only). If the server refuses
the dry-run (an immutable field changed, a webhook denies it), the resource is compared against
a local overlay of desired onto live instead and the refusal is kept in its message.

Hooks (``argocd.argoproj.io/hook``, ``helm.sh/hook``) are listed but not compared.
Within ``controller.namespaces`` a desired object elsewhere, or cluster-scoped, is Unknown with
a ComparisonError naming it, and is not read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler import diff as diffing
from reconciler.cluster_protocol import ClusterProtocol, UnknownKindError
from reconciler.cluster_scope import scope_of
from reconciler.compare_rules import (
    app_health,
    app_sync_status,
    crd_scopes,
    invalid_reason,
    is_hook,
    name_of,
    resource_version,
    scoped,
)
from reconciler.compare_types import (
    COMPARISON_ERROR,
    REPEATED_RESOURCE_WARNING,
    SHARED_RESOURCE_WARNING,
    Comparison,
    Condition,
    DryRunCache,
    ResourceStatus,
)
from reconciler.diff_ignore import copy_managed_fields, managers_of, parse_pointer, rules_for
from reconciler.diff_jq import compile_path_expression
from reconciler.errors import ClusterError, ComparisonError, KajitoriError
from reconciler.health import Health, assess
from reconciler.model import (
    COMPARE_OPTIONS_ANNOTATION,
    OUT_OF_SYNC,
    SYNCED,
    UNKNOWN,
    Application,
    ResourceKey,
    annotation_options,
)
from reconciler.tracking import owner_app, tracking_of, with_tracking

__all__ = [
    "Comparison",
    "Condition",
    "DryRunCache",
    "ResourceStatus",
    "compare",
    "comparison_error",
    "is_hook",
]

log = logging.getLogger(__name__)

Objects = dict[ResourceKey, dict[str, Any]]
_GET_INSTEAD_OF_LIST = 3  # fetch objects one by one when a (kind, namespace) has this few
_ATTEMPTS = 3  # dry-runs per object when a controller keeps writing to it meanwhile


def compare(
    app: Application,
    desired: Sequence[Mapping[str, Any]],
    cluster: ClusterProtocol,
    *,
    revision: str = "",
    cache: DryRunCache | None = None,
) -> Comparison:
    """Compare ``desired`` (rendered manifests of ``app`` at ``revision``) with ``cluster``.

    Never raises for cluster or rule problems: an unreachable API server or an invalid
    ignoreDifferences rule gives an Unknown comparison with a ComparisonError condition."""
    try:
        _check_rules(app)
        cache = cache if cache is not None else DryRunCache()
        return _Comparer(app, cluster, cache).run(desired, revision)
    except (ClusterError, ComparisonError) as error:
        return comparison_error(app, error, revision)


def comparison_error(app: Application, error: Exception, revision: str = "") -> Comparison:
    """The comparison of an app whose desired or live state could not be had (a render error,
    an unreachable cluster): sync status Unknown with a ComparisonError condition."""
    message = str(error) if isinstance(error, KajitoriError) else f"{type(error).__name__}"
    return Comparison(
        revision=revision,
        resources=[],
        sync_status=UNKNOWN,
        health_status="Unknown",
        conditions=[Condition(COMPARISON_ERROR, f"app {app.name}: {message}")],
    )


def _check_rules(app: Application) -> None:
    for rule in app.spec.ignore_differences:
        for pointer in rule.json_pointers:
            parse_pointer(pointer)
        for expression in rule.jq_path_expressions:
            compile_path_expression(expression)


class _Comparer:
    """One comparison run; holds what it learnt about namespaces and scopes on the way."""

    def __init__(self, app: Application, cluster: ClusterProtocol, cache: DryRunCache) -> None:
        self.app = app
        self.cluster = cluster
        self.cache = cache
        self.conditions: list[Condition] = []
        self.namespaces: dict[str, bool] = {}
        # key -> (message, whether a desired CRD will serve it)
        self.unserved: dict[ResourceKey, tuple[str, bool]] = {}
        self.scopes: dict[tuple[str, str], bool | None] = {}
        self.allowed = scope_of(cluster)

    def run(self, desired: Sequence[Mapping[str, Any]], revision: str) -> Comparison:
        targets, hooks = self._prepare(desired)
        live = self._fetch_live({**targets, **hooks})
        results: list[ResourceStatus] = []
        for key, obj in targets.items():
            if key in self.unserved:
                results.append(self._unserved(key, obj))
            else:
                results.append(self._compare_target(key, obj, live.get(key)))
        for key, obj in hooks.items():
            found = live.get(key)
            health = assess(found) if found is not None else None
            results.append(ResourceStatus(key, None, health, obj, found, hook=True))
        results.extend(self._extraneous(set(targets) | set(hooks)))
        return self._summarise(revision, results)

    # -- desired side ------------------------------------------------------------------------

    def _prepare(self, desired: Sequence[Mapping[str, Any]]) -> tuple[Objects, Objects]:
        """Targets and hooks by key, namespaced as the cluster (or a CRD among the desired
        objects) says, with the tracking annotation set."""
        targets: Objects = {}
        hooks: Objects = {}
        crds = crd_scopes(desired)
        for index, obj in enumerate(desired):
            problem = invalid_reason(obj)
            if problem:
                self.conditions.append(
                    Condition(COMPARISON_ERROR, f"desired object #{index + 1}: {problem}")
                )
                continue
            group = str(obj["apiVersion"]).rpartition("/")[0]
            kind = str(obj["kind"])
            namespaced = self._scope(group, kind)
            pending = namespaced is None
            if namespaced is None:
                namespaced = crds.get((group, kind), True)
            namespace = str(obj["metadata"].get("namespace") or self._default_namespace())
            key = ResourceKey(group, kind, namespace if namespaced else "", name_of(obj))
            if not self.allowed.allows(key.namespace):
                self.unserved[key] = (self.allowed.refusal(key.namespace), False)
                self.conditions.append(
                    Condition(COMPARISON_ERROR, f"{key}: {self.unserved[key][0]}")
                )
            elif pending:
                self._note_unserved(key, str(obj["apiVersion"]), (group, kind) in crds)
            if key in targets or key in hooks:
                self.conditions.append(
                    Condition(
                        REPEATED_RESOURCE_WARNING,
                        f"{key} appears more than once in the desired objects; the last wins",
                    )
                )
                targets.pop(key, None)
                hooks.pop(key, None)
            bucket = hooks if is_hook(obj) else targets
            bucket[key] = with_tracking(scoped(obj, key.namespace), self.app.name, key)
        return targets, hooks

    def _scope(self, group: str, kind: str) -> bool | None:
        if (group, kind) not in self.scopes:
            self.scopes[(group, kind)] = self.cluster.is_namespaced(group, kind)
        return self.scopes[(group, kind)]

    def _note_unserved(self, key: ResourceKey, api_version: str, crd_desired: bool) -> None:
        if crd_desired:
            message = f"kind {key.kind} will be served once its CustomResourceDefinition is synced"
            self.unserved[key] = (message, True)
            return
        message = (
            f"the cluster serves no kind {key.kind} in {api_version} "
            "(is its CustomResourceDefinition installed?)"
        )
        self.unserved[key] = (message, False)
        self.conditions.append(Condition(COMPARISON_ERROR, f"{key}: {message}"))

    def _default_namespace(self) -> str:
        return self.app.spec.destination.namespace or "default"

    # -- live side ---------------------------------------------------------------------------

    def _fetch_live(self, wanted: Objects) -> Objects:
        groups: dict[tuple[str, str, str], list[ResourceKey]] = {}
        for key, obj in wanted.items():
            if key not in self.unserved:
                groups.setdefault((str(obj["apiVersion"]), key.kind, key.namespace), []).append(key)
        found: Objects = {}
        for (api_version, kind, namespace), keys in groups.items():
            try:
                found.update(self._fetch_group(api_version, kind, namespace, keys))
            except UnknownKindError as error:
                for key in keys:
                    self._note_unserved(key, api_version, crd_desired=False)
                log.debug("%s", error)
        return found

    def _fetch_group(
        self, api_version: str, kind: str, namespace: str, keys: list[ResourceKey]
    ) -> Objects:
        """The live objects of one (apiVersion, kind, namespace), fetched in that version."""
        found: Objects = {}
        if len(keys) <= _GET_INSTEAD_OF_LIST:
            for key in keys:
                one = self.cluster.get(key, api_version)
                if one is not None:
                    found[key] = one
            return found
        names = {key.name: key for key in keys}
        group = keys[0].group
        for obj in self.cluster.list(group, kind, namespace or None, api_version=api_version):
            name = str((obj.get("metadata") or {}).get("name", ""))
            if name in names:
                found[names[name]] = obj
        return found

    def _namespace_exists(self, namespace: str) -> bool:
        if not self.allowed.cluster_wide:
            return True  # a listed namespace; Namespaces are cluster-scoped, so not readable
        if namespace not in self.namespaces:
            found = self.cluster.get(ResourceKey("", "Namespace", "", namespace))
            self.namespaces[namespace] = found is not None
        return self.namespaces[namespace]

    # -- one resource ------------------------------------------------------------------------

    def _compare_target(
        self, key: ResourceKey, desired: dict[str, Any], live: dict[str, Any] | None
    ) -> ResourceStatus:
        if live is None:
            message = ""
            if key.namespace and not self._namespace_exists(key.namespace):
                message = f"namespace {key.namespace} does not exist yet"
            result = diffing.diff(desired, None, key=key)
            return ResourceStatus(
                key,
                OUT_OF_SYNC,
                Health("Missing", message),
                desired,
                None,
                result.text,
                message=message,
            )
        self._note_shared(key, live)
        rules = rules_for(self.app.spec.ignore_differences, key)
        managers = managers_of(rules)
        for _ in range(_ATTEMPTS):
            sent = copy_managed_fields(desired, live, managers) if managers else desired
            predicted, message = self._predict(key, sent, live)
            if resource_version(predicted) == resource_version(live) or message:
                break
            # The object changed between the read and the dry-run (a controller wrote to it):
            # read it again so both sides describe the same version.
            fresh = self.cluster.get(key, str(desired["apiVersion"]))
            if fresh is None:
                return self._compare_target(key, desired, None)
            live = fresh
        result = diffing.diff(predicted, live, key=key, rules=rules)
        status = OUT_OF_SYNC if result.modified else SYNCED
        return ResourceStatus(
            key, status, assess(live), desired, live, result.text, message=message
        )

    def _predict(
        self, key: ResourceKey, sent: dict[str, Any], live: dict[str, Any]
    ) -> tuple[dict[str, Any], str]:
        """The server's prediction of live after applying ``sent``, and a note if it refused.
        Cached only when the prediction starts from the very version of ``live``. A cached
        prediction is the cache's own object: read it, never change it."""
        cache_key = DryRunCache.key(key, sent, resource_version(live))
        cached = self.cache.get_shared(cache_key)  # read-only: diff never changes it
        if cached is not None:
            return cached, ""
        try:
            predicted = self.cluster.apply(sent, force=True, dry_run=True)
        except ClusterError as error:
            if error.code == 401 or error.code == 0 or error.code >= 500:
                raise
            return diffing.overlay(live, sent), f"server-side dry-run refused: {error}"
        if resource_version(predicted) == resource_version(live):
            self.cache.put(cache_key, predicted)
        return predicted, ""

    def _unserved(self, key: ResourceKey, desired: dict[str, Any]) -> ResourceStatus:
        message, pending = self.unserved[key]
        result = diffing.diff(desired, None, key=key)
        return ResourceStatus(
            key,
            OUT_OF_SYNC if pending else UNKNOWN,
            Health("Missing", message),
            desired,
            None,
            result.text,
            message=message,
        )

    def _note_shared(self, key: ResourceKey, live: Mapping[str, Any]) -> None:
        tracking = tracking_of(live)
        if tracking is not None and tracking.app != self.app.name and tracking.key == key:
            self.conditions.append(
                Condition(
                    SHARED_RESOURCE_WARNING,
                    f"{key} is part of applications {self.app.name} and {tracking.app}",
                )
            )

    def _extraneous(self, seen: set[ResourceKey]) -> list[ResourceStatus]:
        results: list[ResourceStatus] = []
        for live in self.cluster.list_tracked(self.app.name, exclude=seen):
            key = ResourceKey.of(live)
            if key in seen or owner_app(live, key) != self.app.name or is_hook(live):
                continue
            seen.add(key)
            options = annotation_options(live, COMPARE_OPTIONS_ANNOTATION)
            result = diffing.diff(None, live, key=key)
            results.append(
                ResourceStatus(
                    key,
                    OUT_OF_SYNC,
                    assess(live),
                    None,
                    live,
                    result.text,
                    requires_pruning=True,
                    ignore_extraneous="IgnoreExtraneous" in options,
                )
            )
        return results

    # -- the app -----------------------------------------------------------------------------

    def _summarise(self, revision: str, results: list[ResourceStatus]) -> Comparison:
        results.sort(key=lambda r: (r.hook, r.key))
        return Comparison(
            revision,
            results,
            app_sync_status(results, self.conditions),
            app_health(results),
            self.conditions,
        )
