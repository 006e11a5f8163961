"""The built-in templates: one per catalog trigger, in kajitori's own words.

They look like argocd-notifications' Slack messages: a short ``message`` line (with an emoji),
and one attachment whose title is the app linked to its page (``context.argocdUrl`` +
``/applications/<name>``, left out when no URL is configured), a colour bar (Argo's colours),
and short fields Sync Status (or Health Status) / Repository / Revision, then the commit's
author and message when the caller knows the commit, then one field per app condition.

Operation templates (sync running / succeeded / failed, deployed, approval required) share a
``groupingKey`` per sync operation (app + ``operationState.startedAt``) with the
``PostAndUpdate`` policy: the first message of a sync is the thread root, later steps reply in
its thread and update the root, so a deploy is one message in the channel that ends showing its
outcome. The others post plainly.

Every user-controlled text (commit messages, authors, operation and condition messages) goes
through ``mrkdwn``, so it cannot mention ``@channel`` or fake a link. A user template of the
same name replaces a built-in one (:func:`templates_with_catalog`).
"""

from __future__ import annotations

import functools
from typing import Any, Final

from bot.notify.templates import Template, parse_templates

GREEN: Final = "#18be52"
YELLOW: Final = "#f4c030"
RED: Final = "#E96D76"
BLUE: Final = "#0DADEA"
GREY: Final = "#8c8c8c"
PURPLE: Final = "#7b61ff"

NAME: Final = "app.metadata.name"
OP: Final = "app.status.operationState"
REVISION: Final = f"({OP}.syncResult.revision or app.status.sync.revision)"
APP_URL: Final = (
    "(context.argocdUrl ~ '').rstrip('/') ~ '/applications/' ~ app.metadata.name"
    " if context.argocdUrl else ''"
)
APP_REF: Final = (
    "{% if context.argocdUrl %}<{{ " + APP_URL + " }}|{{ app.metadata.name | mrkdwn }}>"
    "{% else %}*{{ app.metadata.name | mrkdwn }}*{% endif %}"
)
OPERATION_URL: Final = (
    "{% if context.argocdUrl %} (<{{ " + APP_URL + " }}?operation=true|details>){% endif %}"
)
SHORT_REV: Final = "`{{ " + REVISION + " | short_sha | mrkdwn }}`"
WHO: Final = (
    "{{ 'auto-sync' if "
    + OP
    + ".operation.initiatedBy.automated else ("
    + OP
    + ".operation.initiatedBy.username or 'someone') | mrkdwn }}"
)
SYNC_GROUP: Final = (
    "{{ " + NAME + " ~ '/sync/' ~ " + OP + ".startedAt if " + OP + ".startedAt else '' }}"
)


def _field(
    title: str, value: str, *, short: bool = True, when: str | None = None
) -> dict[str, Any]:
    field: dict[str, Any] = {"title": title, "value": value, "short": short}
    if when is not None:
        field["$when"] = when
    return field


SYNC_STATUS: Final = _field("Sync Status", "{{ app.status.sync.status }}")
HEALTH_STATUS: Final = _field("Health Status", "{{ app.status.health.status }}")
REPOSITORY: Final = _field(
    "{{ 'Repositories' if app.spec.sources else 'Repository' }}",
    "{{ ':arrow_heading_up: ' ~ ((app.spec.sources or [app.spec.source])"
    " | map(attribute='repoURL') | map('mrkdwn') | join('\\n:arrow_heading_up: ')) }}",
    when="app.spec.source or app.spec.sources",
)
REVISION_FIELD: Final = _field("Revision", "{{ " + REVISION + " }}", when=REVISION)
AUTHOR: Final = _field("Author", "{{ commit.author | mrkdwn }}", when="commit and commit.author")
COMMIT: Final = _field(
    "Commit",
    "`{{ commit.sha | short_sha | mrkdwn }}` {{ commit.message | trim | truncate(700) | mrkdwn }}",
    short=False,
    when="commit",
)
CONDITIONS: Final = {
    "$each": "c in (app.status.conditions or [])[:10]",
    "title": "{{ c.type | mrkdwn }}",
    "value": "{{ c.message | truncate(500) | mrkdwn }}",
    "short": True,
}


