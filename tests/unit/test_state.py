"""SQLiteStore: history and the latest operation state per app, across reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.history import HistoryEntry
from reconciler.state import SQLiteStore, StateStoreError, in_flight
from reconciler.sync_hook_run import HookRecord


def test_history_and_operations_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.db"
    entries = [HistoryEntry(0, "a", "t0", "s0"), HistoryEntry(1, "b", "t1", "s1", "bob")]
    with SQLiteStore(path) as store:
        store.save_history("shop", entries)
        store.save_operation("shop", {"phase": "Running", "message": "waiting"})
        store.save_operation("shop", {"phase": "Succeeded", "message": "done"})
        store.save_history("other", entries[:1])
    with SQLiteStore(path) as store:
        assert store.history("shop") == entries
        assert store.history("other") == entries[:1]
        assert store.history("nobody") == []
        assert store.operation("shop") == {"phase": "Succeeded", "message": "done"}
        assert store.operation("nobody") is None
        store.save_history("shop", entries[1:])
        assert [e.id for e in store.history("shop")] == [1]


def test_in_flight_means_not_completed() -> None:
    assert in_flight({"phase": "Running"}) and in_flight({"phase": "Terminating"})
    assert not in_flight({"phase": "Failed"}) and not in_flight(None)


def test_a_store_that_cannot_be_opened_names_its_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StateStoreError, match=str(blocker / "state.db")):
        SQLiteStore(blocker / "state.db")


def test_finishing_an_operation_saves_it_with_its_history_and_hooks_or_not_at_all(
    tmp_path: Path,
) -> None:
    entries = [HistoryEntry(0, "a", "t0", "s0")]
    with SQLiteStore(tmp_path / "state.db") as store:
        store.save_operation("shop", {"phase": "Running"})
        with pytest.raises(TypeError):  # the state cannot be written: nothing else is either
            store.finish_operation(
                "shop",
                {"phase": "Succeeded", "bad": object()},
                entries,
                {"m": HookRecord("f", "a")},
            )
        assert store.operation("shop") == {"phase": "Running"}
        assert store.history("shop") == [] and store.hook_fingerprints("shop") == {}

        store.finish_operation("shop", {"phase": "Succeeded"}, entries, {"m": HookRecord("f", "a")})
        assert store.operation("shop") == {"phase": "Succeeded"}
        assert store.history("shop") == entries
        assert store.hook_fingerprints("shop") == {"m": HookRecord("f", "a")}
        store.finish_operation("shop", {"phase": "Failed"}, None, {})
        assert store.history("shop") == entries  # None leaves the history alone
