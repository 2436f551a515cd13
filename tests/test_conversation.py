"""The dialogue's bookkeeping without a Brain: what a reply leaves for the next message, and one reply
for a multi-part message."""
from __future__ import annotations

from dataclasses import dataclass

from bot.context import ChatContext
from bot.conversation import follow_up_context, joined
from bot.reply import Reply
from bot.understanding.questions import Question, QuestionMap, QuestionsFile


@dataclass(frozen=True)
class Route:
    handler: str


ROUTES = {"ask_director": Route("facts"), "ask_appears": Route("yesno"), "out_of_scope": Route("out_of_scope")}
QUESTIONS = QuestionMap(QuestionsFile(questions=[Question(relation="written_by", about=["film"], cues=["wrote"])]))
FILM = ("harbour_lights", "film", None)
PERSON = ("tomas_vey", "person", "he")


def test_an_answer_leaves_its_question_and_names_in_play() -> None:
    ctx = ChatContext()
    follow_up_context(ctx, Reply("Tomas Vey directs it.", "answer", "ask_director"), ROUTES, QUESTIONS, [FILM, PERSON])
    assert ctx.last_intent == "ask_director" and ctx.last_by_pronoun["he"] == "tomas_vey"


def test_an_off_topic_reply_keeps_the_thread() -> None:
    ctx = ChatContext()
    follow_up_context(ctx, Reply("Tomas Vey directs it.", "answer", "ask_director"), ROUTES, QUESTIONS, [FILM, PERSON])
    follow_up_context(ctx, Reply("No idea.", "unknown", "out_of_scope"), ROUTES, QUESTIONS, [])
    assert ctx.last_intent == "ask_director" and ctx.last_by_kind["film"] == "harbour_lights"


def test_a_fact_question_answered_no_stays_in_play() -> None:
    ctx = ChatContext()
    follow_up_context(ctx, Reply("Not that I know.", "unknown", "ask_appears"), ROUTES, QUESTIONS, [FILM])
    assert ctx.last_intent == "ask_appears"


def test_a_map_relation_stays_asked_until_a_fact_answers() -> None:
    ctx = ChatContext()
    follow_up_context(ctx, Reply("The article doesn't say who wrote it.", "unknown", "ask_written_by"),
                      ROUTES, QUESTIONS, [FILM])
    assert ctx.last_asked == "written_by"
    follow_up_context(ctx, Reply("Tomas Vey directs it.", "answer", "ask_director"), ROUTES, QUESTIONS, [FILM])
    assert ctx.last_asked is None


def test_parts_join_in_order_with_every_source() -> None:
    a = Reply("Tomas Vey directs it.", "answer", "ask_director", entities=("tomas_vey",))
    b = Reply("The article doesn't say who wrote it.", "unknown", "ask_written_by", entities=("harbour_lights",))
    whole = joined([a, b])
    assert whole is not None and whole.text == f"{a.text} {b.text}" and whole.kind == "answer"
    assert whole.entities == ("tomas_vey", "harbour_lights")
    assert joined([b, b]) is None  # no part answered with a fact: not one reply
