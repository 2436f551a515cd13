"""The quiz game engine: pure rules over an injected clock, random seed, question bank and storage.

It never sends anything and never sleeps; fronts (bot/quiz/runner.py drives them) ask it what happens
next and schedule timers. Every change is saved before the method returns, with the points it earned,
so a crash or restart mid-game keeps every point already scored.
"""
from __future__ import annotations

import json
import random
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from ..config import QuizSettings
from ..storage import Storage
from .bank import FALSE, TRUE, Question, QuestionBank
from .matching import Verdict, normalize
from .state import Game, Player, Round, Standing, rank

BASE_POINTS = {"easy": 100, "medium": 150, "hard": 200}
SPEED_BONUS = 50       # for an instant answer, falling to 0 at the deadline
STREAK_BONUS = 25      # per consecutive correct answer after the first...
MAX_STREAK_BONUS = 100  # ...up to this
LATE_GRACE = 1.0       # seconds: a message sent just before the deadline may arrive just after it
MODES = ("poll", "text")
LEVELS = ("mixed", "easy", "medium", "hard")
CHAT_SETTINGS = ("questions", "seconds", "mode", "difficulty")  # what a chat's admins may change
YES = {"true", "yes", "y", "t", "correct", "right", "yep", "yeah", "true!"}
NO = {"false", "no", "n", "f", "wrong", "nope", "incorrect"}


class QuizError(Exception):
    """A request the rules refuse, with a message for the player."""


@dataclass(frozen=True)
class Outcome:
    """What one answer did: ``verdict`` None means it was not an answer at all (no question open)."""

    verdict: Verdict | None
    points: int = 0
    first_try: bool = True


@dataclass(frozen=True)
class RoundResult:
    game: Game
    round: Round
    question: Question
    reason: str                  # "answered", "timeout", "skipped", "stopped", "restart"
    points: dict[str, int]       # user -> points earned this round


