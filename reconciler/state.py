"""Persistence of what the reconciler must not forget across restarts, behind a narrow protocol.

Per app, a ``Store`` holds:

- the deployment history (``reconciler.history.HistoryEntry``), newest last;
- the latest sync operation state (Argo CD's ``status.operationState`` as a JSON object),
  saved after every step: while its phase is Running or Terminating it is the in-flight
  operation that a restarted process resumes (``SyncOperation.restore``); once completed it
  is the app's last operation;
- the fingerprints of its ``kajitori.dev/hook-run: on-change`` hooks as they last succeeded
  (``reconciler.sync_hook_run.HookRecord`` by hook identity), which the next sync compares
  with to skip an unchanged hook.

The protocol is deliberately small so that other stores can be added and later issues can
extend it (app status, run-time overrides, an event log) without changing these methods.
``SQLiteStore`` is the default: one file (``settings.controller.state_path``), WAL journal, one
connection guarded by a lock, so it can be shared by threads. Every write is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from reconciler.errors import KajitoriError
from reconciler.history import HistoryEntry
from reconciler.sync_hook_run import HookRecord
from reconciler.sync_types import COMPLETED_PHASES


class StateStoreError(KajitoriError):
    """The state store cannot be opened, read or written; the message names the file."""


class Store(Protocol):
    """What kajitori keeps per app across restarts (see the module docstring)."""

    def history(self, app: str) -> list[HistoryEntry]:
        """The app's deployment history, oldest first ([] when none)."""
        ...

    def save_history(self, app: str, entries: Sequence[HistoryEntry]) -> None:
        """Replace the app's history with ``entries``."""
        ...

    def operation(self, app: str) -> dict[str, Any] | None:
        """The app's latest operation state (in flight or finished), or None."""
        ...

    def save_operation(self, app: str, state: Mapping[str, Any]) -> None:
        """Store the app's latest operation state (after every step)."""
        ...

    def finish_operation(
        self,
        app: str,
        state: Mapping[str, Any],
        history: Sequence[HistoryEntry] | None,
        fingerprints: Mapping[str, HookRecord],
    ) -> None:
        """Store a completed operation together with what it earned, all or nothing: the
        history (replaced when not None) and the hook records (added or replaced), so no
        reader and no restart sees the operation ended without them."""
        ...

    def hook_fingerprints(self, app: str) -> dict[str, HookRecord]:
        """The app's on-change hook records by hook identity ({} when none)."""
        ...

    def save_hook_fingerprints(self, app: str, records: Mapping[str, HookRecord]) -> None:
        """Add or replace these records; the app's other records stay."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


def in_flight(state: Mapping[str, Any] | None) -> bool:
    """Whether a stored operation state is still running (to be resumed)."""
    return state is not None and str(state.get("phase", "")) not in COMPLETED_PHASES


_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    app TEXT NOT NULL,
    id INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (app, id)
);
CREATE TABLE IF NOT EXISTS operations (
    app TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS hook_fingerprints (
    app TEXT NOT NULL,
    hook TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    revision TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (app, hook)
);
"""


class SQLiteStore:
    """``Store`` in one SQLite file (created with its folder when missing); ``":memory:"``
    keeps everything in memory (tests)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(Path(self.path).expanduser()) if self.path != ":memory:" else self.path,
                check_same_thread=False,
                isolation_level=None,
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StateStoreError(f"state store {self.path}: cannot open: {error}") from None
        self._lock = threading.Lock()

    def history(self, app: str) -> list[HistoryEntry]:
        rows = self._query("SELECT entry FROM history WHERE app = ? ORDER BY id", (app,))
        return [HistoryEntry.from_dict(json.loads(row[0])) for row in rows]

    def save_history(self, app: str, entries: Sequence[HistoryEntry]) -> None:
        with self._transaction() as db:
            _write_history(db, app, entries)

    def operation(self, app: str) -> dict[str, Any] | None:
        rows = self._query("SELECT state FROM operations WHERE app = ?", (app,))
        if not rows:
            return None
        state = json.loads(rows[0][0])
        return state if isinstance(state, dict) else None

    def save_operation(self, app: str, state: Mapping[str, Any]) -> None:
        with self._transaction() as db:
            _write_operation(db, app, state)

    def finish_operation(
        self,
        app: str,
        state: Mapping[str, Any],
        history: Sequence[HistoryEntry] | None,
        fingerprints: Mapping[str, HookRecord],
    ) -> None:
        with self._transaction() as db:
            if history is not None:
                _write_history(db, app, history)
            _write_fingerprints(db, app, fingerprints)
            _write_operation(db, app, state)

    def hook_fingerprints(self, app: str) -> dict[str, HookRecord]:
        rows = self._query(
            "SELECT hook, fingerprint, revision FROM hook_fingerprints WHERE app = ? ORDER BY hook",
            (app,),
        )
        return {str(hook): HookRecord(str(fp), str(rev)) for hook, fp, rev in rows}

    def save_hook_fingerprints(self, app: str, records: Mapping[str, HookRecord]) -> None:
        with self._transaction() as db:
            _write_fingerprints(db, app, records)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(sql, params).fetchall())
            except sqlite3.Error as error:
                raise StateStoreError(f"state store {self.path}: {error}") from None

    def _transaction(self) -> _Transaction:
        return _Transaction(self)


def _write_history(db: sqlite3.Connection, app: str, entries: Sequence[HistoryEntry]) -> None:
    db.execute("DELETE FROM history WHERE app = ?", (app,))
    db.executemany(
        "INSERT INTO history (app, id, entry) VALUES (?, ?, ?)",
        [(app, entry.id, json.dumps(entry.to_dict())) for entry in entries],
    )


def _write_operation(db: sqlite3.Connection, app: str, state: Mapping[str, Any]) -> None:
    db.execute(
        "INSERT INTO operations (app, state, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(app) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        (app, json.dumps(dict(state)), time.time()),
    )


def _write_fingerprints(
    db: sqlite3.Connection, app: str, records: Mapping[str, HookRecord]
) -> None:
    now = time.time()
    db.executemany(
        "INSERT INTO hook_fingerprints (app, hook, fingerprint, revision, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(app, hook) DO UPDATE SET "
        "fingerprint = excluded.fingerprint, revision = excluded.revision, "
        "updated_at = excluded.updated_at",
        [(app, hook, r.fingerprint, r.revision, now) for hook, r in records.items()],
    )


class _Transaction:
    """``with store._transaction() as db:`` — one BEGIN IMMEDIATE ... COMMIT under the lock."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    def __enter__(self) -> sqlite3.Connection:
        self._store._lock.acquire()
        try:
            self._store._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            self._store._lock.release()
            raise StateStoreError(f"state store {self._store.path}: {error}") from None
        return self._store._db

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, *rest: object
    ) -> None:
        try:
            self._store._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        except sqlite3.Error as error:
            raise StateStoreError(f"state store {self._store.path}: {error}") from None
        finally:
            self._store._lock.release()
        if isinstance(exc, sqlite3.Error):
            raise StateStoreError(f"state store {self._store.path}: {exc}") from None
