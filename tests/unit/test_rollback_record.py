"""The rollback record: round trip through the runtime store's JSON, and what it tells people."""

from __future__ import annotations

import pytest

from reconciler.rollback_record import PullRequestLink, RollbackRecord

TARGET = "c589c9de32f67493cf831964ea7ed690648aea5a"


def test_round_trip_keeps_every_field() -> None:
    record = RollbackRecord(
        app="web",
        target=TARGET,
        state="pending",
        requested_by="U0ALICE",
        thread_url="https://x.slack.com/archives/C1/p1",
        manifest_pr=PullRequestLink("acme/manifests", 4, "https://gh/acme/manifests/pull/4"),
        app_pr=PullRequestLink("acme/web", 9, "https://gh/acme/web/pull/9"),
        warnings=("w",),
        reverted=("abc",),
        resume_auto_sync=False,
    )
    assert RollbackRecord.from_dict(record.to_dict()) == record
    assert record.active and record.pull_request_urls == [
        "https://gh/acme/manifests/pull/4",
        "https://gh/acme/web/pull/9",
    ]


def test_summaries_say_where_git_stands() -> None:
    base = RollbackRecord(app="web", target=TARGET, state="not-configured")
    assert "Git is left to you" in base.summary() and "c589c9d" in base.summary()
    failed = base.with_state("failed", warnings=("GitHub answered 503",))
    assert failed.summary() == "No revert pull request was opened: GitHub answered 503"
    assert not failed.active
    pr = PullRequestLink("acme/manifests", 4, "https://gh/pull/4")
    pending = base.with_state("pending", manifest_pr=pr)
    assert "https://gh/pull/4" in pending.summary() and "paused" in pending.summary()


def test_a_malformed_record_is_named() -> None:
    with pytest.raises(ValueError, match="unknown state"):
        RollbackRecord.from_dict({"app": "web", "target": TARGET, "state": "weird"})
    with pytest.raises(ValueError, match="malformed rollback record"):
        RollbackRecord.from_dict({"state": "pending"})
