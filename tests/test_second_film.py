"""A second film of the tests' own (not Ballerina) through every path: chat, quiz, admin and Rasa.

Nothing of the first film may reach its replies; its release, long past, is worded as such."""
from __future__ import annotations

import datetime as dt
import random
import re
import signal
from pathlib import Path

import pytest

from bot.admin import Actor, Admin
from bot.config import load_settings
from bot.dialogue import Brain
from bot.knowledge import KnowledgeBase
from bot.quiz.bank import bank_for
from bot.storage import Storage, open_storage
from bot.validation import check_folder

from .support.second_film import build_second_film
from .test_rasa_actions import assert_stops, call, free_port, said, start_server, wait_ready, webhook

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 12, 1)


def first_film_names() -> re.Pattern[str]:
    kb = KnowledgeBase.load(ROOT / "knowledge" / "ballerina.yml")
    names = {kb.title, "Wick", "Wickiverse"} | {e.name for e in kb.entities.values() if e.kind != "company"}
    # as written (case kept): "the Director" is a character there, "the director" a word here
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b")


@pytest.fixture
def film(tmp_path: Path, project: Path) -> Path:
    return build_second_film(tmp_path / "thunderdome", project)


@pytest.fixture
def brain(film: Path) -> Brain:
    return Brain.from_settings(load_settings(film, env={}), open_storage(":memory:"), random.Random(5), lambda: TODAY)


QUESTIONS = [
    ("who directed mad max beyond thunderdome?", "George Miller"),
    ("who plays aunty entity?", "Tina Turner"),
    ("who does mel gibson play?", "Max Rockatansky"),
    ("what is thunderdome about?", "Bartertown"),
    ("is tina turner in it?", "Yes"),
]


def test_it_checks_clean(film: Path) -> None:
    assert [str(p) for p in check_folder(film) if p.severity == "error"] == []


@pytest.mark.parametrize("question, expected", QUESTIONS)
def test_chat_answers_from_its_own_knowledge(brain: Brain, question: str, expected: str) -> None:
    reply = brain.reply(None, "u", question)
    assert reply.kind == "answer" and expected in reply.text, reply.text


def test_a_release_long_past_is_worded_in_the_past(brain: Brain) -> None:
    reply = brain.reply(None, "u", "when is mad max beyond thunderdome out?")
    assert "10 July 1985" in reply.text and "came out" in reply.text or "was released" in reply.text
    assert "due" not in reply.text and "set for" not in reply.text


def test_the_same_release_is_upcoming_when_the_clock_says_so(film: Path) -> None:
    brain = Brain.from_settings(load_settings(film, env={}), open_storage(":memory:"), random.Random(5),
                                lambda: dt.date(1985, 1, 1))
    reply = brain.reply(None, "u", "when is mad max beyond thunderdome out?")
    assert "10 July 1985" in reply.text and ("due" in reply.text or "set for" in reply.text)


def test_nothing_of_the_first_film_reaches_its_replies(brain: Brain) -> None:
    leak = first_film_names()
    messages = [q for q, _ in QUESTIONS] + ["hello", "help", "thanks", "bye", "are you a bot?", "what's the weather?",
                                            "who wrote the score?", "", "tell me something", "source?"]
    for text in messages:
        reply = brain.reply("c", "u", text)
        for line in (reply.text, *reply.suggestions):
            assert not leak.search(line), (text, line)


def test_its_suggestions_are_questions_it_can_answer(brain: Brain) -> None:
    suggestions = brain.mind.answers.suggestions
    assert len(suggestions) >= 4 and any("Mad Max Beyond Thunderdome" in s for s in suggestions)
    for suggestion in suggestions:
        assert brain.reply(None, "u", suggestion).kind == "answer", suggestion


def test_quiz_asks_about_it_with_its_own_questions(film: Path) -> None:
    settings = load_settings(film, env={})
    kb = KnowledgeBase.load(settings.knowledge)
    bank = bank_for(kb, settings.quiz_file, TODAY)
    texts = [q.text for q in bank.questions]
    assert "Which singer plays the ruler of Bartertown?" in texts
    release = next(q for q in bank.questions if "1985" in q.answer)
    assert release.text == "When did Mad Max Beyond Thunderdome come out?"
    assert release.wrong and all("1985" not in w and re.search(r"19\d\d", w) for w in release.wrong)
    leak = first_film_names()
    assert not [t for q in bank.questions for t in (q.text, q.answer, *q.wrong) if leak.search(t)]


def test_an_admin_edit_reaches_its_answers_and_undoes(film: Path) -> None:
    settings = load_settings(film, env={})
    storage = open_storage(settings.database)
    brain = Brain.from_settings(settings, storage, random.Random(5), lambda: TODAY)
    admin = Admin(settings, storage, brain=brain)
    me = Actor.local_operator()
    admin.set_fact(me, "Thunderdome", "release", "12 July 1985", "Variety", known="2024-02")
    assert "12 July 1985" in brain.reply(None, "u", "when did thunderdome come out?").text
    admin.undo(me)
    assert "10 July 1985" in brain.reply(None, "u", "when did thunderdome come out?").text


def test_the_rasa_action_server_answers_about_it(film: Path) -> None:
    port = free_port()
    proc = start_server(film, port)
    try:
        wait_ready(proc, port)
        status, result = call(port, webhook("action_trivia_facts", "who directed mad max beyond thunderdome?"))
        assert status == 200
        text, _ = said(result)
        assert "George Miller" in text and not first_film_names().search(text)
    finally:
        if proc.poll() is None:
            assert_stops(proc, signal.SIGINT)



def test_telling_about_it_words_its_release_in_the_past(brain: Brain) -> None:
    reply = brain.reply(None, "u", "tell me about mad max beyond thunderdome")
    assert "1985" in reply.text and "due" not in reply.text, reply.text


def test_the_telegram_admin_help_and_prompt_use_its_own_film(film: Path) -> None:
    from bot.channels.telegram_admin import TelegramAdmin

    settings = load_settings(film, env={})
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(5), lambda: TODAY)
    usage = TelegramAdmin(brain, settings, open_storage(":memory:")).usage()
    assert '/kb set "Mad Max Beyond Thunderdome" release' in usage and not first_film_names().search(usage)
