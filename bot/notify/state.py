"""What notifications must not forget across restarts, behind a narrow protocol.

* the trigger dedup state per app (``bot.notify.triggers``' plain-data state), so a restart
  neither fires again what was already notified nor forgets what was seen (no burst);
* the thread roots per (channel, groupingKey) -> (channel ID, ts), so replies after a restart
  still go under the same root (argocd-notifications keeps them in memory and loses them,
  notifications-engine#462);
* the delivery records by key (``bot.notify.delivery_types``), so every notification is sent
  once: a record is written before the first Slack call and after every step, and unfinished
  ones are resumed at start-up.

:meth:`NotificationStore.record_evaluation` saves an app's new trigger state and its new
deliveries in one transaction: either both are kept or neither, so a crash between them can
neither lose a notification nor send one twice.

``SQLiteNotificationStore`` keeps them in tables of its own (``notify_*``) in one SQLite file,
which may be the reconciler's state file. One connection guarded by a lock, WAL journal: safe
to share between the notifier's and the sender's threads.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from bot.notify.delivery_types import UNFINISHED, DeliveryRecord, DeliveryRequest, ThreadRoot
from reconciler.errors import KajitoriError

log = logging.getLogger(__name__)

__all__ = ["NotificationStore", "NotificationStoreError", "SQLiteNotificationStore"]


class NotificationStoreError(KajitoriError):
    """The notification store cannot be opened, read or written; the message names the file."""


class NotificationStore(Protocol):
    """Persistence of notification state (see the module docstring)."""

    def trigger_state(self, app: str) -> dict[str, Any] | None:
        """The app's trigger dedup state, or None when the app was never evaluated."""
        ...

    def known_apps(self) -> list[str]:
        """Apps that have a trigger state, sorted."""
        ...

    def record_evaluation(
        self, app: str, state: Mapping[str, Any], records: Sequence[DeliveryRecord], now: float
    ) -> list[DeliveryRecord]:
        """In one transaction: store ``state`` as the app's trigger state and add the
        ``records`` whose key is new. Returns the records added (a known key is skipped,
        whatever its status: that is what makes delivery exactly-once)."""
        ...

    def forget_app(self, app: str) -> None:
        """Drop the app's trigger state (its delivery records stay)."""
        ...

    def delivery(self, key: str) -> DeliveryRecord | None:
        """The record of ``key``, or None."""
        ...

    def save_delivery(self, record: DeliveryRecord) -> None:
        """Store the progress of a record (added earlier by ``record_evaluation``)."""
        ...

    def unfinished_deliveries(self) -> list[DeliveryRecord]:
        """Records still ``pending`` or ``sending``, oldest first (resumed at start-up)."""
        ...

    def thread_root(self, channel: str, grouping_key: str) -> ThreadRoot | None:
        """The root of the group ``grouping_key`` in ``channel`` (as subscribed), or None."""
        ...

    def save_thread_root(
        self, channel: str, grouping_key: str, root: ThreadRoot, now: float
    ) -> None:
        """Remember the root of a group (also marks it used at ``now``)."""
        ...

    def touch_thread_root(self, channel: str, grouping_key: str, now: float) -> None:
        """Mark a root used at ``now`` (roots unused for the retention period are pruned)."""
        ...

    def prune(self, before: float) -> int:
        """Drop finished delivery records last changed before ``before`` and thread roots
        last used before it; returns how many rows went."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS notify_trigger_state (
    app TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS notify_thread_roots (
    channel TEXT NOT NULL,
    grouping_key TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    last_used REAL NOT NULL,
    PRIMARY KEY (channel, grouping_key)
);
CREATE TABLE IF NOT EXISTS notify_deliveries (
    key TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    progress TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS notify_deliveries_status ON notify_deliveries (status, created_at);
"""