def _attachment(color: str, *fields: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "title": "{{ app.metadata.name }}",
            "title_link?": "{{ " + APP_URL + " }}",
            "color": color,
            "mrkdwn_in": ["text", "fields"],
            "fields": [*fields, CONDITIONS],
        }
    ]


def _template(
    message: str, color: str, *fields: dict[str, Any], operation: bool = False
) -> dict[str, Any]:
    slack: dict[str, Any] = {"attachments": _attachment(color, *fields)}
    if operation:
        slack.update(groupingKey=SYNC_GROUP, deliveryPolicy="PostAndUpdate")
    return {"message": message, "slack": slack}


_STANDARD: Final = (SYNC_STATUS, REPOSITORY, REVISION_FIELD, AUTHOR, COMMIT)

FAILED_RESOURCES: Final = _field(
    "Failed",
    "{% for r in ((" + OP + ".syncResult.resources or []) | selectattr('status', 'in',"
    " ['SyncFailed']) | list + ((" + OP + ".syncResult.resources or []) | selectattr("
    "'hookPhase', 'in', ['Failed', 'Error']) | list))[:10] %}"
    "{{ r.kind | mrkdwn }}/{{ r.name | mrkdwn }}: {{ r.message | truncate(200) | mrkdwn }}"
    "{{ '\\n' if not loop.last else '' }}{% endfor %}",
    short=False,
    when="(" + OP + ".syncResult.resources or []) | selectattr('status', 'in', ['SyncFailed'])"
    " | list or (" + OP + ".syncResult.resources or []) | selectattr('hookPhase', 'in',"
    " ['Failed', 'Error']) | list",
)
DEGRADED_RESOURCES: Final = _field(
    "Not healthy",
    "{% for r in ((app.status.resources or []) | selectattr('health.status', 'in',"
    " ['Degraded', 'Missing']) | list)[:10] %}"
    "{{ r.kind | mrkdwn }}/{{ r.name | mrkdwn }}: {{ r.health.status }}"
    "{{ ' (' ~ (r.health.message | truncate(200) | mrkdwn) ~ ')' if r.health.message else '' }}"
    "{{ '\\n' if not loop.last else '' }}{% endfor %}",
    short=False,
    when="(app.status.resources or []) | selectattr('health.status', 'in',"
    " ['Degraded', 'Missing']) | list",
)
DRIFT_ITEM: Final = {
    "$each": "d in drift[:10]",
    "title": "{{ d.resource | mrkdwn }}",
    "value": "{{ ('`' ~ (d.fields[:8] | map('mrkdwn') | join('`, `')) ~ '`') if d.fields"
    " else 'differs from Git' }}{{ ' and ' ~ (d.fields | length - 8) ~ ' more'"
    " if d.fields | length > 8 else '' }}"
    "{{ '\\nchanged by ' ~ (d.managers | map('mrkdwn') | join(', ')) if d.managers else '' }}",
    "short": False,
}
DRIFT_MORE: Final = _field(
    "More", "and {{ drift | length - 10 }} more objects", short=False, when="drift | length > 10"
)
SELF_HEAL: Final = "app.spec.syncPolicy.automated and app.spec.syncPolicy.automated.selfHeal"
APPROVAL: Final = f"{OP}.approval"

