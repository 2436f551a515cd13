"""The quiz core: question bank, answer matching, and the game engine on a fake clock."""
from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from bot.config import Settings
from bot.knowledge.base import KnowledgeBase
from bot.admin import Actor, Admin
from bot.quiz import QuizError, Verdict
from bot.quiz import render
from bot.quiz.engine import SHOW_LIMIT, Finished, Revealed
from bot.quiz.bank import bank_for
from bot.quiz.matching import AnswerKey, normalize
from bot.storage import open_storage
from tests.support.quiz import Clock, bank, kb, make_engine, right_text, shown  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- the bank


def test_bank_has_hand_written_and_generated_questions_all_sourced(bank) -> None:  # type: ignore[no-untyped-def]
    hand = [q for q in bank.questions if q.id.startswith("hw:")]
    generated = [q for q in bank.questions if q.id.startswith("gen:")]
    assert len(hand) >= 30 and len(generated) >= 30
    assert {q.difficulty for q in hand} == {"easy", "medium", "hard"}
    assert {q.kind for q in bank.questions} == {"choice", "truefalse", "free"}
    for q in bank.questions:
        assert q.source and q.known, q.id
        if q.kind == "choice":
            assert q.answer not in q.wrong and len(set(q.wrong)) == len(q.wrong) >= 1, q.id


def test_generated_wrong_options_are_the_same_kind_and_really_wrong(bank, kb: KnowledgeBase) -> None:  # type: ignore[no-untyped-def]
    people = {e.name for e in kb.entities.values() if e.kind == "person"}
    question = next(q for q in bank.questions if q.text == "Who directed Ballerina?" and q.kind == "choice")
    assert question.answer == "Len Wiseman"
    assert set(question.wrong) <= people and "Len Wiseman" not in question.wrong


