"""The quiz game engine: pure rules over an injected clock, random seed and question bank, applied to games
that live in the database (bot/quiz/store.py).

It never sends anything and never sleeps. Each public change is one transaction: the game is read with its
row locked, the rules change it, and it is written back with the points it earned and the timers it set
(a question's hint and deadline, the pause before the next one) before the lock is let go. So any worker
may take any step of any game, each step happens once, and a crash keeps every point already scored. What
a step means for the chat comes back as ``Step`` values for the runner to send once the change is saved.
"""
from __future__ import annotations

import contextlib
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass
from typing import Callable, Union

from ..config import QuizSettings
from ..storage import Storage
from ..storage.base import Args
from .bank import FALSE, TRUE, Question, QuestionBank
from .matching import Verdict, normalize
from .state import Game, Player, Round, Standing, rank
from .store import SHOW, GameStore, Held, Points, Shown, Vote

log = logging.getLogger(__name__)
BASE_POINTS = {"easy": 100, "medium": 150, "hard": 200}
FALLBACK_DIFFICULTY = "medium"  # a right vote on a question this worker's bank lacks (see _judge_vote)
SPEED_BONUS = 50       # for an instant answer, falling to 0 at the deadline
STREAK_BONUS = 25      # per consecutive correct answer after the first...
MAX_STREAK_BONUS = 100  # ...up to this
LATE_GRACE = 1.0       # seconds: a message sent just before the deadline may arrive just after it
POISON_DELAY = 5.0     # seconds: a timer that fails to fire is tried again this much later
SKIP_PAUSE = 0.5       # seconds between a skipped question's reveal and the next one
START_GRACE = 2.0      # seconds: a new game's first question is asked at once by its starter, or by any
                       # worker's poller this long after, if the starter died before asking it
SHOW_LIMIT = 60.0      # seconds: a question's time starts when it is shown (see attach); one not shown this
                       # long after it was asked is closed as "unshown" and the game goes on. Telegram lets a
                       # group have 20 messages a minute, so in a busy group a question may wait that long
                       # for its turn; the outbox gives up on a post after a minute too (cluster/outbox.py)
ANSWERS_WAIT = 10.0    # seconds past a question's deadline (and LATE_GRACE) that its close waits, at most, for
                       # answers that came in time and wait in the inbox (QuizEngine.answers_waiting)
ANSWERS_LOOK = 0.5     # seconds between its looks
SHOW_GRACE = 15.0      # seconds: a fired timer's steps not recorded in the outbox this long after the firing
                       # commit (their worker died in between) are shown by any worker's poller (store.Shown)
MODES = ("poll", "text")
LEVELS = ("mixed", "easy", "medium", "hard")
CHAT_SETTINGS = ("questions", "seconds", "mode", "difficulty")  # what a chat's admins may change
YES = {"true", "yes", "y", "t", "correct", "right", "yep", "yeah", "true!"}
NO = {"false", "no", "n", "f", "wrong", "nope", "incorrect"}


class QuizError(Exception):
    """A request the rules refuse, with a message for the player."""


@dataclass(frozen=True)
class RoundResult:
    game: Game
    round: Round
    question: Question
    reason: str                  # "answered", "timeout", "skipped", "stopped", "restart", "unshown"
    points: dict[str, int]       # user -> points earned this round


# What a saved change asks the front to show; the runner sends them after the commit.
@dataclass(frozen=True)
class Asked:
    game: Game
    round: Round
    question: Question


@dataclass(frozen=True)
class Revealed:
    result: RoundResult
    late: bool = False           # its question's message was recorded after the round closed (a resend)


@dataclass(frozen=True)
class Hinted:
    game: Game
    message_id: int | None       # None: the question's message was not yet recorded when the hint fired
    question: Question
    hint: str


@dataclass(frozen=True)
class Finished:
    game: Game
    standings: list[Standing]
    stopped: bool


Step = Union[Asked, Revealed, Hinted, Finished]


