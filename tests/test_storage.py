"""Storage behaves the same on both backends: SQLite (embedded) and PostgreSQL (shared by workers)."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.quiz.state import Game
from bot.quiz.store import GameStore
from bot.storage import AuditDraft, SchemaBehind, Storage, StorageError, open_storage
from bot.storage.migrations import MIGRATIONS, latest
from tests.support.postgres import PgSchema

ROOT = Path(__file__).resolve().parent.parent



def test_context_is_kept_and_replaced(store: Storage) -> None:
    assert store.load_context("42") is None
    store.save_context("42", '{"topic": "a"}')
    store.save_context("42", '{"topic": "b"}')
    assert store.load_context("42") == '{"topic": "b"}'


def test_unanswered_questions_are_grouped_by_wording(store: Storage) -> None:
    for chat in ("1", "2", "3"):
        store.log_unanswered(chat, "u", "Who wrote it?", "who wrote it", None, 0.1)
    store.log_unanswered("1", "u", "budget?", "budget", None, 0.2)
    top = store.unanswered_questions()
    assert [(q.normalized, q.count) for q in top] == [("who wrote it", 3), ("budget", 1)]
    store.mark_answered("who wrote it")
    assert [q.normalized for q in store.unanswered_questions()] == ["budget"]


def test_audit_write_ahead_then_finish_or_drop(store: Storage) -> None:
    first = store.record_audit("cli", "set", "ballerina.release", "k.yml", "a", "b", "Variety")
    ids = store.begin_audit([AuditDraft("cli", "set", "x", "k.yml", "b", "c"),
                             AuditDraft("cli", "set", "y", "q.yml", "1", "2")])
    assert ids == sorted(ids) and ids[0] > first
    assert [e.id for e in store.pending_audit()] == ids
    store.finish_audit(ids[:1])
    store.drop_audit(ids[1:])
    assert store.pending_audit() == []
    assert [e.id for e in store.audit_log()] == [ids[0], first]
    undo = store.begin_audit([AuditDraft("cli", "undo", "x", "k.yml", "c", "b", undoes=ids[0])])
    store.finish_audit(undo)
    assert store.audit_entry(ids[0]).undone  # type: ignore[union-attr]


def a_game(game_id: str = "g1", chat: str = "c") -> Game:
    return Game(id=game_id, chat=chat, mode="text", seconds=20, total=3, difficulty="mixed", started_by="7",
                started_at=0.0, seed=1)


def test_quiz_points_are_credited_with_their_game_or_not_at_all(store: Storage) -> None:
    games = GameStore(store)
    game = a_game()
    with games.hold("c") as held:
        held.save(game, [("7", "Ann", 3, 1), ("8", "Bo", 1, 1)])
    game.status = "finished"
    with games.hold("c") as held:
        held.save(game, [("7", "Ann", 2, 1)], finished=["7", "8"])
    assert store.quiz_scores("c") == [("7", "Ann", 5, 2), ("8", "Bo", 1, 1)]
    assert games.running("c") is None
    with pytest.raises(Exception):  # a failure inside the transaction keeps neither the game nor the points
        with games.hold("c") as held:
            held.save(a_game("g2"), [("9", "Cy", 1, 1), ("9", None, 1, 1)])  # type: ignore[list-item]
    assert games.running("c") is None and [p for p, *_ in store.quiz_scores(None)] == ["7", "8"]


def test_a_batch_commits_together_each_statement_seeing_the_ones_before(store: Storage) -> None:
    results = store.batch([
        ("INSERT INTO chat_context(chat, data, updated) VALUES (?, ?, ?)", ("b1", "it's 100% {}", 1.0)),
        ("UPDATE chat_context SET updated = updated + 1 WHERE chat = ? RETURNING data, updated", ("b1",)),
        ("SELECT COUNT(*) FROM chat_context WHERE chat = ?", ("nobody",)),
    ])
    assert results == [[], [("it's 100% {}", 2.0)], [(0,)]]  # quotes and % in values are only values
    with pytest.raises(Exception):  # the second fails (the chat is taken): the first is undone with it
        store.batch([("INSERT INTO chat_context(chat, data, updated) VALUES (?, ?, ?)", ("b2", "{}", 1.0)),
                     ("INSERT INTO chat_context(chat, data, updated) VALUES (?, ?, ?)", ("b1", "{}", 1.0))])
    assert store.load_context("b2") is None and store.load_context("b1") == "it's 100% {}"
    assert store.batch([("SELECT data FROM chat_context WHERE chat = ?", ("b1",))]) == [[("it's 100% {}",)]]


def test_concurrent_writers_lose_nothing(store: Storage) -> None:
    games = GameStore(store)

    def credit() -> None:
        for _ in range(25):
            with games.hold("c") as held:
                held.save(held.game or a_game("g"), [("7", "Ann", 1, 1)])

    threads = [threading.Thread(target=credit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert store.quiz_scores("c") == [("7", "Ann", 100, 100)]


def test_an_old_sqlite_file_is_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    """A file made before migrations were versioned (a ``user`` column, no ``undoes``) opens as current."""
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE quiz_scores (chat TEXT NOT NULL, user TEXT NOT NULL, name TEXT NOT NULL,
                points INTEGER NOT NULL DEFAULT 0, correct INTEGER NOT NULL DEFAULT 0,
                games INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL, PRIMARY KEY (chat, user));
            INSERT INTO quiz_scores VALUES ('c', '7', 'Ann', 4, 2, 1, 0);
            CREATE TABLE audit (id INTEGER PRIMARY KEY, at REAL NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,
                target TEXT, file TEXT, before TEXT, after TEXT, source TEXT, undone INTEGER NOT NULL DEFAULT 0);
            INSERT INTO audit(at, who, action) VALUES (1, 'cli', 'set');""")
    store = open_storage(path)
    assert store.applied_migrations() == {m.version for m in MIGRATIONS}
    assert store.quiz_scores("c") == [("7", "Ann", 4, 2)]
    assert store.audit_log()[0].who == "cli"
    store.close()


