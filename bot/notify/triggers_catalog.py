"""The built-in triggers, written as settings data in the expression language (so a user
overrides one by defining ``trigger.<same name>`` in the settings).

The eight argocd-notifications catalog triggers keep Argo CD 3.x's conditions, ``oncePer`` and
template names (``app-deployed`` ...). Three are kajitori's own, asked for by Argo users:

* ``on-out-of-sync``: drift. ``OutOfSync`` (outside a running sync) for at least
  ``context.outOfSyncDebounceSeconds`` seconds (default 120, so self-heal and auto-sync get
  to fix it first); no ``oncePer``: it fires once per drift episode and re-arms when the app is
  ``Synced`` again or a sync runs.
* ``on-health-recovered``: ``Healthy`` after a settled ``Degraded``, ``Missing`` or
  ``Unknown`` (``previous``; a Progressing in between does not hide it), once per synced
  revision like ``on-health-degraded``, so a flapping app gets one "degraded" and one
  "recovered" per revision, not one per flap.
* ``on-approval-required``: a sync waits for a person. The reconciler is expected to put the
  request in the operation state::

      status.operationState.phase: Running
      status.operationState.approval:
        state: Pending            # Pending | Approved | Rejected
        resource: batch/Job/db/migrate   # the gated hook, group/kind/namespace/name
        requestedAt: 2024-05-01T10:00:00Z
        message: Run the database migration?

  It fires once per (operation ``startedAt``, ``approval.resource``).

Deviation: ``on-deployed`` adds ``app.status.health.lastTransitionTime == nil or`` in front of
Argo's time checks, so it still fires (with the legacy v1 meaning) when the controller does
not report a health transition time; with the field present it is Argo's condition.
"""

from __future__ import annotations

import functools
from typing import Final

from bot.notify.triggers_config import parse_triggers
from bot.notify.triggers_model import Trigger

_REVISION: Final = "app.status.operationState?.syncResult?.revision"
_HAS_OPERATION: Final = "app.status.operationState != nil and app.status.operationState.phase"

CATALOG_YAML: Final[dict[str, str]] = {
    "trigger.on-created": """
- description: Application is created.
  when: "true"
  oncePer: app.metadata.name
  send: [app-created]
""",
    "trigger.on-deleted": """
- description: Application is deleted.
  when: app.metadata.deletionTimestamp != nil
  oncePer: app.metadata.name
  send: [app-deleted]
""",
    "trigger.on-deployed": f"""
- description: Application is synced and healthy. Triggered once per commit.
  when: >-
    {_HAS_OPERATION} in ['Succeeded']
    and app.status.health.status == 'Healthy'
    and (app.status.health.lastTransitionTime == nil
    or !time.Parse(app.status.health.lastTransitionTime).Add(1 * time.Minute).Before(
    time.Parse(app.status.operationState.finishedAt))
    or time.Parse(app.status.health.lastTransitionTime).Before(
    time.Parse(app.status.operationState.startedAt)))
  oncePer: {_REVISION}
  send: [app-deployed]
""",
    "trigger.on-health-degraded": f"""
- description: Application has degraded
  when: app.status.health.status == 'Degraded'
  oncePer: {_REVISION}
  send: [app-health-degraded]
""",
    "trigger.on-sync-failed": f"""
- description: Application syncing has failed
  when: {_HAS_OPERATION} in ['Error', 'Failed']
  oncePer: {_REVISION}
  send: [app-sync-failed]
""",
    "trigger.on-sync-running": f"""
- description: Application is being synced
  when: {_HAS_OPERATION} in ['Running']
  oncePer: {_REVISION}
  send: [app-sync-running]
""",
    "trigger.on-sync-status-unknown": f"""
- description: Application status is 'Unknown'
  when: app.status.sync.status == 'Unknown'
  oncePer: {_REVISION}
  send: [app-sync-status-unknown]
""",
    "trigger.on-sync-succeeded": f"""
- description: Application syncing has succeeded
  when: {_HAS_OPERATION} in ['Succeeded']
  oncePer: {_REVISION}
  send: [app-sync-succeeded]
""",
    "trigger.on-out-of-sync": """
- description: Application has drifted from Git (OutOfSync for a while, outside a sync)
  when: >-
    app.status.sync.status == 'OutOfSync'
    and app.status.operationState?.phase != 'Running'
  debounce: context.outOfSyncDebounceSeconds ?? 120
  send: [app-out-of-sync]
""",
    "trigger.on-health-recovered": f"""
- description: Application is healthy again after being degraded, missing or unknown
  when: >-
    app.status.health.status == 'Healthy'
    and previous?.status?.health?.status in ['Degraded', 'Missing', 'Unknown']
  oncePer: {_REVISION}
  send: [app-health-recovered]
""",
    "trigger.on-approval-required": """
- description: A sync is waiting for a person to approve a gated step
  when: >-
    app.status.operationState?.phase == 'Running'
    and app.status.operationState?.approval?.state == 'Pending'
  oncePer: >-
    (app.status.operationState?.startedAt ?? '') + ' '
    + (app.status.operationState?.approval?.resource ?? '')
  send: [app-approval-required]
""",
}

ARGO_CATALOG_NAMES: Final = (
    "on-created",
    "on-deleted",
    "on-deployed",
    "on-health-degraded",
    "on-sync-failed",
    "on-sync-running",
    "on-sync-status-unknown",
    "on-sync-succeeded",
)


@functools.cache
def _catalog() -> dict[str, Trigger]:
    return parse_triggers(CATALOG_YAML, source="built-in trigger catalog")


def catalog_triggers() -> dict[str, Trigger]:
    """The built-in triggers by name (a new dict each call; the triggers are immutable)."""
    return dict(_catalog())


def triggers_with_catalog(user: dict[str, Trigger]) -> dict[str, Trigger]:
    """The catalog with the user's triggers added, a user trigger replacing a built-in one
    of the same name."""
    return {**_catalog(), **user}
