"""Storage: chat context, unanswered questions, audit log, quiz games and scores, for any backend.

Every query is written once here, in the SQL both backends speak (``?`` placeholders, ``ON CONFLICT``,
``RETURNING``); a backend supplies only how to run one statement and how to run several in one
transaction (``bot/storage/sqlite.py``, ``bot/storage/postgres.py``). The interface is synchronous because
the core that calls it (the Brain, the quiz engine, admin operations) is shared with the command line and
the console; the async fronts call the core in worker threads, so no database call blocks their loop.

The fronts' own hot path (the webhook's inbox, send claims, the outbox) has an async twin of the few
primitives it needs: ``aquery``, ``abatch``, ``aquery_notify``, ``asession_locks`` and ``alisten``. The SQL
is the same; only how it runs differs. By default each call runs the synchronous primitive in a worker
thread (SQLite: what it always did); PostgreSQL runs it on the event loop itself (psycopg's
AsyncConnectionPool), with no thread hop: half the worker's CPU per statement (bench/bench_hot_path.py).
"""
from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import StorageError
from .records import AUDIT_COLUMNS, AuditDraft, AuditEntry, Unanswered, UnansweredQuestion

log = logging.getLogger(__name__)

Row = tuple[object, ...]
Args = Sequence[object]


class Tx(Protocol):
    """Statements inside one transaction."""

    def query(self, sql: str, args: Args = ()) -> list[Row]: ...


class LockBusy(StorageError):
    """Another process held the lock for longer than the caller would wait."""

class SessionLocks(Protocol):
    """Named locks that one worker holds until it releases them or dies (its connection drops).

    PostgreSQL: session-level advisory locks on a connection of their own, so a killed worker's locks are
    freed by the server the moment its connection closes. SQLite: one process, so a lock table in memory.
    A lock is not re-entrant across callers: the caller remembers what it holds."""

    def try_lock(self, name: str) -> bool: ...
    def unlock(self, name: str) -> None: ...
    def alive(self) -> bool:
        """False once the locks may have been lost (the connection is gone): stop acting under them."""
        ...
    def close(self) -> None: ...


class Wakeups(Protocol):
    """Notices sent with ``Storage.notify(channel)``, from any worker (PostgreSQL's LISTEN/NOTIFY)."""

    def wait(self, timeout: float) -> bool:
        """Block until a notice arrives (True) or ``timeout`` seconds pass (False)."""
        ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Tried:
    """What ``try_lock_first`` did with one list of names: ``got`` the names it locked, in order; it tried
    ``names[:tried]`` (so those of them not in ``got`` are held by another holder) and left the rest."""

    got: list[str]
    tried: int


class AsyncSessionLocks(Protocol):
    """``SessionLocks`` for a coroutine on the event loop: the same locks, awaited."""

    async def try_lock(self, name: str) -> bool: ...
    async def try_lock_first(self, groups: Sequence[tuple[Sequence[str], int]]) -> list[Tried]:
        """For each ``(names, limit)``: try the names in order until ``limit`` of them are locked, all the
        groups in one call (PostgreSQL: one statement, where a worker claiming chats took a round trip per
        chat tried, most of them held by another worker under a backlog)."""
        ...
    async def unlock(self, name: str) -> None: ...
    async def alive(self) -> bool: ...
    async def close(self) -> None: ...


class Listening(Protocol):
    """Notices on one channel turned into calls of a callback on the event loop (``Storage.alisten``), each
    with the notice's payload ("" when the backend does not carry one)."""

    async def close(self) -> None: ...


class _ThreadedLocks:
    """A synchronous lock holder, each call in a worker thread (the default ``asession_locks``)."""

    def __init__(self, locks: SessionLocks) -> None:
        self._locks = locks

    async def try_lock(self, name: str) -> bool:
        return await asyncio.to_thread(self._locks.try_lock, name)

    async def try_lock_first(self, groups: Sequence[tuple[Sequence[str], int]]) -> list[Tried]:
        return await asyncio.to_thread(self._try_lock_first, groups)

    def _try_lock_first(self, groups: Sequence[tuple[Sequence[str], int]]) -> list[Tried]:
        tried: list[Tried] = []
        for names, limit in groups:
            got: list[str] = []
            count = 0
            for name in names:
                if len(got) >= limit:
                    break
                count += 1
                if self._locks.try_lock(name):
                    got.append(name)
            tried.append(Tried(got, count))
        return tried

    async def unlock(self, name: str) -> None:
        await asyncio.to_thread(self._locks.unlock, name)

    async def alive(self) -> bool:
        return await asyncio.to_thread(self._locks.alive)

    async def close(self) -> None:
        await asyncio.to_thread(self._locks.close)


