"""What a group sees when a timer's steps and a command's cross: the runner's order, on both backends.

A timer's steps are computed (and committed) before the chat's lock is taken to show them, so a /stop can
commit and show "Quiz stopped" in between. Seen in a group as "Quiz stopped", then "Question 2/5".
"""
from __future__ import annotations

import asyncio

from bot.config import Settings
from bot.knowledge.base import KnowledgeBase
from bot.quiz.bank import Question
from bot.quiz.engine import Asked
from bot.quiz.runner import Posted, QuizRunner
from bot.quiz.state import Game, Round
from bot.storage import Storage
from tests.support.quiz import Clock, engines, kb, opened, right_text  # noqa: F401 (fixtures)


class Group:
    """A front that only writes down what the group would see, in order (a QuizIO)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._ids = 0

    async def send_question(self, game: Game, rnd: Round, question: Question) -> Posted:
        self._ids += 1
        self.seen.append(f"question {rnd.number}")
        return Posted(self._ids)

    async def edit_question(self, game: Game, message_id: int, text: str) -> None:
        self.seen.append(f"edit {message_id}")

    async def close_poll(self, game: Game, message_id: int) -> None:
        self.seen.append(f"close {message_id}")

    async def send_text(self, chat: str, text: str, reply_to: int | None = None) -> None:
        self.seen.append(text.splitlines()[0])


def test_a_question_whose_game_was_stopped_before_its_turn_is_not_sent(settings: Settings, kb: KnowledgeBase,
                                                                        database: str,
                                                                        opened: list[Storage]) -> None:
    clock = Clock()
    a, b = engines(settings, kb, database, clock, opened)
    group = Group()
    runner = QuizRunner(b, group)

    async def play() -> None:
        await runner.start("g", "ann", "Ann", count=3, mode="text")
        a.answer_text("g", "bob", "Bob", right_text(a, "g"))
        clock.now += settings.quiz.pause + 1
        (fired,) = [f for f in a.fire_due() if f.chat == "g"]   # the next question, committed...
        assert any(isinstance(s, Asked) for s in fired.steps)
        await runner.stop("g")                                    # ...then a /stop takes the lock first
        runner._deliver("g", list(fired.steps))                   # the timer's steps get their turn
        await asyncio.gather(*runner._tasks)

    asyncio.run(play())
    stopped = next(i for i, line in enumerate(group.seen) if "stopped" in line.lower())
    assert "question 2" not in group.seen[stopped:], group.seen
    assert group.seen[0] == "question 1" and b.running("g") is None
