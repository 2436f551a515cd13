"""The quiz tests' one set-up: the shipped knowledge and question bank, engines on a storage with a test
clock, and the right answer a player types.

    from tests.support.quiz import bank, kb, opened  # noqa: F401 (fixtures)
    engine = make_engine(settings, kb, open_storage(tmp_path / "q.db"), Clock())
    engine.answer_text("c", "u1", "Ann", right_text(engine, "c"))
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.knowledge.base import KnowledgeBase
from bot.quiz import QuizEngine, build_engine
from bot.quiz.bank import QuestionBank, build_bank, load_quiz_file
from bot.storage import Storage, open_storage
from tests.support.clock import Clock

SHIPPED = Path(__file__).resolve().parent.parent.parent / "knowledge"
__all__ = ["Clock", "bank", "engines", "kb", "make_engine", "opened", "right_text", "shown"]


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """The shipped knowledge (read only: a test that edits facts uses its own ``project`` copy)."""
    return KnowledgeBase.load(SHIPPED / "ballerina.yml")


@pytest.fixture(scope="module")
def bank(kb: KnowledgeBase) -> QuestionBank:
    return build_bank(kb, load_quiz_file(SHIPPED / "quiz.yml"))


@pytest.fixture
def opened() -> Iterator[list[Storage]]:
    """Storages a test opened (a worker's connections each), closed after it."""
    storages: list[Storage] = []
    yield storages
    for storage in storages:
        storage.close()


def make_engine(settings: Settings, kb: KnowledgeBase, storage: Storage, clock: Clock, seed: int = 1) -> QuizEngine:
    return build_engine(settings, storage, lambda: kb, clock=clock, seed=seed)


def engines(settings: Settings, kb: KnowledgeBase, database: str, clock: Clock, opened: list[Storage],
            n: int = 2) -> list[QuizEngine]:
    """``n`` engines on one database, each with its own connection, as ``n`` workers would have."""
    storages = [open_storage(database) for _ in range(n)]
    opened.extend(storages)
    return [make_engine(settings, kb, s, clock, seed=i) for i, s in enumerate(storages)]


def right_text(engine: QuizEngine, chat: str) -> str:
    """What a player types to answer the running round right: the letter, or the answer itself."""
    game = engine.running(chat)
    assert game and game.round
    if game.round.options:
        return "ABCD"[game.round.correct[0]]
    question = engine.question(game)
    assert question
    return question.answer


def shown(engine: QuizEngine, chat: str, message_id: int = 100) -> None:
    """The running round's question is out, as a front tells the engine once its message was delivered:
    the round's time starts now (engine.attach)."""
    game = engine.running(chat)
    assert game and game.round
    engine.attach(chat, game.round.number, message_id + game.round.number)
