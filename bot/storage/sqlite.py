"""The embedded backend: one SQLite file in WAL mode, so the bot and the command line can use it at once.

One connection behind a lock (SQLite serialises writers anyway); a transaction takes the write lock at
its start (``BEGIN IMMEDIATE``) so two processes never deadlock upgrading a read lock.
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .base import Args, Row, Storage
from .migrations import MIGRATIONS


class _SqliteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def query(self, sql: str, args: Args = ()) -> list[Row]:
        return self._db.execute(sql, tuple(args)).fetchall()


class SqliteStorage(Storage):
    kind = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10, isolation_level=None)
        self._wal()
        self._db.execute("PRAGMA synchronous=NORMAL")
        self.upgrade()  # the embedded default keeps itself current: one process, nothing to coordinate

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    def _wal(self) -> None:
        """Switch to WAL once per file. Switching takes an exclusive lock without waiting for a busy one,
        so a second process opening the file at that moment retries instead of failing."""
        if self.path == ":memory:":
            return
        for attempt in range(50):
            try:
                if str(self._db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def query(self, sql: str, args: Args = ()) -> list[Row]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_SqliteTx]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # migrations ------------------------------------------------------------------------------------
    def applied_migrations(self) -> set[int]:
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                             "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied REAL NOT NULL)")
            return {int(r[0]) for r in self._db.execute("SELECT version FROM schema_migrations")}

    def upgrade(self) -> list[int]:
        applied: list[int] = []
        with self._lock:
            have = self.applied_migrations()
            for m in sorted(MIGRATIONS, key=lambda m: m.version):
                if m.version in have:
                    continue
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    # another process may have applied it while this one waited for the write lock
                    if self._db.execute("SELECT 1 FROM schema_migrations WHERE version = ?",
                                        (m.version,)).fetchone():
                        self._db.execute("COMMIT")
                        continue
                    if callable(m.sqlite):
                        m.sqlite(self._db)
                    else:
                        for statement in filter(None, (s.strip() for s in m.sqlite.split(";"))):
                            self._db.execute(statement)
                    self._db.execute("INSERT INTO schema_migrations(version, name, applied) VALUES (?, ?, ?)",
                                     (m.version, m.name, time.time()))
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                applied.append(m.version)
        return applied
