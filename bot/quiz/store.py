"""Where quiz games live: in the database, read and changed only inside a transaction that holds the game.

Every worker of one bot shares one database, so a game has no home process. A change to a game (an answer,
a skip, a timer) opens a transaction, locks the game's row (``Storage.row_lock``: PostgreSQL's
``SELECT .. FOR UPDATE``; SQLite's transactions hold the whole file), lets the engine's rules change it, and
writes it back with the points it earned, the timers it set and the poll it asked, before committing. Two
workers judging answers in one chat therefore take turns, each seeing the other's result.

A timer is a row of ``quiz_timers`` (game, kind, round number, due time). Any worker claims a due one with
``FOR UPDATE SKIP LOCKED`` on the timer and its game together, and deletes it in the transaction that
applies it: it fires once, and a worker that dies before committing leaves it to the next one.

A poll's votes lead to its game through ``quiz_polls``, written by the worker that sent the poll once
sendPoll's answer told it the poll's id (QuizEngine.attach). A quick voter's vote can reach any worker
before that, so a vote whose poll is not recorded yet waits in ``quiz_votes_waiting`` and is judged in the
transaction that records the poll. The two meet on no common row (the vote knows only the poll's id, the
record is a row being inserted), so each takes the poll's lock (``Storage.tx_lock``) between writing its
own side and reading the other's: whichever comes second sees what the first committed. The vote takes no
other lock while it holds that one, and the record takes it last, so the two never deadlock.
"""
from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ..storage import Storage, Tx
from ..storage.base import Args
from .state import Game

Points = Sequence[tuple[str, str, int, int]]  # (user, name, points gained, right answers gained)
POLL_LOCK = "quiz-poll/"  # + a poll's id: a vote waiting for its poll and the poll's record take turns
WAITING_KEPT = 3600.0  # s: a waiting vote whose poll is never recorded (a send given up on) is dropped after
KINDS = ("hint", "deadline", "next")
SHOW = "show-"  # a fired timer's steps still to be recorded in the outbox: "show-<kind>" (see Shown)


@dataclass
class Shown:
    """A fired timer whose steps are still to be shown: the row ``show-<kind>`` the firing transaction wrote,
    due a little later. The first message of those steps is recorded in the outbox in the transaction that
    deletes the row (``statement``), so either this worker records it, or, if it died after the commit
    (before the record), the row falls due and any worker's poller shows the steps again, derived from the
    game (QuizEngine._fire): never both, and never neither. ``taken``: the row's fate is settled."""

    game: str
    kind: str  # "show-next" (a question), "show-deadline" (a reveal), "show-hint", "show-end" ("Quiz over")
    number: int
    taken: bool = False

    def statement(self) -> tuple[str, tuple[object, ...]]:
        return ("DELETE FROM quiz_timers WHERE game = ? AND kind = ? AND number = ? RETURNING game",
                (self.game, self.kind, self.number))


@dataclass(frozen=True)
class Due:
    """A claimed timer: what fires (``kind``), for which round ``number``, and when it was due."""

    kind: str
    number: int
    due_at: float


@dataclass(frozen=True)
class Vote:
    """A poll answer: who chose which options, and when it came (its time counts, not its judging's)."""

    poll_id: str
    user: str
    name: str
    options: tuple[int, ...]
    at: float