class _ThreadedListening:
    """A synchronous ``Wakeups`` waited on in a thread of its own, each notice handed to the loop (the
    default ``alisten``). A lost connection ends the notices, logged; the caller's poll carries on alone."""

    SLICE = 1.0  # s: the longest a wait lasts before the thread looks whether it was closed

    def __init__(self, wakeups: Wakeups, on_notice: Callable[[str], None], name: str) -> None:
        self._wakeups, self._on_notice = wakeups, on_notice
        self._loop = asyncio.get_running_loop()
        self._open = threading.Event()
        self._open.set()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while self._open.is_set():
                try:
                    if self._wakeups.wait(self.SLICE):
                        self._loop.call_soon_threadsafe(self._on_notice, "")
                except Exception as exc:  # the connection dropped
                    log.warning("notices stopped (%s); only polling from now on", type(exc).__name__)
                    return
        except RuntimeError:  # the loop closed first
            pass
        finally:
            with contextlib.suppress(Exception):
                self._wakeups.close()

    async def close(self) -> None:
        self._open.clear()
        await asyncio.to_thread(self._thread.join, self.SLICE + 2.0)


class SchemaBehind(StorageError):
    """The database's schema lacks migrations this code needs: ``python -m bot db upgrade``."""


REVISIONS_CHANNEL = "bot_knowledge"  # notified after a knowledge revision is recorded (bot/cluster/knowledge.py)


