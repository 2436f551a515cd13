"""Facts an article states in passing are reachable, on Ballerina and on the tests' second film: a nickname,
what someone is known as, the kinds of action, a character's backstory, someone's job, whom someone talked
to. Each is a typed fact with its source (knowledge), asked through the question map (intents/questions.yml);
a question of such a relation with no fact is answered as unknown, never "no"; and every source of an
answer's facts is named, whichever template variant is drawn."""
from __future__ import annotations

import copy
import random
import re
from pathlib import Path

import pytest
import yaml

from bot.dialogue import Brain, build_mind
from bot.knowledge import KnowledgeBase
from bot.storage import open_storage

from .test_understanding import SECOND_FILM

KNOWN = "2021-05"


@pytest.fixture
def harbour(settings, brain, tmp_path: Path) -> Brain:  # type: ignore[no-untyped-def]
    """The second film with facts stated in passing: a nickname for its universe, a painter's standing, the
    fights, Edda's past, an interview its director gave (and a word only "in his words")."""
    data = copy.deepcopy(SECOND_FILM)
    data["sources"] += [
        {"id": "vey_weekly", "publication": "Harbour Weekly", "said_by": "tomas_vey",
         "attribution": "as Tomas Vey told Harbour Weekly", "known": KNOWN},
        {"id": "vey_words", "said_by": "tomas_vey", "attribution": "in Tomas Vey's words", "known": KNOWN},
        {"id": "gazette_guess", "publication": "The Quay Gazette", "attribution": "as The Quay Gazette guesses",
         "known": KNOWN},
    ]
    description = next(r for r in data["relations"] if r["id"] == "description")
    description["subject"] = ["film", "series", "person", "character", "term"]
    data["relations"] += [
        {"id": "known_as", "label": "what it is known as", "phrase": "{subject} is known as {object}",
         "subject": ["film", "series", "person", "character"], "object": "text"},
        {"id": "action_styles", "label": "kinds of action", "phrase": "{subject} {object}",
         "subject": ["film", "series"], "object": "text"},
        {"id": "backstory", "label": "backstory", "phrase": "{subject} {object}", "subject": ["character"],
         "object": "text"},
        {"id": "occupation", "label": "occupation", "phrase": "{subject} is {object}", "subject": ["person"],
         "object": "text"},
        {"id": "coined_by", "label": "coined by", "phrase": "{subject} is {object}'s word",
         "subject": ["term"], "object": ["person"]},
        {"id": "spin_off_of", "label": "spin-off of", "phrase": "{subject} is a spin-off of {object}",
         "subject": ["film"], "object": ["series"]},
        {"id": "works_for", "label": "employer", "phrase": "{subject} works for {object}", "subject": ["person"],
         "object": ["company"]},
    ]
    data["entities"] += [
        {"id": "quay_universe", "kind": "series", "name": "the Quay universe", "aliases": ["quay universe"]},
        {"id": "harbour_weekly", "kind": "publication", "name": "Harbour Weekly", "aliases": ["harbour weekly"]},
        {"id": "tide_talk", "kind": "term", "name": "tide-talk", "aliases": ["tide-talk", "tide talk"]},
        {"id": "quay_pictures", "kind": "company", "name": "Quay Pictures", "aliases": ["quay pictures"]},
    ]

    def fact(subject: str, relation: str, obj: str, source: str = "review") -> dict[str, str]:
        return {"subject": subject, "relation": relation, "object": obj, "source": source, "known": KNOWN}

    data["facts"] += [
        fact("quay_universe", "known_as", "the Quayverse"),
        fact("harbour_lights", "spin_off_of", "quay_universe"),
        fact("mira_solberg", "known_as", "the queen of the quay"),
        fact("harbour_lights", "action_styles", "mixes oar-fights and bare-knuckle brawls on the docks"),
        fact("low_tide", "action_styles", "should be gentler, all oars and no fists", "gazette_guess"),
        fact("tomas_vey", "works_for", "quay_pictures"),
        fact("edda", "backstory", "is searching for the brother the sea took"),
        fact("tomas_vey", "occupation", "a harbour painter"),
        fact("harbour_lights", "description", "a love letter to the harbour", "vey_weekly"),
        fact("low_tide", "description", "his first sketch of the harbour", "vey_weekly"),
        fact("tide_talk", "coined_by", "tomas_vey", "vey_words"),
    ]
    path = tmp_path / "harbour.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    kb = KnowledgeBase.load(path)
    return Brain(build_mind(settings, kb, brain.mind.nlu), settings, open_storage(":memory:"), random.Random(7))


