"""A statement asked as a question ("Mira Solberg plays Edda, right?") is the yes/no question it asks,
on Ballerina and on the tests' second film: answered yes or no from the facts, never read as a
statement the bot knows nothing about."""
from __future__ import annotations

import pytest

from bot.dialogue import Brain
from bot.understanding.tags import as_question

from .test_understanding_context import harbour, turns  # noqa: F401  (a fixture)


@pytest.mark.parametrize("text, question", [
    ("Mira Solberg plays Edda, right?", "does Mira Solberg play Edda"),
    ("tomas vey directed it, didn't he?", "did tomas vey direct it"),
    ("is it true that tomas vey is in it", "is tomas vey in it"),
    ("so harbour lights is out in 2021?", "is harbour lights out in 2021"),
    ("edda is played by mira solberg correct", "is edda played by mira solberg"),
])
def test_a_tagged_statement_is_its_yes_no_question(text: str, question: str) -> None:
    assert as_question(text) == question


@pytest.mark.parametrize("text", ["how old is she", "and is it any good", "who directs it", "i love this film",
                                  "no, I meant the director?", "and Edda?"])
def test_a_question_or_a_statement_without_a_tag_stays_as_it_is(text: str) -> None:
    assert as_question(text) in (None, text)


@pytest.mark.parametrize("film, text, opens, names", [
    ("harbour", "Mira Solberg plays Edda, right?", "yes", "Mira Solberg"),
    ("harbour", "edda is played by tomas vey, isn't she?", "no", "Mira Solberg"),
    ("ballerina", "ana de armas plays rooney, right?", "yes", "Rooney"),
    ("ballerina", "len wiseman directed ballerina, correct?", "yes", "Wiseman"),
    ("ballerina", "Ian McShane plays Charon, doesn't he?", "no", "Reddick"),
])
def test_a_tagged_statement_is_answered_yes_or_no(brain: Brain, harbour: Brain, film: str, text: str,  # noqa: F811
                                                 opens: str, names: str) -> None:
    reply = turns(brain if film == "ballerina" else harbour, text)
    assert reply.kind == "answer" and reply.text.lower().startswith(opens) and names in reply.text, reply.text
