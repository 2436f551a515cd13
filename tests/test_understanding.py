"""The understanding stage: each registered step, as a table, on Ballerina and on a small second film
the test builds (same model, other knowledge: nothing about a film is in the steps)."""
from __future__ import annotations

import random
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
import yaml

from bot.context import ChatContext
from bot.dialogue import INTERPRETER, Brain, build_mind
from bot.knowledge import KnowledgeBase
from bot.storage import open_storage
from bot.nlu.scope import RULES
from bot.understanding.interpreter import STEPS, UNKNOWN_SUBJECT

SECOND_FILM = {
    "version": 1, "title": "Harbour Lights", "default_subject": "harbour_lights",
    "sources": [{"id": "review", "publication": "The Quay Gazette", "attribution": "according to The Quay Gazette",
                 "known": "2021-05"}],
    "relations": [
        {"id": "directed_by", "label": "directed by", "phrase": "{subject}: directed by {object}",
         "subject": ["film"], "object": ["person"]},
        {"id": "starring", "label": "stars", "phrase": "{object} stars in {subject}{as_role}",
         "subject": ["film"], "object": ["person"], "role": ["character"]},
        {"id": "written_by", "label": "written by", "phrase": "{subject} is written by {object}",
         "subject": ["film"], "object": ["person"]},
        {"id": "description", "label": "description", "phrase": "{subject} is {object}",
         "subject": ["film", "person", "character"], "object": "text"},
        {"id": "release", "label": "release", "phrase": "{subject} opens in {object}", "subject": ["film"],
         "object": "text"},
    ],
    "entities": [
        {"id": "harbour_lights", "kind": "film", "name": "Harbour Lights", "aliases": ["harbour lights"]},
        {"id": "mira_solberg", "kind": "person", "name": "Mira Solberg", "pronoun": "she",
         "aliases": ["mira solberg", "solberg"]},
        {"id": "tomas_vey", "kind": "person", "name": "Tomas Vey", "pronoun": "he", "aliases": ["tomas vey", "vey"]},
        {"id": "edda", "kind": "character", "name": "Edda", "pronoun": "she", "aliases": ["edda"]},
        {"id": "low_tide", "kind": "film", "name": "Low Tide", "aliases": ["low tide"]},
        {"id": "inga", "kind": "character", "name": "Inga", "pronoun": "she", "aliases": ["inga"]},
    ],
    "facts": [
        {"subject": "harbour_lights", "relation": "directed_by", "object": "tomas_vey", "source": "review",
         "known": "2021-05"},
        {"subject": "harbour_lights", "relation": "written_by", "object": "mira_solberg", "source": "review",
         "known": "2021-05"},
        {"subject": "harbour_lights", "relation": "starring", "object": "mira_solberg", "role": "edda",
         "source": "review", "known": "2021-05"},
        {"subject": "harbour_lights", "relation": "starring", "object": "tomas_vey", "source": "review",
         "known": "2021-05"},
        {"subject": "low_tide", "relation": "starring", "object": "mira_solberg", "role": "inga",
         "source": "review", "known": "2021-05"},
        {"subject": "harbour_lights", "relation": "release", "object": "the autumn of 2021", "source": "review",
         "known": "2021-05"},
    ],
}


def brain_on(settings, brain: Brain, data: dict, path: Path, seed: int = 3) -> Brain:  # type: ignore[no-untyped-def]
    """A Brain on the knowledge ``data`` (written to ``path``), with the shipped model: same NLU, other film."""
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return Brain(build_mind(settings, KnowledgeBase.load(path), brain.mind.nlu), settings, open_storage(":memory:"),
                 random.Random(seed))


@pytest.fixture
def second(settings, brain, tmp_path: Path) -> Brain:  # type: ignore[no-untyped-def]
    return brain_on(settings, brain, SECOND_FILM, tmp_path / "harbour.yml")


def interpret(brain: Brain, text: str, ctx: ChatContext | None = None):  # type: ignore[no-untyped-def]
    mind = brain.mind
    return INTERPRETER.interpret(brain.env(mind, ctx or ChatContext()), text, mind.nlu.parse(text))


def test_steps_are_registered_in_order_and_documented() -> None:
    names = [s.__name__ for s in STEPS]
    assert names.index("opening_question") < names.index("other_language") < names.index("empty")
    assert names.index("question_map") < names.index("confidence") < names.index("scope_opening")
    assert all((s.__doc__ or "").strip() for s in STEPS)


def test_an_interpretation_is_immutable(brain: Brain) -> None:
    it = interpret(brain, "who wrote ballerina?")
    with pytest.raises(FrozenInstanceError):
        it.intent = "ask_director"  # type: ignore[misc]


