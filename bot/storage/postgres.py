"""The shared backend: PostgreSQL, for any number of workers that are one bot.

A small pool of connections per process (psycopg 3); statements run in autocommit unless grouped in
``transaction()``. Queries are written with ``?`` once (bot/storage/base.py) and turned into psycopg's
``%s`` here. The schema is never changed behind the workers' backs: ``python -m bot db upgrade`` applies
migrations under an advisory lock, and opening a database whose schema is behind raises ``SchemaBehind``.
"""
from __future__ import annotations

import contextlib
import functools
import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import StorageError
from .base import Args, LockBusy, Row, SchemaBehind, Storage
from .migrations import MIGRATIONS, latest

_MIGRATION_LOCK = 0x6D696772  # pg_advisory_xact_lock key for upgrades ("migr")


@functools.lru_cache(maxsize=512)
def to_psycopg(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the shared SQL has no literal ``?`` or ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _run_batch(cur: Any, statements: Sequence[tuple[str, Args]]) -> list[list[Row]]:
    cur.execute("; ".join(to_psycopg(sql) for sql, _ in statements), [a for _, args in statements for a in args])
    results: list[list[Row]] = []
    while True:
        results.append(cur.fetchall() if cur.description else [])
        if not cur.nextset():
            return results


class _PgTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def query(self, sql: str, args: Args = ()) -> list[Row]:
        cur = self._conn.execute(to_psycopg(sql), tuple(args))
        return cur.fetchall() if cur.description else []


# A lock's key: 64 bits of its name, within the connection's schema (schemas share a database's locks)
_LOCK_KEY = "hashtextextended(current_schema() || '/' || %s, 0)"


class _PgSessionLocks:
    """Session-level advisory locks on a connection of their own: the server frees them when it closes,
    however the worker ends (kill -9 included). Calls from several threads take turns."""

    def __init__(self, psycopg: Any, url: str, timeout: float) -> None:
        self._conn = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)))
        self._guard = threading.Lock()

    def try_lock(self, name: str) -> bool:
        with self._guard:
            return bool(self._conn.execute(f"SELECT pg_try_advisory_lock({_LOCK_KEY})", (name,)).fetchone()[0])

    def unlock(self, name: str) -> None:
        with self._guard:
            self._conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})", (name,))

    def alive(self) -> bool:
        with self._guard:
            try:
                self._conn.execute("SELECT 1")
            except Exception:  # psycopg.OperationalError: the connection, and every lock on it, is gone
                return False
            return True

    def close(self) -> None:
        with self._guard:
            try:  # at once: the server notices a closed connection a moment later
                self._conn.execute("SELECT pg_advisory_unlock_all()")
            except Exception:  # noqa: S110 - the connection is gone, and its locks with it
                pass
            self._conn.close()


class _PgWakeups:
    """LISTEN on a connection of its own; ``wait`` is called by one thread."""

    def __init__(self, psycopg: Any, url: str, channel: str, timeout: float) -> None:
        from psycopg import sql

        self._conn = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)))
        self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    def wait(self, timeout: float) -> bool:
        got = False
        for _notice in self._conn.notifies(timeout=timeout, stop_after=1):
            got = True
        return got

    def close(self) -> None:
        self._conn.close()


