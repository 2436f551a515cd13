"""The Brain as a user meets it: answers, follow-ups, honesty, and bad input."""
from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.dialogue import Brain
from bot.storage import Storage, open_storage


def unattributed(text: str) -> str:
    """The answer without its source's name, which may hold the film's ("Cineworld's Ballerina round-up")."""
    import re

    return re.sub(r"\s*\((?:according to|as|in)\b[^)]*\)", "", text)


def test_director_answer_names_him(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("who directs Ballerina?")
    assert reply.kind == "answer" and reply.intent == "ask_director"
    assert "Len Wiseman" in reply.text and reply.sources


def test_follow_up_question_uses_last_person(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who directs Ballerina?")
    reply = ask("and what else has he directed?")
    assert reply.kind == "answer"
    for film in ("Transporter", "Die Hard", "Underworld"):
        assert film in reply.text
    assert "Ballerina" not in unattributed(reply.text).split("Besides")[-1].split(",", 1)[-1]


def test_ellipsis_follow_up_keeps_the_question(ask) -> None:  # type: ignore[no-untyped-def]
    assert "Ian McShane" in ask("who plays Winston?").text
    reply = ask("and Charon?")
    assert reply.intent == "ask_actor_of_character" and "Lance Reddick" in reply.text


def test_follow_ups_do_not_leak_between_chats(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who plays Winston?", chat="a")
    reply = ask("and Charon?", chat="b")
    assert "Lance Reddick" not in reply.text or reply.kind != "answer" or reply.intent != "ask_actor_of_character"


def test_no_film_named_means_the_default_film(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("when is it out?")
    assert "2024" in reply.text and "Joe Drake" in reply.text


def test_yes_no_questions_get_yes_or_no(ask) -> None:  # type: ignore[no-untyped-def]
    yes = ask("is Keanu Reeves in Ballerina?")
    assert yes.text.startswith("Yes") and "John Wick" in yes.text
    no = ask("is Daniel Craig in Ballerina?")
    assert not no.text.startswith("Yes") and no.kind == "unknown"


def test_cast_question_gets_a_list(ask) -> None:  # type: ignore[no-untyped-def]
    text = ask("who is in the cast?").text
    for name in ("Ana de Armas", "Keanu Reeves", "Ian McShane", "Lance Reddick", "Angelica Huston"):
        assert name in text


def test_release_answer_cites_who_said_it(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("when's ballerina coming out")
    assert "Lionsgate" in reply.text and any("Joe Drake" in s.attribution for s in reply.sources)


@pytest.mark.parametrize("text", [
    "who directed Titanic?", "what's the weather like tomorrow", "transfer $100 to savings",
    "who plays Neo in the Matrix?", "when is Avatar 3 out",
])
def test_off_topic_is_never_answered_with_a_fact(ask, text: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text, chat=None)
    assert reply.kind == "unknown", reply.text
    for fact in ("Wiseman", "Ana de Armas", "2024", "McShane"):
        assert fact not in reply.text


def test_unknown_facts_are_admitted_not_invented(ask) -> None:  # type: ignore[no-untyped-def]
    for text in ("how long is Ballerina?", "who composed the music for ballerina"):
        reply = ask(text, chat=None)
        assert reply.kind == "unknown", (text, reply.text)
        assert reply.suggestions


def test_ambiguous_name_asks_which_one(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("tell me about John Wick")
    assert reply.kind == "clarify" and len(reply.suggestions) >= 2


@pytest.mark.parametrize("text", [
    "", "   \n\t ", "?!?!...", "\x00\x07\x1b[31m", "מי ביים את הבלרינה?", "¿Quién dirige Ballerina?",
    ("🩰*_[`~|" * 600)[:4096], "**bold** _it_ [link](http://x) `code` " * 100,
])
def test_bad_input_gets_a_friendly_reply(ask, text: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(text)
    assert reply.text.strip() and reply.kind in ("unknown", "smalltalk", "search", "answer", "clarify")


def test_unanswered_questions_are_logged_for_admins(brain: Brain, settings) -> None:  # type: ignore[no-untyped-def]
    brain.reply("c", "u", "what is ballerina's budget?")
    brain.reply("d", "v", "What is Ballerina's budget")
    rows = brain.storage.unanswered()
    assert rows and rows[0].count == 2
    with sqlite3.connect(settings.database) as db:
        assert db.execute("SELECT COUNT(*) FROM unanswered").fetchone()[0] == 2


def test_context_survives_a_restart(settings) -> None:  # type: ignore[no-untyped-def]
    first = Brain.from_settings(settings, open_storage(settings.database), random.Random(1))
    first.reply("chat-1", "u", "who plays Winston?")
    first.storage.close()
    second = Brain.from_settings(settings, open_storage(settings.database), random.Random(1))
    assert "Lance Reddick" in second.reply("chat-1", "u", "and Charon?").text


SECOND_FILM = """
version: 1
title: Paper Moon
default_subject: paper_moon
sources:
  - {id: review, attribution: according to the Gazette review, known: "1973-05"}
relations:
  - {id: directed_by, label: directed by, phrase: "{subject}: directed by {object}", subject: [film], object: [person]}
  - {id: starring, label: stars, phrase: "{object} stars in {subject}{as_role}", subject: [film], object: [person], role: [character]}
  - {id: release, label: release, phrase: "{subject} is due for release in {object}", subject: [film], object: text}
entities:
  - {id: paper_moon, kind: film, name: Paper Moon, aliases: [the moon film]}
  - {id: peter_bogdanovich, kind: person, name: Peter Bogdanovich, pronoun: he, aliases: [bogdanovich]}
  - {id: tatum_oneal, kind: person, name: Tatum O'Neal, pronoun: she, aliases: [tatum]}
  - {id: addie, kind: character, name: Addie Loggins, pronoun: she, aliases: [addie]}
facts:
  - {subject: paper_moon, relation: directed_by, object: peter_bogdanovich, source: review, known: "1973-05"}
  - {subject: paper_moon, relation: starring, object: tatum_oneal, role: addie, source: review, known: "1973-05"}
  - {subject: paper_moon, relation: release, object: May 1973, source: review, known: "1973-05"}
"""


def test_a_second_film_works_without_code_changes(project: Path) -> None:
    (project.parent / "knowledge" / "ballerina.yml").write_text(SECOND_FILM, encoding="utf-8")
    settings = load_settings(project, env={})
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(3))
    assert "Peter Bogdanovich" in brain.reply("x", "u", "who directed paper moon?").text
    assert "Tatum O'Neal" in brain.reply("x", "u", "who plays addie?").text
    assert "May 1973" in brain.reply("x", "u", "when is it out?").text


def test_it_means_the_film_last_talked_about_even_unnamed(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who directs Ballerina?")
    ask("what else has he directed?")  # lists Underworld and others: for a moment, "it" could be those
    ask("who plays Winston?")          # about Ballerina, though it is not named
    reply = ask("when is it out?")
    assert "spring or summer 2024" in reply.text and "Underworld" not in reply.text


def test_the_last_film_or_series_named_is_the_one_asked_about(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who plays Winston in the John Wick series?")
    ask("what's the plot of Ballerina?")
    reply = ask("what's the plot?")  # Ballerina came last, though the series is also in context
    assert "Rooney" in reply.text


@pytest.mark.parametrize("question", ["who directed the first die hard?", "who directed underworld 2",
                                      "who directs ballerina 2?", "when is the second ballerina out?"])
def test_another_instalment_of_a_known_series_is_not_known(ask, question: str) -> None:  # type: ignore[no-untyped-def]
    # the knowledge holds the fourth Die Hard, the first Underworld and one Ballerina: a claim about
    # another instalment would be invented
    reply = ask(question, chat=None)
    assert reply.kind != "answer" and "Wiseman" not in reply.text and "2024" not in reply.text


@pytest.mark.parametrize("question", ["did wiseman direct die hard 2", "did Len Wiseman direct the first Die Hard?",
                                      "what was the fifth die hard film like that wiseman directed"])
def test_another_instalment_beside_a_person_says_what_they_did_in_ours(ask, question: str) -> None:  # type: ignore[no-untyped-def]
    # not known, so not answered; but the film of that series the facts hold, and what he did in it, is
    # said ("Die" in the title asks nothing about his being alive)
    reply = ask(question, chat=None)
    assert reply.kind == "unknown" and "fourth Die Hard" in reply.text and "Wiseman" in reply.text
    assert "alive" not in reply.text and "fourth Die Hard film 2" not in reply.text


@pytest.mark.parametrize("question", ["whose murder is rooney avenging", "who's rooney trying to avenge?",
                                      "what does rooney want", "what is rooney after in it"])
def test_a_characters_motive_is_her_backstory(ask, question: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(question, chat=None)
    assert reply.kind == "answer" and "vengeance" in reply.text and "family" in reply.text


def test_a_bare_detail_question_after_a_question_map_answer_asks_it_again(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who is rooney?")
    assert "vengeance" in ask("what is she after?").text
    reply = ask("for what?")
    assert reply.kind == "answer" and "murder of her family" in reply.text


@pytest.mark.parametrize("question", ["who directed die hard 4?", "who directed the fourth die hard",
                                      "who directed the first underworld?", "who directed john wick chapter 4"])
def test_the_known_instalment_is_still_found_by_its_number(ask, question: str) -> None:  # type: ignore[no-untyped-def]
    assert ask(question, chat=None).kind == "answer"


def test_did_he_direct_a_film_lists_that_film(ask) -> None:  # type: ignore[no-untyped-def]
    # the film named is what is asked about, not "the current film" to leave out of "other work"
    reply = ask("did len wiseman direct underworld?", chat=None)
    assert reply.kind == "answer" and "Underworld" in reply.text
    ask("who directs Ballerina?")
    assert "Underworld" in ask("did he direct underworld?").text


def test_arithmetic_is_not_a_question_about_the_film(ask) -> None:  # type: ignore[no-untyped-def]
    for question in ("what is 17 * 23", "what's 2+2?"):
        reply = ask(question, chat=None)
        assert reply.kind != "answer" and "Ballerina is" not in reply.text


@pytest.mark.parametrize("question", ["who plays the main character?", "who plays the lead role in ballerina",
                                      "who plays the titular character", "who's the actress playing the protagonist?"])
def test_the_lead_described_not_named_is_the_films_main_character(ask, question: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(question, chat=None)
    assert reply.kind == "answer" and "Ana de Armas" in reply.text


def test_the_lead_is_the_lead_of_the_film_in_question(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who plays John Wick?")
    assert "Ana de Armas" in ask("and who plays the lead?").text  # Ballerina's lead, not the last character
    # the knowledge has no lead for Chapter 4: Ballerina's is not the answer
    assert "Ana de Armas" not in ask("who plays the lead in john wick 4?", chat="other").text


def test_he_is_the_person_quoted_when_the_answer_names_no_one_else(ask) -> None:  # type: ignore[no-untyped-def]
    assert "Joe Drake" in ask("when does ballerina come out?").text  # his words, with his name
    reply = ask("who does he work for?")
    assert reply.kind == "answer" and "Lionsgate" in reply.text
    ask("who plays Winston?")  # names Ian McShane: "he" is him now, whoever the source quotes
    assert "Ian McShane" in ask("what else has he been in?").text


def test_who_runs_the_studio(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("who's the boss of lionsgate?", chat=None)
    assert reply.kind == "answer" and "Joe Drake" in reply.text


def test_a_typo_taught_as_a_name_is_still_matched_to_the_name(ask) -> None:  # type: ignore[no-untyped-def]
    # "winstn" is marked up as a character in the training data; it must not become a plain word
    assert "Ian McShane" in ask("who plays winstn", chat=None).text


def test_another_persons_fact_is_not_offered_for_someone(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("who does keanu reeves work for?", chat=None)
    assert reply.kind == "unknown" and "Joe Drake" not in reply.text


def test_the_director_described_not_named(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("has the ballerina director done any action films before?", chat=None)
    assert reply.kind == "answer" and "Underworld" in reply.text
    other_work = ask("what else has the director of ballerina made?", chat=None).text
    assert "Underworld" in other_work
    assert "Ballerina" not in unattributed(other_work).split("Besides")[-1].split(",", 1)[-1]
    # the character called the Director is still who "the director" names where a character is asked for
    assert "Huston" in ask("who plays the director?", chat=None).text


@pytest.mark.parametrize("question", [
    "who is Wayne Rooney?", "who is Lance Bass?", "who is Craig David?",  # namesakes of known people
    "what is the plot of Ghosted?", "who directs the Louvre?", "who directed Underworld: Awakening?",
    "what band does Keanu Reeves play bass in?", "is Keanu Reeves vegan?", "is it cold in Madrid in March?",
    "when is Windows 12 out?", "who did Ana de Armas play in Knives Out?", "is 1883 a spin-off?",
    "who is in the cast of John Wick: Chapter 2?", "who is Len Goodman?",
    "how many movies has Keanu made?", "where was John Wick 4 filmed?",  # asked as no such question is
    "who directed the animated movie Ballerina from 2016?",  # another Ballerina
])
def test_questions_about_something_else_are_not_answered_with_a_fact(ask, question: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(question, chat=None)
    assert reply.kind not in ("answer", "search"), reply.text


@pytest.mark.parametrize("question", ["who directs ballerina bro", "who directd balerina", "wen is it comming out",
                                      "john wick chapter 4 boxoffice"])
def test_slang_typos_and_run_together_words_still_get_answers(ask, question: str) -> None:  # type: ignore[no-untyped-def]
    assert ask(question, chat=None).kind == "answer"


def test_a_question_naming_another_film_is_not_answered_for_ours(ask) -> None:  # type: ignore[no-untyped-def]
    # the named film has no such fact: no falling back to Ballerina's
    assert "Huston" not in ask("who plays the director in john wick 4?", chat=None).text
    assert ask("who did anjelica huston play in the addams family?", chat=None).kind != "answer"


def test_other_work_of_someone_outside_the_film_is_not_said_to_be_besides_it(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("what other films is jason statham in?", chat=None)
    assert "Transporter" in reply.text and "Besides Ballerina" not in reply.text


def test_the_ballerina_is_the_film_or_its_lead_as_the_question_wants(ask) -> None:  # type: ignore[no-untyped-def]
    assert "2024" in ask("is the ballerina release in 2024?", chat=None).text
    assert "Ana de Armas" in ask("who plays the ballerina?", chat=None).text


def test_yes_no_about_who_plays_whom_checks_the_pair(ask) -> None:  # type: ignore[no-untyped-def]
    wrong = ask("is ian mcshane playing charon?", chat=None)
    assert not wrong.text.lower().startswith("yes") and "Lance Reddick" in wrong.text
    assert ask("is ian mcshane playing winston?", chat=None).text.startswith("Yes")


def test_she_after_a_cast_list_is_its_lead(ask) -> None:  # type: ignore[no-untyped-def]
    assert "Ana de Armas" in ask("who is in ballerina?").text
    assert "No Time To Die" in ask("what else has she done?").text


def test_who_is_a_name_shared_by_someone_and_a_series_means_the_someone(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("who is john wick?", chat=None)
    assert reply.kind == "answer" and "assassin" in reply.text


def test_is_someone_in_a_film_with_no_known_cast(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("is keanu in john wick 5?", chat=None)
    assert reply.kind == "unknown" and "which is ." not in reply.text


def test_it_after_a_list_of_films_still_means_the_film_in_context(ask) -> None:  # type: ignore[no-untyped-def]
    ask("who directs ballerina?")
    assert "Underworld" in ask("and what else has he directed?").text
    assert "Ana de Armas" in ask("who plays the lead?").text
    assert "2024" in ask("when is it out?").text


def test_where_can_i_see_it_asks_of_the_film_talked_about(ask) -> None:  # type: ignore[no-untyped-def]
    ask("whats john wick chapter 4 about again")
    reply = ask("where can i see it")  # "I" asks, "it" is the film: not talk about the user
    assert reply.kind == "answer" and "Cineworld" in reply.text
    assert ask("how old are you").kind != "answer"  # ...while this one is about the bot


def test_a_longer_cue_with_facts_outweighs_the_classifiers_near_intent(ask) -> None:  # type: ignore[no-untyped-def]
    ask("what is john wick up against in chapter 4")
    reply = ask("what kinds of action are in it")  # "in it" cues the cast; "kinds of action" the action
    assert "gun-fu" in reply.text and "Keanu Reeves as John Wick" not in reply.text


def test_who_killed_says_what_the_story_takes_as_given(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("who killed rooney's husband?", chat=None)  # unknown, and the murder the facts state
    assert reply.kind == "unknown" and "murder of her family" in reply.text
    assert "backstory" not in ask("who killed winston", chat=None).text  # nothing known of his: no ground to state

