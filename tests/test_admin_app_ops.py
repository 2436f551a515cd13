"""The Admin operations the admin app adds, in process: optimistic concurrency, answering a group of
questions by key, dismissing, and quiz questions switched off or added."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.admin import Actor, Admin, fact_revision
from bot.admin_quiz import NewQuestion
from bot.config import Settings
from bot.dialogue import Brain
from bot.errors import ChangedError, EditError, NotAdminError
from bot.knowledge import KnowledgeBase
from bot.quiz.bank import bank_for
from bot.storage import Storage, open_storage
from bot.webadmin.views import group_inbox

ME, OTHER, STRANGER = Actor.telegram(1001, "boss"), Actor.telegram(1002), Actor.telegram(2002)


@pytest.fixture
def live(settings: Settings) -> tuple[Admin, Brain]:
    settings.admins = [1001, 1002]
    storage = open_storage(settings.database)
    brain = Brain.from_settings(settings, storage, random.Random(7))
    return Admin(settings, storage, brain=brain), brain


def files(settings: Settings) -> dict[Path, bytes]:
    paths = [Path(settings.knowledge), Path(settings.quiz_file), *Path(settings.intents).rglob("*.yml")]
    return {p: p.read_bytes() for p in paths}


def revision(admin: Admin, subject: str, relation: str) -> str:
    return fact_revision(KnowledgeBase.load(admin.knowledge_path), subject, relation)


def test_an_edit_based_on_facts_that_changed_since_is_refused_and_saves_nothing(live: tuple[Admin, Brain]) -> None:
    admin, _ = live
    opened = revision(admin, "ballerina", "release")
    admin.set_fact(ME, "Ballerina", "release", "6 June 2025", "Variety", expect=opened)
    after_first = files(admin.settings)
    for edit in (lambda: admin.set_fact(OTHER, "Ballerina", "release", "July 2025", "Deadline", expect=opened),
                 lambda: admin.add_fact(OTHER, "Ballerina", "release", "July 2025", "Deadline", expect=opened),
                 lambda: admin.remove_fact(OTHER, "Ballerina", "release", expect=opened)):
        with pytest.raises(ChangedError, match="changed since you opened it"):
            edit()
    assert files(admin.settings) == after_first
    # other facts of the same entity are not "the same fact": no conflict
    admin.set_fact(OTHER, "Ballerina", "directed_by", "Chad Stahelski", "Deadline",
                   expect=revision(admin, "ballerina", "directed_by"))


def test_a_group_of_questions_is_answered_by_key_and_all_leave_the_inbox(live: tuple[Admin, Brain]) -> None:
    admin, brain = live
    for text in ("when is john wick 5 out?", "When does John Wick 5 come out", "when is john wick 5 out?",
                 "who sang the song in the trailer"):
        assert brain.reply(None, "u", text).kind == "unknown"
    mind = brain.mind
    groups = group_inbox(admin.unanswered(ME, 100), mind.kb, mind.nlu, mind.answers, admin.settings.nlu.threshold)
    release = next(g for g in groups if "john wick 5" in g.key)
    assert release.count == 3 and len(release.wordings) == 2
    assert (release.relation, release.entity) == ("release", "John Wick: Chapter 5")
    assert [g.count for g in groups] == sorted((g.count for g in groups), reverse=True)
    change = admin.answer(ME, 0, release.entity, "release", "May 2027", "Lionsgate", key=release.key,
                          also=release.keys)
    assert "is now an example of ask_release" in change.message
    assert [q.text for q in admin.unanswered(ME)] == ["who sang the song in the trailer"]
    assert "May 2027" in brain.reply(None, "u", "when does john wick 5 come out?").text
    with pytest.raises(EditError, match="already been answered"):
        admin.answer(ME, 0, "ballerina", "release", "x", "y", key=release.key)
    admin.undo(ME)  # the fact and the example, in one step
    assert "May 2027" not in brain.reply(None, "u", "when does john wick 5 come out?").text


def test_dismissing_is_audited_and_takes_questions_off_the_inbox(live: tuple[Admin, Brain]) -> None:
    admin, brain = live
    brain.reply(None, "u", "what colour is the ballerina's car")
    key = admin.unanswered(ME)[0].normalized
    with pytest.raises(NotAdminError):
        admin.dismiss(STRANGER, [key])
    assert admin.dismiss(ME, [key]).message == "Dismissed 1 question."
    assert admin.unanswered(ME) == []
    assert admin.history(ME)[0].action == "dismiss" and admin.history(ME)[0].who == ME.who


def test_a_switched_off_question_is_never_asked_and_undo_brings_it_back(live: tuple[Admin, Brain]) -> None:
    admin, brain = live
    questions, disabled = admin.quiz_questions(ME)
    target = questions[0]
    assert not disabled and bank_for(brain.mind.kb, admin.quiz_path).by_id(target.id) is not None
    before = admin.quiz_path.read_bytes()
    admin.disable_question(ME, target.id)
    assert bank_for(brain.mind.kb, admin.quiz_path).by_id(target.id) is None  # the live bot's bank
    assert target.id in admin.quiz_questions(ME)[1]
    with pytest.raises(EditError, match="already switched off"):
        admin.disable_question(ME, target.id)
    admin.undo(ME)
    assert admin.quiz_path.read_bytes() == before
    assert bank_for(brain.mind.kb, admin.quiz_path).by_id(target.id) is not None


def test_an_added_question_is_asked_and_one_on_a_missing_fact_is_refused(live: tuple[Admin, Brain]) -> None:
    admin, brain = live
    change = admin.add_question(ME, NewQuestion("choice", "easy", "Who is at the helm of Ballerina?",
                                                "Len Wiseman", "Ballerina", "directed_by", "Len Wiseman",
                                                ("Chad Stahelski", "Keanu Reeves")))
    added = bank_for(brain.mind.kb, admin.quiz_path).by_id(change.target)
    assert added is not None and added.answer == "Len Wiseman" and "Keanu Reeves" in added.wrong
    before = admin.quiz_path.read_bytes()
    for bad, reason in ((NewQuestion("choice", "easy", "Who directs it?", "Keanu Reeves", "Ballerina", "directed_by",
                                     "Keanu Reeves"), "would never be asked"),
                        (NewQuestion("choice", "easy", "Who?", "x", "Nobody Known", "directed_by"), "no entity"),
                        (NewQuestion("truefalse", "easy", "Is it?", "maybe", "Ballerina", "release"), "true or false"),
                        (NewQuestion("choice", "easy", "Two\nlines", "x", "Ballerina", "release"), "one line")):
        with pytest.raises(EditError, match=reason):
            admin.add_question(ME, bad)
    assert admin.quiz_path.read_bytes() == before