@pytest.mark.parametrize("text, relation, subject", [
    ("who wrote ballerina?", "written_by", "ballerina"),
    ("who penned the script", "written_by", "ballerina"),
    ("how old is ana de armas", "age", "ana_de_armas"),
    ("where does keanu reeves come from", "nationality", "keanu_reeves"),
    ("is ballerina rated r?", "age_rating", "ballerina"),
    ("what's the running time", "runtime", "ballerina"),
    ("who's the director of photography", "cinematography_by", "ballerina"),  # a longer cue wins over "director"
    ("and what about the soundtrack", "music_by", "ballerina"),  # "what about" asks for nothing itself
])
def test_question_map_names_the_relation_asked_on_ballerina(brain: Brain, text: str, relation: str,
                                                            subject: str) -> None:
    it = interpret(brain, text)
    assert "question_map" in it.steps
    assert it.relations == (relation,) and it.subject == subject


@pytest.mark.parametrize("text", [
    "who directs ballerina?",  # an intent reads the relation asked
    "how long is it until ballerina is out",  # the release, cued as strongly as the runtime
    "how old are you",  # about the bot, not the film
    "what's my budget for the week",  # about the user
    "which bond film was ana de armas in",  # about her, whatever Bond appeared in
])
def test_question_map_leaves_alone_what_it_should(brain: Brain, text: str) -> None:
    assert interpret(brain, text).asked is None


def test_second_film_question_map_reads_its_facts(second: Brain) -> None:
    reply = second.reply(None, None, "who wrote harbour lights?")
    assert reply.kind == "answer" and "Mira Solberg" in reply.text and "Quay Gazette" in reply.text
    unknown = second.reply(None, None, "how long is harbour lights?")
    assert unknown.kind == "unknown" and "how long Harbour Lights runs" in unknown.text
    assert "Tomas Vey" not in unknown.text


@pytest.mark.parametrize("text, relation", [
    ("who wrote the script for ballerina?", "wrote"),
    ("who composed the music for it", "music"),
    ("how much did ballerina cost to make", "cost"),
    ("is keanu reeves canadian?", "from"),
    ("was ballerina nominated for an oscar?", "awards"),
])
def test_an_unknown_fact_is_said_to_be_unknown_never_no(ask, text: str, relation: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text, chat=None)
    assert reply.kind == "unknown"
    assert relation in reply.text and not reply.text.lower().startswith(("no,", "no ", "no.", "not as far"))
    assert "Rooney is" not in reply.text  # never a different relation's fact


def test_a_fact_stated_in_passing_is_read(ask) -> None:  # type: ignore[no-untyped-def]
    assert "late Lance Reddick" in ask("is lance reddick still alive?", chat=None).text
    assert "CIA" in ask("what agency does paloma work for", chat=None).text
    assert "Oscar nominee" in ask("is ana de armas an oscar nominee?", chat=None).text
    assert "Parabellum" in ask("which john wick film was the director character in?", chat=None).text


@pytest.mark.parametrize("text, code, word", [
    ("¿Quién dirige la película Ballerina?", "es", "inglés"),
    ("Qui joue le rôle principal dans Ballerina ?", "fr", "anglais"),
    ("Wer spielt die Hauptrolle in Ballerina?", "de", "Englisch"),
    ("Кто играет главную роль в фильме Балерина?", "ru", "английском"),
])
def test_other_languages_get_a_note_in_their_language(brain: Brain, text: str, code: str, word: str) -> None:
    it = interpret(brain, text)
    assert it.kind == "other_language" and it.language == code
    reply = brain.reply(None, None, text)
    assert word in reply.text and "Wiseman" not in reply.text and reply.kind == "unknown"
    assert reply.suggestions  # English questions to try


# Short messages, where trigrams alone failed: the film's names read Italian or English ("Ballerina",
# "Rooney"), and lingua's low-accuracy mode took short French for Dutch. Other sentences than the
# held-out sets'; the class is "short, names inside, in a language with a note".
@pytest.mark.parametrize("text, code", [
    ("Quand sort Ballerina ?", "fr"),
    ("C'est qui Rooney ?", "fr"),
    ("Qui a réalisé Ballerina ?", "fr"),
    ("Chi interpreta Winston?", "it"),
    ("Wann startet Ballerina?", "de"),
    ("Quién es Charon?", "es"),
    ("Quem interpreta Rooney?", "pt"),
    ("誰がバレリーナを監督しましたか", "ja"),
])
def test_short_messages_in_other_languages_are_told_apart(brain: Brain, text: str, code: str) -> None:
    assert interpret(brain, text).language == code


@pytest.mark.parametrize("text", ["who directs ballerina", "mcshain character?", "hey there", "ana de armas",
                                  "who penned the script?", "wat is ballerina even about", "whos directin??",
                                  # English nouns whose trigrams read as another language, and txt-speak
                                  # whose words are also other languages' small words ("da", "dos")
                                  "cheap hotels in rotterdam", "translate kilometres into miles",
                                  "vintage espresso machine repair", "pasta salad ingredients list",
                                  "wat iz da best pizza place in da city", "dos and donts of camping"])
def test_english_is_not_taken_for_another_language(brain: Brain, text: str) -> None:
    assert interpret(brain, text).kind != "other_language"
    notes = [*brain.mind.languages.notes.values(), brain.mind.languages.other]
    assert not any(note[:20] in brain.reply(None, None, text).text for note in notes)