def test_postgresql_refuses_a_schema_that_is_behind_and_upgrades_once(pg: PgSchema) -> None:
    with pytest.raises(SchemaBehind, match="db upgrade"):
        open_storage(pg.url)
    results: list[list[int]] = []

    def upgrade() -> None:
        s = open_storage(pg.url, check_schema=False)
        results.append(s.upgrade())
        s.close()

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(map(len, results)) == [0, 0, len(MIGRATIONS)]  # one upgrader applied all; the others none
    store = open_storage(pg.url)
    assert store.applied_migrations() == {m.version for m in MIGRATIONS}
    store.close()


def test_an_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(StorageError, match=r"cannot reach the database at postgresql://bot:\*\*\*@127\.0\.0\.1:1/x"):
        from bot.storage.postgres import PostgresStorage
        PostgresStorage("postgresql://bot:secret@127.0.0.1:1/x", timeout=2)


def _bot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=ROOT)


def test_the_command_line_upgrades_then_keeps_its_audit_in_postgresql(pg: PgSchema, project: Path) -> None:
    env = dict(os.environ, BOT_CONFIG=str(project), BOT_DATABASE=pg.url)
    before = _bot("kb", "undo", env=env)
    assert before.returncode == 1 and "db upgrade" in before.stderr and "Traceback" not in before.stderr
    assert _bot("db", "status", env=env).returncode == 1
    up = _bot("db", "upgrade", env=env)
    assert up.returncode == 0 and f"version {latest()}" in up.stderr, up.stderr
    assert "nothing to apply" in _bot("db", "upgrade", env=env).stderr
    assert _bot("db", "status", env=env).returncode == 0
    facts = json.loads(_bot("kb", "show", "Ballerina", "--json", env=env).stdout)
    relation = facts[0]["relation"]
    assert _bot("kb", "set", "Ballerina", relation, "a value set in a test", "--source", "a test",
                env=env).returncode == 0
    assert pg.execute("SELECT action, pending, undone FROM audit WHERE file IS NOT NULL") == [("set", 0, 0)]
    assert _bot("kb", "undo", env=env).returncode == 0
    assert json.loads(_bot("kb", "show", "Ballerina", "--json", env=env).stdout) == facts
    assert pg.execute("SELECT count(*) FROM audit WHERE undone = 1")[0][0] == 1
    asked = _bot("ask", "--json", "who directs ballerina?", env=env)
    assert asked.returncode == 0 and json.loads(asked.stdout)["kind"] == "answer", asked.stderr