def ask(bot: Brain, text: str, seed: int):  # type: ignore[no-untyped-def]
    bot.rng.seed(seed)  # each template variant in turn: the answer must hold whichever is drawn
    return bot.reply(None, "tester", text)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("film, text, wanted", [
    ("ballerina", "what do fans call the john wick universe", ["Wickiverse"]),
    ("harbour", "what do fans call the quay universe", ["Quayverse"]),
    ("ballerina", "what's len wiseman known as", ["action specialist"]),
    ("harbour", "what is mira solberg known as", ["queen of the quay"]),
    ("ballerina", "what kinds of fighting are in the fourth wick film", ["gun-fu", "car-fu"]),
    ("harbour", "what kinds of fighting are in harbour lights", ["bare-knuckle"]),
    ("ballerina", "what happened to rooney's family", ["murder", "according to Collider"]),
    ("harbour", "what happened to edda's family", ["brother the sea took", "Quay Gazette"]),
    ("ballerina", "what does joe drake do", ["chair of Lionsgate"]),
    ("harbour", "what does tomas vey do", ["harbour painter"]),
])
def test_a_fact_stated_in_passing_is_answered_with_its_source(brain: Brain, harbour: Brain, film: str, text: str,
                                                             wanted: list[str], seed: int) -> None:
    bot = brain if film == "ballerina" else harbour
    reply = ask(bot, text, seed)
    assert reply.kind == "answer" and reply.sources, reply.text
    assert all(w.lower() in reply.text.lower() for w in wanted), reply.text


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("film, text, wanted, unwanted", [
    # what someone said of the film named: not everything they said
    ("ballerina", "which site did keanu talk to about ballerina", ["Collider", "between"], ["car-fu"]),
    ("harbour", "which paper did tomas vey talk to about harbour lights", ["Harbour Weekly", "love letter"],
     ["Low Tide", "tide-talk"]),
    # everything they said, each claim with its own source
    ("ballerina", "who did keanu reeves speak to", ["told Collider", "in Keanu Reeves' words"], []),
    ("harbour", "who did tomas vey speak to", ["told Harbour Weekly", "in Tomas Vey's words"], []),
])
def test_what_someone_said_names_where_they_said_it(brain: Brain, harbour: Brain, film: str, text: str,
                                                   wanted: list[str], unwanted: list[str], seed: int) -> None:
    bot = brain if film == "ballerina" else harbour
    reply = ask(bot, text, seed)
    assert reply.kind == "answer", reply.text
    assert all(w in reply.text for w in wanted) and not any(w in reply.text for w in unwanted), reply.text


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("film, text, asked", [
    ("ballerina", "is there a post-credits scene in ballerina?", "after the credits"),
    ("harbour", "does harbour lights have a post credits scene", "after the credits"),
    ("ballerina", "do we know who killed rooney's family?", "killers in Rooney's story"),
    ("harbour", "was edda's brother killed by someone?", "killers in Edda's story"),
])
def test_a_yes_no_whose_fact_is_unknown_says_so_never_no(brain: Brain, harbour: Brain, film: str, text: str,
                                                         asked: str, seed: int) -> None:
    bot = brain if film == "ballerina" else harbour
    reply = ask(bot, text, seed)
    assert reply.kind == "unknown" and asked in reply.text, reply.text
    assert not re.match(r"(no|yes)\b", reply.text.lower()), reply.text


@pytest.mark.parametrize("film, text, wanted", [
    ("ballerina", "what do fans call john wick's universe", "Wickiverse"),
    ("harbour", "what do fans call the quay universe", "Quayverse"),
])
def test_a_cue_inside_a_name_gives_way_to_a_longer_one_around_it(brain: Brain, harbour: Brain, film: str,
                                                                text: str, wanted: str) -> None:
    """The series' name says "universe" (the franchise's word); the words around it ask its nickname."""
    bot = brain if film == "ballerina" else harbour
    reply = bot.reply(None, "tester", text)
    assert reply.intent == "ask_known_as" and wanted in reply.text, reply.text



