"""The SQLite notification store: trigger state and new deliveries saved together, delivery
keys idempotent, thread roots and unfinished deliveries kept across a reopen, pruning, and
concurrent use from several threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.notify.delivery_types import DeliveryRecord, DeliveryRequest, ThreadRoot
from bot.notify.state import NotificationStoreError, SQLiteNotificationStore


def record(key: str, text: str = "hello", **progress: object) -> DeliveryRecord:
    request = DeliveryRequest(
        key=key,
        app="guestbook",
        trigger="on-deployed",
        channel="deploys",
        payload={"text": text, "attachments": [{"title": 'quote " and\nnewline'}]},
        grouping_key="guestbook/sync/1",
        policy="PostAndUpdate",
        created_at=100.0,
    )
    return DeliveryRecord(request, **progress)  # type: ignore[arg-type]


def test_state_and_deliveries_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "notify.db"
    with SQLiteNotificationStore(path) as store:
        added = store.record_evaluation("guestbook", {"version": 1}, [record("k1")], 200.0)
        assert [r.key for r in added] == ["k1"]
        store.save_thread_root("deploys", "guestbook/sync/1", ThreadRoot("C0DEPLOYS", "1.5"), 200)
        store.save_delivery(added[0].with_(status="sending", thread_ts="", attempt_started=201.0))
    with SQLiteNotificationStore(path) as store:
        assert store.trigger_state("guestbook") == {"version": 1}
        assert store.known_apps() == ["guestbook"]
        assert store.thread_root("deploys", "guestbook/sync/1") == ThreadRoot("C0DEPLOYS", "1.5")
        assert store.thread_root("general", "guestbook/sync/1") is None
        [unfinished] = store.unfinished_deliveries()
        assert unfinished == record("k1").with_(
            status="sending", thread_ts="", attempt_started=201.0, updated_at=200.0
        )
        assert unfinished.request.payload["attachments"][0]["title"] == 'quote " and\nnewline'


def test_a_known_delivery_key_is_never_added_twice(tmp_path: Path) -> None:
    with SQLiteNotificationStore(tmp_path / "n.db") as store:
        store.record_evaluation("guestbook", {"n": 1}, [record("k1")], 1.0)
        store.save_delivery(record("k1").with_(status="sent", posted_ts="9.9"))
        added = store.record_evaluation("guestbook", {"n": 2}, [record("k1"), record("k2")], 2.0)
        assert [r.key for r in added] == ["k2"]
        assert store.trigger_state("guestbook") == {"n": 2}
        kept = store.delivery("k1")
        assert kept is not None and kept.status == "sent" and kept.posted_ts == "9.9"
        assert [r.key for r in store.unfinished_deliveries()] == ["k2"]


def test_state_and_deliveries_are_saved_together_or_not_at_all(tmp_path: Path) -> None:
    with SQLiteNotificationStore(tmp_path / "n.db") as store:
        store.record_evaluation("guestbook", {"n": 1}, [], 1.0)
        with pytest.raises(TypeError):
            # A state that cannot be stored (not JSON) must not leave deliveries behind.
            store.record_evaluation("guestbook", {"n": object()}, [record("k1")], 2.0)
        assert store.trigger_state("guestbook") == {"n": 1}
        assert store.delivery("k1") is None


def test_forget_prune_and_unreadable_rows(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    with SQLiteNotificationStore(path) as store:
        store.record_evaluation("guestbook", {}, [record("old"), record("live")], 10.0)
        store.save_delivery(record("old").with_(status="sent", updated_at=10.0))
        store.save_thread_root("deploys", "g-old", ThreadRoot("C0DEPLOYS", "1.0"), 10.0)
        store.save_thread_root("deploys", "g-new", ThreadRoot("C0DEPLOYS", "2.0"), 10.0)
        store.touch_thread_root("deploys", "g-new", 500.0)
        assert store.prune(before=100.0) == 2  # the finished record and the idle root
        assert store.delivery("old") is None and store.delivery("live") is not None
        assert store.thread_root("deploys", "g-old") is None
        assert store.thread_root("deploys", "g-new") == ThreadRoot("C0DEPLOYS", "2.0")
        store.forget_app("guestbook")
        assert store.trigger_state("guestbook") is None and store.known_apps() == []
    with sqlite3.connect(path) as db:
        db.execute("UPDATE notify_deliveries SET request = 'not json' WHERE key = 'live'")
    with SQLiteNotificationStore(path) as store:
        assert store.unfinished_deliveries() == []  # skipped with a warning, not a crash


def test_concurrent_writers_share_one_store(tmp_path: Path) -> None:
    with SQLiteNotificationStore(tmp_path / "n.db") as store:

        def write(worker: int) -> None:
            for i in range(25):
                key = f"w{worker}-{i}"
                store.record_evaluation(f"app{worker}", {"i": i}, [record(key)], float(i))
                store.save_delivery(record(key).with_(status="sent"))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert store.known_apps() == ["app0", "app1", "app2", "app3"]
        assert store.unfinished_deliveries() == []
        assert all(store.trigger_state(f"app{n}") == {"i": 24} for n in range(4))


def test_an_unusable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(
        NotificationStoreError, match=r"notification store .*file/n\.db: cannot open"
    ):
        SQLiteNotificationStore(blocker / "n.db")