@dataclass(frozen=True)
class Fired:
    """One timer fired: in which chat, what kind, when it was due, and what it asks to show (``shown``: the
    row to settle when the steps' first message is recorded)."""

    chat: str
    kind: str
    due_at: float
    steps: tuple[Step, ...]
    shown: Shown | None = None


@dataclass(frozen=True)
class Outcome:
    """What one answer did: ``verdict`` None means it was not an answer at all (no question open).
    ``steps`` is what to show for it (a right typed answer closes the round); ``nudge`` is whether this
    answer earns the question's one "close!" nudge."""

    verdict: Verdict | None
    points: int = 0
    first_try: bool = True
    steps: tuple[Step, ...] = ()
    nudge: bool = False
    waiting: bool = False  # a vote that came before its poll was recorded: judged when it is (attach)


class QuizEngine:
    def __init__(self, storage: Storage, bank: Callable[[], QuestionBank], defaults: QuizSettings,
                 clock: Callable[[], float] = time.time, seed: int | None = None,
                 pause: float | None = None) -> None:
        self.storage = storage
        self.store = GameStore(storage)
        self.bank = bank
        self.defaults = defaults
        self.clock = clock
        self.pause = defaults.pause if pause is None else pause  # between a reveal and the next question
        self._rng = random.Random(seed)
        self._snapshots: dict[str, Question] = {}   # questions in play, in case an edit drops them mid-round
        self._timer_listeners: list[Callable[[float], None]] = []
        # (chat, poll id or None, by) -> the statement whose row says an answer that came by then waits to be
        # judged: set where updates wait in an inbox before they are handled (several workers: the Telegram
        # front's webhook, bot/cluster/inbox.py answers_waiting); None where each is judged as it comes
        self.answers_waiting: Callable[[str, str | None, float], tuple[str, Args]] | None = None

    def on_timer(self, listener: Callable[[float], None]) -> None:
        """Call ``listener(due_at)`` after each saved change that set a timer (from the thread that saved it),
        so a poller in this process can wake for it rather than at its next look."""
        self._timer_listeners.append(listener)

    # settings ---------------------------------------------------------------------------------------
    def settings(self, chat: str) -> QuizSettings:
        stored = self.storage.quiz_settings(chat)
        return self.defaults.model_copy(update=json.loads(stored)) if stored else self.defaults

    def change_setting(self, chat: str, key: str, value: str) -> QuizSettings:
        current = self.settings(chat)
        key = key.lower().strip()
        aliases = {"n": "questions", "count": "questions", "time": "seconds", "timer": "seconds",
                   "level": "difficulty"}
        key = aliases.get(key, key)
        value = value.lower().strip()
        if key not in CHAT_SETTINGS:
            raise QuizError(f"There is no setting called {key!r}: try questions, seconds, mode or difficulty.")
        if key == "mode" and value not in MODES:
            raise QuizError("Mode is poll or text.")
        if key == "difficulty" and value not in LEVELS:
            raise QuizError("Difficulty is mixed, easy, medium or hard.")
        try:
            updated = QuizSettings.model_validate({**current.model_dump(), key: value})
        except ValueError:
            raise QuizError(_range_message(key)) from None
        changes = {k: v for k, v in updated.model_dump().items() if v != self.defaults.model_dump()[k]}
        self.storage.save_quiz_settings(chat, json.dumps(changes))
        return updated

    # reads (a snapshot: the game may change the moment after) -----------------------------------------
    def running(self, chat: str) -> Game | None:
        return self.store.running(chat)

    def running_count(self) -> int:
        return self.store.running_count()

    def chat_of_poll(self, poll_id: str) -> str | None:
        return self.store.chat_of_poll(poll_id)

    def question(self, game: Game) -> Question | None:
        """The round's question; falls back to the snapshot of it if the bank changed under it."""
        if not game.round:
            return None
        return self.bank().by_id(game.round.question_id) or self._snapshots.get(game.round.question_id)

    # game life: each method one transaction ---------------------------------------------------------
    def start(self, chat: str, user: str, count: int | None = None, mode: str | None = None) -> Game:
        """A new game, its first question pending (asked by ``advance``, or by any worker's poller after
        START_GRACE if this one dies first)."""
        return self._start(chat, user, count, mode, ask=False)[0]

    def begin(self, chat: str, user: str, count: int | None = None, mode: str | None = None
              ) -> tuple[Game, list[Step]]:
        """A new game with its first question asked, in one transaction (what /quiz does)."""
        return self._start(chat, user, count, mode, ask=True)

    def _start(self, chat: str, user: str, count: int | None, mode: str | None, ask: bool
               ) -> tuple[Game, list[Step]]:
        settings = self.settings(chat)
        total = settings.questions if count is None else count
        if not 1 <= total <= 50:
            raise QuizError("A quiz has between 1 and 50 questions.")
        mode = mode or settings.mode
        available = self.bank().topic_count(need_choice=mode == "poll")
        if available == 0:
            raise QuizError("I have no questions to ask yet.")
        already = QuizError("A quiz is already running here: answer along, or /stop it first.")
        steps: list[Step] = []
        try:
            with self.store.hold(chat) as held:
                if held.game is not None:
                    raise already
                game = Game(id=secrets.token_hex(6), chat=chat, mode=mode, seconds=settings.seconds,  # type: ignore[arg-type]
                            total=min(total, available), difficulty=settings.difficulty, started_by=user,
                            started_at=self.clock(), seed=self._rng.randrange(2**31))
                if ask:
                    steps = self._ask_or_finish(held, game)
                else:
                    held.save(game)
                    held.set_timer(game, "next", 0, self.clock() + START_GRACE)
        except QuizError:
            raise
        except Exception:
            # two workers starting a game in one chat at once: the database's one-running-game rule refused
            # the second (each backend names that error its own way: ask the database instead)
            if self.store.running(chat) is not None:
                raise already from None
            raise
        self._notify(held)
        return game, steps

    def advance(self, chat: str) -> list[Step]:
        """Take the game's pending "next" step now: ask the next question, or end the game when none is
        left. Nothing if another worker (or timer) took it first."""
        with self.store.hold(chat) as held:
            game = held.game
            if game is None or not held.take_timer(game, "next"):
                return []
            steps = self._ask_or_finish(held, game)
        self._notify(held)
        return steps

    def next_round(self, chat: str) -> tuple[Round, Question] | None:
        """Ask the next question now, or None when the game is over (and ended)."""
        game = self._game(chat)
        if game.round and not game.round.closed:
            raise QuizError("The current question is still open.")
        for step in self.advance(chat):
            if isinstance(step, Asked):
                return step.round, step.question
        return None

    def attach(self, chat: str, number: int, message_id: int | None, poll_id: str | None = None,
               game_id: str | None = None, shown_at: float | None = None) -> list[Step]:
        """Remember the message that shows round ``number`` (to edit it, and to know its poll's answers).
        The round's time starts now (``shown_at``: when the front saw it delivered), not when it was asked:
        in a busy group a question waits for its turn in Telegram's limits, and a poll posted late is open
        for its whole period, so its votes count for that whole period (bench_cluster: 42 of 150 right
        votes were lost while the deadline ran from the ask).
        A round closed, or hinted, before its message was known (a quick answer at another worker, or a
        question the outbox delivered late) had nothing to edit: its reveal or hint is this step's to show.
        ``game_id``: the game the message was sent for (a late delivery may find another game running)."""
        with self.store.hold(chat) as held:
            game = held.game
            if not game or not game.round or game.round.number != number or game_id not in (None, game.id):
                return []
            rnd = game.round
            if message_id is not None and not _shown(rnd) and not rnd.closed:
                rnd.shown_at = self.clock() if shown_at is None else shown_at
                rnd.deadline = rnd.shown_at + game.seconds
                held.set_timer(game, "deadline", rnd.number, rnd.deadline)
                if game.mode == "text":
                    held.set_timer(game, "hint", rnd.number, rnd.shown_at + game.seconds / 2)
            rnd.message_id = message_id
            points: list[tuple[str, str, int, int]] = []
            if poll_id:
                rnd.poll_id = poll_id
                held.add_poll(poll_id, game)
                for vote in held.take_waiting(poll_id):  # votes that came before this record
                    points += self._judge_vote(game, vote)[1]
            held.save(game, points)
            question = self.question(game)
            steps: list[Step] = []
            if question is None or message_id is None:
                pass
            elif rnd.closed and rnd.reason:
                steps = [Revealed(RoundResult(game, rnd, question, rnd.reason, dict(rnd.points)), late=True)]
            else:
                hint = self._hint_text(game, question) if rnd.hinted else None
                steps = [Hinted(game, message_id, question, hint)] if hint else []
        self._notify(held)
        return steps

    def close_round(self, chat: str, number: int, reason: str) -> RoundResult | None:
        """Close round ``number``; None if it is already closed (a timer firing after an answer won it).
        The next question follows after the pause, unless the game was stopped."""
        with self.store.hold(chat) as held:
            if held.game is None:
                return None
            result = self._close(held, held.game, number, reason)
            if result is not None:
                held.save(held.game)
        self._notify(held)
        return result

    def skip(self, chat: str) -> list[Step]:
        """Reveal the open question and move on soon; between questions, ask the next one now."""
        with self.store.hold(chat) as held:
            game = self._held_game(held)
            if game.round and not game.round.closed:
                result = self._close(held, game, game.round.number, "skipped", pause=SKIP_PAUSE)
                held.save(game)
                steps: list[Step] = [Revealed(result)] if result else []
            else:
                held.take_timer(game, "next")
                steps = self._ask_or_finish(held, game)
        self._notify(held)
        return steps

    def stop(self, chat: str) -> list[Step]:
        with self.store.hold(chat) as held:
            game = self._held_game(held)
            steps: list[Step] = []
            if game.round and not game.round.closed:
                result = self._close(held, game, game.round.number, "stopped")
                if result:
                    steps.append(Revealed(result))
            steps.append(self._finish(held, game, stopped=True))
        return steps

    def finish(self, chat: str, stopped: bool = False) -> tuple[Game, list[Standing]]:
        with self.store.hold(chat) as held:
            done = self._finish(held, self._held_game(held), stopped)
        return done.game, done.standings

    # answers ---------------------------------------------------------------------------------------
    def answer_text(self, chat: str, user: str, name: str, text: str, at: float | None = None) -> Outcome:
        if not _open_for_text(self.store.running(chat)):
            return Outcome(None)  # the common case, a chat with no question open: no lock taken
        at = self.clock() if at is None else at
        with self.store.hold(chat) as held:
            game = held.game
            if not _open_for_text(game):
                return Outcome(None)
            assert game is not None and game.round is not None
            rnd = game.round
            if at > rnd.deadline + LATE_GRACE:
                return Outcome(None)
            question = self.question(game)
            if question is None:
                return Outcome(None)
            if rnd.options:
                if user in rnd.tried:
                    return Outcome(None, first_try=False)  # one try per player when there are options to guess
                choice = _chosen_option(text, rnd.options)
                if choice is None:
                    return Outcome(None)  # chatter, not an answer
                rnd.tried.append(user)
                verdict = Verdict.CORRECT if choice in rnd.correct else Verdict.WRONG
            else:
                verdict = question.key.judge(text)
            if verdict is not Verdict.CORRECT:
                player = game.players.get(user)
                nudge = verdict is Verdict.CLOSE and not rnd.nudged
                if nudge:
                    rnd.nudged = True  # one per question, to keep within flood limits
                if (verdict is Verdict.WRONG and player and player.streak) or rnd.options or nudge:
                    if verdict is Verdict.WRONG and player:
                        player.streak = 0
                    held.save(game)  # the player's one try is used up, whoever judges the next answer
                return Outcome(verdict, nudge=nudge)
            points = self._score(game, question, user, name, at)
            rnd.winners.append(user)  # the first right answer wins and closes the round
            result = self._close(held, game, rnd.number, "answered")
            held.save(game, [(user, name, points, 1)])
        self._notify(held)
        return Outcome(Verdict.CORRECT, points, steps=(Revealed(result),) if result else ())

    def answer_poll(self, poll_id: str, user: str, name: str, option_ids: list[int],
                    at: float | None = None) -> Outcome | None:
        """A poll answer; None when the poll is not a question of a running game (an old one).

        A vote can come before any worker has recorded its poll (a quick voter beats sendPoll's answer to
        the worker that sent it, or that worker is slow to record it): it then waits in the database and is
        judged, with the time it came, when the poll is recorded (``attach``), by whichever worker records
        it (``Outcome.waiting``). Before, a vote waited here for the poll's record, a few seconds, and a
        record later than that (or another worker's, while this one waited for its own sends) lost it."""
        vote = Vote(poll_id, user, name, tuple(option_ids), self.clock() if at is None else at)
        chat = self.store.chat_of_poll(poll_id) or self.store.wait_for_poll(vote)
        if not isinstance(chat, str):
            return Outcome(None, waiting=True) if chat else None
        with self.store.hold(chat) as held:
            game = held.game
            if not game or not game.round or game.round.poll_id != poll_id:
                return None
            outcome, points = self._judge_vote(game, vote)
            if outcome.verdict is not None:
                held.save(game, points)
        return outcome

    def _judge_vote(self, game: Game, vote: Vote) -> tuple[Outcome, Points]:
        """A vote on the open round's poll, by the rules (one try, in time); the game changed in place, the
        points to save with it."""
        rnd = game.round
        assert rnd is not None
        user, name, options = vote.user, vote.name, vote.options
        if rnd.closed or vote.at > rnd.deadline + LATE_GRACE or user in rnd.tried or not options:
            return Outcome(None, first_try=user not in rnd.tried), ()
        rnd.tried.append(user)
        if options[0] not in rnd.correct:  # the round's own options judge it, whatever this worker's bank holds
            self._player(game, user, name).streak = 0
            return Outcome(Verdict.WRONG), ()
        question = self.question(game)
        if question is None:  # another worker's question this one cannot find (an edit since): scored all the same
            log.warning("quiz question %s of chat %s is not in this worker's bank; scoring a vote on it as %s",
                        game.round.question_id if game.round else "?", game.chat, FALLBACK_DIFFICULTY)
        points = self._score(game, question, user, name, vote.at)
        rnd.winners.append(user)
        return Outcome(Verdict.CORRECT, points), [(user, name, points, 1)]

    # timers ----------------------------------------------------------------------------------------
    def fire_due(self, limit: int = 50, now: float | None = None) -> list[Fired]:
        """Fire up to ``limit`` due timers in the transaction that claims them. Called by every worker's
        poller: a timer another worker holds is left to it. If the batch fails, its timers are fired one
        per transaction, and one that fails alone is postponed rather than retried at once."""
        now = self.clock() if now is None else now
        try:
            return self._fire_batch(now, limit)
        except Exception:
            if limit == 1:
                raise
            log.exception("could not fire a batch of quiz timers; firing them one by one")
        fired: list[Fired] = []
        for _ in range(limit):
            try:
                batch = self._fire_batch(now, 1)
            except Exception:  # noqa: BLE001 - logged; the others go on
                log.exception("could not fire a quiz timer; postponed by %.0f s", POISON_DELAY)
                with contextlib.suppress(Exception):
                    self.store.postpone_due(now, now + POISON_DELAY)
                continue
            if not batch:
                break
            fired += batch
        return fired

    def _fire_batch(self, now: float, limit: int) -> list[Fired]:
        fired: list[Fired] = []
        with self.store.claim_due(now, limit) as batch:
            for held in batch:
                for due in held.dues:
                    game = held.game
                    if game is None or (game.status != "running" and not due.kind.startswith(SHOW)):
                        continue
                    steps = self._fire(held, game, due.kind, due.number)
                    shown = None
                    if steps:  # what they show is recorded with this row's deletion, or shown again
                        kind, number = _show_of(steps[0], due.kind.removeprefix(SHOW))
                        shown = Shown(game.id, kind, number)
                        held.set_timer(game, kind, number, now + SHOW_GRACE)
                    fired.append(Fired(game.chat, due.kind, due.due_at, tuple(steps), shown))
        for held in batch:
            self._notify(held)
        return fired

    def next_due(self) -> float | None:
        return self.store.next_due()

    def hurry(self, chat: str, kind: str) -> bool:
        """Make the chat's ``kind`` timer ("hint", "deadline", "next") due now; whether it was pending."""
        now = self.clock()
        hurried = self.store.hurry(chat, kind, now)
        if hurried:
            for listener in self._timer_listeners:
                listener(now)
        return hurried

    def repair(self) -> int:
        """Give a timer to running games that have none (saved before timers lived in the database): an
        open question's deadline, else the next question. Safe on any number of workers at once."""
        repaired = 0
        for chat in self.store.untimed():
            with self.store.hold(chat) as held:
                game = held.game
                if game is None or held.tx.query("SELECT 1 FROM quiz_timers WHERE game = ?", (game.id,)):
                    continue
                if game.round and not game.round.closed:
                    held.set_timer(game, "deadline", game.round.number, game.round.deadline)
                else:
                    held.set_timer(game, "next", game.number, self.clock())
                repaired += 1
            self._notify(held)
        return repaired

    # scores ----------------------------------------------------------------------------------------
    @staticmethod
    def standings(game: Game) -> list[Standing]:
        return rank(list(game.players.values()))

    def leaderboard(self, chat: str | None, limit: int = 10) -> list[Standing]:
        return rank(self.storage.quiz_scores(chat, limit))

    # the rules, on a game held by the caller's transaction -----------------------------------------------
    def _fire(self, held: Held, game: Game, kind: str, number: int) -> list[Step]:
        if kind.startswith(SHOW):
            return self._steps_again(game, kind.removeprefix(SHOW), number)
        if kind == "next":
            return self._ask_or_finish(held, game)
        if kind == "deadline":
            if self._answers_pending(held, game, number):
                return []
            # before its question is shown, the deadline is the show limit (SHOW_LIMIT; see attach)
            shown = game.round is None or _shown(game.round)
            result = self._close(held, game, number, "timeout" if shown else "unshown")
            if result is None:
                return []
            held.save(game)
            return [Revealed(result)]
        if kind == "hint":
            rnd = game.round
            text = self._hint(game, number)
            if text is None or rnd is None:
                return []
            held.save(game)
            question = self.question(game)
            return [Hinted(game, rnd.message_id, question, text)] if question else []
        return []

    def _answers_pending(self, held: Held, game: Game, number: int) -> bool:
        """Whether answers to round ``number`` that came by its deadline still wait to be judged (in an inbox,
        behind other updates, or left by a worker that died with them): then the round stays open, its
        deadline timer looked at again ``ANSWERS_LOOK`` s later, for up to ``ANSWERS_WAIT`` s. Each is judged
        by when it came (its ``at``), so a vote that was in time is never scored nothing because its worker
        was slow to get to it."""
        rnd = game.round
        if self.answers_waiting is None or rnd is None or rnd.number != number or rnd.closed or not _shown(rnd):
            return False
        now = self.clock()
        if now > rnd.deadline + LATE_GRACE + ANSWERS_WAIT:
            return False
        if not held.tx.query(*self.answers_waiting(game.chat, rnd.poll_id, min(now, rnd.deadline) + LATE_GRACE)):
            return False
        held.set_timer(game, "deadline", number, now + ANSWERS_LOOK)
        return True

    def _steps_again(self, game: Game, kind: str, number: int) -> list[Step]:
        """What the ``kind`` timer of round ``number`` showed, derived from the game as it is now, for a worker
        that died between that timer's commit and recording its message: nothing once the game has moved
        past it (a question another step closed, a reveal of a round no longer the game's)."""
        rnd = game.round
        if kind == "end":
            return [Finished(game, self.standings(game), False)] if game.status == "finished" else []
        if game.status != "running" or rnd is None or rnd.number != number:
            return []
        question = self.question(game)
        if question is None:
            return []
        if kind == "next" and not rnd.closed and rnd.message_id is None:
            return [Asked(game, rnd, question)]
        if kind == "deadline" and rnd.closed and rnd.reason:
            return [Revealed(RoundResult(game, rnd, question, rnd.reason, dict(rnd.points)))]
        if kind == "hint" and not rnd.closed and rnd.hinted and rnd.message_id is not None:
            hint = self._hint_text(game, question)
            return [Hinted(game, rnd.message_id, question, hint)] if hint else []
        return []

    def _ask_or_finish(self, held: Held, game: Game) -> list[Step]:
        asked = self._ask(game)
        if asked is None:
            return [self._finish(held, game, stopped=False)]
        rnd, question = asked
        held.set_timer(game, "deadline", rnd.number, rnd.deadline)  # the show limit, until attach (shown)
        held.save(game)
        return [Asked(game, rnd, question)]

    def _ask(self, game: Game) -> tuple[Round, Question] | None:
        """Pick the next question now, from the current bank, so a fact an admin corrected mid-game is asked
        in its new form; None when the game has had all its questions."""
        if len(game.asked) >= game.total:
            return None
        rng = random.Random(game.seed + len(game.asked))
        level = _level_for(game.difficulty, len(game.asked), game.total)
        picks = self.bank().pick(1, level, rng, need_choice=game.mode == "poll", exclude_topics=set(game.topics))
        if not picks:
            return None
        question = picks[0]
        self._snapshots[question.id] = question
        options, correct = _options(question, rng, as_choice=game.mode == "poll")
        now = self.clock()
        # its time starts when it is shown (attach); until then its deadline is the show limit
        game.round = Round(number=len(game.asked) + 1, question_id=question.id, options=options, correct=correct,
                           asked_at=now, deadline=now + SHOW_LIMIT)
        game.asked.append(question.id)
        game.topics.append(question.topic)
        return game.round, question

    def _hint(self, game: Game, number: int) -> str | None:
        rnd = game.round
        if not rnd or rnd.number != number or rnd.closed or rnd.hinted:
            return None
        question = self.question(game)
        if question is None:
            return None
        rnd.hinted = True
        return self._hint_text(game, question)

    @staticmethod
    def _hint_text(game: Game, question: Question) -> str | None:
        """The open round's hint; the same every time it is worked out (a worker may show it later)."""
        rnd = game.round
        assert rnd is not None
        if rnd.options:
            wrong = [o for i, o in enumerate(rnd.options) if i not in rnd.correct]
            return f"it's not {random.Random(game.seed + rnd.number).choice(wrong)}" if len(wrong) > 1 else None
        return _letters_hint(question.answer)

    def _close(self, held: Held, game: Game, number: int, reason: str, pause: float | None = None
               ) -> RoundResult | None:
        rnd = game.round
        if not rnd or rnd.number != number or rnd.closed:
            return None
        rnd.closed = True
        rnd.reason = reason
        if reason == "unshown":
            game.unshown += 1
        for user, player in game.players.items():
            if user not in rnd.winners:
                player.streak = 0
        held.clear_timers(game, "hint", "deadline")
        if reason != "stopped":
            held.set_timer(game, "next", number, self.clock() + (self.pause if pause is None else pause))
        question = self.question(game)
        if question is None:
            return None
        return RoundResult(game, rnd, question, reason, dict(rnd.points))

    def _finish(self, held: Held, game: Game, stopped: bool) -> Finished:
        game.status = "stopped" if stopped else "finished"
        held.clear_timers(game)
        held.drop_polls(game)
        held.save(game, finished=list(game.players))
        return Finished(game, self.standings(game), stopped)

    def _notify(self, held: Held | None) -> None:
        if held is not None and held.earliest is not None:
            for listener in self._timer_listeners:
                listener(held.earliest)

    def _game(self, chat: str) -> Game:
        game = self.store.running(chat)
        if not game:
            raise QuizError("No quiz is running here. Start one with /quiz!")
        return game

    @staticmethod
    def _held_game(held: Held) -> Game:
        if held.game is None:
            raise QuizError("No quiz is running here. Start one with /quiz!")
        return held.game

    def _player(self, game: Game, user: str, name: str) -> Player:
        player = game.players.get(user)
        if player is None:
            player = game.players[user] = Player(user, name)
        player.name = name or player.name
        return player

    def _score(self, game: Game, question: Question | None, user: str, name: str, at: float) -> int:
        rnd = game.round
        assert rnd is not None
        player = self._player(game, user, name)
        left = max(0.0, min(1.0, (rnd.deadline - at) / max(1, game.seconds)))
        streak_bonus = min(MAX_STREAK_BONUS, STREAK_BONUS * player.streak)
        difficulty = question.difficulty if question is not None else FALLBACK_DIFFICULTY
        points = BASE_POINTS[difficulty] + round(SPEED_BONUS * left) + streak_bonus
        player.points += points
        player.correct += 1
        player.streak += 1
        player.best_streak = max(player.best_streak, player.streak)
        rnd.points[user] = points
        return points


