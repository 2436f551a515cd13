"""Quiz games in the database, shared by engines of several workers: the rules hold under races, on both backends.

Each engine has its own connection(s), as two processes would; the races are real threads.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.config import Settings
from bot.knowledge.base import KnowledgeBase
from bot.quiz import Outcome, QuizEngine, QuizError, Verdict
from bot.quiz.engine import Asked, Finished, Revealed
from bot.storage import Storage, open_storage
from tests.support.postgres import PgSchema
from tests.support.quiz import Clock, engines, kb, opened, right_text, shown  # noqa: F401 (fixtures)

def test_racing_right_answers_at_two_workers_score_one_winner_exactly(settings: Settings, kb: KnowledgeBase,
                                                                      database: str, opened: list[Storage]) -> None:
    clock = Clock()
    a, b = engines(settings, kb, database, clock, opened)
    a.start("g", "ann", count=3, mode="text")
    totals: dict[str, int] = {}
    for number in (1, 2, 3):
        steps = b.advance("g")  # whichever worker: the game is the database's
        assert [type(s) for s in steps] == [Asked]
        clock.now += 1
        answer = right_text(a, "g")
        players = [(engine, f"p{i}") for i, engine in enumerate([a, b] * 4)]
        barrier = threading.Barrier(len(players))

        def answer_as(pair: tuple[QuizEngine, str]) -> tuple[str, object]:
            engine, user = pair
            barrier.wait(timeout=10)
            return user, engine.answer_text("g", user, user.upper(), answer)

        with ThreadPoolExecutor(len(players)) as pool:
            outcomes = list(pool.map(answer_as, players))
        winners = [(user, o) for user, o in outcomes if o.verdict is Verdict.CORRECT]  # type: ignore[attr-defined]
        assert len(winners) == 1, outcomes
        user, outcome = winners[0]
        assert [type(s) for s in outcome.steps] == [Revealed]  # type: ignore[attr-defined]
        totals[user] = totals.get(user, 0) + outcome.points  # type: ignore[attr-defined]
    steps = a.advance("g")
    assert [type(s) for s in steps] == [Finished]
    assert b.advance("g") == []  # already taken: a step happens once
    board = {s.user: s.points for s in a.leaderboard("g")}
    assert board == totals and {u: p for u, _, p, _ in b.storage.quiz_scores("g")} == totals


def test_a_timer_fires_once_however_many_workers_poll_it(settings: Settings, kb: KnowledgeBase, database: str,
                                                         opened: list[Storage]) -> None:
    clock = Clock()
    workers = engines(settings, kb, database, clock, opened, n=3)
    for chat in ("g1", "g2", "g3"):
        workers[0].start(chat, "ann", count=1, mode="text")
        workers[0].advance(chat)
        shown(workers[0], chat)
    clock.now += settings.quiz.seconds + 1  # every question's hint and deadline are due
    barrier = threading.Barrier(len(workers))

    def poll(engine: QuizEngine) -> list[tuple[str, str]]:
        barrier.wait(timeout=10)
        fired = []
        for _ in range(5):
            fired += [(f.chat, f.kind) for f in engine.fire_due(limit=2)]
        return fired

    with ThreadPoolExecutor(len(workers)) as pool:
        fired = [event for events in pool.map(poll, workers) for event in events]
    assert sorted(fired) == sorted((chat, kind) for chat in ("g1", "g2", "g3") for kind in ("deadline", "hint"))
    clock.now += settings.quiz.pause + 1
    ended = [f for engine in workers for f in engine.fire_due()]
    assert sorted(f.chat for f in ended) == ["g1", "g2", "g3"]
    assert all(isinstance(f.steps[0], Finished) for f in ended)
    assert all(engine.fire_due() == [] for engine in workers) and workers[1].running("g1") is None


def test_a_claim_held_by_a_worker_that_dies_is_fired_by_another(settings: Settings, kb: KnowledgeBase,
                                                                pg: PgSchema, opened: list[Storage]) -> None:
    """PostgreSQL only: SQLite has one writer at a time, so a held claim blocks the file rather than being
    skipped (and one process is the honest way to run it)."""
    upgrader = open_storage(pg.url, check_schema=False)
    upgrader.upgrade()
    upgrader.close()
    clock = Clock()
    a, b = engines(settings, kb, pg.url, clock, opened)
    a.start("g", "ann", count=2, mode="poll")
    a.advance("g")
    shown(a, "g")
    clock.now += settings.quiz.seconds + 1
    claimed = threading.Event()
    die = threading.Event()

    class Died(Exception):
        pass

    def dying_worker() -> None:
        with pytest.raises(Died):
            with a.store.claim_due(clock.now, 10) as batch:
                assert [d.kind for held in batch for d in held.dues] == ["deadline"]
                claimed.set()
                die.wait(timeout=10)
                raise Died  # the process is gone before its commit: PostgreSQL rolls the claim back

    thread = threading.Thread(target=dying_worker)
    thread.start()
    try:
        assert claimed.wait(timeout=10)
        assert b.fire_due() == []  # held by the other worker: skipped, not waited for
    finally:
        die.set()
        thread.join(timeout=10)
    (fired,) = b.fire_due()
    assert fired.kind == "deadline" and [type(s) for s in fired.steps] == [Revealed]
    assert b.fire_due() == []


def test_one_running_game_per_chat_whoever_starts_it(settings: Settings, kb: KnowledgeBase, database: str,
                                                     opened: list[Storage]) -> None:
    clock = Clock()
    workers = engines(settings, kb, database, clock, opened, n=4)
    barrier = threading.Barrier(len(workers))

    def start(engine: QuizEngine) -> str:
        barrier.wait(timeout=10)
        try:
            engine.begin("g", "ann", count=2, mode="text")
        except QuizError as exc:
            return str(exc)
        return "started"

    with ThreadPoolExecutor(len(workers)) as pool:
        results = list(pool.map(start, workers))
    assert results.count("started") == 1
    assert all("already running" in r for r in results if r != "started")


def test_a_game_saved_before_timers_lived_in_the_database_gets_its_deadline(settings: Settings, kb: KnowledgeBase,
                                                                            database: str, opened: list[Storage]
                                                                            ) -> None:
    clock = Clock()
    a, b = engines(settings, kb, database, clock, opened)
    a.start("g", "ann", count=2, mode="text")
    a.advance("g")
    shown(a, "g")
    a.storage.query("DELETE FROM quiz_timers")  # as a file from before migration 5 has it
    assert a.fire_due(now=clock.now + 3600) == []
    assert a.repair() == 1 and b.repair() == 0  # once, whichever workers start
    clock.now += settings.quiz.seconds + 1
    fired = b.fire_due()
    assert [f.kind for f in fired] == ["deadline"] and isinstance(fired[0].steps[0], Revealed)


def test_an_old_file_with_a_chat_running_two_games_keeps_the_latest(tmp_path: Path) -> None:
    import sqlite3

    from bot.storage.migrations import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied REAL NOT NULL)")
    for m in MIGRATIONS:
        if m.version <= 2:  # the schema as the last release left it
            m.sqlite(db) if callable(m.sqlite) else [db.execute(s) for s in m.sqlite.split(";") if s.strip()]
            db.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (m.version, m.name))
    # two processes each resumed the chat's game and saved their copy: the bug this migration ends
    for game_id, updated in (("old", 1.0), ("new", 2.0), ("elsewhere", 1.0)):
        chat = "other" if game_id == "elsewhere" else "g"
        db.execute("INSERT INTO quiz_games VALUES (?, ?, 'running', '{}', ?)", (game_id, chat, updated))
    db.close()
    storage = open_storage(path)  # the embedded default upgrades itself
    try:
        running = storage.query("SELECT id FROM quiz_games WHERE status = 'running' ORDER BY id")
        assert [r[0] for r in running] == ["elsewhere", "new"]
        assert 5 in storage.applied_migrations()
    finally:
        storage.close()


def test_an_answer_judged_before_its_question_was_recorded_is_revealed_once(settings: Settings, kb: KnowledgeBase,
                                                                              database: str, opened: list[Storage]
                                                                              ) -> None:
    """Worker A asks; a quick player's answer reaches worker B before A has saved the message's id. B has
    nothing to edit, so A, recording it, shows the reveal: once, by one of them."""
    clock = Clock()
    a, b = engines(settings, kb, database, clock, opened)
    a.start("g", "ann", count=2, mode="text")
    (asked,) = a.advance("g")
    outcome = b.answer_text("g", "bob", "Bob", right_text(b, "g"))
    (revealed,) = outcome.steps
    assert isinstance(revealed, Revealed) and revealed.result.round.message_id is None
    (late,) = a.attach("g", 1, 77)
    assert isinstance(late, Revealed) and late.result.round.message_id == 77
    assert late.result.reason == "answered" and late.result.points == {"bob": outcome.points}
    assert b.answer_text("g", "cy", "Cy", right_text(b, "g")).verdict is None  # the round is over


def test_votes_that_come_before_their_poll_is_recorded_are_scored_when_it_is(settings: Settings, kb: KnowledgeBase,
                                                                            database: str, opened: list[Storage]
                                                                            ) -> None:
    """Worker A sends the poll; quick players' votes reach B, and A itself, before A has sendPoll's answer
    (the poll's id) recorded. Each counts, with the time it came, once the record is made."""
    clock = Clock()
    a, b = engines(settings, kb, database, clock, opened)
    a.start("g", "ann", count=2, mode="poll")
    (asked,) = a.advance("g")
    assert isinstance(asked, Asked)
    right = asked.round.correct[0]
    wrong = next(i for i in range(len(asked.round.options)) if i not in asked.round.correct)
    clock.now += 1
    waiting = Outcome(None, waiting=True)
    assert b.answer_poll("p1", "bob", "Bob", [right]) == waiting  # at the other worker
    assert a.answer_poll("p1", "cy", "Cy", [wrong]) == waiting  # at the sender, still sending
    assert b.answer_poll("p1", "bob", "Bob", [wrong]) == waiting  # one try: the first one counts
    clock.now += 5  # the record comes late (a busy worker): the votes' own time counts, not the record's
    a.attach("g", 1, 101, "p1", shown_at=clock.now)
    game = b.running("g")
    assert game and game.round and game.round.winners == ["bob"] and sorted(game.round.tried) == ["bob", "cy"]
    full = {s.user: s.points for s in a.leaderboard("g")}
    assert set(full) == {"bob"} and full["bob"] == game.players["bob"].points > 0
    # a vote after the record is judged at once, at any worker; nothing is left waiting
    clock.now += settings.quiz.seconds / 2
    dan = b.answer_poll("p1", "dan", "Dan", [right])
    assert dan is not None and dan.verdict is Verdict.CORRECT and not dan.waiting
    assert full["bob"] > dan.points  # Bob was quicker
    assert a.storage.query("SELECT COUNT(*) FROM quiz_votes_waiting")[0][0] == 0


def test_a_vote_racing_its_poll_s_record_is_scored_once_whichever_commits_first(settings: Settings, kb: KnowledgeBase,
                                                                               database: str, opened: list[Storage]
                                                                               ) -> None:
    """The record (worker A) and the vote (worker B) at the same moment, many times: the vote is matched to
    its poll however the two interleave, never lost between B's look and A's commit, never scored twice."""
    clock = Clock()
    a, b = engines(settings, kb, database, clock, opened)
    right: dict[str, int] = {}
    for n in range(12):
        chat = f"g{n}"
        a.start(chat, "ann", count=1, mode="poll")
        (asked,) = a.advance(chat)
        assert isinstance(asked, Asked)
        right[chat] = asked.round.correct[0]
    barrier = threading.Barrier(2)

    def record(chat: str) -> None:
        barrier.wait(timeout=10)
        a.attach(chat, 1, 101, f"poll-{chat}")

    def vote(chat: str) -> None:
        barrier.wait(timeout=10)
        b.answer_poll(f"poll-{chat}", "bob", "Bob", [right[chat]])

    with ThreadPoolExecutor(2) as pool:
        for chat in right:
            for done in [pool.submit(record, chat), pool.submit(vote, chat)]:
                done.result(timeout=30)
    scored = {chat: [(s.user, s.correct) for s in a.leaderboard(chat)] for chat in right}
    assert scored == {chat: [("bob", 1)] for chat in right}


_BANK_DIGEST = """
import datetime as dt, hashlib, sys
from bot.config import load_settings
from bot.knowledge.base import KnowledgeBase
from bot.quiz.bank import bank_for
settings = load_settings(env={})
bank = bank_for(KnowledgeBase.load(settings.knowledge), settings.quiz_file, dt.date(2026, 1, 1))
print(len(bank.questions), hashlib.sha256(repr(sorted(map(repr, bank.questions))).encode()).hexdigest())
"""


def test_every_worker_builds_the_same_question_bank_whatever_its_hash_seed() -> None:
    """Workers are processes, each with its own hash seed (the order of its sets). A bank that follows it
    gave half the workers four questions the others lacked (a film directed beside a title with no entity):
    a vote on one of them, judged at a worker without it, scored nothing (bench_cluster, 4 workers)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    digests = {subprocess.run([sys.executable, "-c", _BANK_DIGEST], cwd=root, capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
               for seed in (1, 2, 5, 8)}  # 2 and 5 ordered that film's answers apart from 1 and 8 before
    assert len(digests) == 1, digests


def test_a_right_vote_counts_at_a_worker_whose_bank_lacks_its_question(settings: Settings, kb: KnowledgeBase,
                                                                       database: str, opened: list[Storage]
                                                                       ) -> None:
    """The round's own options judge a vote: a worker that cannot find the question (its bank was built
    from knowledge edited since) still scores a right vote, and refuses a wrong one."""
    from bot.quiz.bank import QuestionBank

    clock = Clock()
    a, b = engines(settings, kb, database, clock, opened)
    b.bank = lambda: QuestionBank(())  # nothing of what A asks
    a.start("g", "ann", count=1, mode="poll")
    (asked,) = a.advance("g")
    assert isinstance(asked, Asked)
    a.attach("g", 1, 101, "p1", shown_at=clock.now)
    right = asked.round.correct[0]
    wrong = next(i for i in range(len(asked.round.options)) if i not in asked.round.correct)
    clock.now += 1
    bob = b.answer_poll("p1", "bob", "Bob", [right])
    cy = b.answer_poll("p1", "cy", "Cy", [wrong])
    assert bob is not None and bob.verdict is Verdict.CORRECT and bob.points > 0
    assert cy is not None and cy.verdict is Verdict.WRONG
    assert {u: p for u, _, p, _ in a.storage.quiz_scores("g")} == {"bob": bob.points}