class Storage(abc.ABC):
    kind: str = "?"  # "sqlite" or "postgresql", for messages and the bench

    # what a backend supplies ---------------------------------------------------------------------
    @abc.abstractmethod
    def query(self, sql: str, args: Args = (), *, durable: bool = True) -> list[Row]:
        """Run one statement on its own (committed at once); the rows it returns, if any.

        ``durable=False`` is for bookkeeping that is harmless to lose, or done again, if the database
        server itself goes down within the moment after the commit (a chat's context, an attempt counted,
        an update marked handled: a worker's death already makes it be done again): PostgreSQL then commits
        without waiting for its log to reach the disk (synchronous_commit off; the database stays
        consistent, at most the last fraction of a second of such commits is lost), a quarter of the CPU
        of a small write, server and worker both (bench/bench_hot_path.py). Never for what someone was told
        is kept (an update Telegram got its 200 for, an admin's edit, a message recorded before it is
        sent). SQLite ignores it: in WAL mode with synchronous=NORMAL no commit waits for the disk."""

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """Several statements that commit together or not at all; writers wait for each other."""

    def batch(self, statements: Sequence[tuple[str, Args]], *, durable: bool = True) -> list[list[Row]]:
        """Several statements in one transaction, each one's rows in order. For statements that do not
        need each other's answers to be written: PostgreSQL sends them all at once (pipeline mode), one
        round trip instead of one per statement and two for the transaction. ``durable``: see ``query``."""
        with self.transaction() as tx:
            return [tx.query(sql, args) for sql, args in statements]

    def query_notify(self, sql: str, args: Args, channel: str, payload: str = "") -> list[Row]:
        """``query``, and if it returned rows, ``notify(channel)`` once it is committed (PostgreSQL: in the
        same statement, one round trip, the notice carrying ``payload``)."""
        rows = self.query(sql, args)
        if rows:
            self.notify(channel)
        return rows

    @abc.abstractmethod
    def close(self) -> None: ...

    # the same, for a coroutine on the event loop (the fronts' hot path; see the module's docstring) -----
    async def aquery(self, sql: str, args: Args = (), *, durable: bool = True) -> list[Row]:
        """``query``, awaited: the loop goes on meanwhile."""
        return await asyncio.to_thread(functools.partial(self.query, sql, args, durable=durable))

    async def abatch(self, statements: Sequence[tuple[str, Args]], *, durable: bool = True) -> list[list[Row]]:
        """``batch``, awaited."""
        return await asyncio.to_thread(functools.partial(self.batch, statements, durable=durable))

    async def abehind(self, statements: Sequence[tuple[str, Args]], *, durable: bool = True) -> None:
        """Statements whose rows nobody reads and whose commit nobody waits for (a message marked
        delivered, a send's place dated), sent with the others queued meanwhile in one round trip
        (bot/storage/behind.py); returns once committed. ``durable``: see ``query``; the durable and the
        other writes are two queues."""
        from .behind import WriteBehind

        loop = asyncio.get_running_loop()
        queues: dict[bool, WriteBehind] | None = getattr(self, "_behind", None)
        if queues is None or getattr(self, "_behind_loop", None) is not loop:
            queues = {}
            self._behind, self._behind_loop = queues, loop
        queue = queues.get(durable)
        if queue is None:
            queue = queues[durable] = WriteBehind(functools.partial(self.abatch, durable=durable))
        await queue.write(statements)

    async def aquery_notify(self, sql: str, args: Args, channel: str, payload: str = "") -> list[Row]:
        """``query_notify``, awaited."""
        return await asyncio.to_thread(self.query_notify, sql, args, channel, payload)

    async def asession_locks(self) -> AsyncSessionLocks:
        """``session_locks``, for a coroutine: a new holder whose calls are awaited."""
        return _ThreadedLocks(await asyncio.to_thread(self.session_locks))

    async def alisten(self, channel: str, on_notice: Callable[[str], None]) -> Listening:
        """Call ``on_notice(payload)`` on the running loop for each notice sent on ``channel`` from now on
        (a burst of notices without payloads may be one call; "" when the backend carries none), until
        ``close()``. A lost connection ends the notices (logged): callers poll too."""
        wakeups = await asyncio.to_thread(self.listen, channel)
        return _ThreadedListening(wakeups, on_notice, f"listen-{channel}")

    async def aclose(self) -> None:
        """Close what was opened for the running event loop (the synchronous side stays open)."""

    @abc.abstractmethod
    def applied_migrations(self) -> set[int]: ...

    @abc.abstractmethod
    def upgrade(self) -> list[int]:
        """Apply the migrations this database lacks; the versions applied."""

    def describe(self) -> str:
        return self.kind

    # Shared by several processes on several hosts (PostgreSQL), or one host's file (SQLite)? Workers of a
    # shared database follow each other's knowledge edits through revisions (bot/cluster/knowledge.py).
    shared: bool = False

    @contextlib.contextmanager
    def held_lock(self, name: str, timeout: float) -> Iterator[None]:
        """Hold the lock ``name`` for one block, for every worker of this database, waiting at most
        ``timeout`` seconds (``LockBusy`` after). The same locks as ``session_locks`` (there is one kind),
        on a holder of its own, so a process killed in the block frees it at once (PostgreSQL drops its
        connection's advisory locks). For rare, long holds (a knowledge edit): it opens a connection."""
        locks = self.session_locks()
        try:
            deadline, pause = time.monotonic() + timeout, 0.005
            while not locks.try_lock(name):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LockBusy(f"{name} is held by another worker (waited {timeout:g} s)")
                time.sleep(min(pause, left))
                pause = min(0.1, pause * 2)
            try:
                yield
            finally:
                locks.unlock(name)
        finally:
            locks.close()

    # coordination between workers (what SQL alone does not give) ---------------------------------
    @abc.abstractmethod
    def session_locks(self) -> SessionLocks:
        """A new holder of named locks, for one worker (see SessionLocks)."""

    @abc.abstractmethod
    def notify(self, channel: str) -> None:
        """Wake whoever waits on ``channel`` (``listen``), in this process or another."""

    @abc.abstractmethod
    def listen(self, channel: str) -> Wakeups:
        """Start receiving the notices sent on ``channel`` from now on."""

    def row_lock(self, *, skip_locked: bool = False, of: str = "") -> str:
        """The clause that ends a SELECT inside ``transaction()`` so the rows it reads stay this transaction's
        until it ends (``skip_locked``: rows another transaction holds are passed over, not waited for; ``of``:
        which of the joined tables' rows). SQLite needs none: its transactions begin with the write lock of
        the whole file (BEGIN IMMEDIATE), so no other writer, in this process or another, runs meanwhile."""
        return ""

    def tx_lock(self, name: str) -> tuple[str, Args] | None:
        """A statement that, run inside ``transaction()``, holds the lock ``name`` until the transaction
        ends, for every worker of this database (the names are those of ``session_locks``): what two
        transactions meeting on no common row take turns by. None where transactions already exclude each
        other (SQLite: BEGIN IMMEDIATE holds the whole file)."""
        return None

    # chat context ----------------------------------------------------------------------------------
    def load_context(self, chat: str) -> str | None:
        rows = self.query("SELECT data FROM chat_context WHERE chat = ?", (chat,))
        return str(rows[0][0]) if rows else None

    def save_context(self, chat: str, data: str) -> None:
        """Not durable (see ``query``): a server that goes down loses at most the thread of a conversation."""
        self.query("INSERT INTO chat_context(chat, data, updated) VALUES (?, ?, ?) "
                   "ON CONFLICT(chat) DO UPDATE SET data = excluded.data, updated = excluded.updated",
                   (chat, data, time.time()), durable=False)

    # unanswered questions, for admins --------------------------------------------------------------
    def log_unanswered(self, chat: str | None, user: str | None, text: str, normalized: str,
                       intent: str | None, confidence: float) -> None:
        self.query("INSERT INTO unanswered(chat, sender, text, normalized, intent, confidence, at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", (chat, user, text[:1000], normalized[:1000], intent,
                                                    confidence, time.time()), durable=False)

    def unanswered(self, limit: int = 20) -> list[Unanswered]:
        rows = self.query("SELECT MIN(text), COUNT(*), MAX(at) FROM unanswered WHERE answered = 0 "
                          "GROUP BY normalized ORDER BY COUNT(*) DESC, MAX(at) DESC LIMIT ?", (limit,))
        return [Unanswered(str(t), int(c), float(a)) for t, c, a in rows]  # type: ignore[arg-type]

    def unanswered_questions(self, limit: int = 20) -> list[UnansweredQuestion]:
        """Like ``unanswered`` with the normalised key, so an admin can answer one by its number."""
        rows = self.query("SELECT normalized, MIN(text), COUNT(*), MAX(at) FROM unanswered WHERE answered = 0 "
                          "GROUP BY normalized ORDER BY COUNT(*) DESC, MAX(at) DESC LIMIT ?", (limit,))
        return [UnansweredQuestion(str(n), str(t), int(c), float(a)) for n, t, c, a in rows]  # type: ignore[arg-type]

    def mark_answered(self, normalized: str) -> None:
        self.query("UPDATE unanswered SET answered = 1 WHERE normalized = ?", (normalized,))

    # audit log of knowledge edits (bot/admin.py) ---------------------------------------------------
    def record_audit(self, who: str, action: str, target: str | None = None, file: str | None = None,
                     before: str | None = None, after: str | None = None, source: str | None = None,
                     at: float | None = None) -> int:
        rows = self.query(
            "INSERT INTO audit(at, who, action, target, file, before, after, source) VALUES (?,?,?,?,?,?,?,?) "
            "RETURNING id", (time.time() if at is None else at, who, action, target, file, before, after, source))
        return int(rows[0][0])  # type: ignore[call-overload]

    def audit_log(self, limit: int = 20, changes_only: bool = False) -> list[AuditEntry]:
        where = "WHERE file IS NOT NULL" if changes_only else ""
        rows = self.query(f"SELECT {AUDIT_COLUMNS} FROM audit {where} ORDER BY id DESC LIMIT ?", (limit,))
        return [AuditEntry.from_row(r) for r in rows]

    def audit_entry(self, entry_id: int) -> AuditEntry | None:
        rows = self.query(f"SELECT {AUDIT_COLUMNS} FROM audit WHERE id = ?", (entry_id,))
        return AuditEntry.from_row(rows[0]) if rows else None

    def last_undoable(self) -> list[AuditEntry]:
        """The latest change not yet undone: one entry, or several written together (same time, action)."""
        rows = self.query(f"SELECT {AUDIT_COLUMNS} FROM audit WHERE undone = 0 AND pending = 0 "
                          "AND file IS NOT NULL AND action != 'undo' ORDER BY id DESC LIMIT 1")
        if not rows:
            return []
        last = AuditEntry.from_row(rows[0])
        rows = self.query(f"SELECT {AUDIT_COLUMNS} FROM audit WHERE undone = 0 AND pending = 0 "
                          "AND file IS NOT NULL AND at = ? AND action = ? AND who = ? ORDER BY id DESC",
                          (last.at, last.action, last.who))
        return [AuditEntry.from_row(r) for r in rows]

    def mark_undone(self, ids: list[int]) -> None:
        with self.transaction() as tx:
            for entry_id in ids:
                tx.query("UPDATE audit SET undone = 1 WHERE id = ?", (entry_id,))

    # A file change is written ahead (bot/admin.py): its rows first, pending, with the whole file before and
    # after; then the file is replaced; then the rows are finished. A crash in between leaves pending rows
    # that ``Admin.recover`` finishes or drops by comparing the file on disk with their before and after.
    def begin_audit(self, changes: list[AuditDraft]) -> list[int]:
        """Write pending rows for files about to be replaced, in one transaction; their ids, in order."""
        ids = []
        with self.transaction() as tx:
            for c in changes:
                rows = tx.query(
                    "INSERT INTO audit(at, who, action, target, file, before, after, source, pending, undoes) "
                    "VALUES (?,?,?,?,?,?,?,?,1,?) RETURNING id",
                    (time.time() if c.at is None else c.at, c.who, c.action, c.target, c.file, c.before, c.after,
                     c.source, c.undoes))
                ids.append(int(rows[0][0]))  # type: ignore[call-overload]
        return ids

    def finish_audit(self, ids: list[int], revisions: Mapping[int, str] | None = None) -> None:
        """The files of these pending rows are on disk: the rows become history (an undo marks what it undid).
        ``revisions`` (audit id -> the file's name on every host) also records each file's new content as a
        knowledge revision, in the same transaction, for the other workers to follow (bot/cluster/knowledge.py)."""
        with self.transaction() as tx:
            for entry_id, name in (revisions or {}).items():
                tx.query("INSERT INTO kb_revisions(at, audit, name, content) "
                         "SELECT ?, id, ?, after FROM audit WHERE id = ? AND pending = 1 AND after IS NOT NULL",
                         (time.time(), name, entry_id))
            for entry_id in ids:
                tx.query("UPDATE audit SET undone = 1 WHERE id = "
                         "(SELECT undoes FROM audit WHERE id = ? AND pending = 1)", (entry_id,))
                tx.query("UPDATE audit SET pending = 0 WHERE id = ?", (entry_id,))
        if revisions and self.shared:
            self.notify(REVISIONS_CHANNEL)  # committed: the other workers read it at once

    def drop_audit(self, ids: list[int]) -> None:
        """The files of these pending rows were never replaced: the change did not happen."""
        with self.transaction() as tx:
            for entry_id in ids:
                tx.query("DELETE FROM audit WHERE id = ? AND pending = 1", (entry_id,))

    def pending_audit(self) -> list[AuditEntry]:
        """Rows of changes begun and not finished (a crash, or a writer still at work), oldest first."""
        rows = self.query(f"SELECT {AUDIT_COLUMNS} FROM audit WHERE pending = 1 ORDER BY id")
        return [AuditEntry.from_row(r) for r in rows]

    # quiz scores and settings (games live in bot/quiz/store.py) -----------------------------------
    def quiz_scores(self, chat: str | None, limit: int = 10) -> list[tuple[str, str, int, int]]:
        """All-time scores in a chat, or across every chat (a player's points summed) when chat is None."""
        if chat is None:
            rows = self.query("SELECT player, MAX(name), SUM(points), SUM(correct) FROM quiz_scores "
                              "GROUP BY player ORDER BY SUM(points) DESC, player LIMIT ?", (limit,))
        else:
            rows = self.query("SELECT player, name, points, correct FROM quiz_scores WHERE chat = ? "
                              "ORDER BY points DESC, player LIMIT ?", (chat, limit))
        return [(str(u), str(n), int(p), int(c)) for u, n, p, c in rows]  # type: ignore[call-overload]

    def quiz_settings(self, chat: str) -> str | None:
        rows = self.query("SELECT data FROM quiz_settings WHERE chat = ?", (chat,))
        return str(rows[0][0]) if rows else None

    def save_quiz_settings(self, chat: str, data: str) -> None:
        self.query("INSERT INTO quiz_settings(chat, data) VALUES (?, ?) "
                   "ON CONFLICT(chat) DO UPDATE SET data = excluded.data", (chat, data))

