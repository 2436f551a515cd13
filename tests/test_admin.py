"""Admin operations in process: who may, what is refused, what is saved, undo, and live answers."""
from __future__ import annotations

import re

import random
from pathlib import Path

import pytest

from bot.admin import Actor, Admin
from bot.config import Settings
from bot.dialogue import Brain
from bot.errors import EditError, NotAdminError
from bot.knowledge import KnowledgeBase
from bot.live import KnowledgeWatcher
from bot.storage import Storage, open_storage

ADMIN_ID, STRANGER_ID = 1001, 2002


@pytest.fixture
def admin_settings(settings: Settings) -> Settings:
    settings.admins = [ADMIN_ID]
    return settings


@pytest.fixture
def storage(admin_settings: Settings) -> Storage:
    return open_storage(admin_settings.database)


@pytest.fixture
def live_brain(admin_settings: Settings, storage: Storage) -> Brain:
    return Brain.from_settings(admin_settings, storage, random.Random(7))


@pytest.fixture
def admin(admin_settings: Settings, storage: Storage) -> Admin:
    """The command line's view: no running Brain to swap."""
    return Admin(admin_settings, storage)


@pytest.fixture
def live_admin(admin_settings: Settings, storage: Storage, live_brain: Brain) -> Admin:
    """A front's view: changes are swapped into the running Brain at once."""
    return Admin(admin_settings, storage, brain=live_brain)


ME = Actor.telegram(ADMIN_ID, "boss")
STRANGER = Actor.telegram(STRANGER_ID, "mallory")


def snapshot(settings: Settings) -> dict[Path, bytes]:
    files = [Path(settings.knowledge), *sorted(Path(settings.intents).rglob("*.yml"))]
    return {p: p.read_bytes() for p in files}


