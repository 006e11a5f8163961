"""Parsing one Argo CD ``Application`` document into :class:`reconciler.model.Application`.

Field names are Argo CD's. Fields Argo CD has but kajitori does not implement yet (Helm
repository charts, multi-source apps, plugins, ...) are refused with "not supported yet"
instead of being ignored, because ignoring them would deploy something other than what the
file says. Bookkeeping fields that change nothing (``status``, ``metadata.uid``, ...) are
accepted so that ``kubectl get application -o yaml`` output loads as-is.
"""

from __future__ import annotations

import posixpath
import re

from reconciler.config_fields import Fields, describe, redact_url, suggestion
from reconciler.config_yaml import plain
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Automated,
    Backoff,
    Destination,
    DirectorySource,
    HelmParameter,
    HelmSource,
    IgnoreDifferences,
    KustomizeSource,
    RetryStrategy,
    SyncPolicy,
)

# Kubernetes object names (DNS-1123 subdomain), as Argo CD requires for Application names.
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

# ObjectMeta fields a cluster adds; accepted and ignored.
METADATA_IGNORED = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "ownerReferences",
    "finalizers",
    "selfLink",
)

# Sync options Argo CD knows (app-level and per-resource); others are reported as typos.
SYNC_OPTIONS = (
    "Validate",
    "CreateNamespace",
    "PrunePropagationPolicy",
    "PruneLast",
    "ApplyOutOfSyncOnly",
    "Replace",
    "ServerSideApply",
    "FailOnSharedResource",
    "RespectIgnoreDifferences",
    "Prune",
    "Delete",
    "SkipDryRunOnMissingResource",
    "Force",
    "ClientSideApplyMigration",
)

_MULTI_SOURCE = "multi-source applications (spec.sources); use spec.source"
_SPEC_UNSUPPORTED = {"sources": _MULTI_SOURCE, "sourceHydrator": "source hydration"}
_SOURCE_UNSUPPORTED = {
    "chart": "Helm repository charts (spec.source.chart); keep the chart in Git and set "
    "spec.source.path",
    "plugin": "config management plugins",
    "ref": "source references, which only multi-source applications use",
}
_HELM_UNSUPPORTED = {
    name: f"Helm option {name}"
    for name in (
        "fileParameters",
        "ignoreMissingValueFiles",
        "skipCrds",
        "skipSchemaValidation",
        "skipTests",
        "namespace",
        "kubeVersion",
        "apiVersions",
    )
}
_KUSTOMIZE_UNSUPPORTED = {
    name: f"Kustomize option {name}"
    for name in (
        "commonAnnotations",
        "commonAnnotationsEnvsubst",
        "version",
        "forceCommonLabels",
        "forceCommonAnnotations",
        "namespace",
        "replicas",
        "patches",
        "components",
        "labelWithoutSelector",
        "labelIncludeTemplates",
        "kubeVersion",
        "apiVersions",
        "ignoreMissingComponents",
    )
}


def parse_metadata(doc: Fields) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """(name, namespace, labels, annotations) of a document's metadata."""
    meta = doc.mapping("metadata", required=True)
    if meta is None:
        return "", "", {}, {}
    meta.check_keys(("name", "namespace", "labels", "annotations"), ignored=METADATA_IGNORED)
    name = meta.string("name", required=True)
    if name and not NAME_PATTERN.match(name):
        meta.problem(
            "name",
            f"{describe(name)} is not a valid name (lower-case letters, digits, '-' and '.')",
        )
    namespace = meta.string("namespace", "argocd", nonempty=True) or "argocd"
    return name, namespace, meta.string_map("labels"), meta.string_map("annotations")


def _directory(fields: Fields) -> DirectorySource:
    fields.check_keys(
        ("recurse", "include", "exclude"), {"jsonnet": "Jsonnet (spec.source.directory.jsonnet)"}
    )
    return DirectorySource(
        recurse=fields.boolean("recurse"),
        include=fields.string("include"),
        exclude=fields.string("exclude"),
    )