CATALOG: Final[dict[str, dict[str, Any]]] = {
    "app-created": _template(
        ":sparkles: " + APP_REF + " is now managed by kajitori.", BLUE, *_STANDARD
    ),
    "app-deleted": _template(
        ":wastebasket: " + APP_REF + " is no longer managed by kajitori.",
        GREY,
        SYNC_STATUS,
        REPOSITORY,
    ),
    "app-deployed": _template(
        ":white_check_mark: " + APP_REF + " runs " + SHORT_REV + ": synced and healthy.",
        GREEN,
        *_STANDARD,
        operation=True,
    ),
    "app-health-degraded": _template(
        ":warning: " + APP_REF + " is degraded."
        "{{ ' ' ~ (app.status.health.message | truncate(500) | mrkdwn) "
        "if app.status.health.message else '' }}",
        YELLOW,
        HEALTH_STATUS,
        REPOSITORY,
        REVISION_FIELD,
        DEGRADED_RESOURCES,
        AUTHOR,
        COMMIT,
    ),
    "app-sync-failed": _template(
        ":x: Sync of " + APP_REF + " to " + SHORT_REV + " failed"
        "{{ ' (' ~ (" + OP + ".finishedAt | slack_date) ~ ')' if " + OP + ".finishedAt else '' }}"
        ": {{ ("
        + OP
        + ".message or 'no reason given') | truncate(1500) | mrkdwn }}"
        + OPERATION_URL,
        RED,
        *_STANDARD[:3],
        FAILED_RESOURCES,
        AUTHOR,
        COMMIT,
        operation=True,
    ),
    "app-sync-running": _template(
        ":arrows_counterclockwise: Syncing "
        + APP_REF
        + " to "
        + SHORT_REV
        + " (started by "
        + WHO
        + ")"
        + OPERATION_URL
        + ".",
        BLUE,
        *_STANDARD,
        operation=True,
    ),
    "app-sync-status-unknown": _template(
        ":grey_question: kajitori cannot compare " + APP_REF + " with Git right now "
        "(sync status Unknown); the conditions below say why.",
        RED,
        *_STANDARD[:3],
    ),
    "app-sync-succeeded": _template(
        ":white_check_mark: Synced "
        + APP_REF
        + " to "
        + SHORT_REV
        + "{{ ' (' ~ ("
        + OP
        + ".finishedAt | slack_date) ~ ')' if "
        + OP
        + ".finishedAt "
        "else '' }}" + OPERATION_URL + ".",
        GREEN,
        *_STANDARD,
        operation=True,
    ),
    "app-out-of-sync": _template(
        ":mag: " + APP_REF + " has drifted from Git: "
        "{{ drift | length }} object{{ '' if drift | length == 1 else 's' }} "
        "differ{{ 's' if drift | length == 1 else '' }}. "
        "{{ 'Self-heal will put Git\\'s version back.' if " + SELF_HEAL + " else "
        "'Sync the app to put Git\\'s version back, or commit the change.' }}",
        YELLOW,
        SYNC_STATUS,
        REPOSITORY,
        REVISION_FIELD,
        DRIFT_ITEM,
        DRIFT_MORE,
    ),
    "app-health-recovered": _template(
        ":green_heart: " + APP_REF + " is healthy again.",
        GREEN,
        HEALTH_STATUS,
        REPOSITORY,
        REVISION_FIELD,
        AUTHOR,
        COMMIT,
    ),
    "app-approval-required": _template(
        ":raised_hand: The sync of " + APP_REF + " to " + SHORT_REV + " waits for approval"
        "{{ ' before ' ~ (" + APPROVAL + ".resource | mrkdwn) if " + APPROVAL + ".resource "
        "else '' }}{{ ': ' ~ ("
        + APPROVAL
        + ".message | truncate(500) | mrkdwn) if "
        + APPROVAL
        + ".message else '.' }}",
        PURPLE,
        _field("Step", "{{ " + APPROVAL + ".resource | mrkdwn }}", when=APPROVAL + ".resource"),
        _field("Requested by", WHO),
        *_STANDARD[1:],
        operation=True,
    ),
}


@functools.cache
def _catalog() -> dict[str, Template]:
    return parse_templates(CATALOG, source="built-in template catalog")


def catalog_templates() -> dict[str, Template]:
    """The built-in templates by name (a new dict each call; templates are immutable)."""
    return dict(_catalog())


def templates_with_catalog(user: dict[str, Template]) -> dict[str, Template]:
    """The catalog with the user's templates added, a user template replacing a built-in one
    of the same name."""
    return {**_catalog(), **user}