@dataclass
class Held:
    """A game held by this transaction (None: no game running in the chat). Writes go through it so they
    commit, or vanish, with the game's change."""

    tx: Tx
    game: Game | None
    dues: list[Due] = field(default_factory=list)  # claimed timers of this game, earliest first
    tx_lock: Callable[[str], tuple[str, Args] | None] = field(default=lambda _name: None, repr=False)  # Storage's
    earliest: float | None = field(default=None, init=False)  # the earliest timer set, to wake the poller

    def save(self, game: Game, points: Points = (), finished: Sequence[str] = ()) -> None:
        now = time.time()
        self.tx.query("INSERT INTO quiz_games(id, chat, status, state, updated) VALUES (?,?,?,?,?) "
                      "ON CONFLICT(id) DO UPDATE SET status = excluded.status, state = excluded.state, "
                      "updated = excluded.updated", (game.id, game.chat, game.status, game.to_json(), now))
        for user, name, gained, correct in points:
            self.tx.query("INSERT INTO quiz_scores(chat, player, name, points, correct, games, updated) "
                          "VALUES (?,?,?,?,?,0,?) ON CONFLICT(chat, player) DO UPDATE SET name = excluded.name, "
                          "points = quiz_scores.points + excluded.points, "
                          "correct = quiz_scores.correct + excluded.correct, updated = excluded.updated",
                          (game.chat, user, name, gained, correct, now))
        for user in finished:
            self.tx.query("UPDATE quiz_scores SET games = games + 1 WHERE chat = ? AND player = ?", (game.chat, user))

    def set_timer(self, game: Game, kind: str, number: int, due_at: float) -> None:
        self.tx.query("INSERT INTO quiz_timers(game, kind, number, due_at) VALUES (?,?,?,?) "
                      "ON CONFLICT(game, kind) DO UPDATE SET number = excluded.number, due_at = excluded.due_at",
                      (game.id, kind, number, due_at))
        self.earliest = due_at if self.earliest is None else min(self.earliest, due_at)

    def take_timer(self, game: Game, kind: str) -> bool:
        """Remove a pending timer; whether it was there (if not, its step was already taken)."""
        return bool(self.tx.query("DELETE FROM quiz_timers WHERE game = ? AND kind = ? RETURNING kind",
                                  (game.id, kind)))

    def clear_timers(self, game: Game, *kinds: str) -> None:
        for kind in kinds or KINDS:
            self.tx.query("DELETE FROM quiz_timers WHERE game = ? AND kind = ?", (game.id, kind))

    def add_poll(self, poll_id: str, game: Game) -> None:
        self.tx.query("INSERT INTO quiz_polls(poll_id, game, chat) VALUES (?,?,?) ON CONFLICT(poll_id) DO NOTHING",
                      (poll_id, game.id, game.chat))

    def take_waiting(self, poll_id: str) -> list[Vote]:
        """The votes that came for ``poll_id`` before it was recorded (``add_poll`` first), taken from the
        waiting table: they are this transaction's to judge."""
        lock = self.tx_lock(POLL_LOCK + poll_id)
        if lock is not None:
            self.tx.query(*lock)
        rows = self.tx.query("DELETE FROM quiz_votes_waiting WHERE poll_id = ? RETURNING player, name, options, at",
                             (poll_id,))
        votes = [Vote(poll_id, str(u), str(n), tuple(json.loads(str(o))), float(at))  # type: ignore[arg-type]
                 for u, n, o, at in rows]
        return sorted(votes, key=lambda v: v.at)

    def drop_polls(self, game: Game) -> None:
        self.tx.query("DELETE FROM quiz_polls WHERE game = ?", (game.id,))


