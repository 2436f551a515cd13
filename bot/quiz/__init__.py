"""Group trivia quizzes: a question bank from the knowledge, a pure game engine, and a runner for fronts."""
from __future__ import annotations

import datetime as dt
import time
from typing import Callable

from ..config import Settings
from ..knowledge.base import KnowledgeBase
from ..storage import Storage
from .bank import Question, QuestionBank, bank_for
from .engine import Outcome, QuizEngine, QuizError
from .matching import AnswerKey, Verdict, normalize
from .poller import TimerPoller
from .runner import Posted, QuizIO, QuizRunner

__all__ = ["AnswerKey", "Outcome", "Posted", "Question", "QuestionBank", "QuizEngine", "QuizError", "QuizIO",
           "QuizRunner", "TimerPoller", "Verdict", "build_engine", "normalize"]


def build_engine(settings: Settings, storage: Storage, knowledge: Callable[[], KnowledgeBase],
                 clock: Callable[[], float] = time.time, seed: int | None = None,
                 pause: float | None = None, today: Callable[[], dt.date] = dt.date.today) -> QuizEngine:
    """An engine whose questions always come from the knowledge as it is now (``knowledge`` is read per
    question, so an admin's edit reaches a game in progress). ``today`` dates releases ("when did it come
    out?"); it is not ``clock``, which times rounds and may be a test's counter."""
    return QuizEngine(storage, lambda: bank_for(knowledge(), settings.quiz_file, today()), settings.quiz,
                      clock=clock, seed=settings.seed if seed is None else seed, pause=pause)
