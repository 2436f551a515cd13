"""SQLite storage: chat context, unanswered questions, audit log, quiz scores.

One file in WAL mode so the bot and the CLI can use it at once. Kept behind this small class because
webhook workers sharing PostgreSQL are the next step; nothing else in the bot writes SQL.
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_context (chat TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS unanswered (
    id INTEGER PRIMARY KEY, chat TEXT, user TEXT, text TEXT NOT NULL, normalized TEXT NOT NULL,
    intent TEXT, confidence REAL, at REAL NOT NULL, answered INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS unanswered_norm ON unanswered(normalized);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, target TEXT,
    file TEXT, before TEXT, after TEXT, source TEXT, undone INTEGER NOT NULL DEFAULT 0,
    pending INTEGER NOT NULL DEFAULT 0, undoes INTEGER);
CREATE TABLE IF NOT EXISTS quiz_games (
    id TEXT PRIMARY KEY, chat TEXT NOT NULL, status TEXT NOT NULL, state TEXT NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS quiz_games_running ON quiz_games(status, chat);
CREATE TABLE IF NOT EXISTS quiz_scores (
    chat TEXT NOT NULL, user TEXT NOT NULL, name TEXT NOT NULL, points INTEGER NOT NULL DEFAULT 0,
    correct INTEGER NOT NULL DEFAULT 0, games INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL,
    PRIMARY KEY (chat, user));
CREATE TABLE IF NOT EXISTS quiz_settings (chat TEXT PRIMARY KEY, data TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Unanswered:
    text: str
    count: int
    last_at: float


class Storage:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10, isolation_level=None)
        self._wal()
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added since a file was created (CREATE TABLE IF NOT EXISTS leaves old tables as they are)."""
        have = {str(r[1]) for r in self._db.execute("PRAGMA table_info(audit)").fetchall()}
        for name, ddl in (("pending", "INTEGER NOT NULL DEFAULT 0"), ("undoes", "INTEGER")):
            if name not in have:
                with contextlib.suppress(sqlite3.OperationalError):  # another process added it first
                    self._db.execute(f"ALTER TABLE audit ADD COLUMN {name} {ddl}")

    def _wal(self) -> None:
        """Switch to WAL once per file. Switching takes an exclusive lock without waiting for a busy one,
        so a second process opening the file at that moment retries instead of failing."""
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

    def _exec(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # chat context
    def load_context(self, chat: str) -> str | None:
        rows = self._exec("SELECT data FROM chat_context WHERE chat = ?", (chat,))
        return str(rows[0][0]) if rows else None

    def save_context(self, chat: str, data: str) -> None:
        self._exec("INSERT INTO chat_context(chat, data, updated) VALUES (?, ?, ?) "
                   "ON CONFLICT(chat) DO UPDATE SET data = excluded.data, updated = excluded.updated",
                   (chat, data, time.time()))

    # unanswered questions, for admins
    def log_unanswered(self, chat: str | None, user: str | None, text: str, normalized: str,
                       intent: str | None, confidence: float) -> None:
        self._exec("INSERT INTO unanswered(chat, user, text, normalized, intent, confidence, at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", (chat, user, text[:1000], normalized[:1000], intent,
                                                    confidence, time.time()))

    def unanswered(self, limit: int = 20) -> list[Unanswered]:
        rows = self._exec("SELECT MIN(text), COUNT(*), MAX(at) FROM unanswered WHERE answered = 0 "
                          "GROUP BY normalized ORDER BY COUNT(*) DESC, MAX(at) DESC LIMIT ?", (limit,))
        return [Unanswered(str(t), int(c), float(a)) for t, c, a in rows]  # type: ignore[arg-type]

    def mark_answered(self, normalized: str) -> None:
        self._exec("UPDATE unanswered SET answered = 1 WHERE normalized = ?", (normalized,))

    # audit log of knowledge edits (bot/admin.py) ---------------------------------------------------
    def record_audit(self, who: str, action: str, target: str | None = None, file: str | None = None,
                     before: str | None = None, after: str | None = None, source: str | None = None,
                     at: float | None = None) -> int:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO audit(at, who, action, target, file, before, after, source) VALUES (?,?,?,?,?,?,?,?)",
                (time.time() if at is None else at, who, action, target, file, before, after, source))
            return int(cur.lastrowid or 0)

    def audit_log(self, limit: int = 20, changes_only: bool = False) -> list[AuditEntry]:
        where = "WHERE file IS NOT NULL" if changes_only else ""
        rows = self._exec(f"SELECT {_AUDIT_COLUMNS} FROM audit {where} ORDER BY id DESC LIMIT ?", (limit,))
        return [AuditEntry.from_row(r) for r in rows]

    def audit_entry(self, entry_id: int) -> AuditEntry | None:
        rows = self._exec(f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE id = ?", (entry_id,))
        return AuditEntry.from_row(rows[0]) if rows else None

    def last_undoable(self) -> list[AuditEntry]:
        """The latest change not yet undone: one entry, or several written together (same time, action)."""
        rows = self._exec(f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE undone = 0 AND pending = 0 "
                          "AND file IS NOT NULL AND action != 'undo' ORDER BY id DESC LIMIT 1")
        if not rows:
            return []
        last = AuditEntry.from_row(rows[0])
        rows = self._exec(f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE undone = 0 AND pending = 0 "
                          "AND file IS NOT NULL AND at = ? AND action = ? AND who = ? ORDER BY id DESC",
                          (last.at, last.action, last.who))
        return [AuditEntry.from_row(r) for r in rows]

    def mark_undone(self, ids: list[int]) -> None:
        for entry_id in ids:
            self._exec("UPDATE audit SET undone = 1 WHERE id = ?", (entry_id,))

    # A file change is written ahead (bot/admin.py): its rows first, pending, with the whole file before and
    # after; then the file is replaced; then the rows are finished. A crash in between leaves pending rows
    # that ``Admin.recover`` finishes or drops by comparing the file on disk with their before and after.
    def begin_audit(self, changes: list[AuditDraft]) -> list[int]:
        """Write pending rows for files about to be replaced, in one transaction; their ids, in order."""
        ids = []
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for c in changes:
                cur = self._db.execute(
                    "INSERT INTO audit(at, who, action, target, file, before, after, source, pending, undoes) "
                    "VALUES (?,?,?,?,?,?,?,?,1,?)",
                    (time.time() if c.at is None else c.at, c.who, c.action, c.target, c.file, c.before, c.after,
                     c.source, c.undoes))
                ids.append(int(cur.lastrowid or 0))
        return ids

    def finish_audit(self, ids: list[int]) -> None:
        """The files of these pending rows are on disk: the rows become history (an undo marks what it undid)."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for entry_id in ids:
                self._db.execute("UPDATE audit SET undone = 1 WHERE id = "
                                 "(SELECT undoes FROM audit WHERE id = ? AND pending = 1)", (entry_id,))
                self._db.execute("UPDATE audit SET pending = 0 WHERE id = ?", (entry_id,))

    def drop_audit(self, ids: list[int]) -> None:
        """The files of these pending rows were never replaced: the change did not happen."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for entry_id in ids:
                self._db.execute("DELETE FROM audit WHERE id = ? AND pending = 1", (entry_id,))

    def pending_audit(self) -> list[AuditEntry]:
        """Rows of changes begun and not finished (a crash, or a writer still at work), oldest first."""
        rows = self._exec(f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE pending = 1 ORDER BY id")
        return [AuditEntry.from_row(r) for r in rows]

    def unanswered_questions(self, limit: int = 20) -> list[UnansweredQuestion]:
        """Like ``unanswered`` with the normalised key, so an admin can answer one by its number."""
        rows = self._exec("SELECT normalized, MIN(text), COUNT(*), MAX(at) FROM unanswered WHERE answered = 0 "
                          "GROUP BY normalized ORDER BY COUNT(*) DESC, MAX(at) DESC LIMIT ?", (limit,))
        return [UnansweredQuestion(str(n), str(t), int(c), float(a)) for n, t, c, a in rows]  # type: ignore[arg-type]

    # quiz games and scores (bot/quiz) ---------------------------------------------------------------
    def save_games(self, games: list[tuple[str, str, str, str]], points: list[tuple[str, str, int, int]] = (),  # type: ignore[assignment]
                   chat: str | None = None, finished_players: list[str] = ()) -> None:  # type: ignore[assignment]
        """Save games' states (id, chat, status, state) and credit ``points`` in ``chat``'s all-time scores,
        in one transaction: a crash can never keep points without the game that earned them, or the reverse."""
        now = time.time()
        with self._lock:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO quiz_games(id, chat, status, state, updated) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET status = excluded.status, state = excluded.state, "
                    "updated = excluded.updated", [(*g, now) for g in games])
                for user, name, gained, correct in points:
                    self._db.execute(
                        "INSERT INTO quiz_scores(chat, user, name, points, correct, games, updated) "
                        "VALUES (?,?,?,?,?,0,?) ON CONFLICT(chat, user) DO UPDATE SET name = excluded.name, "
                        "points = points + excluded.points, correct = correct + excluded.correct, "
                        "updated = excluded.updated", (chat, user, name, gained, correct, now))
                for user in finished_players:
                    self._db.execute("UPDATE quiz_scores SET games = games + 1 WHERE chat = ? AND user = ?",
                                     (chat, user))

    def running_games(self) -> list[str]:
        return [str(r[0]) for r in self._exec("SELECT state FROM quiz_games WHERE status = 'running'")]

    def quiz_scores(self, chat: str | None, limit: int = 10) -> list[tuple[str, str, int, int]]:
        """All-time scores in a chat, or across every chat (a player's points summed) when chat is None."""
        if chat is None:
            rows = self._exec("SELECT user, MAX(name), SUM(points), SUM(correct) FROM quiz_scores GROUP BY user "
                              "ORDER BY SUM(points) DESC LIMIT ?", (limit,))
        else:
            rows = self._exec("SELECT user, name, points, correct FROM quiz_scores WHERE chat = ? "
                              "ORDER BY points DESC LIMIT ?", (chat, limit))
        return [(str(u), str(n), int(p), int(c)) for u, n, p, c in rows]  # type: ignore[call-overload]

    def quiz_settings(self, chat: str) -> str | None:
        rows = self._exec("SELECT data FROM quiz_settings WHERE chat = ?", (chat,))
        return str(rows[0][0]) if rows else None

    def save_quiz_settings(self, chat: str, data: str) -> None:
        self._exec("INSERT INTO quiz_settings(chat, data) VALUES (?, ?) "
                   "ON CONFLICT(chat) DO UPDATE SET data = excluded.data", (chat, data))


_AUDIT_COLUMNS = "id, at, who, action, target, file, before, after, source, undone, pending, undoes"


@dataclass(frozen=True)
class UnansweredQuestion:
    normalized: str
    text: str
    count: int
    last_at: float


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    who: str
    action: str
    target: str | None
    file: str | None
    before: str | None
    after: str | None
    source: str | None
    undone: bool
    pending: bool = False  # written ahead of its file change, not yet known to be on disk
    undoes: int | None = None  # for an undo: the change it reverts

    @classmethod
    def from_row(cls, row: tuple[object, ...]) -> "AuditEntry":
        i, at, who, action, target, file, before, after, source, undone, pending, undoes = row
        return cls(int(i), float(at), str(who), str(action), target, file, before, after, source,  # type: ignore[arg-type]
                   bool(undone), bool(pending), None if undoes is None else int(undoes))  # type: ignore[call-overload]


@dataclass(frozen=True)
class AuditDraft:
    """An audit row about to be written ahead of its file change (``Storage.begin_audit``)."""

    who: str
    action: str
    target: str | None
    file: str
    before: str
    after: str
    source: str | None = None
    at: float | None = None
    undoes: int | None = None