# Languages with no note of their own, or words two of them share: plainly not English, so the reply
# says in English that the bot answers in English, never a guess from the words it knows ("Ballerina").
@pytest.mark.parametrize("text", [
    "Vem regisserade filmen Ballerina och när kommer den?",  # Swedish
    "Hvem spiller hovedrollen i filmen Ballerina?",  # Danish
    "Do que se trata o filme Ballerina?",  # Portuguese words Spanish shares
    "Ki rendezte a Ballerina című filmet tavaly?",  # Hungarian
])
def test_a_language_with_no_note_is_told_in_english(brain: Brain, text: str) -> None:
    it = interpret(brain, text)
    assert it.kind == "other_language"
    reply = brain.reply(None, None, text)
    assert "English" in reply.text and reply.kind == "unknown" and "Wiseman" not in reply.text


@pytest.mark.parametrize("text", ["recipe for spaghetti carbonara", "convert fifty euros into dollars",
                                  "bruce springsteen tour dates", "omg omg omg omg"])
def test_english_words_the_bot_never_learnt_are_still_english(brain: Brain, text: str) -> None:
    assert interpret(brain, text).kind != "other_language"


@pytest.mark.parametrize("text, code", [
    ("Ich weiß nicht, was ich heute kochen soll", "de"),  # plain letters but German's own words
    ("hoe gaat het met je", "nl"),
    ("tu sais quelle heure il est", "fr"),
    ("no se que hacer hoy", "es"),
])
def test_plain_letters_in_another_language_are_still_told_apart(brain: Brain, text: str, code: str) -> None:
    assert interpret(brain, text).language == code


def test_corrections_replace_the_last_question(ask) -> None:  # type: ignore[no-untyped-def]
    assert "McShane" in ask("who plays winston?").text
    assert "Reddick" in ask("sorry, i meant charon").text
    assert "Stahelski" in ask("who directs john wick 4?", chat="b").text
    assert "Wiseman" in ask("i meant ballerina actually", chat="b").text
    assert "Wiseman" in ask("no, i mean who directs it", chat="b").text


def test_second_film_correction(second: Brain) -> None:
    assert "Mira Solberg" in second.reply("c", None, "who plays edda?").text
    assert "Tomas Vey" in second.reply("c", None, "sorry, i meant who directs it").text


@pytest.mark.parametrize("text, wanted", [
    ("who plays rooney and who plays winston?", ["Ana de Armas", "Ian McShane"]),
    ("who directs ballerina and when is it out?", ["Wiseman", "2024"]),
    ("who plays charon, and the director?", ["Reddick", "Huston"]),
])
def test_every_part_of_a_message_is_answered(ask, text: str, wanted: list[str]) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text, chat=None)
    assert reply.kind == "answer"
    assert all(w in reply.text for w in wanted), reply.text