def _kustomize(fields: Fields) -> KustomizeSource:
    fields.check_keys(
        ("namePrefix", "nameSuffix", "images", "commonLabels"), _KUSTOMIZE_UNSUPPORTED
    )
    return KustomizeSource(
        name_prefix=fields.string("namePrefix"),
        name_suffix=fields.string("nameSuffix"),
        images=fields.strings("images"),
        common_labels=fields.string_map("commonLabels"),
    )


def _helm(fields: Fields) -> HelmSource:
    fields = fields.redacted()  # values and parameters may carry credentials
    fields.check_keys(
        ("valueFiles", "values", "valuesObject", "parameters", "releaseName"),
        _HELM_UNSUPPORTED,
        ignored=("passCredentials", "version"),
    )
    version = fields.data.get("version")
    if version not in (None, "", "v3"):
        fields.problem("version", f"only Helm v3 is supported, got {fields.got(version)}")
    if isinstance(fields.data.get("values"), dict):
        fields.problem(
            "values", "expected a string (a YAML document); use valuesObject for a mapping"
        )
        values = ""
    else:
        values = fields.string("values")
    values_object = fields.mapping("valuesObject")
    parameters = []
    for entry in fields.items("parameters"):
        entry.check_keys(("name", "value", "forceString"))
        parameters.append(
            HelmParameter(
                name=entry.string("name", required=True),
                value=entry.string("value"),
                force_string=entry.boolean("forceString"),
            )
        )
    return HelmSource(
        value_files=fields.strings("valueFiles"),
        values=values,
        values_object=None if values_object is None else plain(values_object.data),
        parameters=tuple(parameters),
        release_name=fields.string("releaseName"),
    )


def _source(fields: Fields) -> ApplicationSource:
    fields.check_keys(
        ("repoURL", "path", "targetRevision", "directory", "kustomize", "helm"),
        _SOURCE_UNSUPPORTED,
        ignored=("name",),
    )
    path = fields.string("path") or "."
    normalized = posixpath.normpath(path)
    if path.startswith("/") or normalized == ".." or normalized.startswith("../"):
        fields.problem("path", f"{describe(path)} must stay inside the repository")
    kinds = [key for key in ("directory", "kustomize", "helm") if fields.has(key)]
    if len(kinds) > 1:
        got = ", ".join(kinds)
        fields.problem(None, f"set only one of directory, kustomize and helm (got {got})")
    directory, kustomize, helm = (fields.mapping(k) for k in ("directory", "kustomize", "helm"))
    return ApplicationSource(
        repo_url=fields.string("repoURL", required=True),
        path=normalized,
        target_revision=fields.string("targetRevision") or "HEAD",
        directory=None if directory is None else _directory(directory),
        kustomize=None if kustomize is None else _kustomize(kustomize),
        helm=None if helm is None else _helm(helm),
    )


def _destination(fields: Fields) -> Destination:
    fields.check_keys(("server", "name", "namespace"))
    destination = Destination(
        namespace=fields.string("namespace"),
        server=fields.string("server"),
        name=fields.string("name"),
    )
    if destination.server and destination.name:
        fields.problem(None, "set server or name, not both")
    elif not destination.server and not destination.name:
        fields.problem(None, "server or name required")
    return destination


def _retry(fields: Fields) -> RetryStrategy:
    fields.check_keys(("limit", "backoff"), {"refresh": "retry.refresh"})
    backoff = fields.mapping("backoff")
    defaults = Backoff()
    if backoff is not None:
        backoff.check_keys(("duration", "factor", "maxDuration"))
        defaults = Backoff(
            duration=backoff.duration("duration", defaults.duration),
            factor=backoff.number("factor", defaults.factor, minimum=1),
            max_duration=backoff.duration("maxDuration", defaults.max_duration),
        )
    return RetryStrategy(limit=fields.integer("limit", 0, minimum=-1), backoff=defaults)