class SQLiteNotificationStore:
    """:class:`NotificationStore` in one SQLite file (created with its folder when missing);
    ``":memory:"`` keeps everything in memory (tests)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            target = self.path
            if self.path != ":memory:":
                file = Path(self.path).expanduser()
                file.parent.mkdir(parents=True, exist_ok=True)
                target = str(file)
            self._db = sqlite3.connect(
                target, check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise NotificationStoreError(
                f"notification store {self.path}: cannot open: {error}"
            ) from None
        self._lock = threading.Lock()

    # -- trigger state -----------------------------------------------------------------------

    def trigger_state(self, app: str) -> dict[str, Any] | None:
        rows = self._query("SELECT state FROM notify_trigger_state WHERE app = ?", (app,))
        if not rows:
            return None
        try:
            state = json.loads(rows[0][0])
        except json.JSONDecodeError:
            log.warning(
                "notification store %s: trigger state of app %s is not JSON", self.path, app
            )
            return None
        return state if isinstance(state, dict) else None

    def known_apps(self) -> list[str]:
        rows = self._query("SELECT app FROM notify_trigger_state ORDER BY app", ())
        return [str(row[0]) for row in rows]

    def record_evaluation(
        self, app: str, state: Mapping[str, Any], records: Sequence[DeliveryRecord], now: float
    ) -> list[DeliveryRecord]:
        state_text = json.dumps(dict(state), sort_keys=True)
        added: list[DeliveryRecord] = []
        with self._transaction() as db:
            db.execute(
                "INSERT INTO notify_trigger_state (app, state, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(app) DO UPDATE SET state = excluded.state, "
                "updated_at = excluded.updated_at",
                (app, state_text, now),
            )
            for record in (r.with_(updated_at=r.updated_at or now) for r in records):
                cursor = db.execute(
                    "INSERT OR IGNORE INTO notify_deliveries "
                    "(key, app, status, request, progress, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.key,
                        record.request.app,
                        record.status,
                        json.dumps(record.request.to_dict(), sort_keys=True),
                        record.progress_json(),
                        record.request.created_at or now,
                        record.updated_at,
                    ),
                )
                if cursor.rowcount == 1:
                    added.append(record)
        return added

    def forget_app(self, app: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM notify_trigger_state WHERE app = ?", (app,))

    # -- deliveries --------------------------------------------------------------------------

    def delivery(self, key: str) -> DeliveryRecord | None:
        rows = self._query(
            "SELECT key, request, progress FROM notify_deliveries WHERE key = ?", (key,)
        )
        records = self._records(rows)
        return records[0] if records else None

    def save_delivery(self, record: DeliveryRecord) -> None:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE notify_deliveries SET status = ?, progress = ?, updated_at = ? "
                "WHERE key = ?",
                (record.status, record.progress_json(), record.updated_at, record.key),
            )
            if cursor.rowcount == 0:
                db.execute(
                    "INSERT INTO notify_deliveries "
                    "(key, app, status, request, progress, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.key,
                        record.request.app,
                        record.status,
                        json.dumps(record.request.to_dict(), sort_keys=True),
                        record.progress_json(),
                        record.request.created_at or record.updated_at,
                        record.updated_at,
                    ),
                )

    def unfinished_deliveries(self) -> list[DeliveryRecord]:
        marks = ", ".join("?" for _ in UNFINISHED)
        rows = self._query(
            "SELECT key, request, progress FROM notify_deliveries "
            f"WHERE status IN ({marks}) ORDER BY created_at, rowid",
            tuple(UNFINISHED),
        )
        return self._records(rows)

    def _records(self, rows: list[tuple[Any, ...]]) -> list[DeliveryRecord]:
        records: list[DeliveryRecord] = []
        for key, request_text, progress in rows:
            try:
                request = DeliveryRequest.from_dict(json.loads(request_text))
                records.append(DeliveryRecord.from_json(request, progress))
            except (ValueError, TypeError) as exc:
                log.warning(
                    "notification store %s: delivery %s is unreadable and skipped: %s",
                    self.path,
                    key,
                    exc,
                )
        return records

    # -- thread roots ------------------------------------------------------------------------

    def thread_root(self, channel: str, grouping_key: str) -> ThreadRoot | None:
        rows = self._query(
            "SELECT channel_id, ts FROM notify_thread_roots WHERE channel = ? AND grouping_key = ?",
            (channel, grouping_key),
        )
        return ThreadRoot(str(rows[0][0]), str(rows[0][1])) if rows else None

    def save_thread_root(
        self, channel: str, grouping_key: str, root: ThreadRoot, now: float
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO notify_thread_roots "
                "(channel, grouping_key, channel_id, ts, last_used) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(channel, grouping_key) DO UPDATE SET channel_id = "
                "excluded.channel_id, ts = excluded.ts, last_used = excluded.last_used",
                (channel, grouping_key, root.channel_id, root.ts, now),
            )

    def touch_thread_root(self, channel: str, grouping_key: str, now: float) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE notify_thread_roots SET last_used = ? "
                "WHERE channel = ? AND grouping_key = ?",
                (now, channel, grouping_key),
            )

    # -- housekeeping ------------------------------------------------------------------------

    def prune(self, before: float) -> int:
        marks = ", ".join("?" for _ in UNFINISHED)
        with self._transaction() as db:
            deliveries = db.execute(
                f"DELETE FROM notify_deliveries WHERE status NOT IN ({marks}) AND updated_at < ?",
                (*UNFINISHED, before),
            ).rowcount
            roots = db.execute(
                "DELETE FROM notify_thread_roots WHERE last_used < ?", (before,)
            ).rowcount
        return int(deliveries) + int(roots)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SQLiteNotificationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(sql, params).fetchall())
            except sqlite3.Error as error:
                raise NotificationStoreError(f"notification store {self.path}: {error}") from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE ... COMMIT`` (ROLLBACK on error) under the lock."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise NotificationStoreError(f"notification store {self.path}: {error}") from None
            try:
                yield self._db
            except BaseException as exc:
                self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise NotificationStoreError(f"notification store {self.path}: {exc}") from None
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise NotificationStoreError(f"notification store {self.path}: {error}") from None