def _show_of(step: Step, kind: str) -> tuple[str, int]:
    """The row that keeps a fired timer's first step to show (store.Shown): its kind and round number."""
    if isinstance(step, Finished):
        return SHOW + "end", step.game.number
    if isinstance(step, Asked):
        return SHOW + kind, step.round.number
    if isinstance(step, Revealed):
        return SHOW + kind, step.result.round.number
    return SHOW + kind, step.game.round.number if step.game.round else 0


def _shown(rnd: Round) -> bool:
    """Whether the round's question was shown (its message recorded; a game saved before ``shown_at``
    existed has only the message id)."""
    return rnd.shown_at is not None or rnd.message_id is not None


def _open_for_text(game: Game | None) -> bool:
    return bool(game and game.mode == "text" and game.round and not game.round.closed and not game.round.winners)


def _range_message(key: str) -> str:
    field = QuizSettings.model_fields[key]
    bounds = {type(m).__name__: getattr(m, type(m).__name__.lower(), None) for m in field.metadata}
    return f"{key} must be between {bounds.get('Ge')} and {bounds.get('Le')}."


def _level_for(difficulty: str, index: int, total: int) -> str:
    """A mixed game climbs from easy to hard, like a good pub quiz: thirds of easy, medium, hard."""
    if difficulty != "mixed":
        return difficulty
    return ("easy", "medium", "hard")[min(2, index * 3 // max(1, total))]


def _options(question: Question, rng: random.Random, as_choice: bool) -> tuple[list[str], list[int]]:
    if question.kind == "truefalse":
        return [TRUE, FALSE], [0 if question.answer == TRUE else 1]
    if question.kind == "free" and not as_choice:
        return [], []
    options = [question.answer, *question.wrong]
    rng.shuffle(options)
    return options, [options.index(question.answer)]


def _chosen_option(text: str, options: list[str]) -> int | None:
    """Which option a typed answer picks: its letter (a/b/c/d), its number, or its text."""
    letters = "abcdefghij"
    raw = text.strip().strip(".)!").casefold()
    if len(raw) == 1 and raw in letters[: len(options)]:
        return letters.index(raw)  # before normalizing, which would drop "a" as an article
    answer = normalize(text)
    if not answer:
        return None
    if answer.isdigit() and 1 <= int(answer) <= len(options):
        return int(answer) - 1
    if options == [TRUE, FALSE]:
        if answer in YES:
            return 0
        if answer in NO:
            return 1
    for i, option in enumerate(options):
        if normalize(option) == answer:
            return i
    return None


def _letters_hint(answer: str) -> str:
    """'Len Wiseman' -> 'L__ W______': the first letter of each word and the length."""
    return " ".join(w[0] + "_" * (len(w) - 1) if w[:1].isalnum() else w for w in answer.split())
