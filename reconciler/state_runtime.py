"""What the controller keeps across restarts besides history and operations
(``reconciler.state.Store``): per-app records, run-time switches, an audit log, an event log
and a key-value table for the notifier.

- **App records**: the app's last known status in Argo CD's shape plus the controller's own
  bookkeeping (when it first saw the app, health transition time, self-heal attempts, the
  drift it already reported), so a restart neither forgets nor repeats.
- **Overrides**: run-time switches of auto-sync and self-heal (``/toggle-selfheal``, the pause
  a rollback sets), each with its value, who set it and when.
- **Audit log**: who asked for what, allowed or denied.
- **Event log**: the controller's published events as JSON (``Event.to_dict``), trimmed to
  the newest ``EVENT_LOG_LIMIT``.
- **Key-value**: JSON values by (namespace, key), for notification dedup and Slack thread ids.

``SQLiteRuntimeStore`` keeps all of it in the same SQLite file as ``SQLiteStore`` (its own
tables and connection; WAL lets both connections share the file). The protocol is small so
another store can implement it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from reconciler.state import StateStoreError

AUTO_SYNC: Final = "autoSync"
SELF_HEAL: Final = "selfHeal"
OVERRIDE_NAMES: Final = (AUTO_SYNC, SELF_HEAL)
EVENT_LOG_LIMIT: Final = 10_000
_TRIM_EVERY: Final = 200


@dataclass(frozen=True)
class Override:
    """A run-time switch: ``name`` (autoSync or selfHeal), its value, who set it and when
    (RFC 3339)."""

    name: str
    enabled: bool
    changed_by: str
    changed_at: str


@dataclass(frozen=True)
class AuditEntry:
    """One audited request: ``time`` is RFC 3339; ``app`` may be "" for requests about no
    app."""

    time: str
    actor: str
    action: str
    app: str
    allowed: bool
    detail: str = ""


class RuntimeStore(Protocol):
    """The controller's persisted run-time state (see the module docstring)."""

    def app_record(self, app: str) -> dict[str, Any] | None: ...

    def save_app_record(self, app: str, record: Mapping[str, Any]) -> None: ...

    def delete_app_record(self, app: str) -> None: ...

    def app_record_names(self) -> list[str]: ...

    def overrides(self, app: str) -> dict[str, Override]: ...

    def set_override(self, app: str, override: Override) -> None: ...

    def append_audit(self, entry: AuditEntry) -> None: ...

    def audit(self, app: str | None = None, limit: int = 100) -> list[AuditEntry]: ...

    def append_event(self, event: Mapping[str, Any]) -> None: ...

    def events(self, app: str | None = None, limit: int = 100) -> list[dict[str, Any]]: ...

    def kv_get(self, namespace: str, key: str) -> Any | None: ...

    def kv_put(self, namespace: str, key: str, value: Any) -> None: ...

    def kv_delete(self, namespace: str, key: str) -> None: ...

    def kv_items(self, namespace: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS app_records (
    app TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS overrides (
    app TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (app, name)
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    app TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL,
    type TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""


class SQLiteRuntimeStore:
    """``RuntimeStore`` in an SQLite file (``":memory:"`` for a private in-memory one)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        target = self.path if self.path == ":memory:" else str(Path(self.path).expanduser())
        try:
            if self.path != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                target, check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StateStoreError(f"state store {self.path}: cannot open: {error}") from None
        self._lock = threading.Lock()
        self._appended = 0

    # -- app records ---------------------------------------------------------------------------

    def app_record(self, app: str) -> dict[str, Any] | None:
        rows = self._query("SELECT record FROM app_records WHERE app = ?", (app,))
        if not rows:
            return None
        record = json.loads(rows[0][0])
        return record if isinstance(record, dict) else None

    def save_app_record(self, app: str, record: Mapping[str, Any]) -> None:
        text = json.dumps(dict(record))
        with self._write() as db:
            db.execute(
                "INSERT INTO app_records (app, record) VALUES (?, ?) "
                "ON CONFLICT(app) DO UPDATE SET record = excluded.record",
                (app, text),
            )

    def delete_app_record(self, app: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM app_records WHERE app = ?", (app,))
            db.execute("DELETE FROM overrides WHERE app = ?", (app,))

    def app_record_names(self) -> list[str]:
        return [row[0] for row in self._query("SELECT app FROM app_records ORDER BY app", ())]

    # -- overrides -----------------------------------------------------------------------------

    def overrides(self, app: str) -> dict[str, Override]:
        rows = self._query(
            "SELECT name, enabled, changed_by, changed_at FROM overrides WHERE app = ?", (app,)
        )
        return {row[0]: Override(row[0], bool(row[1]), row[2], row[3]) for row in rows}

    def set_override(self, app: str, override: Override) -> None:
        if override.name not in OVERRIDE_NAMES:
            raise ValueError(f"unknown override {override.name!r} (known: autoSync, selfHeal)")
        with self._write() as db:
            db.execute(
                "INSERT INTO overrides (app, name, enabled, changed_by, changed_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(app, name) DO UPDATE SET "
                "enabled = excluded.enabled, changed_by = excluded.changed_by, "
                "changed_at = excluded.changed_at",
                (
                    app,
                    override.name,
                    int(override.enabled),
                    override.changed_by,
                    override.changed_at,
                ),
            )

    # -- audit log -----------------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO audit_log (time, actor, action, app, allowed, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.time,
                    entry.actor,
                    entry.action,
                    entry.app,
                    int(entry.allowed),
                    entry.detail,
                ),
            )

    def audit(self, app: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries (of ``app`` when given), oldest first."""
        sql = "SELECT time, actor, action, app, allowed, detail FROM audit_log"
        params: tuple[Any, ...] = ()
        if app is not None:
            sql, params = sql + " WHERE app = ?", (app,)
        rows = self._query(sql + " ORDER BY seq DESC LIMIT ?", (*params, max(0, limit)))
        return [AuditEntry(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in reversed(rows)]

    # -- event log -----------------------------------------------------------------------------

    def append_event(self, event: Mapping[str, Any]) -> None:
        """Store an event's ``to_dict()``; the log keeps the newest EVENT_LOG_LIMIT."""
        text = json.dumps(dict(event), default=str)
        with self._write() as db:
            db.execute(
                "INSERT INTO event_log (app, type, event) VALUES (?, ?, ?)",
                (str(event.get("app", "")), str(event.get("type", "")), text),
            )
            self._appended += 1
            if self._appended % _TRIM_EVERY == 0:
                db.execute(
                    "DELETE FROM event_log WHERE seq <= (SELECT MAX(seq) FROM event_log) - ?",
                    (EVENT_LOG_LIMIT,),
                )

    def events(self, app: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` events (of ``app`` when given), oldest first."""
        sql = "SELECT event FROM event_log"
        params: tuple[Any, ...] = ()
        if app is not None:
            sql, params = sql + " WHERE app = ?", (app,)
        rows = self._query(sql + " ORDER BY seq DESC LIMIT ?", (*params, max(0, limit)))
        return [json.loads(row[0]) for row in reversed(rows)]

    # -- key-value -----------------------------------------------------------------------------

    def kv_get(self, namespace: str, key: str) -> Any | None:
        rows = self._query("SELECT value FROM kv WHERE namespace = ? AND key = ?", (namespace, key))
        return json.loads(rows[0][0]) if rows else None

    def kv_put(self, namespace: str, key: str, value: Any) -> None:
        text = json.dumps(value)
        with self._write() as db:
            db.execute(
                "INSERT INTO kv (namespace, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value",
                (namespace, key, text),
            )

    def kv_delete(self, namespace: str, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key))

    def kv_items(self, namespace: str) -> dict[str, Any]:
        rows = self._query("SELECT key, value FROM kv WHERE namespace = ?", (namespace,))
        return {row[0]: json.loads(row[1]) for row in rows}

    # -- plumbing ------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(sql, params).fetchall())
            except sqlite3.Error as error:
                raise StateStoreError(f"state store {self.path}: {error}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One BEGIN IMMEDIATE ... COMMIT under the lock; StateStoreError on failure."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise StateStoreError(f"state store {self.path}: {error}") from None
            try:
                yield self._db
            except sqlite3.Error as error:
                self._db.execute("ROLLBACK")
                raise StateStoreError(f"state store {self.path}: {error}") from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise StateStoreError(f"state store {self.path}: {error}") from None


def runtime_store_for(store: object) -> SQLiteRuntimeStore:
    """The runtime store that goes with a history/operation store: the same SQLite file when
    ``store`` has a file ``path`` (``SQLiteStore``), else a private in-memory one."""
    path = getattr(store, "path", None)
    if isinstance(path, str | Path) and str(path) and str(path) != ":memory:":
        return SQLiteRuntimeStore(path)
    return SQLiteRuntimeStore(":memory:")


__all__ = [
    "AUTO_SYNC",
    "EVENT_LOG_LIMIT",
    "OVERRIDE_NAMES",
    "SELF_HEAL",
    "AuditEntry",
    "Override",
    "RuntimeStore",
    "SQLiteRuntimeStore",
    "runtime_store_for",
]
