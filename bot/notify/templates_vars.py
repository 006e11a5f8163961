"""The variables a notification template sees, built in one place so every caller (delivery,
``kajitori demo``, a settings check) gives templates the same names.

* ``app``: the Argo-shaped Application dict (metadata, spec, status ...);
* ``appProject``: the AppProject dict, or ``{}``;
* ``context``: the settings' ``context`` (``argocdUrl`` = kajitori's UI/URL base ...) plus
  ``notificationType`` (the service, ``slack``), as in Argo;
* ``notificationType`` / ``serviceType``: the service name (``slack``); ``recipient``: the
  channel the message goes to;
* ``commit``: ``{sha, author, message, title, date}`` of the revision, when the caller knows it
  (absent otherwise, so ``{% if commit %}`` and ``$when: commit`` work);
* ``drift``: the objects that differ from Git, each ``{resource, group, kind, namespace,
  name, fields, managers}``: from the reconciler's drift report when given, else the
  ``OutOfSync`` entries of ``app.status.resources`` (without fields or managers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.event_types import CommitSummary, DriftChange
from reconciler.model import ResourceKey


def commit_variable(commit: CommitSummary | Mapping[str, Any]) -> dict[str, str]:
    """``commit`` for templates from a :class:`CommitSummary` or a mapping with ``sha``,
    ``author``, ``message`` (and optionally ``date``)."""
    if isinstance(commit, CommitSummary):
        sha, author, message, date = commit.sha, commit.author, commit.message, commit.date
    else:
        sha = str(commit.get("sha") or "")
        author = str(commit.get("author") or "")
        message = str(commit.get("message") or "")
        date = str(commit.get("date") or "")
    lines = message.strip().splitlines()
    return {
        "sha": sha,
        "author": author,
        "message": message,
        "title": lines[0] if lines else "",
        "date": date,
    }


def _resource_text(group: str, kind: str, namespace: str, name: str) -> str:
    return str(ResourceKey(group, kind, namespace, name))


def drift_variable(changes: Iterable[DriftChange]) -> list[dict[str, Any]]:
    """``drift`` for templates from the reconciler's :class:`DriftChange` list (field paths
    and field managers only: the diff itself is never exposed to templates)."""
    return [
        {
            "resource": str(change.key),
            "group": change.key.group,
            "kind": change.key.kind,
            "namespace": change.key.namespace,
            "name": change.key.name,
            "fields": list(change.fields),
            "managers": list(change.managers),
        }
        for change in changes
    ]


def drift_from_status(app: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``OutOfSync`` entries of ``app.status.resources`` in the ``drift`` shape."""
    status = app.get("status")
    resources = status.get("resources") if isinstance(status, Mapping) else None
    out: list[dict[str, Any]] = []
    for entry in resources if isinstance(resources, list) else []:
        if not isinstance(entry, Mapping) or entry.get("status") != "OutOfSync":
            continue
        parts = [str(entry.get(k) or "") for k in ("group", "kind", "namespace", "name")]
        out.append(
            {
                "resource": _resource_text(*parts),
                "group": parts[0],
                "kind": parts[1],
                "namespace": parts[2],
                "name": parts[3],
                "fields": [],
                "managers": [],
            }
        )
    return out


def template_variables(
    app: Mapping[str, Any],
    *,
    context: Mapping[str, Any] | None = None,
    commit: CommitSummary | Mapping[str, Any] | None = None,
    app_project: Mapping[str, Any] | None = None,
    drift: Iterable[DriftChange] | None = None,
    service: str = "slack",
    recipient: str = "",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables for rendering a template about ``app`` (see the module docstring).
    ``extra`` adds caller-specific names (it cannot replace the standard ones)."""
    variables: dict[str, Any] = dict(extra or {})
    variables.update(
        app=app,
        appProject=app_project if app_project is not None else {},
        context={**(context or {}), "notificationType": service},
        notificationType=service,
        serviceType=service,
        recipient=recipient,
        drift=drift_variable(drift) if drift is not None else drift_from_status(app),
    )
    if commit is not None:
        variables["commit"] = commit_variable(commit)
    else:
        variables.pop("commit", None)
    return variables