@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("film, text, wanted, unwanted", [
    # the source's own guess is named as one, whichever variant is drawn; a film compared with is not asked about
    ("ballerina", "how violent is ballerina", ["brutal", "imagines"], []),
    ("harbour", "how violent is low tide", ["gentler", "guesses"], []),
    ("ballerina", "will ballerina be more brutal than no time to die", ["Ballerina should", "imagines"], []),
    ("harbour", "will low tide be more violent than harbour lights", ["Low Tide should", "guesses"], ["brawls"]),
    # a title the facts do not give is not confirmed: the job they do give is the answer
    ("ballerina", "is joe drake the ceo of lionsgate?", ["chair"], ["Yes"]),
    ("harbour", "is tomas vey the ceo of quay pictures?", ["harbour painter"], ["Yes"]),
])
def test_a_claim_is_answered_as_whose_it_is(brain: Brain, harbour: Brain, film: str, text: str, wanted: list[str],
                                           unwanted: list[str], seed: int) -> None:
    bot = brain if film == "ballerina" else harbour
    reply = ask(bot, text, seed)
    assert reply.kind == "answer", reply.text
    assert all(w in reply.text for w in wanted) and not any(w in reply.text for w in unwanted), reply.text


@pytest.mark.parametrize("film, text, asked", [
    ("ballerina", "does rooney die?", "what becomes of Rooney"),
    ("harbour", "does edda die in the end", "what becomes of Edda"),
    ("ballerina", "did lionsgate produce ballerina?", "who produced Ballerina"),
    ("harbour", "did quay pictures produce harbour lights", "who produced Harbour Lights"),
    ("ballerina", "who choreographed the fight scenes in ballerina", "who did the stunts for Ballerina"),
    ("harbour", "who choreographed the fights in harbour lights", "who did the stunts for Harbour Lights"),
])
def test_what_the_facts_do_not_say_is_unknown_by_name(brain: Brain, harbour: Brain, film: str, text: str,
                                                      asked: str) -> None:
    """A character's fate, a company as producer, who did the fights: each an unknown of its own relation,
    never another relation's fact nor a "no"."""
    bot = brain if film == "ballerina" else harbour
    reply = bot.reply(None, "tester", text)
    assert reply.kind == "unknown" and asked in reply.text, reply.text
    assert not re.match(r"(no|yes)\b", reply.text.lower()), reply.text


@pytest.mark.parametrize("film, text, wanted", [
    ("ballerina", "kung-fu and gun-fu mix", "John Wick: Chapter 4"),
    ("harbour", "the action with oars and no fists?", "Low Tide"),
])
def test_words_of_another_films_fact_are_that_films_question(brain: Brain, harbour: Brain, film: str, text: str,
                                                            wanted: str) -> None:
    """Nothing named, but the words are what the facts say of another film than the one talked about."""
    bot = brain if film == "ballerina" else harbour
    reply = bot.reply(None, "tester", text)
    assert reply.kind == "answer" and wanted in reply.text, reply.text


@pytest.mark.parametrize("film, text, wanted", [
    ("ballerina", "which outlet reported the ballerina story details", "according to Collider"),
    ("ballerina", "where did the details of the ballerina plot come from", "according to Collider"),
    ("harbour", "which publication reported the harbour lights release", "according to The Quay Gazette"),
    ("harbour", "where does the harbour lights release date come from", "according to The Quay Gazette"),
])
def test_where_a_fact_comes_from_is_that_fact_with_its_source(brain: Brain, harbour: Brain, film: str, text: str,
                                                             wanted: str) -> None:
    """Words asking for a source ("which outlet reported", "where ... come from") ask the relation the rest
    of the words cue, whose facts name their source; never "outside what I know"."""
    bot = brain if film == "ballerina" else harbour
    reply = bot.reply(None, "tester", text)
    assert reply.kind == "answer" and wanted.lower() in reply.text.lower(), reply.text


@pytest.mark.parametrize("film, first", [("ballerina", "who plays charon"), ("harbour", "who plays edda")])
def test_who_said_that_alone_is_still_the_last_answers_source(brain: Brain, harbour: Brain, film: str,
                                                             first: str) -> None:
    bot = brain if film == "ballerina" else harbour
    chat = f"s{random.random()}"
    asked = bot.reply(chat, "tester", first)
    reply = bot.reply(chat, "tester", "who said that?")
    assert reply.kind == "answer" and reply.intent == asked.intent and reply.sources, reply.text
