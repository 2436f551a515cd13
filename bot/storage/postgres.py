"""The shared backend: PostgreSQL, for any number of workers that are one bot.

A small pool of connections per process (psycopg 3); statements run in autocommit unless grouped in
``transaction()``. Queries are written with ``?`` once (bot/storage/base.py) and turned into psycopg's
``%s`` here. The schema is never changed behind the workers' backs: ``python -m bot db upgrade`` applies
migrations under an advisory lock, and opening a database whose schema is behind raises ``SchemaBehind``.

The async primitives (``aquery`` and the rest, the fronts' hot path) run on the event loop through a
psycopg ``AsyncConnectionPool`` of their own, opened on the first call from a loop and closed by
``aclose()``: no thread hop, 0.118 ms of CPU per statement where the sync pool in a worker thread took
0.226. A second loop that calls while the first one is still open goes through threads (the default).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import re
import select
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import StorageError
from .base import Args, AsyncSessionLocks, Listening, LockBusy, Row, SchemaBehind, Storage, Tried
from .migrations import MIGRATIONS, latest

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x6D696772  # pg_advisory_xact_lock key for upgrades ("migr")
_LAX = "SET synchronous_commit = off"  # a ``durable=False`` connection's commits (see Storage.query)


@functools.lru_cache(maxsize=512)
def to_psycopg(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the shared SQL has no literal ``?`` or ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _joined(statements: Sequence[tuple[str, Args]]) -> tuple[str, list[object]]:
    return "; ".join(to_psycopg(sql) for sql, _ in statements), [a for _, args in statements for a in args]


def _run_batch(cur: Any, statements: Sequence[tuple[str, Args]]) -> list[list[Row]]:
    cur.execute(*_joined(statements))
    results: list[list[Row]] = []
    while True:
        results.append(cur.fetchall() if cur.description else [])
        if not cur.nextset():
            return results


def _notify_sql(sql: str) -> str:
    """The statement whose rows each carry a notice sent by the same statement (delivered at its commit)."""
    return f"WITH q AS ({sql}) SELECT q.*, pg_notify(?, ?) IS NULL FROM q"


def _pending(pgconn: Any) -> list[str]:
    """The payloads of the notices that reached the connection (libpq's PQconsumeInput, PQnotifies), read
    without blocking; raises when the connection is gone."""
    pgconn.consume_input()
    payloads = []
    while (notice := pgconn.notifies()) is not None:
        payloads.append(notice.extra.decode("utf-8", "replace"))
    return payloads


class _PgTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def query(self, sql: str, args: Args = ()) -> list[Row]:
        cur = self._conn.execute(to_psycopg(sql), tuple(args))
        return cur.fetchall() if cur.description else []


# A lock's key: 64 bits of its name, within the connection's schema (schemas share a database's locks)
_LOCK_KEY = "hashtextextended(current_schema() || '/' || %s, 0)"


@functools.lru_cache(maxsize=8)
def _try_first_sql(groups: int) -> str:
    """``try_lock_first``'s statement for ``groups`` lists: (group, 1-based position) of each name locked."""
    key = _LOCK_KEY.replace("%s", "name")
    return " UNION ALL ".join(
        f"(SELECT {g}, position FROM unnest(%s::text[]) WITH ORDINALITY AS names(name, position) "
        f"WHERE pg_try_advisory_lock({key}) LIMIT %s)" for g in range(groups))


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
        """Wait on the socket itself (``select``), read only when it is readable: a waiting ``notifies()``
        wakes ten times a second to look. A closed connection raises (psycopg.OperationalError)."""
        if _pending(self._conn.pgconn):
            return True
        readable, _, _ = select.select([self._conn.fileno()], [], [], max(0.0, timeout))
        return bool(readable) and bool(_pending(self._conn.pgconn))

    def close(self) -> None:
        self._conn.close()


class _PgAsyncSessionLocks:
    """``_PgSessionLocks`` on an AsyncConnection (its own lock makes concurrent calls take turns)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def try_lock(self, name: str) -> bool:
        cur = await self._conn.execute(f"SELECT pg_try_advisory_lock({_LOCK_KEY})", (name,))
        return bool((await cur.fetchone())[0])

    async def try_lock_first(self, groups: Sequence[tuple[Sequence[str], int]]) -> list[Tried]:
        """One statement: each group's names unnested in order, each tried as the group's LIMIT pulls the
        next row, so the server stops trying once the group has its ``limit`` (a name never tried is never
        locked). Only the positions locked come back; the client knows what was tried from them."""
        wanted = [(list(names), limit) for names, limit in groups if names and limit > 0]
        rows: list[Row] = []
        if wanted:
            cur = await self._conn.execute(_try_first_sql(len(wanted)),
                                           [a for names, limit in wanted for a in (names, limit)])
            rows = await cur.fetchall()
        got: dict[int, list[int]] = {}
        for group, position in rows:
            got.setdefault(int(group), []).append(int(position))  # type: ignore[call-overload]
        tried: list[Tried] = []
        index = 0
        for names, limit in groups:
            if not names or limit <= 0:
                tried.append(Tried([], 0))
                continue
            positions = sorted(got.get(index, []))
            index += 1
            # every name was tried unless the group filled up: then those up to the last one locked were
            tried.append(Tried([names[p - 1] for p in positions],
                               positions[-1] if len(positions) >= limit else len(names)))
        return tried

    async def unlock(self, name: str) -> None:
        await self._conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})", (name,))

    async def alive(self) -> bool:
        try:
            await self._conn.execute("SELECT 1")
        except Exception:  # psycopg.OperationalError: the connection, and every lock on it, is gone
            return False
        return True

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # the connection is gone, and its locks with it
            await self._conn.execute("SELECT pg_advisory_unlock_all()")
        with contextlib.suppress(Exception):
            await self._conn.close()


class _PgListening:
    """LISTEN on an AsyncConnection of its own, read when its socket is readable (the loop's ``add_reader``):
    nothing runs while no notice comes, where a waiting ``notifies()`` wakes ten times a second. A dropped
    connection makes the socket readable too: reading fails, the notices end, logged."""

    def __init__(self, conn: Any, on_notice: Callable[[str], None]) -> None:
        self._conn, self._on_notice = conn, on_notice
        self._loop = asyncio.get_running_loop()
        self._fd: int | None = conn.fileno()
        self._loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            payloads = _pending(self._conn.pgconn)
        except Exception as exc:  # psycopg.OperationalError: the server closed the connection
            log.warning("notices stopped (%s: %s); only polling from now on", type(exc).__name__, exc)
            self._stop_reading()
            return
        for payload in payloads:
            self._on_notice(payload)

    def _stop_reading(self) -> None:
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._fd = None

    async def close(self) -> None:
        self._stop_reading()
        with contextlib.suppress(Exception):
            await self._conn.close()


# every PostgresStorage with async pools opened on some loop (PostgresStorage.open_on)
OPEN_ON_LOOPS: "weakref.WeakSet[PostgresStorage]" = weakref.WeakSet()


class PostgresStorage(Storage):
    kind = "postgresql"

    def __init__(self, url: str, *, check_schema: bool = True, max_connections: int | None = None,
                 timeout: float = 10.0) -> None:
        import psycopg  # imported here: the embedded default never needs the driver
        from psycopg_pool import ConnectionPool

        self.url = url
        self._psycopg = psycopg
        self._timeout = timeout
        # each of the process's four pools (sync and async, durable and not) opens up to this many; many
        # workers on one server may need fewer (BOT_DATABASE_POOL), within its max_connections
        self._max_connections = max_connections or int(os.environ.get("BOT_DATABASE_POOL", "") or 5)
        self._aloop: asyncio.AbstractEventLoop | None = None  # the loop the async pool belongs to
        self._apool: asyncio.Task[Any] | None = None  # opening it, then opened (see _async_pool)
        self._schema: str | None = None  # current_schema(), looked up once (channels are per schema)
        self._pool = ConnectionPool(url, min_size=1, max_size=self._max_connections, open=False, timeout=timeout,
                                    kwargs={"autocommit": True}, name="bot")
        # the connections whose commits do not wait for the disk (``durable=False``), opened on first use:
        # one setting per connection, where a SET per statement would be a round trip of its own
        self._lax: Any | None = None
        self._lax_guard = threading.Lock()
        self._alax: asyncio.Task[Any] | None = None  # the running loop's, as _apool
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
        if self._lax is not None:
            self._lax.close()
        if self._aloop is None or self._aloop.is_closed():
            self._aloop = self._apool = self._alax = None  # a closed loop's pools went with it
        # else they wait for aclose() on their loop (PostgresStorage.open_on): closing a loop with them open
        # can hang it

    def _pool_for(self, durable: bool) -> Any:
        if durable:
            return self._pool
        with self._lax_guard:
            if self._lax is None:
                from psycopg_pool import ConnectionPool

                def configure(conn: Any) -> None:
                    conn.execute(_LAX)

                lax = ConnectionPool(self.url, min_size=0, max_size=self._max_connections, open=False,
                                     timeout=self._timeout, kwargs={"autocommit": True}, configure=configure,
                                     name="bot-lax")
                lax.open()
                self._lax = lax
            return self._lax

    # the async side: on the event loop, no thread ---------------------------------------------------
    async def _async_pool(self, durable: bool = True) -> Any | None:
        """The running loop's AsyncConnectionPool (``durable``, or the lax one), opened on first use; None
        when another loop, still open, has it (that caller goes through threads)."""
        loop = asyncio.get_running_loop()
        if self._aloop is not loop:
            if self._aloop is not None and not self._aloop.is_closed():
                return None
            self._aloop, self._apool, self._alax = loop, loop.create_task(self._open_async_pool(True)), None
            OPEN_ON_LOOPS.add(self)
        if not durable and self._alax is None:
            self._alax = loop.create_task(self._open_async_pool(False))
        task = self._apool if durable else self._alax
        assert task is not None
        try:
            return await task
        except Exception:
            if durable and self._apool is task:  # the next call tries again
                self._aloop = self._apool = None
            elif not durable and self._alax is task:
                self._alax = None
            raise

    @staticmethod
    def open_on(loop: asyncio.AbstractEventLoop) -> list["PostgresStorage"]:
        """The storages whose async pools belong to ``loop``: each must be ``aclose()``d before the loop
        closes. Left open, a pool's scheduler sleeps in ``asyncio.wait_for``, which on Python 3.11 can
        swallow the cancellation the closing loop sends (CPython gh-86296): the loop then waits forever."""
        return [s for s in list(OPEN_ON_LOOPS) if s._aloop is loop]

    async def _open_async_pool(self, durable: bool) -> Any:
        from psycopg_pool import AsyncConnectionPool

        async def configure(conn: Any) -> None:
            await conn.execute(_LAX)

        pool = AsyncConnectionPool(self.url, min_size=1 if durable else 0, max_size=self._max_connections,
                                   open=False, timeout=self._timeout, kwargs={"autocommit": True},
                                   configure=None if durable else configure,
                                   name="bot-async" if durable else "bot-async-lax")
        try:
            await pool.open(wait=True, timeout=self._timeout)
        except Exception as exc:
            await pool.close()
            raise StorageError(f"cannot reach the database at {redact(self.url)} "
                               f"({type(exc).__name__}: {exc})") from exc
        return pool

    async def aclose(self) -> None:
        tasks, loop = (self._apool, self._alax), self._aloop
        if tasks[0] is None or loop is not asyncio.get_running_loop():
            return
        self._aloop = self._apool = self._alax = None
        for task in tasks:
            if task is not None:
                with contextlib.suppress(Exception):
                    await (await task).close()

    async def aquery(self, sql: str, args: Args = (), *, durable: bool = True) -> list[Row]:
        pool = await self._async_pool(durable)
        if pool is None:
            return await super().aquery(sql, args, durable=durable)
        async with pool.connection() as conn:
            cur = await conn.execute(to_psycopg(sql), tuple(args))
            return await cur.fetchall() if cur.description else []

    async def abatch(self, statements: Sequence[tuple[str, Args]], *, durable: bool = True) -> list[list[Row]]:
        """``batch`` on the loop: one query string, one round trip."""
        pool = await self._async_pool(durable)
        if pool is None:
            return await super().abatch(statements, durable=durable)
        async with pool.connection() as conn:
            cur = self._psycopg.AsyncClientCursor(conn)
            await cur.execute(*_joined(statements))
            results: list[list[Row]] = []
            while True:
                results.append(await cur.fetchall() if cur.description else [])
                if not cur.nextset():
                    return results

    async def aquery_notify(self, sql: str, args: Args, channel: str, payload: str = "") -> list[Row]:
        name = self._channel(channel) if self._schema is not None else await asyncio.to_thread(self._channel, channel)
        rows = await self.aquery(_notify_sql(sql), (*args, name, payload))
        return [row[:-1] for row in rows]

    async def asession_locks(self) -> AsyncSessionLocks:
        conn = await self._psycopg.AsyncConnection.connect(self.url, autocommit=True,
                                                           connect_timeout=max(1, int(self._timeout)))
        return _PgAsyncSessionLocks(conn)

    async def alisten(self, channel: str, on_notice: Callable[[str], None]) -> Listening:
        from psycopg import sql

        name = self._channel(channel) if self._schema is not None else await asyncio.to_thread(self._channel, channel)
        conn = await self._psycopg.AsyncConnection.connect(self.url, autocommit=True,
                                                           connect_timeout=max(1, int(self._timeout)))
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(name)))
        except BaseException:
            await conn.close()
            raise
        return _PgListening(conn, on_notice)

    def session_locks(self) -> _PgSessionLocks:
        return _PgSessionLocks(self._psycopg, self.url, self._timeout)

    def notify(self, channel: str) -> None:
        self.query("SELECT pg_notify(?, '')", (self._channel(channel),))

    def listen(self, channel: str) -> _PgWakeups:
        return _PgWakeups(self._psycopg, self.url, self._channel(channel), self._timeout)

    def _channel(self, channel: str) -> str:
        """The channel within this schema, as locks are: two bots (or test schemas) on one database never
        wake each other. Hashed when the name would pass PostgreSQL's 63-byte limit."""
        if self._schema is None:
            self._schema = str(self.query("SELECT current_schema()")[0][0])
        name = f"{self._schema}/{channel}"
        return name if len(name.encode()) <= 63 else f"{hashlib.sha1(name.encode()).hexdigest()}/{channel}"[:63]

    def row_lock(self, *, skip_locked: bool = False, of: str = "") -> str:
        return " FOR UPDATE" + (f" OF {of}" if of else "") + (" SKIP LOCKED" if skip_locked else "")

    def tx_lock(self, name: str) -> tuple[str, Args]:
        # a transaction-level advisory lock: freed by the commit or rollback, and by a dropped connection
        return f"SELECT pg_advisory_xact_lock({_LOCK_KEY.replace('%s', '?')})", (name,)

    def query(self, sql: str, args: Args = (), *, durable: bool = True) -> list[Row]:
        with self._pool_for(durable).connection() as conn:
            cur = conn.execute(to_psycopg(sql), tuple(args))
            return cur.fetchall() if cur.description else []

    def batch(self, statements: Sequence[tuple[str, Args]], *, durable: bool = True) -> list[list[Row]]:
        """The statements as one query string, its parameters bound by the client: PostgreSQL runs the
        statements of one such query in one transaction, each with its own snapshot (so a statement sees
        what the ones before it wrote). One round trip and no BEGIN/COMMIT: a third of the CPU of a
        ``transaction()`` with two statements here, where pipeline mode cost more than that."""
        with self._pool_for(durable).connection() as conn:
            return _run_batch(self._psycopg.ClientCursor(conn), statements)

    def query_notify(self, sql: str, args: Args, channel: str, payload: str = "") -> list[Row]:
        """The statement's rows, each with the notice sent by the same statement (delivered at its commit)."""
        rows = self.query(_notify_sql(sql), (*args, self._channel(channel), payload))
        return [row[:-1] for row in rows]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        with self._pool.connection() as conn, conn.transaction():
            yield _PgTx(conn)

    shared = True

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