OPERATIONS = {
    "show": lambda a, who: a.show(who, "Ballerina"),
    "set": lambda a, who: a.set_fact(who, "Ballerina", "release", "2025", source="Variety"),
    "add": lambda a, who: a.add_fact(who, "Ballerina", "release", "2025", source="Variety"),
    "remove": lambda a, who: a.remove_fact(who, "Ballerina", "release"),
    "alias": lambda a, who: a.add_alias(who, "Ballerina", "from the world of john wick"),
    "add_entity": lambda a, who: a.add_entity(who, "jane_doe", "person", "Jane Doe"),
    "example": lambda a, who: a.add_example(who, "ask_release", "when can i watch it in cinemas"),
    "unanswered": lambda a, who: a.unanswered(who),
    "answer": lambda a, who: a.answer(who, 1, "Ballerina", "release", "2025", source="Variety"),
    "history": lambda a, who: a.history(who),
    "undo": lambda a, who: a.undo(who),
    "reload": lambda a, who: a.reload(who),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_non_admin_is_refused_and_nothing_changes(operation: str, live_admin: Admin, admin_settings: Settings,
                                                  storage: Storage, live_brain: Brain) -> None:
    live_admin.set_fact(ME, "Ballerina", "release", "autumn 2024", source="Deadline")  # something to undo
    storage.log_unanswered("c", "u", "who composed the score", "who composed the score", None, 0.1)
    before, mind = snapshot(admin_settings), live_brain.mind
    with pytest.raises(NotAdminError, match="only the bot's admins"):
        OPERATIONS[operation](live_admin, STRANGER)
    assert snapshot(admin_settings) == before
    assert live_brain.mind is mind
    refused = storage.audit_log(1)[0]
    assert (refused.action, refused.who, refused.file) == ("refused", STRANGER.who, None)


def test_admins_come_from_config_and_environment(project: Path) -> None:
    from bot.config import load_settings

    settings = load_settings(project, env={"BOT_ADMINS": "5, 6"})
    admin = Admin(settings, open_storage(":memory:"))
    assert admin.is_admin(Actor.telegram(6)) and not admin.is_admin(Actor.telegram(7))
    assert admin.is_admin(Actor.local_operator())


def test_set_replaces_the_fact_with_its_source_and_date(admin: Admin, admin_settings: Settings) -> None:
    change = admin.set_fact(ME, "the ballerina movie", "release", "6 June 2025", source="Variety", known="2024-11-20")
    assert "6 June 2025" in change.message and "according to variety" in change.message.lower()
    kb = KnowledgeBase.load(Path(admin_settings.knowledge))
    [fact] = kb.facts_about("ballerina", "release")
    assert (fact.object, fact.source, fact.known, fact.quote) == ("6 June 2025", "variety", "2024-11-20", None)
    assert kb.sources["variety"].attribution == "according to Variety"


def test_edit_keeps_comments_and_order(admin: Admin, admin_settings: Settings) -> None:
    path = Path(admin_settings.knowledge)
    old = path.read_text(encoding="utf-8")
    admin.set_fact(ME, "Ballerina", "release", "2025", source="article")
    new = path.read_text(encoding="utf-8")
    comments = [line.strip() for line in old.splitlines() if line.strip().startswith("#")]
    assert comments == [line.strip() for line in new.splitlines() if line.strip().startswith("#")]
    keys = [line.split(":")[0] for line in old.splitlines() if line and not line[0].isspace()]
    assert keys == [line.split(":")[0] for line in new.splitlines() if line and not line[0].isspace()]


def test_undo_restores_the_file_byte_for_byte(admin: Admin, admin_settings: Settings) -> None:
    path = Path(admin_settings.knowledge)
    original = path.read_bytes()
    admin.set_fact(ME, "Ballerina", "release", "2025", source="Variety")
    after_first = path.read_bytes()
    admin.add_alias(ME, "Ballerina", "rooney's story")
    admin.undo(ME)
    assert path.read_bytes() == after_first
    admin.undo(ME)
    assert path.read_bytes() == original
    with pytest.raises(EditError, match="nothing to undo"):
        admin.undo(ME)


@pytest.mark.parametrize("value", [
    ": {}", "!!python/object:os.system", "&anchor *anchor", "- [a, b]", "yes", "null", "1_000", "0o17", "1:20",
    "'quoted' \"double\" # not a comment", "Премьера 6 июня 2025 года 🎬", "x" * 2000, "a\nb", "%TAG ! tag:x",
])
def test_yaml_looking_values_are_stored_as_plain_text(admin: Admin, admin_settings: Settings, value: str) -> None:
    admin.set_fact(ME, "Ballerina", "release", value, source="Variety")
    [fact] = KnowledgeBase.load(Path(admin_settings.knowledge)).facts_about("ballerina", "release")
    assert fact.object == value.strip()


@pytest.mark.parametrize(("call", "message"), [
    (lambda a: a.set_fact(ME, "Nonexistent Film", "release", "2025", source="x"), "no entity"),
    (lambda a: a.set_fact(ME, "Ballerina", "budget", "$90m", source="x"), "no relation 'budget'"),
    (lambda a: a.set_fact(ME, "Ballerina", "release", "   ", source="x"), "empty"),
    (lambda a: a.set_fact(ME, "Ballerina", "release", "x" * 2001, source="x"), "limit is 2000"),
    (lambda a: a.set_fact(ME, "Ballerina", "release", "a\x00b", source="x"), "control characters"),
    (lambda a: a.set_fact(ME, "Ballerina", "release", "\udcff", source="x"), "not valid text"),
    (lambda a: a.set_fact(ME, "Ballerina", "release", "2025", source="x", known="June 2025"), "not a date"),
    (lambda a: a.set_fact(ME, "Ballerina", "release", "2025", source="x", known="2025-02-30"), "not a real date"),
    (lambda a: a.set_fact(ME, "Ballerina", "directed_by", "Keanu Reevs", source="x"), "(?i)did you mean keanu_reeves"),
    (lambda a: a.set_fact(ME, "Ballerina", "directed_by", "Rooney", source="x"), "is a character"),
    (lambda a: a.set_fact(ME, "Keanu Reeves", "release", "2025", source="x"), "is a person"),
    (lambda a: a.set_fact(ME, "john wick", "description", "x", source="x"), "could mean"),
    (lambda a: a.remove_fact(ME, "Ballerina", "starring"), "say which"),
    (lambda a: a.add_alias(ME, "Ballerina", "balerina"), "already"),
    (lambda a: a.add_entity(ME, "Bad Id", "person", "X"), "not a valid id"),
    (lambda a: a.add_entity(ME, "ballerina", "film", "X"), "already an entity"),
    (lambda a: a.add_entity(ME, "x", "planet", "X"), "unknown kind"),
    (lambda a: a.add_example(ME, "ask_relase", "when is it out"), "(?i)did you mean ask_release"),
    (lambda a: a.add_example(ME, "ask_release", "when is ballerina out"), "already an example"),
    (lambda a: a.answer(ME, 3, "Ballerina", "release", "2025", source="x"), "no unanswered question number 3"),
])
def test_bad_input_gives_a_clear_error_and_no_change(admin: Admin, admin_settings: Settings, call, message) -> None:
    before = snapshot(admin_settings)
    with pytest.raises(EditError, match=message):
        call(admin)
    assert snapshot(admin_settings) == before


def test_add_remove_alias_entity_and_new_object(live_admin: Admin, admin_settings: Settings, live_brain: Brain) -> None:
    live_admin.add_fact(ME, "Ballerina", "starring", "Norman Reedus", source="Deadline", known="2023-05")
    live_admin.add_alias(ME, "Norman Reedus", "reedus")
    kb = live_brain.mind.kb
    assert kb.entities["norman_reedus"].kind == "person"
    assert "reedus" in kb.entities["norman_reedus"].aliases
    assert any(f.object == "norman_reedus" for f in kb.facts_about("ballerina", "starring"))
    reply = live_brain.reply("c", "u", "is reedus in ballerina?")
    assert "Norman Reedus" in reply.text or reply.kind == "answer"
    live_admin.remove_fact(ME, "Ballerina", "starring", "reedus")
    assert not any(f.object == "norman_reedus" for f in live_brain.mind.kb.facts_about("ballerina", "starring"))
    live_admin.add_entity(ME, "gabriel_byrne", "person", "Gabriel Byrne")
    assert live_brain.mind.kb.entities["gabriel_byrne"].name == "Gabriel Byrne"


def test_new_release_date_is_answered_with_its_source_at_once(live_admin: Admin, live_brain: Brain) -> None:
    assert "spring or summer 2024" in live_brain.reply("c", "u", "when is Ballerina out?").text
    live_admin.set_fact(ME, "Ballerina", "release", "6 June 2025", source="Variety", known="2024-11-20")
    reply = live_brain.reply("c2", "u", "when is Ballerina out?")
    assert "6 June 2025" in reply.text and "according to variety" in reply.text.lower()
    live_admin.undo(ME)
    assert "spring or summer 2024" in live_brain.reply("c3", "u", "when is Ballerina out?").text


def test_answering_an_unanswered_question_adds_fact_and_example(live_admin: Admin, admin_settings: Settings,
                                                                storage: Storage, live_brain: Brain) -> None:
    for _ in range(2):
        live_brain.reply("c", "u", "what is the runtime of ballerina")
    storage.log_unanswered("c", "u", "who wrote the script", "who wrote the script", None, 0.1)
    questions = live_admin.unanswered(ME)
    assert questions[0].count >= 2 and questions[0].text == "what is the runtime of ballerina"
    intents_before = snapshot(admin_settings)
    change = live_admin.answer(ME, 1, "Ballerina", "production", "runs 125 minutes", source="Lionsgate", intent="ask_production"
                          if "ask_production" in live_brain.mind.answers.routes else None)
    assert len(change.audit_ids) == 2
    assert "what is the runtime of ballerina" not in [q.text for q in live_admin.unanswered(ME)]
    text = b"".join(Path(p).read_bytes() for p in change.files[1:])
    assert b"- what is the runtime of ballerina" in text
    live_admin.undo(ME)  # one step undoes both files
    assert snapshot(admin_settings) == intents_before


def test_history_lists_changes_newest_first(admin: Admin) -> None:
    admin.set_fact(ME, "Ballerina", "release", "2025", source="Variety")
    admin.add_alias(ME, "Ballerina", "ballerina 2025")
    entries = admin.history(ME)
    assert [e.action for e in entries[:2]] == ["alias", "set"]
    assert entries[1].source == "variety" and entries[1].who == ME.who


def test_watcher_picks_up_a_file_change_and_keeps_the_old_mind_when_broken(
        admin_settings: Settings, live_brain: Brain, tmp_path: Path) -> None:
    import time

    path = Path(admin_settings.knowledge)
    other = Admin(admin_settings, open_storage(tmp_path / "other.sqlite3"))  # another process, in effect
    with KnowledgeWatcher(live_brain, interval=0.05):
        other.set_fact(Actor.local_operator(), "Ballerina", "release", "6 June 2025", source="Variety")
        deadline = time.time() + 15.0  # the watcher polls every 0.05 s; the bound is for a busy machine
        while "6 June 2025" not in live_brain.reply(None, "u", "when is Ballerina out?").text:
            assert time.time() < deadline, "the change was not picked up"
            time.sleep(0.05)
        good = live_brain.mind
        path.write_text(path.read_text(encoding="utf-8") + "\n  - {subject: nobody}\n", encoding="utf-8")
        time.sleep(0.3)
        assert live_brain.mind is good
        assert "6 June 2025" in live_brain.reply(None, "u", "when is Ballerina out?").text


@pytest.mark.parametrize(("typed", "stored", "reads"), [
    ("June 6, 2025", "June 6, 2025", "Ballerina is due for release on June 6, 2025"),
    ("6 June 2025", "6 June 2025", "Ballerina is due for release on 6 June 2025"),
    ("in June 2025", "June 2025", "Ballerina is due for release in June 2025"),
    ("on 2025-06-06", "2025-06-06", "Ballerina is due for release on 2025-06-06"),
    ("next summer", "next summer", "Ballerina is due for release next summer"),
    ("late 2025", "late 2025", "Ballerina is due for release in late 2025"),
])
def test_free_text_values_are_phrased_through_the_relation_template(live_admin: Admin, live_brain: Brain,
                                                                    typed: str, stored: str, reads: str) -> None:
    change = live_admin.set_fact(ME, "Ballerina", "release", typed, source="Variety")
    [fact] = live_brain.mind.kb.facts_about("ballerina", "release")
    assert fact.object == stored
    assert change.facts[0].sentence == reads and reads in change.message
    assert stored in change.answer and stored in live_brain.reply("p", "u", "when is Ballerina out?").text
    # no doubled or wrong preposition ("set for in June 2025"); the answer reads in its tense against today
    assert f"for {stored}" not in reads
    assert not re.search(rf"\b(?:for|in|on) (?:in|on) {re.escape(stored)}", change.answer), change.answer


def test_preview_shows_the_answer_and_saves_nothing(live_admin: Admin, admin_settings: Settings,
                                                    storage: Storage, live_brain: Brain) -> None:
    before, mind, history = snapshot(admin_settings), live_brain.mind, storage.audit_log(100)
    preview = live_admin.preview_fact(ME, "Ballerina", "release", "June 6, 2025", source="Variety", known="2024-11-20")
    assert not preview.saved and preview.audit_ids == () and "Nothing was saved" in preview.message
    assert "June 6, 2025" in preview.answer and "according to Variety" in preview.answer
    assert snapshot(admin_settings) == before and live_brain.mind is mind and storage.audit_log(100) == history
    with pytest.raises(EditError, match="not a date"):
        live_admin.preview_fact(ME, "Ballerina", "release", "2025", source="x", known="June 2025")
    saved = live_admin.set_fact(ME, "Ballerina", "release", "June 6, 2025", source="Variety", known="2024-11-20")
    assert saved.answer == preview.answer  # what was previewed is what is answered
    with pytest.raises(NotAdminError):
        live_admin.preview_fact(STRANGER, "Ballerina", "release", "2025", source="x")