def test_a_part_that_is_not_answered_leaves_the_message_whole(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("who plays john wick and why", chat=None)
    assert "Keanu" in reply.text


def test_a_long_paste_answers_its_opening_question(ask) -> None:  # type: ignore[no-untyped-def]
    from bot.evaluation import expand_paste

    text = expand_paste("who directs ballerina? LONG_PASTE")
    assert len(text) == 4096
    assert "Wiseman" in ask(text, chat=None).text


def test_a_question_map_relation_stays_in_play(ask) -> None:  # type: ignore[no-untyped-def]
    assert "wrote" in ask("who wrote ballerina?").text
    follow = ask("and john wick 4?")
    assert "John Wick: Chapter 4" in follow.text and "wrote" in follow.text and "Stahelski" not in follow.text
    assert "Keanu Reeves" in ask("how old is keanu reeves?", chat="age").text
    assert "Ian McShane" in ask("what about ian mcshane", chat="age").text


def test_context_is_kept_through_an_unknown_reply(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who plays rooney?")
    unknown = ask("how old is she?")
    assert unknown.kind == "unknown" and "old" in unknown.text
    assert "No Time To Die" in ask("what else has she been in?").text


@pytest.mark.parametrize("text", ["who plays winston?", "who is the main character of ballerina?",
                                  "is keanu reeves in it?", "who's in ballerina?", "what role does ian mcshane have?"])
def test_every_fact_answer_names_its_source_whatever_the_variant(settings, text: str) -> None:  # type: ignore[no-untyped-def]
    for seed in range(6):  # each seed draws other template variants
        brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(seed))
        reply = brain.reply(None, None, text)
        assert reply.kind == "answer" and reply.sources
        assert any(s.attribution.lower() in reply.text.lower() for s in reply.sources), reply.text


@pytest.mark.parametrize("text, parts", [
    ("who plays rooney and who plays winston?", ("who plays rooney", "and who plays winston?")),
    ("what's it about? and who's in it?", ("what's it about", "and who's in it?")),
    ("who plays charon, and the director?", ("who plays charon", "and the director?")),
    ("is keanu reeves and ian mcshane in it?", ()),  # one question about two people
    ("who plays john wick in ballerina", ()),
])
def test_split_parts_table(brain: Brain, text: str, parts: tuple[str, ...]) -> None:
    assert interpret(brain, text).parts == parts


@pytest.mark.parametrize("text, corrected", [
    ("no time to die cast", False),  # "no" is part of a name
    ("sorry, i meant charon", True),
    ("actually, who directs it?", False),  # a question of its own
])
def test_correction_table(brain: Brain, text: str, corrected: bool) -> None:
    ctx = ChatContext(last_intent="ask_actor_of_character")
    assert interpret(brain, text, ctx).correction is corrected


def test_each_scope_rule_is_a_step_in_its_order() -> None:
    names = [s.__name__ for s in STEPS]
    steps = [names.index("scope_" + rule) for rule in RULES]
    assert steps == sorted(steps) and names.index("scope_opening") < names.index("scope_words") < steps[1]


@pytest.mark.parametrize("text, rule", [
    ("why so late?", "opening"),  # chit-chat opens only with its own question words
    ("when is oppenheimer out?", "unnamed"),  # nothing named, a word no answerable question uses
    ("did you see the match last night", "chit_chat"),  # chit-chat with a topic
])
def test_scope_verdicts_name_their_rule(brain: Brain, text: str, rule: str) -> None:
    it = interpret(brain, text)
    assert not it.verdict.in_scope and it.verdict.reason == "off_topic" and it.verdict.rule == rule


@pytest.mark.parametrize("text, unknown", [
    ("who plays Zelda?", "zelda"),                 # a part the knowledge has no one for
    ("when is oppenheimer out?", "oppenheimer"),   # another film, unnamed as such
])
def test_an_unnamed_subject_is_said_to_be_unknown_by_name_on_both_films(brain: Brain, second: Brain, text: str,
                                                                          unknown: str) -> None:
    """Nothing it knows is named, so the strange word is what was asked about: the reply says which, on
    either film, and claims no fact."""
    for bot in (brain, second):
        reply = bot.reply(None, None, text)
        assert reply.kind == "unknown" and f'"{unknown}"' in reply.text.lower(), reply.text
        assert not reply.sources


def test_second_film_scope(second: Brain) -> None:
    it = interpret(second, "when is oppenheimer out?")
    assert not it.verdict.in_scope and it.verdict.rule == "unnamed"
    assert second.reply(None, None, "who directs harbour lights?").text.count("Tomas Vey") >= 1


def test_names_listed_after_and_are_each_asked(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("who plays winston and charon?", chat=None)
    assert "Ian McShane" in reply.text and "Lance Reddick" in reply.text


def test_a_part_the_article_is_silent_on_is_said_so_beside_the_answered_one(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("who directs it and who wrote it?", chat=None)
    assert reply.kind == "answer" and "Len Wiseman" in reply.text and "who wrote Ballerina" in reply.text


# --- the guard rules as steps: names set aside, the subject resolved once, then checked ---------------

def test_the_guard_steps_run_in_order_around_the_subject() -> None:
    names = [s.__name__ for s in STEPS]
    # before anything reads the names; another language first, whose known names are no evidence; a
    # short message's question sentence next, so that the chatter's words are no names either
    assert names[:4] == ["opening_question", "other_language", "question_sentence", "other_names"]
    assert names.index("scope_elsewhere") < names.index("resolve_subject") < names.index("unknown_name") \
        < names.index("unknown_subject") < names.index("stray_number")
    assert names.index("follow_up") < names.index("ellipsis") < names.index("question_map")


@pytest.mark.parametrize("text, step, unknown", [
    ("when is windows 12 out", "other_names", "windows 12"),  # a word and a small number: a title
    ("who directed underworld 2", "other_names", "underworld 2"),  # another instalment
    ("who is wayne rooney", "other_names", "wayne rooney"),  # a namesake's full name
    ("who plays rooney", None, None),
])
def test_other_names_table(brain: Brain, text: str, step: str | None, unknown: str | None) -> None:
    it = interpret(brain, text)
    assert (step in it.steps) if step else ("other_names" not in it.steps)
    assert (unknown in it.parse.unknown_words) if unknown else not it.parse.unknown_words


@pytest.mark.parametrize("text, reason, rule, words", [
    ("who played rocky", "unknown_subject", "unknown_name", ("rocky",)),
    ("tell me about underworld awakening", "unknown_subject", "unknown_subject", ("awakening",)),
    ("what was ana de armas's role in knives out", "unknown_subject", "unknown_subject", ("knives",)),
    ("is 1883 a spin-off?", "stray_number", "stray_number", ("1883",)),
])
def test_guard_verdicts_table(brain: Brain, text: str, reason: str, rule: str, words: tuple[str, ...]) -> None:
    it = interpret(brain, text)
    assert not it.verdict.in_scope and (it.verdict.reason, it.verdict.rule, it.verdict.words) == (reason, rule, words)
    reply = brain.reply(None, None, text)
    assert reply.kind in ("unknown", "search")
    assert not any(name in reply.text for name in ("Wiseman", "Rooney is", "John Wick series"))


@pytest.mark.parametrize("text, rule", [
    ("who played captain nemo in harbour lights", "unknown_name"),
    ("tell me about tomas vey junior", "unknown_subject"),
    ("is 1883 directed by tomas vey", None),  # a name is there: the number may be its business
])
def test_second_film_guard_verdicts(second: Brain, text: str, rule: str | None) -> None:
    it = interpret(second, text)
    assert it.verdict.rule == rule if rule else it.verdict.reason != "stray_number"


def test_the_subject_is_resolved_once_for_the_handler(brain: Brain) -> None:
    it = interpret(brain, "who plays winston?")
    assert it.resolution is not None and it.resolution.entity is not None and it.resolution.entity.id == "winston"
    described = interpret(brain, "who plays the lead?")
    assert described.resolution is not None and described.resolution.entity.id == "rooney"


# --- dialogue: bare ellipsis, qualifiers, corrections that close with "I mean" ------------------------

@pytest.mark.parametrize("first, fragment, side, wanted", [
    ("is keanu reeves in ballerina?", "as who?", "role", "John Wick"),
    ("who does ana de armas play?", "opposite whom?", "company", "Ian McShane"),
    ("which role does lance reddick have?", "in what movie?", "film", "Ballerina"),
    ("who plays rooney?", "what movie was that in?", "film", "Ballerina"),
])
def test_bare_ellipsis_table(settings, first: str, fragment: str, side: str, wanted: str) -> None:  # type: ignore[no-untyped-def]
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(1))
    brain.reply("e", None, first)
    it = interpret(brain, fragment, brain.context("e"))
    assert it.ellipsis == side and it.follow_up
    assert wanted in brain.reply("e", None, fragment).text


@pytest.mark.parametrize("text", ["as who?", "opposite whom?", "in what movie?"])
def test_ellipsis_needs_a_last_turn(brain: Brain, text: str) -> None:
    assert interpret(brain, text).ellipsis is None


def test_a_fragment_with_a_pronoun_object_is_a_question_of_its_own(brain: Brain) -> None:
    ctx = ChatContext(last_intent="ask_about_entity", last_by_pronoun={"she": "rooney"},
                      last_by_kind={"character": "rooney"})
    assert interpret(brain, "who's playing her?", ctx).ellipsis is None


def test_second_film_ellipsis_and_qualifier(second: Brain) -> None:
    second.reply("q", None, "is mira solberg in it")
    assert "Edda" in second.reply("q", None, "as who?").text
    second.reply("r", None, "who plays edda?")
    assert "Tomas Vey" in second.reply("r", None, "opposite whom?").text
    assert "Inga" in second.reply(None, None, "what part does mira solberg play in low tide?").text
    assert "Edda" not in second.reply(None, None, "what part does mira solberg play in low tide?").text


@pytest.mark.parametrize("text, wanted, not_wanted", [
    ("what was ana de armas's role in the 007 film", "Paloma", "Rooney"),  # the film of a character
    ("what part does ana de armas have in the bond movie", "Paloma", "Rooney"),
    ("what's keanu's role in chapter 4", "John Wick", "in Ballerina"),
])
def test_a_qualifying_film_is_honoured(ask, text: str, wanted: str, not_wanted: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text, chat=None)
    assert wanted in reply.text and not_wanted not in reply.text, reply.text


def test_a_film_qualifier_without_a_fact_says_it_does_not_know(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("who did jason statham play in the transporter movies", chat=None)
    assert reply.kind == "unknown" and "Rooney" not in reply.text and "Winston" not in reply.text


def test_a_film_named_to_be_left_out_is_left_out(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("what was ana de armas in before ballerina", chat=None)
    assert "No Time To Die" in reply.text and "Rooney" not in reply.text


@pytest.mark.parametrize("text", ["nope, charon i mean", "oops, charon i meant", "charon i meant"])
def test_a_correction_may_close_with_i_mean(brain: Brain, text: str) -> None:
    ctx = ChatContext(last_intent="ask_actor_of_character")
    it = interpret(brain, text, ctx)
    assert it.correction and it.follow_up and it.intent == "ask_actor_of_character"


def test_context_is_kept_after_an_off_topic_reply(ask) -> None:  # type: ignore[no-untyped-def]
    assert "Reddick" in ask("who plays charon?").text
    # (not "kung-fu and gun-fu mix": that is Chapter 4's kinds of action now, a fact the map reads)
    assert ask("left breathless by its onslaught of mayhem").kind in ("unknown", "search")
    assert "McShane" in ask("and winston?").text


@pytest.mark.parametrize("text, wanted, not_wanted", [
    ("who is cast as the director?", "Angelica Huston", "Wiseman"),  # a character named for a relation's word
    ("who's playing the director in ballerina", "Angelica Huston", "Wiseman"),
])
def test_a_role_named_after_as_is_the_cast_question(ask, text: str, wanted: str, not_wanted: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text, chat=None)
    assert wanted in reply.text and not_wanted not in reply.text, reply.text


def test_second_film_role_named(second: Brain) -> None:
    reply = second.reply(None, None, "who is cast as edda?")
    assert "Mira Solberg" in reply.text and "Tomas Vey" not in reply.text


@pytest.mark.parametrize("text", ["who directed chapter four", "john wick four cast"])
def test_a_spelt_out_number_in_a_title_is_the_title(brain: Brain, text: str) -> None:
    assert any("john_wick_4" in m.entity_ids for m in brain.mind.nlu.parse(text).mentions)


# --- false premises about a part, and yes/no questions a fact route answers ----------------------------

@pytest.mark.parametrize("text, right, wrong", [
    ("how come lance reddick plays winston?", "McShane", "Reddick stars in Ballerina as Winston"),
    ("why is charon played by keanu", "Reddick", "Keanu Reeves stars in Ballerina as Charon"),
])
def test_a_part_given_to_the_wrong_person_is_corrected(ask, text: str, right: str, wrong: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text, chat=None)
    assert right in reply.text and wrong not in reply.text


def test_a_part_given_to_the_wrong_person_is_corrected_in_a_second_film(second: Brain) -> None:
    reply = second.reply(None, None, "why does tomas vey play edda?")
    assert "Mira Solberg" in reply.text and reply.kind == "answer"


@pytest.mark.parametrize("text, first", [
    ("did len wiseman direct the spinoff?", "yes"),
    ("was ballerina directed by chad stahelski?", "no"),
])
def test_a_yes_no_a_fact_answers_says_yes_or_no_first(ask, text: str, first: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text, chat=None)
    assert reply.text.lower().startswith(first) and "Wiseman" in reply.text


def test_a_yes_no_in_a_second_film_says_yes_or_no_first(second: Brain) -> None:
    assert second.reply(None, None, "is tomas vey directing harbour lights?").text.lower().startswith("yes")
    assert second.reply(None, None, "is mira solberg directing harbour lights?").text.lower().startswith("no")


def _slots(brain: Brain, text: str, ctx: ChatContext | None = None):  # type: ignore[no-untyped-def]
    it = interpret(brain, text, ctx)
    assert it.slots is not None, it.steps
    s = it.slots
    return (it.resolution.entity.id if it.resolution and it.resolution.entity else None,
            s.named_film.id if s.named_film else None, s.excluded_film.id if s.excluded_film else None,
            s.film.id, sorted(s.others))


@pytest.mark.parametrize("text, subject, named, excluded, film, others", [
    ("who does ana de armas play in no time to die?", "ana_de_armas", "no_time_to_die", None, "no_time_to_die",
     ["no_time_to_die"]),
    ("what was ana de armas in before ballerina?", "ana_de_armas", "ballerina", "ballerina", "ballerina",
     ["ballerina"]),
    ("who plays winston?", "winston", None, None, "ballerina", []),
    ("did len wiseman direct underworld?", "len_wiseman", "underworld", None, "underworld", ["underworld"]),
])
def test_resolve_subject_fills_the_slots_table(brain: Brain, text: str, subject: str, named: str | None,
                                               excluded: str | None, film: str, others: list[str]) -> None:
    assert _slots(brain, text) == (subject, named, excluded, film, others)


@pytest.mark.parametrize("text, subject, named, film", [
    ("who does mira solberg play in low tide?", "mira_solberg", "low_tide", "low_tide"),
    ("who plays edda?", "edda", None, "harbour_lights"),
])
def test_second_film_slots_table(second: Brain, text: str, subject: str, named: str | None, film: str) -> None:
    got = _slots(second, text)
    assert got[:2] + (got[3],) == (subject, named, film)


def test_the_film_in_context_is_a_slot_not_the_handlers_reading(brain: Brain) -> None:
    ctx = ChatContext()
    ctx.remember("ask_director", [("john_wick_4", "film", "it")])
    assert _slots(brain, "who plays winston?", ctx)[3] == "john_wick_4"


@pytest.mark.parametrize("text, strangers, one_name", [
    ("is carrie-anne moss in it?", True, True),
    ("is keanu reeves in it?", False, False),
])
def test_a_yes_no_reads_its_unknown_words_from_the_slots(brain: Brain, text: str, strangers: bool,
                                                        one_name: bool) -> None:
    it = interpret(brain, text)
    assert it.slots is not None and it.work is not None
    assert bool(it.slots.strangers) is strangers and it.slots.one_name is one_name


def test_a_handler_is_a_pure_function_of_the_interpretation(brain: Brain, second: Brain) -> None:
    """The same Interpretation and knowledge give the same answer whatever chat it came from: a handler
    reads the stage's slots, never the parse or the chat's context."""
    from bot.handlers import HANDLERS
    from bot.rendering import Renderer

    for bot, text, wanted in ((brain, "who plays winston?", "Ian McShane"), (second, "who plays edda?", "Mira Solberg")):
        it = interpret(bot, text)
        route = bot.mind.answers.routes[it.intent]
        replies = {HANDLERS[route.handler](it, bot.mind.kb, Renderer(bot.mind.kb, bot.mind.answers, random.Random(1),
                                                                      bot.today())).text for _ in range(2)}
        assert len(replies) == 1 and wanted in replies.pop()


def test_handlers_read_neither_the_parse_nor_the_chat() -> None:
    """What a handler reads is the Interpretation's typed fields: the NLU and the context are the stage's."""
    import ast

    for path in (Path(__file__).resolve().parent.parent / "bot" / "handlers").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[-1] in ("nlu", "context") or ".nlu." in f".{m}."}, path


@pytest.mark.parametrize("text, wanted", [
    ("who coined car-fu?", "Keanu Reeves"),            # a word the article quotes, and whose it is
    ("what does car-fu mean?", "kung-fu"),
    ("which agency does paloma work for?", "CIA"),     # the organisation a character works for
    ("who was collider's source?", "Keanu Reeves"),    # who a claim came from
    ("who is john wick up against in chapter 4?", "High Table"),
    ("is lance reddick still alive?", "late"),
])
def test_facts_the_article_states_in_passing_are_reachable(ask, text: str, wanted: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text, chat=None)
    assert reply.kind == "answer" and wanted in reply.text and reply.sources, reply.text


@pytest.mark.parametrize("text, first", [
    ("did keanu reeves coin car-fu?", "Yes"),
    ("did ian mcshane coin car-fu?", "No"),
    ("does paloma work for the cia?", "Yes"),
])
def test_a_yes_no_on_the_question_map_says_yes_or_no_from_its_facts(ask, text: str, first: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text, chat=None)
    assert reply.kind == "answer" and reply.text.startswith(first), reply.text


def test_a_yes_no_whose_fact_is_unknown_is_never_no(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("is keanu reeves canadian?", chat=None)
    assert reply.kind == "unknown" and reply.text.split()[0].strip(".,!").lower() not in ("no", "nope"), reply.text
    assert "Keanu Reeves" in reply.text  # ...and says what it does not know


def test_a_yes_no_on_the_question_map_in_a_second_film(second: Brain) -> None:
    yes = second.reply(None, None, "did mira solberg write harbour lights?")
    no = second.reply(None, None, "did tomas vey write harbour lights?")
    assert yes.text.startswith("Yes") and "Mira Solberg" in yes.text, yes.text
    assert no.text.startswith(("No", "Not so")) and "Mira Solberg" in no.text, no.text


def test_who_told_you_is_still_the_last_answers_source(ask) -> None:  # type: ignore[no-untyped-def]
    ask("when is ballerina out?")
    assert "Joe Drake" in ask("who told you that?").text


@pytest.mark.parametrize("text, wanted", [
    ("who directs ballerina + when is it out?", ["Wiseman", "2024"]),
    ("who directs ballerina, when is it out", ["Wiseman", "2024"]),
])
def test_parts_split_at_a_plus_and_at_a_comma_before_a_question_word(ask, text: str, wanted: list[str]) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text, chat=None)
    assert all(w in reply.text for w in wanted), reply.text


def test_second_film_parts_split_at_a_comma_before_a_question_word(second: Brain) -> None:
    reply = second.reply(None, None, "who directed harbour lights, who wrote it")
    assert "Tomas Vey" in reply.text and "Mira Solberg" in reply.text, reply.text


@pytest.mark.parametrize("bot_name, first, correction, wanted, unwanted", [
    ("brain", "who plays charon?", "nah winston, not charon", "McShane", "Reddick"),
    ("second", "who plays inga?", "no, edda not inga", "Mira Solberg", None),
])
def test_a_correction_that_takes_a_name_back_asks_about_the_other(request, bot_name: str, first: str,  # type: ignore[no-untyped-def]
                                                                   correction: str, wanted: str,
                                                                   unwanted: str | None) -> None:
    bot = request.getfixturevalue(bot_name)
    bot.reply("c", None, first)
    reply = bot.reply("c", None, correction)
    assert wanted in reply.text and (unwanted is None or unwanted not in reply.text), reply.text


@pytest.mark.parametrize("bot_name, question, wanted", [
    ("brain", "who plays charon", "Reddick"),
    ("second", "who plays edda", "Mira Solberg"),
])
def test_a_paste_after_a_blank_line_leaves_the_question_before_it(request, bot_name: str, question: str,  # type: ignore[no-untyped-def]
                                                                   wanted: str) -> None:
    bot = request.getfixturevalue(bot_name)
    paste = "\n\n" + "A long article about films, festivals and the people who make them. " * 60
    assert wanted in bot.reply(None, None, question + paste).text


def test_that_character_is_the_last_character_talked_about(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who plays the director in ballerina?")
    assert "Parabellum" in ask("what film was that character in before").text


def test_a_name_before_a_film_word_qualifies_the_film_not_the_subject(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who is playing the director in ballerina?")
    assert "Parabellum" in ask("which wick movie was she in").text


def test_working_with_whom_asks_for_the_rest_of_the_cast(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who plays paloma in no time to die")
    assert "Daniel Craig" in ask("working with who?").text


def test_the_lead_names_the_character_and_who_plays_it(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("who is the main character of ballerina?", chat=None)
    assert "Rooney" in reply.text and "Ana de Armas" in reply.text, reply.text


def test_the_film_a_question_named_among_its_answers_is_it_next(ask) -> None:  # type: ignore[no-untyped-def]
    assert "Die Hard" in ask("did len wiseman direct die hard?").text
    assert "Bruce Willis" in ask("who starred in it?").text


# --- false premises about any relation, stated values included (the false_premise step) -------------

@pytest.mark.parametrize("bot_name, text, wanted", [
    ("brain", "why did ian mcshane direct the spin-off?", "Len Wiseman"),        # the wrong person
    ("brain", "how come ballerina comes out in 2025?", "2024"),                  # a wrong year
    ("brain", "how come the spin-off is set before parabellum?", "between"),   # a wrong order
    ("brain", "why is the film centred on winston?", "Rooney"),                  # the wrong character
    ("brain", "how did chad stahelski direct the transporter movies?", "Len Wiseman"),
    ("brain", "how did ana de armas direct no time to die", None),               # nothing says: not claimed
    ("second", "why did mira solberg direct harbour lights?", "Tomas Vey"),
    ("second", "why does harbour lights open in 2019?", "2021"),
    ("second", "how did tomas vey direct low tide?", "Harbour Lights"),          # his credits are elsewhere
])
def test_a_premise_the_facts_contradict_is_corrected(request, bot_name: str, text: str,  # type: ignore[no-untyped-def]
                                                     wanted: str | None) -> None:
    bot = request.getfixturevalue(bot_name)
    it = interpret(bot, text)
    reply = bot.reply(None, None, text)
    if wanted is None:
        assert it.premise is None, it.premise
        return
    assert it.premise is not None and "false_premise" in it.steps, it.steps
    assert wanted in reply.text and reply.kind == "answer" and reply.sources, reply.text
    assert not reply.text.lower().startswith("yes"), reply.text


@pytest.mark.parametrize("bot_name, text", [
    ("brain", "why is ballerina set between chapter 3 and chapter 4"),  # the premise is the fact
    ("brain", "why does lance reddick play charon?"),
    ("second", "why does harbour lights open in 2021?"),
    ("second", "why did tomas vey direct harbour lights?"),
])
def test_a_premise_the_facts_bear_out_is_no_false_premise(request, bot_name: str, text: str) -> None:  # type: ignore[no-untyped-def]
    assert interpret(request.getfixturevalue(bot_name), text).premise is None


@pytest.mark.parametrize("bot_name, text, wanted", [
    ("brain", "is ballerina out in 2025?", "2024"),
    ("second", "is harbour lights out in 2019?", "2021"),
])
def test_a_yes_no_presuming_another_stated_value_says_no(request, bot_name: str, text: str, wanted: str) -> None:  # type: ignore[no-untyped-def]
    reply = request.getfixturevalue(bot_name).reply(None, None, text)
    assert reply.text.startswith(("No", "Not")) and wanted in reply.text, reply.text


# --- yes/no about the people of a relation: its facts, or "the article doesn't say", never a bare no --

@pytest.mark.parametrize("bot_name, text, first, wanted", [
    ("brain", "did chad stahelski direct the ballerina movie?", "no", "Len Wiseman"),
    ("brain", "did ian mcshane write the screenplay for ballerina?", None, "who wrote Ballerina"),
    ("brain", "did len wiseman produce it?", None, "who produced Ballerina"),
    ("brain", "did keanu reeves compose the music?", None, "music for Ballerina"),
    ("brain", "did chad stahelski do the stunts in ballerina", None, "stunts for Ballerina"),
    ("second", "did tomas vey write harbour lights?", "no", "Mira Solberg"),
    ("second", "did mira solberg produce harbour lights?", None, "who produced Harbour Lights"),
    ("second", "did tomas vey compose the score for harbour lights", None, "music for Harbour Lights"),
])
def test_a_yes_no_naming_someone_for_a_relation_reads_its_facts(request, bot_name: str, text: str,  # type: ignore[no-untyped-def]
                                                                first: str | None, wanted: str) -> None:
    reply = request.getfixturevalue(bot_name).reply(None, None, text)
    assert wanted in reply.text, reply.text
    opening = reply.text.split()[0].strip(".,!:").lower()
    if first is None:  # no facts of the relation: unknown, and said to be, never "no"
        assert reply.kind == "unknown" and opening not in ("no", "nope", "not"), reply.text
    else:
        assert opening == first or reply.text.lower().startswith("not so"), reply.text


@pytest.mark.parametrize("film, text, refused", [
    # a verb after the name is its verb, not part of a name the bot does not know
    ("ballerina", "how long till ballerina comes out", False),
    ("ballerina", "where does ballerina fall in the story of the series", False),
    ("harbour", "how long till harbour lights comes out", False),
    ("harbour", "where does harbour lights fall in the story of the town", False),
    ("harbour", "which of the harbour lights actors has passed away", False),  # verb forms name nothing
    # ...while a word extending a name, or strange things, still make it a question it cannot answer
    ("ballerina", "who directed ballerina awakening", True),
    ("ballerina", "what band does keanu play bass in", True),
    ("harbour", "who directed low tide awakening", True),
    ("harbour", "what band does tomas vey play bass in", True),
])
def test_unknown_subject_reads_a_verb_after_a_name_as_its_verb(brain: Brain, second: Brain, film: str, text: str,
                                                               refused: bool) -> None:
    it = interpret(brain if film == "ballerina" else second, text)
    assert (it.verdict.reason == UNKNOWN_SUBJECT) is refused, (it.verdict, it.steps)
