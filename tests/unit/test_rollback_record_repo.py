"""The rollback record keeps the manifest repository's URL (the merge is fetched from it and
later commits are checked against the merge), and still reads records written without it."""

from __future__ import annotations

from reconciler.rollback_record import RollbackRecord

TARGET = "c589c9de32f67493cf831964ea7ed690648aea5a"
MERGE = "4d3c2b1a" + "0" * 32


def test_the_repository_url_and_merge_survive_a_round_trip() -> None:
    record = RollbackRecord(
        app="web",
        target=TARGET,
        state="merged",
        merge_sha=MERGE,
        repo_url="https://github.com/acme/manifests.git",
    )
    data = record.to_dict()
    assert data["repoURL"] == "https://github.com/acme/manifests.git"
    assert RollbackRecord.from_dict(data) == record


def test_a_record_written_before_the_url_was_kept_reads_with_none() -> None:
    data = RollbackRecord(app="web", target=TARGET, state="merged", merge_sha=MERGE).to_dict()
    del data["repoURL"]
    old = RollbackRecord.from_dict(data)
    assert old.repo_url == "" and old.merge_sha == MERGE and old.active
