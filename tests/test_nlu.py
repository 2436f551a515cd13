from __future__ import annotations

import subprocess
import sys

import pytest

from bot.dialogue import Brain
from bot.nlu.data import load_training_data, strip_markup

from .conftest import ROOT


@pytest.mark.parametrize("text,entity", [
    ("who plays winston in balerina", "ballerina"),
    ("what does mcshain play", "ian_mcshane"),
    ("is keanu in it", "keanu_reeves"),
    ("who plays the director", "the_director"),
    ("ana de arms other films", "ana_de_armas"),
    ("lance redick", "lance_reddick"),
])
def test_entities_resolve_with_typos_and_nicknames(brain: Brain, text: str, entity: str) -> None:
    mentions = brain.mind.nlu.parse(text).mentions
    assert any(entity in m.entity_ids for m in mentions), mentions


def test_common_words_are_not_mistaken_for_names(brain: Brain) -> None:
    assert brain.mind.nlu.parse("what time is it in london and will it rain").mentions == []


@pytest.mark.parametrize("text,intent", [
    ("who's directing ballerina", "ask_director"),
    ("ballerina cast", "ask_cast"),
    ("when does it come out", "ask_release"),
    ("what's the story", "ask_plot"),
    ("thank you so much", "thanks"),
    ("transfer 100 dollars to my savings account", "out_of_scope"),
])
def test_intents_of_everyday_phrasings(brain: Brain, text: str, intent: str) -> None:
    assert brain.mind.nlu.parse(text).intent == intent


def test_confidence_is_a_probability_and_lower_for_gibberish(brain: Brain) -> None:
    sure = brain.mind.nlu.parse("who directs ballerina").confidence
    unsure = brain.mind.nlu.parse("qwpoeiru zxmnv").confidence
    assert 0 <= unsure < sure <= 1


def test_rasa_markup_is_stripped_from_examples() -> None:
    assert strip_markup("who plays [Winston](character) in [Ballerina]{\"entity\": \"film\"}") == \
        "who plays Winston in Ballerina"


def test_every_intent_has_enough_varied_examples() -> None:
    data = load_training_data(ROOT / "intents")
    for intent, examples in data.raw.items():
        assert len(examples) >= 30, intent
        assert len({e.lower() for e in examples}) == len(examples), f"duplicates in {intent}"


def test_answering_does_not_import_scikit_learn(project) -> None:  # type: ignore[no-untyped-def]
    subprocess.run([sys.executable, "-m", "bot", "--config", str(project), "train"], check=True,
                   capture_output=True)
    code = ("import sys; from bot.config import load_settings; from bot.dialogue import Brain; "
            f"b = Brain.from_settings(load_settings({str(project)!r})); b.reply(None, None, 'who directs ballerina'); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_chat_spellings_are_their_words_and_other_languages_words_stay() -> None:
    from bot.nlu.text import tokens
    assert tokens("wot r u doing, wen is it out") == ["what", "are", "you", "doing", "when", "is", "it", "out"]
    assert tokens("Wer spielt Rooney? da") == ["wer", "spielt", "rooney", "da"]  # German and Italian words