async def test_bookkeeping_not_kept_durably_is_committed_and_seen_by_every_worker_at_once(database: str) -> None:
    """``durable=False`` (a chat's context, an attempt counted) changes when a commit reaches the disk, never
    what the other workers see: the write is committed when the call returns, sync or async, batch or not."""
    one, other = open_storage(database), open_storage(database)
    insert = "INSERT INTO chat_context(chat, data, updated) VALUES (?, ?, ?)"
    try:
        one.query(insert, ("d1", "one", 1.0), durable=False)
        assert other.load_context("d1") == "one"
        assert one.batch([(insert, ("d2", "two", 1.0)), ("SELECT COUNT(*) FROM chat_context", ())],
                         durable=False) == [[], [(2,)]]
        await one.aquery(insert, ("d3", "three", 1.0), durable=False)
        await one.abatch([("UPDATE chat_context SET data = ? WHERE chat = ?", ("four", "d1"))], durable=False)
        assert [other.load_context(c) for c in ("d2", "d3", "d1")] == ["two", "three", "four"]
        one.save_context("d4", "five")  # bookkeeping of its own kind
        assert other.load_context("d4") == "five"
        if one.kind == "postgresql":  # its commits do not wait for the disk; the others' still do
            assert one.query("SHOW synchronous_commit", durable=False) == [("off",)]
            assert (await one.aquery("SHOW synchronous_commit", durable=False)) == [("off",)]
            assert one.query("SHOW synchronous_commit") == other.query("SHOW synchronous_commit")  # the server's own
    finally:
        await one.aclose()
        one.close()
        other.close()


async def test_writes_nobody_waits_for_go_out_together_and_a_failure_reaches_each_of_them(database: str) -> None:
    """``abehind``: the writes queued while one round trip is on its way go out together as the next one (a
    send's delivered mark and its place's date, from many sends ending at once), each committed when its
    call returns and seen by every worker; a round trip that fails fails each write in it, and the next
    writes go on."""
    import asyncio

    one, other = open_storage(database), open_storage(database)
    trips: list[int] = []
    real = one.abatch

    async def counted(statements, *, durable=True):  # type: ignore[no-untyped-def]
        trips.append(len(statements))
        return await real(statements, durable=durable)

    one.abatch = counted  # type: ignore[method-assign]
    insert = "INSERT INTO chat_context(chat, data, updated) VALUES (?, ?, ?)"
    try:
        await asyncio.gather(*(one.abehind([(insert, (f"w{n}", str(n), 1.0))], durable=False) for n in range(20)))
        assert [other.load_context(f"w{n}") for n in (0, 7, 19)] == ["0", "7", "19"]
        assert len(trips) <= 2 and sum(trips) == 20  # the first alone, the rest queued behind it: one more
        outcomes = await asyncio.gather(one.abehind([(insert, ("w0", "again", 1.0))], durable=False),  # a duplicate key
                                        one.abehind([(insert, ("w20", "20", 1.0))], durable=False),
                                        return_exceptions=True)
        assert all(isinstance(o, Exception) for o in outcomes)
        await one.abehind([(insert, ("w21", "21", 1.0))])
        assert other.load_context("w21") == "21" and other.load_context("w0") == "0"
    finally:
        await one.aclose()
        one.close()
        other.close()
