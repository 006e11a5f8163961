"""bot.status_view: controller answers → listing inputs, tolerant of missing fields."""

from __future__ import annotations

from bot.status_view import app_row, current_revision, status_view
from reconciler.controller_api import AppSummary


def test_app_row_copies_the_summary_and_fills_unknowns() -> None:
    row = app_row(AppSummary("web", "shop", "", "Healthy", "abc", True, False, "Running"))
    assert (row.name, row.project, row.sync_status, row.health_status) == (
        "web",
        "shop",
        "Unknown",
        "Healthy",
    )
    assert row.auto_sync and not row.self_heal and row.operation_phase == "Running"


def test_status_view_lists_what_is_not_synced_and_healthy() -> None:
    document = {
        "status": {
            "sync": {"status": "OutOfSync", "revision": "abc"},
            "health": {"status": "Degraded", "message": "crash"},
            "operationState": {"phase": "Failed", "finishedAt": "2024-05-01T10:00:00Z"},
            "conditions": [{"type": "SyncError", "message": "boom"}, {"message": ""}, "junk"],
            "resources": [
                {
                    "kind": "ConfigMap",
                    "name": "ok",
                    "status": "Synced",
                    "health": {"status": "Healthy"},
                },
                {"kind": "Service", "name": "plain", "status": "Synced"},
                {
                    "group": "apps",
                    "kind": "Deployment",
                    "namespace": "d",
                    "name": "web",
                    "status": "OutOfSync",
                    "health": {"status": "Degraded", "message": "crash"},
                },
            ],
        }
    }
    view = status_view(document, name="web", project="shop", auto_sync=False, self_heal=True)
    assert view.app.sync_status == "OutOfSync" and view.app.health_status == "Degraded"
    assert view.app.revision == "abc" and view.app.message == "crash" and view.app.self_heal
    assert [str(r.key) for r in view.resources] == ["Deployment.apps/d/web"]
    assert view.conditions == ["SyncError: boom"]
    assert view.last_synced_at is not None and view.last_synced_at.year == 2024
    assert current_revision(document) == "abc"


def test_status_view_of_an_empty_document_is_unknown() -> None:
    view = status_view({}, name="web", project="p", auto_sync=True, self_heal=False)
    assert view.app.sync_status == "Unknown" and view.resources == [] and view.conditions == []
    assert current_revision({"status": "junk"}) == ""
