"""Block Kit builders: content, Slack's limits (checked by the Slack stand-in's own validator),
escaping of everything people and repositories write, and masked diffs staying masked."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from bot import blocks as b
from bot.views import (
    DiffEntry,
    SyncOutcome,
    SyncView,
    WaveView,
    diff_entries,
)
from reconciler.compare_types import ResourceStatus
from reconciler.diff import diff
from reconciler.event_types import ResourceResult
from reconciler.model import ResourceKey
from tests.unit.bot_blocks_helpers import (
    COMMIT,
    DEPLOY,
    SERVICE,
    SHA_NEW,
    SHA_OLD,
    T0,
    accepted,
    all_text,
    assert_no_injection,
    blocks_of,
)

SYNC = SyncView(
    app="guestbook",
    to_revision=SHA_NEW,
    from_revision=SHA_OLD,
    initiated_by="U0ALICE",
    commit=COMMIT,
    prune=True,
    project="web",
)


def test_sync_started_says_who_what_and_from_which_revision_to_which() -> None:
    msg = accepted(b.sync_started(SYNC))
    text = all_text(msg)
    assert "Syncing *guestbook* to `2222222`" in text
    assert "`1111111` → `2222222`" in text
    assert "<@U0ALICE>" in text and "Eve &lt;eve@example.com&gt;" in text
    assert "Fix &lt;!channel&gt; &amp; &lt;@U0EVIL&gt;" in text
    assert "longer body" not in text  # the title only
    assert "prune" in text
    assert msg["text"].startswith("Syncing guestbook to `2222222`")
    assert_no_injection(msg)


def test_automated_first_sync() -> None:
    msg = accepted(b.sync_started(SyncView(app="guestbook", to_revision="main", dry_run=True)))
    text = all_text(msg)
    assert "auto-sync" in text and "_none yet_ → `main`" in text and "(dry run)" in text


def result(key: ResourceKey, status: str, message: str = "", hook_phase: str = "") -> Any:
    return ResourceResult(key, status, message, hook_phase)


def test_sync_succeeded() -> None:
    outcome = SyncOutcome(
        "Succeeded",
        results=[result(DEPLOY, "Synced"), result(SERVICE, "Synced")],
        started_at=T0,
        finished_at=T0 + timedelta(seconds=65),
    )
    msg = accepted(b.sync_finished(SYNC, outcome))
    text = all_text(msg)
    assert ":white_check_mark: *guestbook* synced to `2222222` (2 resources in 1m 05s)" in text
    assert "Failed" not in text
    assert msg["text"] == "guestbook synced to `2222222`: Succeeded"


def test_sync_failed_lists_the_failing_objects_and_why() -> None:
    outcome = SyncOutcome(
        "Failed",
        message="one or more objects failed to apply",
        results=[
            result(SERVICE, "Synced"),
            result(DEPLOY, "SyncFailed", 'Deployment "guestbook-ui" is invalid: <spec.replicas>'),
            result(
                ResourceKey("batch", "Job", "web", "migrate"), "Synced", "BackoffLimit", "Failed"
            ),
        ],
    )
    msg = accepted(b.sync_finished(SYNC, outcome))
    text = all_text(msg)
    assert "*Failed*" in text and "Failed (2):" in text
    assert (
        '`Deployment.apps/web/guestbook-ui` SyncFailed: Deployment "guestbook-ui" is '
        "invalid: &lt;spec.replicas&gt;" in text
    )
    assert "`Job.batch/web/migrate` Failed: BackoffLimit" in text
    assert "`Service/web/guestbook-ui`" not in text
    assert "> one or more objects failed to apply" in text
    assert_no_injection(msg)


def test_sync_failed_with_a_thousand_failures_stays_within_limits() -> None:
    failures = [
        result(ResourceKey("", "ConfigMap", "web", f"cm-{i:04d}"), "SyncFailed", "x" * 300)
        for i in range(1000)
    ]
    msg = accepted(b.sync_finished(SYNC, SyncOutcome("Error", "boom", failures, retrying=True)))
    text = all_text(msg)
    shown = text.count(":x: `ConfigMap/web/cm-")
    assert 0 < shown < 1000
    assert f"… and {1000 - shown} more failed resources not shown here." in text
    assert "*Error*, retrying" in text


def test_wave_reply_lists_each_resource() -> None:
    wave = WaveView(
        "PreSync",
        -1,
        [
            result(ResourceKey("batch", "Job", "web", "db-migrate"), "Synced", "", "Running"),
            result(SERVICE, "Pruned", "pruned"),
        ],
    )
    msg = accepted(b.sync_wave_reply(SYNC, wave))
    text = all_text(msg)
    assert "*PreSync* · wave -1 — 2 resources" in text
    assert ":hourglass_flowing_sand: `Job.batch/web/db-migrate` Running" in text
    assert ":wastebasket: `Service/web/guestbook-ui` Pruned: pruned" in text
    big = WaveView(
        "Sync",
        3,
        [result(ResourceKey("", "Secret", "web", f"s{i}"), "Synced") for i in range(3000)],
    )
    big_msg = accepted(b.sync_wave_reply(SYNC, big))
    assert "3000 resources" in big_msg["text"]
    assert "more resources not shown here" in all_text(big_msg)


# -- diffs -----------------------------------------------------------------------------------

SECRET_VALUE = "hunter2-very-secret"


def secret_diff() -> DiffEntry:
    key = ResourceKey("", "Secret", "web", "db")
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "web"},
        "data": {"password": encoded},
    }
    live = {**desired, "data": {"password": base64.b64encode(b"old-password-1").decode()}}
    text = diff(desired, live, key=key).text
    assert text and SECRET_VALUE not in text and encoded not in text
    return DiffEntry(key, text)


def test_a_masked_secret_diff_stays_masked_everywhere() -> None:
    entry = secret_diff()
    outputs = [
        all_text(accepted(b.diff_message("guestbook", SHA_NEW, [entry]))),
        b.diff_file_content("guestbook", SHA_NEW, [entry]),
        all_text(accepted(b.diff_file_message("guestbook", SHA_NEW, [entry]))),
    ]
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    for output in outputs:
        assert SECRET_VALUE not in output and encoded not in output
    assert "++++++++" in outputs[0] and "++++++++" in outputs[1]


def test_diff_message_shows_each_resource_in_a_code_block() -> None:
    entries = [
        DiffEntry(DEPLOY, "--- live\n+++ desired\n-  replicas: 1\n+  replicas: 3\n"),
        DiffEntry(SERVICE, "+kind: Service\n", "new"),
        DiffEntry(ResourceKey("", "ConfigMap", "web", "old"), "-kind: ConfigMap\n", "prune"),
    ]
    rendering = b.render_diff("guestbook", SHA_NEW, entries)
    msg = accepted(rendering.message)
    assert not rendering.truncated and rendering.shown == 3
    text = all_text(msg)
    assert "3 resources differ (1 changed, 1 new, 1 to be pruned)" in text
    assert (
        "*`Deployment.apps/web/guestbook-ui`* — changed\n```\n--- live\n+++ desired\n"
        "-  replicas: 1\n+  replicas: 3\n```" in text
    )
    assert "`ConfigMap/web/old`* — to be pruned" in text
    assert "Cut to fit" not in text
    assert not b.should_upload_as_file(entries)


def test_no_differences() -> None:
    msg = accepted(b.diff_message("guestbook", SHA_NEW, []))
    assert "matches Git at `2222222`: no differences" in msg["text"]


def test_long_diffs_are_cut_with_a_note_saying_what_was_cut() -> None:
    long = "\n".join(f"+  line {i}: {'y' * 60}" for i in range(400))
    entries = [DiffEntry(ResourceKey("", "ConfigMap", "web", f"cm-{i}"), long) for i in range(80)]
    rendering = b.render_diff("guestbook", SHA_NEW, entries, hint="Ask for the file.")
    msg = accepted(rendering.message)
    assert len(msg["blocks"]) <= 50
    assert rendering.truncated and rendering.shown + rendering.omitted == 80
    assert rendering.cut_diffs == rendering.shown > 0
    note = msg["blocks"][-1]["elements"][0]["text"]
    assert note == (
        f":scissors: Cut to fit Slack's message limits: {rendering.cut_diffs} diffs shortened, "
        f"{rendering.omitted} resources not shown. Ask for the file."
    )
    for block in blocks_of(msg, "section")[1:]:
        assert block["text"]["text"].count("```") == 2
    assert b.should_upload_as_file(entries)


def test_upload_threshold() -> None:
    medium = [DiffEntry(SERVICE, "+" + "z" * 5000 + "\n")]
    assert b.should_upload_as_file(medium)  # one section cannot show it whole
    assert not b.should_upload_as_file([DiffEntry(SERVICE, "+a\n")])
    assert b.should_upload_as_file([DiffEntry(SERVICE, "+a\n")], threshold=2)


def test_diff_file_and_its_message() -> None:
    entries = [DiffEntry(DEPLOY, "-a <b>\n+c & d\n"), DiffEntry(SERVICE, "", "new")]
    content = b.diff_file_content("guestbook", SHA_NEW, entries)
    assert content.startswith(f"# Diff of guestbook against {SHA_NEW}\n")
    assert "# Deployment.apps/web/guestbook-ui (changed)\n-a <b>\n+c & d\n" in content
    assert b.diff_file_name("guest/book", SHA_NEW) == "guest-book-2222222.diff"
    msg = accepted(b.diff_file_message("guestbook", SHA_NEW, entries))
    assert "The full diff is in the attached file." in all_text(msg)


def test_diff_entries_from_a_comparison() -> None:
    resources = [
        ResourceStatus(DEPLOY, "OutOfSync", None, {}, {}, diff="d1"),
        ResourceStatus(SERVICE, "OutOfSync", None, {}, None, diff="d2"),
        ResourceStatus(ResourceKey("", "ConfigMap", "web", "x"), "Synced", None, {}, {}),
        ResourceStatus(
            ResourceKey("", "ConfigMap", "web", "y"),
            "OutOfSync",
            None,
            None,
            {},
            diff="d3",
            requires_pruning=True,
        ),
        ResourceStatus(ResourceKey("batch", "Job", "web", "h"), None, None, {}, None, hook=True),
    ]
    assert [(e.key.name, e.change, e.diff) for e in diff_entries(resources)] == [
        ("guestbook-ui", "changed", "d1"),
        ("guestbook-ui", "new", "d2"),
        ("y", "prune", "d3"),
    ]
