"""The embedded backend: one SQLite file in WAL mode, so the bot and the command line can use it at once.

One connection behind a lock (SQLite serialises writers anyway); a transaction takes the write lock at
its start (``BEGIN IMMEDIATE``) so two processes never deadlock upgrading a read lock.
"""
from __future__ import annotations

import contextlib
import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .base import Args, Row, Storage
from .checkpoints import CHECKPOINTS, EVERY, SAFETY_PAGES
from .migrations import MIGRATIONS


class _SqliteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def query(self, sql: str, args: Args = ()) -> list[Row]:
        return self._db.execute(sql, tuple(args)).fetchall()


class _ProcessLocks:
    """SQLite serves one process, so its workers' locks are a table in memory, one per database file."""

    _held: dict[tuple[str, str], int] = {}  # (database, name) -> holder
    _guard = threading.Lock()
    _holders = itertools.count(1)

    def __init__(self, database: str) -> None:
        self._database, self._closed, self._me = database, False, next(self._holders)

    def try_lock(self, name: str) -> bool:
        with self._guard:
            return not self._closed and self._held.setdefault((self._database, name), self._me) == self._me

    def unlock(self, name: str) -> None:
        with self._guard:
            if self._held.get((self._database, name)) == self._me:
                del self._held[(self._database, name)]

    def alive(self) -> bool:
        return not self._closed

    def close(self) -> None:
        with self._guard:
            self._closed = True
            for key in [k for k, holder in self._held.items() if holder == self._me]:
                del self._held[key]


class _ProcessWakeups:
    """Notices within this process (SQLite has no other processes to hear from)."""

    _listeners: dict[tuple[str, str], set["_ProcessWakeups"]] = {}
    _guard = threading.Lock()

    def __init__(self, database: str, channel: str) -> None:
        self._key = (database, channel)
        self._event = threading.Event()
        with self._guard:
            self._listeners.setdefault(self._key, set()).add(self)

    @classmethod
    def send(cls, database: str, channel: str) -> None:
        with cls._guard:
            for listener in cls._listeners.get((database, channel), ()):
                listener._event.set()

    def wait(self, timeout: float) -> bool:
        got = self._event.wait(timeout)
        self._event.clear()
        return got

    def close(self) -> None:
        with self._guard:
            self._listeners.get(self._key, set()).discard(self)


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
        self._changes = 0  # the connection's total_changes when last counted
        self._commits = 0  # commits that wrote since the last checkpoint request
        if self.path != ":memory:":  # checkpoints off the answering thread (checkpoints.py)
            self._db.execute(f"PRAGMA wal_autocheckpoint={SAFETY_PAGES}")
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

    # one process: locks and notices stay in it
    def session_locks(self) -> _ProcessLocks:
        return _ProcessLocks(self._identity())

    def notify(self, channel: str) -> None:
        _ProcessWakeups.send(self._identity(), channel)

    def listen(self, channel: str) -> _ProcessWakeups:
        return _ProcessWakeups(self._identity(), channel)

    def _identity(self) -> str:
        return f"memory:{id(self)}" if self.path == ":memory:" else str(Path(self.path).resolve())

    def query(self, sql: str, args: Args = (), *, durable: bool = True) -> list[Row]:
        with self._lock:
            rows = self._db.execute(sql, tuple(args)).fetchall()
            self._committed()
            return rows

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
            self._committed()

    def _committed(self) -> None:
        """Count a commit that wrote rows; every ``EVERY`` of them, ask for a checkpoint (under the lock)."""
        changes = self._db.total_changes
        if changes == self._changes:
            return
        self._changes = changes
        self._commits += 1
        if self._commits >= EVERY and self.path != ":memory:":
            self._commits = 0
            CHECKPOINTS.request(self.path)

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