def test_a_game_never_repeats_a_question_or_a_fact(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    engine = make_engine(settings, kb, open_storage(tmp_path / "q.db"), Clock())
    engine.start("c", "u", count=30, mode="text")
    ids, topics = [], []
    while (nxt := engine.next_round("c")) is not None:
        rnd, question = nxt
        ids.append(question.id)
        topics.append(question.topic)
        engine.close_round("c", rnd.number, "timeout")
    assert len(ids) == 30 and len(set(ids)) == 30 and len(set(topics)) == 30


def test_mixed_games_climb_from_easy_to_hard(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    engine = make_engine(settings, kb, open_storage(tmp_path / "q.db"), Clock())
    engine.start("c", "u", count=9, mode="poll")
    levels = []
    while (nxt := engine.next_round("c")) is not None:
        levels.append(nxt[1].difficulty)
        engine.close_round("c", nxt[0].number, "timeout")
    assert levels[:3] == ["easy"] * 3 and levels[-3:] == ["hard"] * 3


def test_an_edited_fact_regenerates_its_questions(project: Path, settings: Settings) -> None:
    before = bank_for(KnowledgeBase.load(settings.knowledge), settings.quiz_file)
    release_before = [q for q in before.questions if q.topic.startswith("release:")]
    assert any("spring or summer 2024" == q.answer for q in release_before)
    assert before.by_id("hw:who_announced_release") is not None

    Admin(settings, open_storage(":memory:")).set_fact(Actor.local_operator(), "Ballerina", "release", "6 June 2025",
                                                  "Variety")
    after = bank_for(KnowledgeBase.load(settings.knowledge), settings.quiz_file)
    answers = {q.answer for q in after.questions if q.topic.startswith("release:")}
    assert "6 June 2025" in answers and "spring or summer 2024" not in answers
    assert all(q.source == "according to Variety" for q in after.questions if q.topic.startswith("release:"))
    # the hand-written question that quoted the old window is dropped rather than asked stale
    assert after.by_id("hw:who_announced_release") is None


# --------------------------------------------------------------------------- answer matching


KEY = AnswerKey.build(["Ana de Armas", "ana de armas", "de armas", "armas", "de Armas"],
                      ["Kate Beckinsale", "Angelica Huston", "Ian McShane", "Len Wiseman", "wiseman"])
WISEMAN = AnswerKey.build(["Len Wiseman", "wiseman", "len wiseman"], ["Chad Stahelski", "Ian McShane", "Lance Reddick"])


@pytest.mark.parametrize("typed", ["ana de armas", "Ana De Armas!", "de armas", "  DE ARMAS  ", "Ana de Ármas",
                                   "the ana de armas", "ana de armass", "Ana de-Armas"])
def test_lenient_forms_are_accepted(typed: str) -> None:
    assert KEY.judge(typed) is Verdict.CORRECT


@pytest.mark.parametrize("typed", ["Len wisemen", "len wiseman", "wisemann", "Wiseman."])
def test_small_typos_are_accepted(typed: str) -> None:
    assert WISEMAN.judge(typed) is Verdict.CORRECT


@pytest.mark.parametrize("typed", ["Ian McShane", "Chad Stahelski", "stahelski", "reddick", "keanu", "", "🩰" * 50])
def test_wrong_names_are_refused(typed: str) -> None:
    assert WISEMAN.judge(typed) is not Verdict.CORRECT


def test_a_near_miss_is_close_not_correct() -> None:
    assert WISEMAN.judge("len wise") is Verdict.CLOSE


@given(st.sampled_from(["Ana de Armas", "Len Wiseman", "Rooney", "the High Table"]),
       st.lists(st.sampled_from(list(" .,!?-'\"")), max_size=4), st.booleans())
def test_case_and_punctuation_never_matter(answer: str, noise: list[str], upper: bool) -> None:
    key = AnswerKey.build([answer], ["Kate Beckinsale"])
    typed = "".join(noise) + (answer.upper() if upper else answer.lower()) + "".join(reversed(noise))
    assert key.judge(typed) is Verdict.CORRECT


@given(st.sampled_from(["Ana de Armas", "Len Wiseman", "Lance Reddick", "Angelica Huston"]), st.data())
def test_one_typo_in_a_long_name_is_forgiven(answer: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(answer) - 1))
    letter = data.draw(st.sampled_from(string.ascii_lowercase))
    typed = answer[:position] + letter + answer[position + 1:]
    assert AnswerKey.build([answer], []).judge(typed) is Verdict.CORRECT


@given(st.text(max_size=5000))
@hsettings(max_examples=200)
def test_any_text_gets_a_verdict_and_never_crashes(typed: str) -> None:
    assert WISEMAN.judge(typed) in (Verdict.CORRECT, Verdict.CLOSE, Verdict.WRONG)
    assert normalize(typed) == normalize(normalize(typed))


@given(st.sampled_from(["Kate Beckinsale", "Angelica Huston", "Ian McShane", "Len Wiseman"]))
def test_another_name_from_the_question_is_never_accepted(other: str) -> None:
    assert KEY.judge(other) is Verdict.WRONG


# --------------------------------------------------------------------------- the engine


def test_first_right_typed_answer_wins_and_faster_scores_more(settings: Settings, kb: KnowledgeBase,
                                                              tmp_path: Path) -> None:
    clock = Clock()
    engine = make_engine(settings, kb, open_storage(tmp_path / "q.db"), clock)
    engine.start("c", "u1", count=2, mode="text")
    base = {"easy": 100, "medium": 150, "hard": 200}
    _, question = engine.next_round("c")  # type: ignore[misc]
    shown(engine, "c")
    clock.now += 2
    first = engine.answer_text("c", "u1", "Ann", right_text(engine, "c"))
    second = engine.answer_text("c", "u2", "Bob", right_text(engine, "c"))
    assert first.verdict is Verdict.CORRECT
    assert second.verdict is None  # the round was already won
    fast_bonus = first.points - base[question.difficulty]
    engine.close_round("c", 1, "answered")
    _, question = engine.next_round("c")  # type: ignore[misc]
    shown(engine, "c")
    clock.now += 15
    slow = engine.answer_text("c", "u2", "Bob", right_text(engine, "c"))
    assert slow.verdict is Verdict.CORRECT
    assert fast_bonus > slow.points - base[question.difficulty] > 0


def test_streaks_add_a_bonus(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    clock = Clock()
    engine = make_engine(settings, kb, open_storage(tmp_path / "q.db"), clock)
    engine.start("c", "u1", count=3, mode="poll", )
    gained = []
    for number in (1, 2, 3):
        rnd, question = engine.next_round("c")  # type: ignore[misc]
        engine.attach("c", number, 100 + number, f"poll{number}")
        outcome = engine.answer_poll(f"poll{number}", "u1", "Ann", [rnd.correct[0]], at=rnd.asked_at)
        assert outcome is not None and outcome.verdict is Verdict.CORRECT
        gained.append(outcome.points - {"easy": 100, "medium": 150, "hard": 200}[question.difficulty])
        engine.close_round("c", number, "timeout")
    assert gained[0] < gained[1] < gained[2]  # same speed, growing streak bonus
    assert engine.running("c").players["u1"].best_streak == 3  # type: ignore[union-attr]


def test_a_question_s_time_starts_when_it_is_shown_not_when_it_is_asked(settings: Settings, kb: KnowledgeBase,
                                                                        tmp_path: Path) -> None:
    """In a busy group a poll waits for its turn in Telegram's limits (20 messages a minute) and then is open
    for its whole period: its votes count for that period, however late it went out."""
    clock = Clock()
    engine = make_engine(settings, kb, open_storage(tmp_path / "q.db"), clock)
    engine.start("c", "u1", count=2, mode="poll")
    rnd, _ = engine.next_round("c")  # type: ignore[misc]
    clock.now += 40  # the poll waited 40 s for the group's window
    assert engine.fire_due() == []  # its time has not started: nothing is due
    engine.attach("c", 1, 7, "p1", shown_at=clock.now)
    clock.now += settings.quiz.seconds - 1  # the last second of the poll's open period
    assert engine.fire_due() == []
    outcome = engine.answer_poll("p1", "u2", "Bob", rnd.correct)
    assert outcome is not None and outcome.verdict is Verdict.CORRECT and outcome.points > 0
    clock.now += 1
    (fired,) = engine.fire_due()
    assert fired.kind == "deadline" and isinstance(fired.steps[0], Revealed)
    assert fired.steps[0].result.reason == "timeout"


def test_a_question_never_shown_is_closed_after_the_show_limit_and_the_end_says_so(
        settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    clock = Clock()
    engine = make_engine(settings, kb, open_storage(tmp_path / "q.db"), clock)
    engine.start("c", "u1", count=1, mode="poll")
    engine.next_round("c")
    clock.now += settings.quiz.seconds + 1
    assert engine.fire_due() == []  # it may still go out: the limits can hold a group's message a minute
    clock.now = engine.running("c").round.asked_at + SHOW_LIMIT  # type: ignore[union-attr]
    (fired,) = engine.fire_due()
    assert fired.kind == "deadline" and fired.steps[0].result.reason == "unshown"  # type: ignore[union-attr]
    clock.now += settings.quiz.pause
    (end,) = engine.fire_due()
    (finished,) = end.steps
    assert isinstance(finished, Finished)
    assert "1 question could not be shown in time" in render.final_text(finished.game, finished.standings, False)


def test_one_try_per_player_on_options_and_late_answers_ignored(settings: Settings, kb: KnowledgeBase,
                                                                tmp_path: Path) -> None:
    clock = Clock()
    engine = make_engine(settings, kb, open_storage(tmp_path / "q.db"), clock, seed=5)
    engine.start("c", "u1", count=3, mode="poll")
    rnd, _ = engine.next_round("c")  # type: ignore[misc]
    engine.attach("c", 1, 7, "p1")
    wrong = next(i for i in range(len(rnd.options)) if i not in rnd.correct)
    assert engine.answer_poll("p1", "u1", "Ann", [wrong]).verdict is Verdict.WRONG  # type: ignore[union-attr]
    assert engine.answer_poll("p1", "u1", "Ann", rnd.correct).verdict is None  # type: ignore[union-attr]
    # a poll nobody recorded (yet): its vote waits for the record, and scores nothing without one
    assert engine.answer_poll("not-ours", "u2", "Bob", [0]).verdict is None  # type: ignore[union-attr]
    clock.now = rnd.deadline + 5
    assert engine.answer_poll("p1", "u2", "Bob", rnd.correct).verdict is None  # type: ignore[union-attr]
    assert engine.running("c").players["u1"].points == 0  # type: ignore[union-attr]
    assert set(engine.running("c").players) == {"u1"}  # type: ignore[union-attr]
    engine.stop("c")
    assert engine.answer_poll("not-ours", "u2", "Bob", [0]) is None  # no game running: an old poll


def test_one_game_per_chat_and_settings_validated(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    engine = make_engine(settings, kb, open_storage(tmp_path / "q.db"), Clock())
    engine.start("c", "u1")
    with pytest.raises(QuizError, match="already running"):
        engine.start("c", "u2")
    engine.start("other", "u2")  # another chat is fine
    assert engine.change_setting("c", "seconds", "30").seconds == 30
    assert engine.settings("c").seconds == 30 and engine.settings("other").seconds == settings.quiz.seconds
    for key, value, message in (("seconds", "2", "between 5 and 300"), ("mode", "telepathy", "poll or text"),
                                ("colour", "red", "no setting"), ("questions", "lots", "between 1 and 50")):
        with pytest.raises(QuizError, match=message):
            engine.change_setting("c", key, value)


def test_a_restart_keeps_the_game_and_every_point(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    clock = Clock()
    db = tmp_path / "q.db"
    engine = make_engine(settings, kb, open_storage(db), clock)
    engine.start("c", "u1", count=3, mode="text")
    engine.next_round("c")
    scored = engine.answer_text("c", "u1", "Ann", right_text(engine, "c"))
    engine.close_round("c", 1, "answered")
    engine.next_round("c")

    revived = make_engine(settings, kb, open_storage(db), clock)  # a new process on the same file
    game = revived.running("c")
    assert game is not None and game.number == 2 and game.players["u1"].points == scored.points
    assert revived.answer_text("c", "u2", "Bob", right_text(revived, "c")).verdict is Verdict.CORRECT
    revived.close_round("c", 2, "answered")
    _, standings = revived.finish("c", stopped=True)
    assert {s.name: s.points for s in standings}["Ann"] == scored.points
    board = revived.leaderboard("c")
    assert sum(s.points for s in board) == sum(s.points for s in standings)  # all-time, exactly


def test_ties_share_a_place(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    from bot.quiz.state import Player, rank

    ranked = rank([Player("a", "Ann", 300, 2), Player("b", "Bob", 300, 2), Player("c", "Cy", 100, 1)])
    assert [(s.rank, s.tied) for s in ranked] == [(1, True), (1, True), (3, False)]


def test_the_global_leaderboard_sums_a_player_over_chats(settings: Settings, kb: KnowledgeBase,
                                                          tmp_path: Path) -> None:
    engine = make_engine(settings, kb, open_storage(tmp_path / "q.db"), Clock())
    earned: dict[str, int] = {}
    for chat in ("group-a", "group-b"):
        engine.start(chat, "ann", count=1, mode="text")
        engine.next_round(chat)
        earned[chat] = engine.answer_text(chat, "ann", "Ann", right_text(engine, chat)).points
        engine.close_round(chat, 1, "answered")
        engine.finish(chat)
    assert [(s.name, s.points) for s in engine.leaderboard("group-a")] == [("Ann", earned["group-a"])]
    assert [(s.name, s.points) for s in engine.leaderboard(None)] == [("Ann", sum(earned.values()))]