class GameStore:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    # reads, unlocked: what a worker may glance at before deciding to take the game -------------------
    def running(self, chat: str) -> Game | None:
        rows = self.storage.query("SELECT state FROM quiz_games WHERE chat = ? AND status = 'running'", (chat,))
        return Game.from_json(str(rows[0][0])) if rows else None

    def running_count(self) -> int:
        return int(self.storage.query("SELECT COUNT(*) FROM quiz_games WHERE status = 'running'")[0][0])  # type: ignore[call-overload]

    def chat_of_poll(self, poll_id: str) -> str | None:
        rows = self.storage.query("SELECT p.chat FROM quiz_polls p JOIN quiz_games g ON g.id = p.game "
                                  "WHERE p.poll_id = ? AND g.status = 'running'", (poll_id,))
        return str(rows[0][0]) if rows else None

    def wait_for_poll(self, vote: Vote) -> str | bool:
        """The chat of the vote's poll, if it is recorded by now; else True, the vote kept to wait for the
        poll's record (``take_waiting``; a player's first vote on a poll only); False when no game is
        running at all (an old poll's vote: nothing to wait for). Under the poll's lock, so the record
        cannot slip in between the look and the write (see the module's docstring)."""
        with self.storage.transaction() as tx:
            lock = self.storage.tx_lock(POLL_LOCK + vote.poll_id)
            if lock is not None:
                tx.query(*lock)
            rows = tx.query("SELECT p.chat FROM quiz_polls p JOIN quiz_games g ON g.id = p.game "
                            "WHERE p.poll_id = ? AND g.status = 'running'", (vote.poll_id,))
            if rows:
                return str(rows[0][0])
            if not tx.query("SELECT 1 FROM quiz_games WHERE status = 'running' LIMIT 1"):
                return False
            tx.query("DELETE FROM quiz_votes_waiting WHERE at < ?", (vote.at - WAITING_KEPT,))
            tx.query("INSERT INTO quiz_votes_waiting(poll_id, player, name, options, at) VALUES (?, ?, ?, ?, ?) "
                     "ON CONFLICT(poll_id, player) DO NOTHING",
                     (vote.poll_id, vote.user, vote.name, json.dumps(list(vote.options)), vote.at))
            return True

    def any_running(self) -> bool:
        return bool(self.storage.query("SELECT 1 FROM quiz_games WHERE status = 'running' LIMIT 1"))

    def next_due(self) -> float | None:
        """When the earliest timer of any worker is due (None: no timers at all)."""
        rows = self.storage.query("SELECT MIN(due_at) FROM quiz_timers")
        return float(rows[0][0]) if rows and rows[0][0] is not None else None  # type: ignore[arg-type]

    def untimed(self) -> list[str]:
        """Chats whose running game has no timer: games saved before timers lived in the database."""
        rows = self.storage.query("SELECT chat FROM quiz_games g WHERE status = 'running' AND NOT EXISTS "
                                  "(SELECT 1 FROM quiz_timers t WHERE t.game = g.id)")
        return [str(r[0]) for r in rows]

    def hurry(self, chat: str, kind: str, at: float) -> bool:
        """Make the running game's ``kind`` timer due ``at`` (a clock reaching it sooner); whether it exists."""
        return bool(self.storage.query(
            "UPDATE quiz_timers SET due_at = ? WHERE kind = ? AND game = "
            "(SELECT id FROM quiz_games WHERE chat = ? AND status = 'running') RETURNING game", (at, kind, chat)))

    # writes, each in one transaction that holds the game -----------------------------------------------
    @contextlib.contextmanager
    def hold(self, chat: str) -> Iterator[Held]:
        """The chat's running game, locked until the block ends; what the block writes commits with it."""
        with self.storage.transaction() as tx:
            rows = tx.query("SELECT state FROM quiz_games WHERE chat = ? AND status = 'running'"
                            + self.storage.row_lock(), (chat,))
            yield Held(tx, Game.from_json(str(rows[0][0])) if rows else None, tx_lock=self.storage.tx_lock)

    @contextlib.contextmanager
    def claim_due(self, now: float, limit: int) -> Iterator[list[Held]]:
        """Up to ``limit`` timers due by ``now`` that no other worker holds, earliest first, grouped by game
        with each game locked, the timers already deleted; all in one transaction, so each is fired once and
        a worker dying before the commit leaves them all to another. Skipping held rows never waits, so two
        pollers, or a poller and an answer, never deadlock: the answer waits for the game, the poller moves on."""
        with self.storage.transaction() as tx:
            rows = tx.query("SELECT t.game, t.kind, t.number, t.due_at, g.state, g.status FROM quiz_timers t "
                            "JOIN quiz_games g ON g.id = t.game WHERE t.due_at <= ? ORDER BY t.due_at LIMIT ?"
                            + self.storage.row_lock(skip_locked=True, of="t, g"), (now, limit))
            if not rows:
                orphans = tx.query("SELECT game, kind FROM quiz_timers t WHERE due_at <= ? AND NOT EXISTS "
                                   "(SELECT 1 FROM quiz_games g WHERE g.id = t.game) LIMIT 100", (now,))
                for game_id, kind in orphans:
                    tx.query("DELETE FROM quiz_timers WHERE game = ? AND kind = ?", (game_id, kind))
            games: dict[str, Held] = {}
            for game_id, kind, number, due_at, state, status in rows:
                tx.query("DELETE FROM quiz_timers WHERE game = ? AND kind = ?", (game_id, kind))
                held = games.get(str(game_id))
                if held is None:  # a finished game's steps may still be to show ("Quiz over")
                    game = Game.from_json(str(state)) if status == "running" or str(kind).startswith(SHOW) else None
                    held = games[str(game_id)] = Held(tx, game, tx_lock=self.storage.tx_lock)
                held.dues.append(Due(str(kind), int(number), float(due_at)))  # type: ignore[call-overload, arg-type]
            yield list(games.values())

    def settle(self, shown: Shown) -> None:
        """The steps of ``shown`` sent nothing to record (a poll's reveal, a hint with no message yet)."""
        if not shown.taken:
            shown.taken = True
            self.storage.query(*shown.statement())

    def postpone_due(self, now: float, until: float) -> None:
        """Move the earliest due timer that nobody holds to ``until``: one that fails every time it fires
        (a broken game) must not keep the poller from the others."""
        with self.storage.transaction() as tx:
            rows = tx.query("SELECT game, kind FROM quiz_timers WHERE due_at <= ? ORDER BY due_at LIMIT 1"
                            + self.storage.row_lock(skip_locked=True), (now,))
            for game_id, kind in rows:
                tx.query("UPDATE quiz_timers SET due_at = ? WHERE game = ? AND kind = ?", (until, game_id, kind))