class PostgresStorage(Storage):
    kind = "postgresql"

    def __init__(self, url: str, *, check_schema: bool = True, max_connections: int = 5,
                 timeout: float = 10.0) -> None:
        import psycopg  # imported here: the embedded default never needs the driver
        from psycopg_pool import ConnectionPool

        self.url = url
        self._psycopg = psycopg
        self._local_locks: dict[str, threading.Lock] = {}
        self._local_locks_guard = threading.Lock()
        self._timeout = timeout
        self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=False, timeout=timeout,
                                    kwargs={"autocommit": True}, name="bot")
        try:
            self._pool.open(wait=True, timeout=timeout)
        except Exception as exc:
            self._pool.close()
            raise StorageError(f"cannot reach the database at {redact(url)} ({type(exc).__name__}: {exc})") from exc
        if check_schema:
            missing = {m.version for m in MIGRATIONS} - self.applied_migrations()
            if missing:
                self._pool.close()
                raise SchemaBehind(f"the database at {redact(url)} lacks schema migrations "
                                   f"{', '.join(map(str, sorted(missing)))} (this bot needs version {latest()}): "
                                   "run `python -m bot db upgrade`")

    def describe(self) -> str:
        return f"postgresql:{redact(self.url)}"

    def close(self) -> None:
        self._pool.close()

    def session_locks(self) -> _PgSessionLocks:
        return _PgSessionLocks(self._psycopg, self.url, self._timeout)

    def notify(self, channel: str) -> None:
        self.query("SELECT pg_notify(?, '')", (channel,))

    def listen(self, channel: str) -> _PgWakeups:
        return _PgWakeups(self._psycopg, self.url, channel, self._timeout)

    def row_lock(self, *, skip_locked: bool = False, of: str = "") -> str:
        return " FOR UPDATE" + (f" OF {of}" if of else "") + (" SKIP LOCKED" if skip_locked else "")

    def query(self, sql: str, args: Args = ()) -> list[Row]:
        with self._pool.connection() as conn:
            cur = conn.execute(to_psycopg(sql), tuple(args))
            return cur.fetchall() if cur.description else []

    def batch(self, statements: Sequence[tuple[str, Args]]) -> list[list[Row]]:
        """The statements as one query string, its parameters bound by the client: PostgreSQL runs the
        statements of one such query in one transaction, each with its own snapshot (so a statement sees
        what the ones before it wrote). One round trip and no BEGIN/COMMIT: a third of the CPU of a
        ``transaction()`` with two statements here, where pipeline mode cost more than that."""
        with self._pool.connection() as conn:
            return _run_batch(self._psycopg.ClientCursor(conn), statements)

    def query_notify(self, sql: str, args: Args, channel: str) -> list[Row]:
        """The statement's rows, each with the notice sent by the same statement (delivered at its commit)."""
        rows = self.query(f"WITH q AS ({sql}) SELECT q.*, pg_notify(?, '') IS NULL FROM q", (*args, channel))
        return [row[:-1] for row in rows]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        with self._pool.connection() as conn, conn.transaction():
            yield _PgTx(conn)

    shared = True

    @contextlib.contextmanager
    def held_lock(self, name: str, timeout: float) -> Iterator[None]:
        """A session advisory lock on a connection of its own, held until the block ends; it is released
        by the server if this process dies, so a killed worker never leaves it taken. Threads of this
        process queue on a local lock first: each one waiting in the server would hold a pooled connection
        that the holder may need."""
        with self._local_locks_guard:
            local = self._local_locks.setdefault(name, threading.Lock())
        started = time.monotonic()
        if not local.acquire(timeout=timeout):
            raise LockBusy(f"{name} is held by another thread of this worker (waited {timeout:g} s)")
        try:
            with self._held(name, max(0.001, timeout - (time.monotonic() - started))):
                yield
        finally:
            local.release()

    @contextlib.contextmanager
    def _held(self, name: str, timeout: float) -> Iterator[None]:
        """The advisory lock keyed like SessionLocks' (per schema: two bots on one server never share it)."""
        with self._pool.connection() as conn:
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{max(1, int(timeout * 1000))}ms",))
            try:
                conn.execute(f"SELECT pg_advisory_lock({_LOCK_KEY})", (name,))
            except self._psycopg.errors.LockNotAvailable as exc:
                raise LockBusy(f"{name} is held by another worker (waited {timeout:g} s)") from exc
            finally:
                conn.execute("SELECT set_config('lock_timeout', '0', false)")
            try:
                yield
            finally:
                conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})", (name,))

    def applied_migrations(self) -> set[int]:
        with self._pool.connection() as conn:
            exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
            if not exists:
                return set()
            return {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}

    def upgrade(self) -> list[int]:
        """Every missing migration in one transaction (PostgreSQL's DDL is transactional), under a lock so
        that workers started together upgrade once."""
        applied: list[int] = []
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                         "name TEXT NOT NULL, applied DOUBLE PRECISION NOT NULL)")
            have = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
            for m in sorted(MIGRATIONS, key=lambda m: m.version):
                if m.version in have:
                    continue
                if m.postgres.strip():
                    conn.execute(m.postgres)
                conn.execute("INSERT INTO schema_migrations(version, name, applied) VALUES (%s, %s, %s)",
                             (m.version, m.name, time.time()))
                applied.append(m.version)
        return applied