def _sync_options(fields: Fields) -> tuple[str, ...]:
    options = fields.strings("syncOptions")
    for index, option in enumerate(options):
        name, sep, _ = option.partition("=")
        where = f"{fields.path}.syncOptions[{index}]"
        if not sep:
            fields.problems.add(
                where, f"expected Name=value, got {describe(option)}", fields.line("syncOptions")
            )
        elif name.strip() not in SYNC_OPTIONS:
            hint = suggestion(name.strip(), SYNC_OPTIONS)
            fields.problems.add(
                where,
                f"unknown sync option {describe(name.strip())}{hint}",
                fields.line("syncOptions"),
            )
    return options


def _sync_policy(fields: Fields) -> SyncPolicy:
    fields.check_keys(
        ("automated", "syncOptions", "retry"),
        {"managedNamespaceMetadata": "managedNamespaceMetadata"},
    )
    automated = fields.mapping("automated")
    auto: Automated | None = None
    if automated is not None:
        automated.check_keys(("prune", "selfHeal", "allowEmpty", "enabled"))
        auto = Automated(
            prune=automated.boolean("prune"),
            self_heal=automated.boolean("selfHeal"),
            allow_empty=automated.boolean("allowEmpty"),
        )
        if not automated.boolean("enabled", True):
            auto = None
    retry = fields.mapping("retry")
    return SyncPolicy(
        automated=auto,
        sync_options=_sync_options(fields),
        retry=None if retry is None else _retry(retry),
    )


def _ignore_differences(fields: Fields) -> tuple[IgnoreDifferences, ...]:
    result = []
    for entry in fields.items("ignoreDifferences"):
        entry.check_keys(
            (
                "group",
                "kind",
                "name",
                "namespace",
                "jsonPointers",
                "jqPathExpressions",
                "managedFieldsManagers",
            )
        )
        pointers = entry.strings("jsonPointers")
        for pointer in pointers:
            if pointer and not pointer.startswith("/"):
                entry.problem(
                    "jsonPointers",
                    f"{describe(pointer)} is not a JSON pointer (it must start with '/')",
                )
        result.append(
            IgnoreDifferences(
                kind=entry.string("kind", required=True),
                group=entry.string("group"),
                name=entry.string("name"),
                namespace=entry.string("namespace"),
                json_pointers=pointers,
                jq_path_expressions=entry.strings("jqPathExpressions"),
                managed_fields_managers=entry.strings("managedFieldsManagers"),
            )
        )
    return tuple(result)


def parse_application(doc: Fields) -> Application:
    """The Application in ``doc`` (a whole document). Problems go to ``doc.problems``; the
    result is meaningful only when none were added."""
    doc.check_keys(
        ("apiVersion", "kind", "metadata", "spec"),
        {"operation": "operation (start a sync with `kajitori sync` instead)"},
        ignored=("status",),
    )
    name, namespace, labels, annotations = parse_metadata(doc)
    spec = doc.mapping("spec", required=True)
    if spec is None:
        empty = ApplicationSpec(source=ApplicationSource(repo_url=""), destination=Destination())
        return Application(name=name, spec=empty, namespace=namespace)
    spec.check_keys(
        (
            "project",
            "source",
            "destination",
            "syncPolicy",
            "ignoreDifferences",
            "revisionHistoryLimit",
        ),
        _SPEC_UNSUPPORTED,
        ignored=("info",),
    )
    has_sources = spec.has("sources")
    source = spec.mapping("source", required=not has_sources)
    destination = spec.mapping("destination", required=True)
    sync_policy = spec.mapping("syncPolicy")
    app_source = ApplicationSource(repo_url="") if source is None else _source(source)
    return Application(
        name=name,
        namespace=namespace,
        labels=labels,
        annotations=annotations,
        spec=ApplicationSpec(
            source=app_source,
            destination=Destination() if destination is None else _destination(destination),
            project=spec.string("project") or "default",
            sync_policy=SyncPolicy() if sync_policy is None else _sync_policy(sync_policy),
            ignore_differences=_ignore_differences(spec),
            revision_history_limit=spec.integer("revisionHistoryLimit", 10, minimum=0),
        ),
    )


def describe_repo(url: str) -> str:
    """A repository URL quoted for a message, without credentials."""
    return repr(redact_url(url))
