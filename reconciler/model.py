"""The reconciler's vocabulary: Argo CD's Application and AppProject specs, resource keys and
the status values, as plain frozen dataclasses.

Field names follow Argo CD's (`repoURL` becomes ``repo_url``, and so on) so a reader who knows
an Argo CD Application recognises every field. Parsing and validation live in
``reconciler.config``; these types hold only data that has already been checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

# Sync status of a resource or an app (Argo CD's SyncStatusCode).
SYNCED: Final = "Synced"
OUT_OF_SYNC: Final = "OutOfSync"
UNKNOWN: Final = "Unknown"

# Annotations read from manifests. Argo CD's work unchanged; kajitori's own use kajitori.dev/.
ARGO_PREFIX: Final = "argocd.argoproj.io/"
HOOK_ANNOTATION: Final = "argocd.argoproj.io/hook"
HOOK_DELETE_POLICY_ANNOTATION: Final = "argocd.argoproj.io/hook-delete-policy"
SYNC_WAVE_ANNOTATION: Final = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS_ANNOTATION: Final = "argocd.argoproj.io/sync-options"
COMPARE_OPTIONS_ANNOTATION: Final = "argocd.argoproj.io/compare-options"
HELM_HOOK_ANNOTATION: Final = "helm.sh/hook"
HELM_HOOK_WEIGHT_ANNOTATION: Final = "helm.sh/hook-weight"
TRACKING_ANNOTATION: Final = "kajitori.dev/tracking-id"
LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True, order=True)
class ResourceKey:
    """Identity of one Kubernetes object: (group, kind, namespace, name).

    ``group`` is "" for the core group; ``namespace`` is "" for cluster-scoped objects.
    """

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any], default_namespace: str = "") -> ResourceKey:
        """The key of a manifest or live object. ``default_namespace`` fills a missing
        namespace; pass "" for cluster-scoped kinds."""
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or default_namespace)
        return cls(group, str(obj.get("kind", "")), namespace, str(meta.get("name", "")))

    def tracking_id(self, app: str) -> str:
        """Argo CD's tracking id form: ``app:group/kind:namespace/name``."""
        return f"{app}:{self.group}/{self.kind}:{self.namespace}/{self.name}"

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"


@dataclass(frozen=True)
class GroupKind:
    """A (group, kind) pattern as used in AppProject allow and deny lists ("*" matches all)."""

    group: str
    kind: str


@dataclass(frozen=True)
class DirectorySource:
    recurse: bool = False
    include: str = ""
    exclude: str = ""


@dataclass(frozen=True)
class KustomizeSource:
    name_prefix: str = ""
    name_suffix: str = ""
    images: tuple[str, ...] = ()
    common_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HelmParameter:
    name: str
    value: str
    force_string: bool = False


@dataclass(frozen=True)
class HelmSource:
    value_files: tuple[str, ...] = ()
    values: str = ""
    values_object: Mapping[str, Any] | None = None
    parameters: tuple[HelmParameter, ...] = ()
    release_name: str = ""


@dataclass(frozen=True)
class ApplicationSource:
    """spec.source: where the manifests come from and how to render them."""

    repo_url: str
    path: str = "."
    target_revision: str = "HEAD"
    directory: DirectorySource | None = None
    kustomize: KustomizeSource | None = None
    helm: HelmSource | None = None


@dataclass(frozen=True)
class Destination:
    """spec.destination. kajitori manages the cluster it runs in, named by ``server`` or
    ``name``; ``namespace`` is the default for namespaced objects without one."""

    namespace: str = ""
    server: str = ""
    name: str = ""


@dataclass(frozen=True)
class Automated:
    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False


@dataclass(frozen=True)
class Backoff:
    """Retry backoff; durations in seconds (parsed from Argo's "5s", "3m" strings)."""

    duration: float = 5.0
    factor: float = 2.0
    max_duration: float = 180.0


@dataclass(frozen=True)
class RetryStrategy:
    limit: int = 0
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class SyncPolicy:
    automated: Automated | None = None
    sync_options: tuple[str, ...] = ()
    retry: RetryStrategy | None = None


@dataclass(frozen=True)
class IgnoreDifferences:
    """One spec.ignoreDifferences entry; group and kind may be globs."""

    kind: str
    group: str = ""
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApplicationSpec:
    source: ApplicationSource
    destination: Destination
    project: str = "default"
    sync_policy: SyncPolicy = field(default_factory=SyncPolicy)
    ignore_differences: tuple[IgnoreDifferences, ...] = ()
    revision_history_limit: int = 10


@dataclass(frozen=True)
class Application:
    """An Argo CD Application (argoproj.io/v1alpha1) as kajitori reads it."""

    name: str
    spec: ApplicationSpec
    namespace: str = "argocd"
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectDestination:
    server: str = "*"
    namespace: str = "*"
    name: str = ""


@dataclass(frozen=True)
class AppProject:
    """An Argo CD AppProject: which repos, destinations and kinds its apps may use."""

    name: str
    source_repos: tuple[str, ...] = ("*",)
    destinations: tuple[ProjectDestination, ...] = (ProjectDestination(),)
    cluster_resource_whitelist: tuple[GroupKind, ...] = ()
    cluster_resource_blacklist: tuple[GroupKind, ...] = ()
    namespace_resource_whitelist: tuple[GroupKind, ...] | None = None
    namespace_resource_blacklist: tuple[GroupKind, ...] = ()
    description: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)


# Argo CD creates a "default" project that allows everything.
DEFAULT_PROJECT: Final = AppProject(
    name="default",
    cluster_resource_whitelist=(GroupKind("*", "*"),),
)


def sync_option_enabled(options: tuple[str, ...] | list[str], name: str) -> str | None:
    """The value of ``Name=value`` in a list of sync or compare options, or None when absent.

    Later entries win, as in Argo CD where per-object options override the app's."""
    found: str | None = None
    for option in options:
        key, sep, value = option.partition("=")
        if sep and key.strip() == name:
            found = value.strip()
    return found


def annotation_options(obj: Mapping[str, Any], annotation: str) -> tuple[str, ...]:
    """The comma-separated option list an object carries in ``annotation``."""
    meta = obj.get("metadata") or {}
    raw = (meta.get("annotations") or {}).get(annotation, "")
    return tuple(part.strip() for part in str(raw).split(",") if part.strip())