class QuizEngine:
    def __init__(self, storage: Storage, bank: Callable[[], QuestionBank], defaults: QuizSettings,
                 clock: Callable[[], float] = time.time, seed: int | None = None,
                 write_behind: bool = False) -> None:
        self.storage = storage
        # write_behind: changes that score nothing (a question asked, a round closed) wait for flush(),
        # batched into one transaction; points and game ends are always written at once.
        self.write_behind = write_behind
        self._dirty: dict[str, Game] = {}
        self.bank = bank
        self.defaults = defaults
        self.clock = clock
        self._rng = random.Random(seed)
        self.games: dict[str, Game] = {}
        self._polls: dict[str, str] = {}           # poll id -> chat
        self._round_points: dict[str, dict[str, int]] = {}
        self._snapshots: dict[str, Question] = {}   # questions in play, in case an edit drops them mid-round
        for state in storage.running_games():
            game = Game.from_json(state)
            self.games[game.chat] = game
            if game.round and game.round.poll_id:
                self._polls[game.round.poll_id] = game.chat

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

    # game life -------------------------------------------------------------------------------------
    def running(self, chat: str) -> Game | None:
        return self.games.get(chat)

    def start(self, chat: str, user: str, count: int | None = None, mode: str | None = None) -> Game:
        if chat in self.games:
            raise QuizError("A quiz is already running here: answer along, or /stop it first.")
        settings = self.settings(chat)
        total = settings.questions if count is None else count
        if not 1 <= total <= 50:
            raise QuizError("A quiz has between 1 and 50 questions.")
        mode = mode or settings.mode
        available = self.bank().topic_count(need_choice=mode == "poll")
        if available == 0:
            raise QuizError("I have no questions to ask yet.")
        game = Game(id=secrets.token_hex(6), chat=chat, mode=mode, seconds=settings.seconds,  # type: ignore[arg-type]
                    total=min(total, available), difficulty=settings.difficulty, started_by=user,
                    started_at=self.clock(), seed=self._rng.randrange(2**31))
        self.games[chat] = game
        self._save(game)
        return game

    def next_round(self, chat: str, save: bool = True) -> tuple[Round, Question] | None:
        """Ask the next question, or None when the game is over. Picks it now, from the current bank,
        so a fact an admin corrected mid-game is asked in its new form."""
        game = self._game(chat)
        if game.round and not game.round.closed:
            raise QuizError("The current question is still open.")
        if len(game.asked) >= game.total:
            return None
        rng = random.Random(game.seed + len(game.asked))
        level = _level_for(game.difficulty, len(game.asked), game.total)
        picks = self.bank().pick(1, level, rng, need_choice=game.mode == "poll", exclude_topics=set(game.topics))
        if not picks:
            return None
        question = picks[0]
        options, correct = _options(question, rng, as_choice=game.mode == "poll")
        now = self.clock()
        game.round = Round(number=len(game.asked) + 1, question_id=question.id, options=options, correct=correct,
                           asked_at=now, deadline=now + game.seconds)
        game.asked.append(question.id)
        game.topics.append(question.topic)
        self._round_points[chat] = {}
        if save:  # the runner saves once, in attach(), with the message id
            self._save(game)
        return game.round, question

    def chat_of_poll(self, poll_id: str) -> str | None:
        return self._polls.get(poll_id)

    def attach(self, chat: str, number: int, message_id: int | None, poll_id: str | None = None) -> None:
        """Remember the message that shows round ``number`` (to edit it, and to know its poll's answers)."""
        game = self.games.get(chat)
        if not game or not game.round or game.round.number != number:
            return
        game.round.message_id = message_id
        if poll_id:
            game.round.poll_id = poll_id
            self._polls[poll_id] = chat
        self._save(game)

    def question(self, game: Game) -> Question | None:
        """The open round's question; falls back to the snapshot of it if the bank changed under it."""
        if not game.round:
            return None
        return self.bank().by_id(game.round.question_id) or self._snapshots.get(game.round.question_id)

    # answers ---------------------------------------------------------------------------------------
    def answer_text(self, chat: str, user: str, name: str, text: str, at: float | None = None) -> Outcome:
        game = self.games.get(chat)
        if not game or game.mode != "text" or not game.round or game.round.closed or game.round.winners:
            return Outcome(None)
        at = self.clock() if at is None else at
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
            if verdict is Verdict.WRONG and player and player.streak:
                player.streak = 0
                self._save(game)
            elif rnd.options:
                self._save(game)  # the player's one try is used up, restart or not
            return Outcome(verdict)
        points = self._score(game, question, user, name, at)
        rnd.winners.append(user)  # the first right answer wins; the runner closes the round next
        self._save(game, [(user, name, points, 1)])
        return Outcome(Verdict.CORRECT, points)

    def answer_poll(self, poll_id: str, user: str, name: str, option_ids: list[int],
                    at: float | None = None) -> Outcome | None:
        """A poll answer; None when the poll is not a question of ours (an old game, or another bot's)."""
        chat = self._polls.get(poll_id)
        game = self.games.get(chat) if chat else None
        if not game or not game.round or game.round.poll_id != poll_id:
            return None
        rnd = game.round
        at = self.clock() if at is None else at
        if rnd.closed or at > rnd.deadline + LATE_GRACE or user in rnd.tried or not option_ids:
            return Outcome(None, first_try=user not in rnd.tried)
        rnd.tried.append(user)
        question = self.question(game)
        if question is None or option_ids[0] not in rnd.correct:
            self._player(game, user, name).streak = 0
            self._save(game)
            return Outcome(Verdict.WRONG)
        points = self._score(game, question, user, name, at)
        rnd.winners.append(user)
        self._save(game, [(user, name, points, 1)])
        return Outcome(Verdict.CORRECT, points)

    def note_nudge(self, chat: str) -> bool:
        """Whether a "close!" nudge may be sent now: one per question, to keep within flood limits."""
        game = self.games.get(chat)
        if not game or not game.round or game.round.nudged or game.round.closed:
            return False
        game.round.nudged = True  # not saved, like hints
        return True

    def hint(self, chat: str, number: int) -> str | None:
        game = self.games.get(chat)
        if not game or not game.round or game.round.number != number or game.round.closed or game.round.hinted:
            return None
        question = self.question(game)
        if question is None:
            return None
        game.round.hinted = True  # not saved: after a restart a second hint is harmless
        if game.round.options:
            wrong = [o for i, o in enumerate(game.round.options) if i not in game.round.correct]
            return f"it's not {random.Random(game.seed + number).choice(wrong)}" if len(wrong) > 1 else None
        return _letters_hint(question.answer)

    def close_round(self, chat: str, number: int, reason: str) -> RoundResult | None:
        """Close round ``number``; None if it is already closed (a timer firing after an answer won it)."""
        game = self.games.get(chat)
        if not game or not game.round or game.round.number != number or game.round.closed:
            return None
        rnd = game.round
        rnd.closed = True
        for user, player in game.players.items():
            if user not in rnd.winners:
                player.streak = 0
        if rnd.poll_id:
            self._polls.pop(rnd.poll_id, None)
        self._save(game)
        question = self.question(game)
        if question is None:
            return None
        return RoundResult(game, rnd, question, reason, self._round_points.pop(chat, {}))

    def finish(self, chat: str, stopped: bool = False) -> tuple[Game, list[Standing]]:
        game = self._game(chat)
        if game.round and game.round.poll_id:
            self._polls.pop(game.round.poll_id, None)
        game.status = "stopped" if stopped else "finished"
        del self.games[chat]
        self._save(game, finished=list(game.players))
        return game, self.standings(game)

    # scores ----------------------------------------------------------------------------------------
    @staticmethod
    def standings(game: Game) -> list[Standing]:
        return rank(list(game.players.values()))

    def leaderboard(self, chat: str | None, limit: int = 10) -> list[Standing]:
        return rank(self.storage.quiz_scores(chat, limit))

    # internals -------------------------------------------------------------------------------------
    def _game(self, chat: str) -> Game:
        game = self.games.get(chat)
        if not game:
            raise QuizError("No quiz is running here. Start one with /quiz!")
        return game

    def _player(self, game: Game, user: str, name: str) -> Player:
        player = game.players.get(user)
        if player is None:
            player = game.players[user] = Player(user, name)
        player.name = name or player.name
        return player

    def _score(self, game: Game, question: Question, user: str, name: str, at: float) -> int:
        rnd = game.round
        assert rnd is not None
        player = self._player(game, user, name)
        left = max(0.0, min(1.0, (rnd.deadline - at) / max(1, game.seconds)))
        streak_bonus = min(MAX_STREAK_BONUS, STREAK_BONUS * player.streak)
        points = BASE_POINTS[question.difficulty] + round(SPEED_BONUS * left) + streak_bonus
        player.points += points
        player.correct += 1
        player.streak += 1
        player.best_streak = max(player.best_streak, player.streak)
        self._round_points.setdefault(game.chat, {})[user] = points
        return points

    def _save(self, game: Game, points: list[tuple[str, str, int, int]] = (),  # type: ignore[assignment]
              finished: list[str] = ()) -> None:  # type: ignore[assignment]
        if game.round:
            question = self.bank().by_id(game.round.question_id)
            if question:
                self._snapshots[question.id] = question
        if points or finished or not self.write_behind:
            self._dirty.pop(game.id, None)
            self.storage.save_games([(game.id, game.chat, game.status, game.to_json())], points, game.chat, finished)
        else:
            self._dirty[game.id] = game

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def flush(self, limit: int | None = None) -> None:
        """Write changed games in one transaction: all of them, or the ``limit`` oldest changes (so one
        write never holds the event loop long; the runner calls again while any are left)."""
        ids = list(self._dirty)[:limit] if limit else list(self._dirty)
        games = [self._dirty.pop(i) for i in ids]
        if games:
            self.storage.save_games([(g.id, g.chat, g.status, g.to_json()) for g in games])


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
