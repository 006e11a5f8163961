"""The controller's runtime store: app records, switches, audit and event logs, key-value,
persisted in the same SQLite file as the history/operation store."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconciler.state_runtime as state_runtime
from reconciler.state import SQLiteStore, StateStoreError
from reconciler.state_runtime import (
    AuditEntry,
    Override,
    SQLiteRuntimeStore,
    runtime_store_for,
)


def test_everything_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "kajitori.db"
    store = SQLiteRuntimeStore(path)
    store.save_app_record("shop", {"sync_status": "Synced"})
    store.set_override("shop", Override("selfHeal", True, "U0ALICE", "2024-05-01T10:00:00Z"))
    store.set_override("shop", Override("selfHeal", False, "U0BOB", "2024-05-01T11:00:00Z"))
    store.append_audit(AuditEntry("2024-05-01T10:00:00Z", "U0ALICE", "sync", "shop", True))
    store.append_event({"type": "SyncSucceeded", "app": "shop", "revision": "abc"})
    store.kv_put("notify", "shop|on-deployed|abc", {"ts": "1714557600.000100"})
    store.close()

    again = SQLiteRuntimeStore(path)
    assert again.app_record("shop") == {"sync_status": "Synced"}
    assert again.app_record_names() == ["shop"]
    assert again.overrides("shop") == {
        "selfHeal": Override("selfHeal", False, "U0BOB", "2024-05-01T11:00:00Z")
    }
    assert again.audit() == [AuditEntry("2024-05-01T10:00:00Z", "U0ALICE", "sync", "shop", True)]
    assert again.events("shop") == [{"type": "SyncSucceeded", "app": "shop", "revision": "abc"}]
    assert again.kv_get("notify", "shop|on-deployed|abc") == {"ts": "1714557600.000100"}
    again.close()


def test_it_shares_the_sqlite_file_of_the_operation_store(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "state.db") as store:
        runtime = runtime_store_for(store)
        store.save_operation("shop", {"phase": "Running"})
        runtime.kv_put("ns", "k", 1)
        assert runtime.path == str(tmp_path / "state.db")
        runtime.close()
    memory = runtime_store_for(SQLiteStore(":memory:"))
    assert memory.path == ":memory:"


def test_logs_filter_by_app_and_return_the_newest_oldest_first(tmp_path: Path) -> None:
    store = SQLiteRuntimeStore(":memory:")
    for n in range(5):
        store.append_audit(AuditEntry(f"t{n}", "U0", f"action{n}", "a" if n % 2 else "b", n > 0))
        store.append_event({"type": "X", "app": "a" if n % 2 else "b", "n": n})
    assert [e.action for e in store.audit(limit=2)] == ["action3", "action4"]
    assert [e.action for e in store.audit("a")] == ["action1", "action3"]
    assert store.audit("b")[0].allowed is False
    assert [e["n"] for e in store.events("b", limit=2)] == [2, 4]


def test_the_event_log_is_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_runtime, "EVENT_LOG_LIMIT", 10)
    monkeypatch.setattr(state_runtime, "_TRIM_EVERY", 5)
    store = SQLiteRuntimeStore(":memory:")
    for n in range(30):
        store.append_event({"type": "X", "app": "a", "n": n})
    kept = [e["n"] for e in store.events(limit=100)]
    assert kept == list(range(20, 30))


def test_key_values_and_deletion_of_an_app() -> None:
    store = SQLiteRuntimeStore(":memory:")
    store.kv_put("threads", "shop", "1714557600.000100")
    store.kv_put("threads", "web", "1714557601.000100")
    store.kv_delete("threads", "web")
    assert store.kv_items("threads") == {"shop": "1714557600.000100"}
    assert store.kv_get("threads", "web") is None
    store.save_app_record("gone", {})
    store.set_override("gone", Override("autoSync", False, "U0", "t"))
    store.delete_app_record("gone")
    assert store.app_record("gone") is None and store.overrides("gone") == {}


def test_bad_input_and_bad_files_are_named() -> None:
    store = SQLiteRuntimeStore(":memory:")
    with pytest.raises(ValueError, match="unknown override 'prune'"):
        store.set_override("shop", Override("prune", True, "U0", "t"))
    with pytest.raises(StateStoreError, match="cannot open"):
        SQLiteRuntimeStore("/proc/no/such/dir/state.db")
