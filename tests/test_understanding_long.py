"""Long messages read for their questions (bot/understanding/long_message.py), and ordinary English
that the training data lacks never taken for the name of something unknown: on Ballerina and on the
second film of tests/test_understanding.py (nothing here is about one film)."""
from __future__ import annotations

import pytest

import copy

from bot.understanding.long_message import LONG_MESSAGE, question_sentences
from tests.test_understanding import SECOND_FILM, brain_on, second  # noqa: F401  (second: a fixture)
from tests.test_understanding_context import harbour  # noqa: F401  (a fixture)

CHATTER = ("me and my friends were arguing about this for ages last night and nobody could agree on anything, "
           "one of them kept saying one name and the other kept saying another one, so we gave up and went home. ")
@pytest.fixture
def films(brain, second):  # type: ignore[no-untyped-def]
    """The Brain per film a table names: the shipped one and the second film."""
    return {"ballerina": brain, "harbour": second}


STORY = ("I watched all of the earlier ones again over the weekend with my sister, she thinks they are too much "
         "but she still sat through every single one of them with me, so she secretly likes them I think. ")


def test_question_sentences_find_the_question_wherever_it_stands() -> None:
    last = CHATTER + STORY + "who is directing it?"
    assert question_sentences(last) == ("who is directing it?",)
    first = "when does it come out? " + STORY + CHATTER
    assert question_sentences(first)[0] == "when does it come out?"
    no_mark = STORY + CHATTER + "anyway is the lead actress in it or not"
    assert question_sentences(no_mark) == ("anyway is the lead actress in it or not",)
    assert question_sentences("who plays charon") == ()  # short: read as it is
    lead_in = STORY + CHATTER + "So my question is: who is directing it?"
    assert question_sentences(lead_in) == ("who is directing it?",)
    assert question_sentences(STORY * 3) == ()  # no question: read as it is


def test_a_short_line_above_a_paste_is_the_only_question() -> None:
    paste = "\n\n" + ("What is it about? It is about a harbour. " * 20)
    assert question_sentences("who wrote it" + paste) == ("who wrote it",)
    assert question_sentences("what's the capital of peru? pasting this" + paste) == ("what's the capital of peru?",)


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "who is actually directing ballerina?", "Wiseman"),
    ("ballerina", "so is keanu reeves in ballerina or not", "Keanu"),
    ("harbour", "who is actually directing harbour lights?", "Tomas Vey"),
    ("harbour", "so is mira solberg in harbour lights or not", "Solberg"),
])
def test_a_question_after_chatter_is_answered(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    text = CHATTER + STORY + question
    assert len(text) > LONG_MESSAGE
    reply = bot.reply(None, "tester", text)
    assert reply.kind == "answer" and expected in reply.text


def test_a_rhetorical_question_before_the_real_one_is_skipped(second) -> None:  # type: ignore[no-untyped-def]
    text = CHATTER + "can you believe that? " + STORY + "when does harbour lights open?"
    reply = second.reply(None, "tester", text)
    assert reply.kind == "answer" and "autumn of 2021" in reply.text


def test_a_pasted_articles_own_questions_are_not_answered(brain) -> None:  # type: ignore[no-untyped-def]
    from bot.evaluation import expand_paste

    reply = brain.reply(None, "tester", expand_paste("what's the capital of peru? read this LONG_PASTE"))
    assert reply.kind not in ("answer", "search")


def test_the_chosen_question_sets_the_context(brain) -> None:  # type: ignore[no-untyped-def]
    brain.reply("long", "tester", CHATTER + STORY + "who plays charon in ballerina?")
    assert "Ian McShane" in brain.reply("long", "tester", "and winston?").text


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "yo who's in the ballerina flick", "Ana de Armas"),
    ("ballerina", "who is directing the forthcoming Ballerina film?", "Wiseman"),
    ("ballerina", "which seasons did lionsgate mention for the release", "spring"),
    ("harbour", "who directed the harbour lights flick", "Tomas Vey"),
    ("harbour", "who is directing the forthcoming Harbour Lights film?", "Tomas Vey"),
])
def test_english_the_training_lacked_is_no_strangers_name(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    reply = bot.reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text


@pytest.mark.parametrize("question", [
    "who plays eve in ballerina", "when is oppenheimer out", "is lionsgate hiring interns?",
    "what is the plot of Ghosted?", "what is a corporate spin-off", "what's the Breaking Bad spin-off about?",
])
def test_a_name_it_does_not_know_is_still_refused(brain, question) -> None:  # type: ignore[no-untyped-def]
    assert brain.reply(None, "tester", question).kind not in ("answer", "search")


def test_a_confident_question_of_its_own_is_no_detail_of_the_last(brain, second) -> None:  # type: ignore[no-untyped-def]
    for bot, first in ((brain, "when is ballerina out?"), (second, "when does harbour lights open?")):
        assert bot.reply("w", "tester", first).kind == "answer"
        assert bot.reply("w", "tester", "what's the weather like").kind not in ("answer", "search")


def test_an_unknown_fact_names_the_relation_as_a_noun(brain) -> None:  # type: ignore[no-untyped-def]
    brain.reply("label", "tester", "what else has ana de armas been in")
    reply = brain.reply("label", "tester", "who directs")
    assert "directed by of" not in reply.text and "stars of" not in reply.text


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "since chad stahelski is directing ballerina, what will it look like?", "Wiseman"),
    ("ballerina", "so ballerina is set after chapter 4, what happens to wick then?", "Parabellum"),
    ("harbour", "since mira solberg directed harbour lights, what else did she direct?", "Tomas Vey"),
    ("harbour", "since mira solberg directs harbour lights, what will it look like?", "Tomas Vey"),
    ("ballerina", "since chad stahelski directs it, what will it look like?", "Wiseman"),
])
def test_a_clause_taken_as_given_is_corrected_when_false(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    reply = bot.reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "since keanu is in ballerina, who does he play?", "John Wick"),
    ("harbour", "since mira solberg is in harbour lights, who does she play?", "Edda"),
])
def test_a_true_clause_lends_the_question_its_context(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    reply = bot.reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "why was ian mcshane in the transporter movies", "Jason Statham"),
    ("harbour", "why was tomas vey in low tide", "Mira Solberg"),
    ("ballerina", "how come lance reddick was in no time to die?", "Daniel Craig"),
])
def test_a_why_question_is_not_answered_on_a_ground_the_facts_lack(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    """ "why was X in Y?" when nothing puts X in Y: the cast known, never "the article doesn't say why"."""
    reply = films[film].reply(None, "tester", question)
    assert expected in reply.text and "why" not in reply.text.lower()


@pytest.mark.parametrize("film, question, named", [
    ("ballerina", "why is ian mcshane in ballerina", "Ian McShane"),
    ("harbour", "why did tomas vey direct harbour lights", "Tomas Vey"),
])
def test_a_why_question_on_true_ground_says_the_reason_is_not_known(films, film, question, named) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert reply.kind == "unknown" and named in reply.text and "why" in reply.text.lower()


def test_a_wrong_part_is_corrected_with_the_part_they_do_play(brain) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", "why does ian mcshane play charon in ballerina")
    assert "Lance Reddick" in reply.text and "Winston" in reply.text


@pytest.mark.parametrize("film, turns, expected, absent", [
    ("ballerina", ["who did ana de armas work alongside in no time to die"], "Daniel Craig", "Ana de Armas as"),
    ("ballerina", ["what else has ana de armas been in", "who was she working with in that?"], "Daniel Craig", "Rooney"),
    ("ballerina", ["who was ana de armas's co-star in the bond movie"], "Daniel Craig", "Rooney"),
    ("harbour", ["who did mira solberg work with in harbour lights"], "Tomas Vey", "Edda"),
    ("harbour", ["who is mira solberg", "who was her co-star in harbour lights?"], "Tomas Vey", "Edda"),
    # a part named beside the person: only that part's actor ("who played 007 opposite her?")
    ("ballerina", ["who was 007 opposite ana de armas"], "Daniel Craig", "Ana de Armas as"),
    ("ballerina", ["who played winston next to keanu, alongside him"], "Ian McShane as Winston", "Rooney"),
    # a part alone: the company of the one who plays it, in the film it is in ("the Bond film": that film)
    ("ballerina", ["who did paloma team up with in that bond movie"], "Daniel Craig", "Keanu"),
    ("ballerina", ["who was paloma acting alongside"], "Daniel Craig", "Keanu"),
    ("harbour", ["who did edda work with"], "Tomas Vey", "Inga"),
])
def test_who_someone_worked_with_is_the_films_other_cast(films, film, turns, expected, absent) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    for text in turns:
        reply = bot.reply("co", "tester", text)
    assert reply.kind == "answer" and expected in reply.text and absent not in reply.text, reply.text
    assert reply.text.count(expected) == 1, reply.text  # one casting said once, by however many relations


def test_no_one_else_named_is_said_so(second) -> None:  # type: ignore[no-untyped-def]
    reply = second.reply(None, "tester", "who did mira solberg work with in low tide")
    assert reply.kind == "unknown" and "Low Tide" in reply.text and "Tomas Vey" not in reply.text


@pytest.mark.parametrize("question", ["who was in speed with keanu reeves", "who directed the original speed with keanu",
                                      "which actor was bond opposite ana de armas"])
def test_company_words_in_other_questions_are_not_a_cast_list(brain, question) -> None:  # type: ignore[no-untyped-def]
    assert "Ian McShane" not in brain.reply(None, "tester", question).text


@pytest.mark.parametrize("question, verdict", [
    ("is ana de armas the main character", "yes"), ("is keanu the lead", "no"), ("is winston the main character", "no"),
])
def test_a_part_and_its_player_are_both_on_the_fact(brain, question, verdict) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", question)
    assert reply.kind == "answer" and reply.verdict == verdict and "Rooney" in reply.text


@pytest.fixture
def salt_road(settings, brain, tmp_path):  # type: ignore[no-untyped-def]
    """The second film, where Mira Solberg has no other credit but her part, Edda, was first seen in an
    earlier film."""
    data = copy.deepcopy(SECOND_FILM)
    data["facts"] = [f for f in data["facts"] if f["subject"] != "low_tide"]
    data["relations"].append({"id": "first_seen_in", "label": "first appearance", "phrase": "{subject} was first seen in {object}",
                              "subject": ["character"], "object": ["film"]})
    data["entities"].append({"id": "salt_road", "kind": "film", "name": "Salt Road", "aliases": ["salt road"]})
    data["facts"].append({"subject": "edda", "relation": "first_seen_in", "object": "salt_road", "source": "review",
                          "known": "2021-05"})
    return brain_on(settings, brain, data, tmp_path / "salt.yml", seed=4)


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "what else has angelica huston been in", "Parabellum"),
    ("harbour", "what else has mira solberg been in", "Salt Road"),
])
def test_an_earlier_work_through_a_part_they_play(brain, salt_road, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    bot = brain if film == "ballerina" else salt_road
    reply = bot.reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text


LETTER = ("Dear sir or madam,\n\nI am writing on behalf of our film society, which meets on the first Thursday of each "
          "month in the village hall. Our members have greatly enjoyed the director's earlier work and are considering "
          "an outing to the cinema. Before we commit to booking a coach, we should be grateful if you could tell us "
          "{question}.\n\nWith kind regards,\nMargaret\n")


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "who is directing Ballerina", "Wiseman"),
    ("harbour", "who directed Harbour Lights", "Tomas Vey"),
])
def test_a_question_asked_inside_a_statement_is_answered(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    reply = bot.reply(None, "tester", LETTER.format(question=question))
    assert reply.kind == "answer" and expected in reply.text


def test_a_greeting_above_the_text_is_not_its_question() -> None:
    text = "Hi there,\n\n" + STORY + CHATTER + "so who plays the lead?"
    assert question_sentences(text) == ("so who plays the lead?",)
    assert "how, it" not in " ".join(question_sentences(STORY + "I don't know how, it was loud. " + CHATTER))


def test_what_is_not_known_is_said_of_the_film_talked_about(brain) -> None:  # type: ignore[no-untyped-def]
    brain.reply("topic", "tester", "what's john wick chapter 4 about")
    reply = brain.reply("topic", "tester", "can i stream it at home?")  # ("where can I see it?" is known)
    assert reply.kind == "unknown" and "Chapter 4" in reply.text and "Ballerina" not in reply.text.split(".")[0]


def test_every_question_of_a_long_message_is_answered_in_one_reply(brain, second) -> None:  # type: ignore[no-untyped-def]
    text = "Who is directing Ballerina? " + STORY + CHATTER + "And what else has he directed before?"
    reply = brain.reply(None, "tester", text)
    assert "Wiseman" in reply.text and "Underworld" in reply.text
    text = "who directed harbour lights? " + STORY + "can you believe that? " + CHATTER + "and when does it open?"
    reply = second.reply(None, "tester", text)
    assert "Tomas Vey" in reply.text and "autumn of 2021" in reply.text


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "why did keanu refuse to be in ballerina?", "John Wick"),
    ("ballerina", "why isn't ian mcshane in it", "Winston"),
    ("harbour", "why did mira solberg refuse to be in harbour lights?", "Edda"),
])
def test_an_absence_taken_as_given_is_corrected(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    reply = bot.reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text
    assert "don't say why" not in reply.text and "doesn't say why" not in reply.text


def test_an_absence_the_facts_agree_with_is_not_explained(brain) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", "why isn't daniel craig in ballerina")
    assert reply.kind == "unknown" and "Daniel Craig" in reply.text and "why" in reply.text
    assert "why not" not in reply.text


@pytest.fixture
def gazette(settings, brain, tmp_path):  # type: ignore[no-untyped-def]
    """The second film with its review's publication as an entity, and a second source elsewhere."""
    data = copy.deepcopy(SECOND_FILM)
    data["entities"].append({"id": "quay_gazette", "kind": "publication", "name": "The Quay Gazette",
                             "aliases": ["quay gazette", "the quay gazette"]})
    data["sources"].append({"id": "blog", "publication": "Harbour Blog", "attribution": "according to Harbour Blog",
                            "known": "2021-06"})
    data["facts"].append({"subject": "mira_solberg", "relation": "description", "object": "a painter turned actress",
                          "source": "blog", "known": "2021-06"})
    data["facts"].append({"subject": "harbour_lights", "relation": "description", "object": "a quiet harbour drama",
                          "source": "review", "known": "2021-05"})
    data["entities"].append({"id": "old_pier", "kind": "film", "name": "The Old Pier", "aliases": ["the old pier"]})
    data["facts"].append({"subject": "old_pier", "relation": "description", "object": "a lost silent film",
                          "source": "blog", "known": "2021-06"})
    return brain_on(settings, brain, data, tmp_path / "gazette.yml", seed=6)


@pytest.mark.parametrize("film, question, expected, absent", [
    ("ballerina", "how does collider describe rooney exactly", "young assassin", "Cineworld"),
    ("ballerina", "what did keanu reveal to collider", "Parabellum", "Rooney is"),
    ("harbour", "what does the quay gazette say about harbour lights", "quiet harbour drama", "painter"),
])
def test_what_one_publication_says_of_something(brain, gazette, film, question, expected, absent) -> None:  # type: ignore[no-untyped-def]
    bot = brain if film == "ballerina" else gazette
    reply = bot.reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text and absent not in reply.text


def test_what_a_publication_says_of_someone_includes_the_parts_it_credits_them_with(gazette) -> None:  # type: ignore[no-untyped-def]
    reply = gazette.reply(None, "tester", "what did the quay gazette say about mira solberg")
    assert reply.kind == "answer" and "Harbour Lights" in reply.text and "painter" not in reply.text


def test_a_publication_that_says_nothing_of_it_is_said_so(gazette) -> None:  # type: ignore[no-untyped-def]
    reply = gazette.reply(None, "tester", "what did the quay gazette say about the old pier")
    assert reply.kind == "unknown" and "silent" not in reply.text and "The Old Pier" in reply.text


@pytest.mark.parametrize("film, question, yes", [
    ("ballerina", "is it out in spring or summer 2024?", True),
    ("ballerina", "is ballerina set between chapter 3 and chapter 4", True),
    ("ballerina", "is ballerina set after chapter 4", False),
    ("harbour", "is harbour lights coming out in the autumn of 2021?", True),
    ("harbour", "is harbour lights coming out in the spring of 2021?", False),
])
def test_a_text_fact_says_yes_only_to_what_its_words_state(films, film, question, yes) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert reply.text.lower().startswith("yes") is yes


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "who plays winston, charon and the director?", ["Ian McShane", "Lance Reddick", "Angelica Huston"]),
    ("harbour", "who plays edda and inga", ["Mira Solberg", "Inga"]),
])
def test_every_name_listed_is_asked_of(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert all(name in reply.text for name in expected)


@pytest.mark.parametrize("film, question, fact", [
    ("ballerina", "is ballerina set between chapter 3 and chapter 4", "between the events"),
    ("ballerina", "who directs it? and who is the director of ballerina?", "Len Wiseman"),
    ("harbour", "who directs harbour lights and who directs harbour lights?", "Tomas Vey"),
])
def test_two_parts_answered_by_one_fact_say_it_once(films, film, question, fact) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert reply.kind == "answer" and reply.text.count(fact) == 1 + (fact in "Tomas Vey Len Wiseman") * reply.text.count(f"{fact}:")


@pytest.mark.parametrize("film, question, expected, absent", [
    ("ballerina", "who directed the wick films, not the spin-off", "Chad Stahelski", "Len Wiseman"),
    ("ballerina", "who directs ballerina, not the john wick films", "Len Wiseman", "Chad Stahelski"),
    ("ballerina", "who directed the john wick movies before ballerina", "Chad Stahelski", "Len Wiseman"),
    ("harbour", "who stars in low tide, not harbour lights", "Inga", "Edda"),
    ("harbour", "who stars in harbour lights rather than low tide", "Edda", "Inga"),
])
def test_a_name_set_against_another_is_not_what_is_asked(films, film, question, expected, absent) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert expected in reply.text and absent not in reply.text


def test_a_film_named_with_its_series_is_asked_about_as_the_film(brain) -> None:  # type: ignore[no-untyped-def]
    for question in ("whos the director for ballerina john wick", "who directs the john wick ballerina movie"):
        reply = brain.reply(None, "tester", question)
        assert "Len Wiseman" in reply.text and "Stahelski" not in reply.text


@pytest.mark.parametrize("film, question, holder, own", [
    ("ballerina", "is ian mcshane playing charon", "Lance Reddick", "Winston"),
    ("ballerina", "ian mcshane plays charon, right?", "Lance Reddick", "Winston"),
    ("ballerina", "is keanu reeves playing charon in ballerina?", "Lance Reddick", "John Wick"),
])
def test_a_wrong_pairing_names_who_holds_the_part_and_what_they_play(films, film, question, holder, own) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert reply.verdict == "no" and holder in reply.text
    assert own is None or own in reply.text


@pytest.mark.parametrize("question, expected", [
    ("what does the article say about lance reddick", "Charon"),
    ("how does the article describe len wiseman?", "action specialist"),
    ("what does cineworld say about keanu", "action icon"),
])
def test_the_article_is_the_outlet_the_knowledge_was_read_from(brain, question, expected) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text and "Cineworld" in reply.text


def test_what_the_article_says_of_a_stranger_is_not_the_films_facts(brain) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", "what does the article say about harry potter")
    assert reply.kind == "unknown" and "Wiseman" not in reply.text and "Rooney" not in reply.text


@pytest.mark.parametrize("film, turns, expected, absent", [
    ("ballerina", ["who directs ballerina?", "did he do the die hard one with willis?"], "Len Wiseman", "Bruce Willis's work"),
    ("ballerina", ["who directs ballerina?", "did he do the die hard one with willis?", "anything else?"], "Transporter", "Bruce Willis"),
])
def test_someone_named_in_company_is_not_whom_the_pronoun_asks_about(films, film, turns, expected, absent) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    for text in turns:
        reply = bot.reply("company", "tester", text)
    assert expected in reply.text and absent not in reply.text


@pytest.mark.parametrize("film, turns, expected", [
    ("ballerina", ["who plays rooney?", "is she an oscar winner?"], "Ana de Armas"),
    ("harbour", ["who is mira solberg", "is she an award winner?"], "Mira Solberg"),
])
def test_a_dictionary_word_beside_a_pronoun_is_no_stranger(films, film, turns, expected) -> None:  # type: ignore[no-untyped-def]
    """ "is she an Oscar *winner*?": the word is the question's, not the name of someone unknown."""
    bot = films[film]
    for text in turns:
        reply = bot.reply("award", "tester", text)
    assert reply.intent == "ask_awards" and expected in reply.text


@pytest.mark.parametrize("film, turns, expected, absent", [
    ("ballerina", ["who directs ballerina", "not that, who's the director of the other wick films"], "Chad Stahelski", "Len Wiseman"),
    ("harbour", ["who directed harbour lights", "not him, who wrote it?"], "Mira Solberg", "Tomas Vey"),
    ("harbour", ["who plays edda", "not that, who plays inga?"], "Low Tide", "Harbour Lights"),
])
def test_words_that_take_the_answer_back_open_one_corrected_question(films, film, turns, expected, absent) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    for text in turns:
        reply = bot.reply("not-that", "tester", text)
    assert reply.kind == "answer" and expected in reply.text and absent not in reply.text


@pytest.mark.parametrize("turns", [
    ["what has len wiseman directed before", "with whom?"],
    ["wiseman made the transporter movies?", "with which actor?"],
])
def test_with_whom_after_a_list_of_films_asks_each_films_cast(brain, turns) -> None:  # type: ignore[no-untyped-def]
    for text in turns:
        reply = brain.reply("listed", "tester", text)
    assert reply.kind == "answer"
    assert all(name in reply.text for name in ("Jason Statham", "Bruce Willis", "Kate Beckinsale"))
    assert "Ana de Armas" not in reply.text  # not the cast of the film in context


def test_a_listed_film_takes_no_pronoun(brain) -> None:  # type: ignore[no-untyped-def]
    """ "he directed X, Y and Z" lists films; "when is it out?" next still means the film talked about."""
    for text in ("who directs ballerina?", "what else has he directed?", "when is it out?"):
        reply = brain.reply("listed-it", "tester", text)
    assert "2024" in reply.text


@pytest.mark.parametrize("film, question, stated", [
    ("ballerina", "why did universal go for a christmas 2024 release for ballerina?", "spring or summer 2024"),
    ("ballerina", "why is ballerina set before the first john wick movie", "between"),
    ("harbour", "why is harbour lights coming out in the spring of 2021?", "autumn of 2021"),
])
def test_a_why_question_the_facts_do_not_bear_out_gets_what_they_say(films, film, question, stated) -> None:  # type: ignore[no-untyped-def]
    """Not "the article doesn't say why X", which takes X as so: what the facts of it do say."""
    reply = films[film].reply(None, "tester", question)
    assert reply.kind == "answer" and stated in reply.text


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "what's the plot of ballerina and is john wick in it", ["vengeance", "Keanu Reeves"]),
    ("ballerina", "who did ana play in no time to die, and who directed the fourth die hard?", ["Paloma", "Len Wiseman"]),
    ("ballerina", "who plays winston; also who is joe drake", ["Ian McShane", "Lionsgate"]),
    ("harbour", "who plays edda, and who directed harbour lights?", ["Mira Solberg", "Tomas Vey"]),
    ("harbour", "who plays edda; when does harbour lights come out?", ["Mira Solberg", "autumn of 2021"]),
])
def test_a_part_after_and_that_asks_its_own_question_is_not_the_last_one_again(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert reply.kind == "answer" and all(e in reply.text for e in expected)


def test_and_with_only_a_name_still_asks_the_last_question_of_it(second) -> None:  # type: ignore[no-untyped-def]
    second.reply("and", "tester", "who plays edda")
    assert "Mira Solberg" in second.reply("and", "tester", "and inga?").text


@pytest.mark.parametrize("text, kind", [
    ("wait are you a real person or a bot", "smalltalk"),
    ("are you a real person?", "smalltalk"),
    ("did you see the match last night", "unknown"),
    ("do you like pizza", "unknown"),
])
def test_sure_chit_chat_about_the_bot_keeps_its_words(brain, text, kind) -> None:  # type: ignore[no-untyped-def]
    assert brain.reply(None, "tester", text).kind == kind


PASTE = "\n\n" + ("Some text I copied from a forum thread about films and casting rumours, none of it a question. " * 8)


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "when is it out, read this but couldn't find it", "2024"),
    ("ballerina", "is keanu in it, long read sorry", "John Wick"),
    ("harbour", "who plays edda, sorry for the long post", "Mira Solberg"),
])
def test_a_remark_after_the_question_above_a_paste_is_not_asked(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question + PASTE)
    assert reply.kind == "answer" and expected in reply.text


@pytest.mark.parametrize("film, question, relation", [
    ("ballerina", "from this article, how long is the movie?", "ask_runtime"),
    ("harbour", "from the review, who directed harbour lights?", "ask_director"),
])
def test_a_wh_question_after_a_lead_in_is_no_tagged_statement(films, film, question, relation) -> None:  # type: ignore[no-untyped-def]
    assert films[film].reply(None, "tester", question).intent == relation


@pytest.mark.parametrize("question, yes", [
    ("is ana de armas the lead", True),
    ("ana de armas is the lead, right?", True),
    ("is keanu reeves the lead?", False),
    ("is len wiseman the helmer?", True),
])
def test_a_yes_no_with_a_relations_descriptor_asks_whether_they_hold_it(brain, question, yes) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", question)
    assert reply.kind == "answer" and reply.verdict == ("yes" if yes else "no")


@pytest.mark.parametrize("question, intent", [
    ("has a teaser come out for ballerina", "ask_trailer"),
    ("is the trailer out?", "ask_trailer"),
    ("is ballerina out yet", "ask_release"),
    ("has the release date been announced?", "ask_release"),
])
def test_a_yes_no_asks_of_what_its_subject_cues_not_its_verb(brain, question, intent) -> None:  # type: ignore[no-untyped-def]
    assert brain.reply(None, "tester", question).intent == intent


@pytest.mark.parametrize("turns, expected, absent", [
    (["who's returning from the john wick films"], ["Ian McShane", "Lance Reddick", "Angelica Huston"], "Ana de Armas"),
    (["who plays winston", "who else from the old films is back?"], ["Lance Reddick"], "Ana de Armas"),
    (["does ian mcshane come back?"], ["Winston"], "Lance Reddick"),
    (["is ian mcshane back for this one?", "who does he play again"], ["Winston"], "Rooney"),
])
def test_who_returns_is_read_from_the_films_returning_cast(brain, turns, expected, absent) -> None:  # type: ignore[no-untyped-def]
    for text in turns:
        reply = brain.reply("back", "tester", text)
    assert reply.kind == "answer" and all(e in reply.text for e in expected) and absent not in reply.text


def test_a_stranger_asked_to_return_is_not_known_to_rather_than_no(brain) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", "does halle berry come back in ballerina")
    assert reply.kind == "unknown" and reply.verdict is None and "Ian McShane" in reply.text


def test_a_film_without_a_returning_cast_says_so(second) -> None:  # type: ignore[no-untyped-def]
    reply = second.reply(None, "tester", "who's coming back for harbour lights?")
    assert reply.kind == "unknown" and "Mira Solberg" not in reply.text


@pytest.mark.parametrize("film, turns, expected, kind", [
    ("ballerina", ["the lionsgate chair is", "and he said?"], "spring or summer 2024", "answer"),
    ("harbour", ["who wrote harbour lights", "and she said?"], "Mira Solberg", "unknown"),
])
def test_a_fragment_of_saying_asks_what_they_said(films, film, turns, expected, kind) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    for text in turns:
        reply = bot.reply("said", "tester", text)
    assert reply.intent == "ask_statements" and reply.kind == kind and expected in reply.text


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "which underworld one", "the first Underworld movie"),
    ("ballerina", "which die hard film?", "fourth Die Hard"),
    ("harbour", "which low tide film", "Inga"),
])
def test_which_with_only_a_works_name_tells_of_that_work(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text


@pytest.mark.parametrize("question, verdict", [
    ("was paloma ana de armas's character in the bond film?", "yes"),
    ("was rooney ana de armas's character in the bond film?", "no"),
])
def test_a_name_qualifying_a_film_word_stands_for_that_film_in_a_yes_no(brain, question, verdict) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", question)
    assert reply.verdict == verdict and "Paloma" in reply.text


@pytest.mark.parametrize("film, turns, expected", [
    ("ballerina", ["who directed the john wick films", "is he doing ballerina too?"], "Len Wiseman"),
    ("ballerina", ["who directed the john wick films", "and is he doing ballerina too?"], "Len Wiseman"),
    ("harbour", ["who plays edda", "does she do inga too?"], "Mira Solberg"),
])
def test_a_light_verb_and_too_ask_the_last_question_of_a_new_name(films, film, turns, expected) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    for text in turns:
        reply = bot.reply("too", "tester", text)
    assert reply.kind == "answer" and expected in reply.text


@pytest.mark.parametrize("question, relation", [
    ("how much money did ballerina make", "ask_box_office"),
    ("how much money did it cost to make", "ask_budget"),
    ("how much did ballerina cost", "ask_budget"),
])
def test_money_made_and_money_spent_are_told_apart(brain, question, relation) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", question)
    assert reply.intent == relation and reply.kind == "unknown"


def test_a_long_cue_is_not_taken_for_another_film(brain) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", "how much money did avatar make")
    assert reply.kind == "unknown" and "Chapter 4" not in reply.text


@pytest.mark.parametrize("question, expected", [
    ("why did ballerina get delayed to 2026", "spring or summer 2024"),
    ("why was it postponed to 2025?", "spring or summer 2024"),
    ("why is kate beckinsale playing the director in ballerina", "Angelica Huston"),
])
def test_a_delay_or_a_part_presumed_is_corrected_from_the_facts(brain, question, expected) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text


def test_who_starred_in_that_asks_the_cast_of_the_film_just_named(brain) -> None:  # type: ignore[no-untyped-def]
    for text in ("who's directing ballerina", "did he do underworld?", "who starred in that?"):
        reply = brain.reply("that", "tester", text)
    assert reply.kind == "answer" and "Kate Beckinsale" in reply.text


def test_says_who_still_names_the_last_answers_source(brain) -> None:  # type: ignore[no-untyped-def]
    brain.reply("src", "tester", "who plays winston")
    reply = brain.reply("src", "tester", "says who?")
    assert "Ian McShane" in reply.text and "Cineworld" in reply.text


@pytest.mark.parametrize("film, first, correction, expected, absent", [
    ("ballerina", "who plays charon?", "not charon, I mean winston", "McShane", "Reddick"),
    ("harbour", "who plays edda?", "not edda, i mean inga", "Solberg", "Edda"),
    ("ballerina", "what does ana de armas play in ballerina?", "not that one, i mean in no time to die", "Paloma",
     "Rooney"),
    # after a question-map relation, known or not: the same relation of what the correction names
    ("ballerina", "who wrote ballerina?", "sorry i meant chapter 4", "Chapter 4", "Wiseman"),
    ("harbour", "who wrote low tide?", "sorry, I meant harbour lights", "Solberg", "Low Tide"),
    ("ballerina", "who starred in the underworld movie?", "i meant the die hard one actually", "Willis",
     "Beckinsale"),
])
def test_a_correction_takes_back_one_thing_and_asks_of_the_other(films, film, first, correction, expected,
                                                                  absent) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    bot.reply("c", "tester", first)
    reply = bot.reply("c", "tester", correction)
    assert expected in reply.text and absent not in reply.text


@pytest.mark.parametrize("film, question, person, work", [
    ("ballerina", "who did bruce willis play in die hard 4", "Bruce Willis", "fourth Die Hard"),
    ("ballerina", "what character did kate beckinsale play in underworld", "Kate Beckinsale", "Underworld"),
    ("harbour", "who does tomas vey play in harbour lights?", "Tomas Vey", "Harbour Lights"),
])
def test_a_part_not_named_for_someone_in_a_film_says_so_and_what_is_known(films, film, question, person,
                                                                         work) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert reply.kind == "unknown" and person in reply.text and work in reply.text and "stars in" in reply.text


@pytest.fixture
def keeper(settings, brain, tmp_path):  # type: ignore[no-untyped-def]
    """The second film, its lead's character with a job of her own."""
    from tests.test_understanding import brain_on
    data = copy.deepcopy(SECOND_FILM)
    data["relations"].append({"id": "occupation", "label": "occupation", "phrase": "{subject} is {object}",
                              "subject": ["person", "character"], "object": "text"})
    data["facts"].append({"subject": "edda", "relation": "occupation", "object": "a customs agent",
                          "source": "review", "known": "2021-05"})
    return brain_on(settings, brain, data, tmp_path / "keeper.yml")


@pytest.mark.parametrize("question, yes", [
    ("what was mira solberg's job in harbour lights?", False),
    ("was mira solberg a customs agent in harbour lights?", True),
    ("Mira Solberg played a customs agent in Harbour Lights, right?", True),
    ("was mira solberg a secret agent in harbour lights?", False),  # not stated: no yes, and never a no
])
def test_a_question_about_someone_in_a_film_reads_their_parts_facts(keeper, question, yes) -> None:  # type: ignore[no-untyped-def]
    reply = keeper.reply(None, "tester", question)
    assert reply.kind == "answer" and "Edda" in reply.text and "customs agent" in reply.text
    assert reply.text.startswith("Yes") == yes and not reply.text.startswith("No")


def test_what_someone_does_for_a_living_is_not_their_parts_job(keeper) -> None:  # type: ignore[no-untyped-def]
    reply = keeper.reply(None, "tester", "what does mira solberg do for a living?")
    assert "customs" not in reply.text


@pytest.fixture
def director_part(settings, brain, tmp_path):  # type: ignore[no-untyped-def]
    """The second film with a part called the Director (Inga's player plays her too) and the director's
    relation described as "director"."""
    from tests.test_understanding import brain_on
    data = copy.deepcopy(SECOND_FILM)
    next(r for r in data["relations"] if r["id"] == "directed_by")["descriptors"] = ["director", "helmer"]
    data["entities"].append({"id": "the_director", "kind": "character", "name": "the Director", "pronoun": "she",
                             "aliases": ["the director"]})
    data["facts"].append({"subject": "harbour_lights", "relation": "starring", "object": "mira_solberg",
                          "role": "the_director", "source": "review", "known": "2021-05"})
    return brain_on(settings, brain, data, tmp_path / "director.yml")


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "is len wiseman the director?", "Wiseman"),
    ("ballerina", "len wiseman is the director, yeah?", "Wiseman"),
    ("ballerina", "is angelica huston the director?", "Huston"),  # she plays the part so named
    ("director", "is tomas vey the director?", "Tomas Vey"),
    ("director", "is mira solberg the director?", "Solberg"),
])
def test_the_director_is_the_part_only_for_who_plays_it(films, director_part, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    bot = director_part if film == "director" else films[film]
    reply = bot.reply(None, "tester", question)
    assert reply.text.startswith("Yes") and expected in reply.text


@pytest.mark.parametrize("film, question, yes", [
    ("ballerina", "has ana de armas won an oscar", False),  # a nominee: the win is not stated
    ("ballerina", "was ana de armas nominated for an oscar", True),
    ("harbour", "is harbour lights coming out in the autumn of 2021?", True),
    ("harbour", "was the release of harbour lights pushed back to the autumn of 2021?", False),  # no delay stated
])
def test_a_yes_needs_the_claims_verb_stated_too(films, film, question, yes) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert reply.kind == "answer" and reply.text.startswith("Yes") == yes and not reply.text.startswith("No")


@pytest.mark.parametrize("film, question, verdict, expected", [
    ("ballerina", "is ana de armas playing the director", "no", "Huston"),
    ("ballerina", "is ian mcshane playing winston in it", "yes", "McShane"),
    ("harbour", "is mira solberg playing edda?", "yes", "Solberg"),
    ("harbour", "is tomas vey playing edda?", "no", "Solberg"),
])
def test_is_someone_playing_a_part_is_answered_from_the_cast(films, film, question, verdict,
                                                              expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert reply.verdict == verdict and expected in reply.text


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "ok well what is ana de armas known for then", "No Time To Die"),
    ("ballerina", "hmm so who's winston then", "McShane"),
    ("harbour", "hmm so who plays edda then", "Solberg"),
    ("harbour", "ok well who directs harbour lights then lol", "Tomas Vey"),  # taken for off-topic whole
])
def test_talk_around_an_unsure_question_is_read_without_it(films, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text


@pytest.mark.parametrize("film, question, actor, work, other", [
    ("ballerina", "who played the Director in the third john wick film", "Angelica Huston", "Parabellum",
     "who plays the director in john wick 4?"),
    ("harbour", "who played edda in salt road?", "Mira Solberg", "Salt Road", "who plays edda in low tide?"),
])
def test_a_part_in_a_film_without_its_cast_says_so_and_who_plays_it_elsewhere(films, harbour, film, question,
                                                                             actor, work, other) -> None:  # type: ignore[no-untyped-def]
    bot = harbour if film == "harbour" else films[film]
    reply = bot.reply(None, "tester", question)
    assert reply.kind == "answer" and actor in reply.text and work in reply.text
    assert "doesn't say" in reply.text or "Nothing I've read" in reply.text  # what is not known, said
    assert actor not in bot.reply(None, "tester", other).text  # not known in that film: no other's cast


@pytest.mark.parametrize("film, first, fragment, expected", [
    ("ballerina", "Ana de Armas played a CIA agent in No Time To Die, right?", "alongside whom?", "Daniel Craig"),
    ("keeper", "was mira solberg a customs agent in harbour lights?", "alongside whom?", "Tomas Vey"),
    ("ballerina", "wiseman did an underworld film didn't he", "with?", "Kate Beckinsale"),
    ("harbour", "who plays edda?", "with?", "Tomas Vey"),
])
def test_with_whom_after_an_answer_naming_someone_in_a_film_is_its_other_cast(films, keeper, film, first, fragment,
                                                                            expected) -> None:  # type: ignore[no-untyped-def]
    bot = keeper if film == "keeper" else films[film]
    bot.reply("w", "tester", first)
    reply = bot.reply("w", "tester", fragment)
    assert reply.kind == "answer" and expected in reply.text


def test_a_short_lead_in_before_the_question_above_a_paste_is_not_the_question() -> None:
    paste = "\n\n" + ("What is it about? It is about a harbour. Who is in it? Edda is. " * 10)
    assert question_sentences("according to this when is it out" + paste) == ("when is it out",)
    assert question_sentences("so i read that when i was a kid" + paste)[0] == "What is it about?"  # no question


@pytest.mark.parametrize("film, question, expected", [
    ("ballerina", "how is rooney described", "young assassin"),
    ("ballerina", "how does the article refer to lance reddick", "the late"),
    ("harbour", "how is tomas vey described?", "harbour painter"),
])
def test_how_someone_is_described_is_their_description(films, harbour, film, question, expected) -> None:  # type: ignore[no-untyped-def]
    reply = (harbour if film == "harbour" else films[film]).reply(None, "tester", question)
    assert reply.kind == "answer" and expected in reply.text


def test_what_a_name_means_is_not_their_description(brain) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply(None, "tester", "what does keanu mean in hawaiian?")
    assert "action icon" not in reply.text  # "mean" asks what a term means, not who someone is


@pytest.mark.parametrize("film, text, expected, absent", [
    # a sentence of thanks or chatter before the question asks nothing: the question is read alone
    ("ballerina", "Great, thanks. Which actress is the lead?", "Ana de Armas", "I don't"),
    ("ballerina", "Cheers mate. Is Keanu in it?", "Yes", "Cheers"),
    ("ballerina", "My nephew told me about a film called Ballerina. Who directs it?", "Len Wiseman", "nephew"),
    ("harbour", "Brilliant, thank you! Who directs it?", "Tomas Vey", "Brilliant"),
    # a lead-in about the text or the turn, before a comma
    ("ballerina", "Going by the article, who is in charge at Lionsgate?", "Joe Drake", "article"),
    ("harbour", "Finally, who plays Edda?", "Mira Solberg", "Finally"),
    # a sentence naming whom a pronoun stands for, or correcting, is no chatter: the whole is read
    ("harbour", "Mira Solberg is in it. Who does she play?", "Edda", "Tomas"),
])
def test_the_question_sentence_is_read_without_the_talk_around_it(films, film, text, expected, absent) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply("qs", "tester", text)
    assert reply.kind == "answer" and expected in reply.text and absent not in reply.text, reply.text


def test_a_correcting_sentence_after_a_question_is_not_dropped(brain) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply("qc", "tester", "who plays winston. no wait, I mean charon")
    assert "Lance Reddick" in reply.text and "McShane" not in reply.text, reply.text


@pytest.mark.parametrize("film, first, fragment, expected, absent", [
    # a fragment whose words cue a relation of their own asks it of what the last answer named
    ("ballerina", "who does ana de armas play in no time to die", "what agency?", "CIA", "Rooney"),
    ("ballerina", "who starred in no time to die?", "which agency?", "CIA", "Rooney"),  # the part its people play
    ("harbour", "who directs harbour lights?", "what release date?", "autumn of 2021", "Tomas Vey"),
    # ...but not words that ask after the last answer's own detail
    ("ballerina", "when does ballerina come out", "which part of the year?", "spring", "spin-off"),
])
def test_a_fragment_cuing_its_own_relation_asks_it_of_what_was_named(films, film, first, fragment, expected,
                                                                    absent) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    bot.reply("fr", "tester", first)
    reply = bot.reply("fr", "tester", fragment)
    assert reply.kind == "answer" and expected in reply.text and absent not in reply.text, reply.text


@pytest.mark.parametrize("film, text, expected, absent", [
    # "is X the one who did Y?" asks whether X did Y: the relative clause's verb carries the relation
    ("ballerina", "is len wiseman the man who directed underworld?", "Yes", "Beckinsale stars"),
    ("ballerina", "was lance reddick the actor that played charon", "Yes", "Keanu"),
    ("harbour", "is tomas vey the guy who directs harbour lights?", "Yes", "Mira"),
    ("harbour", "is mira solberg the woman who directed harbour lights?", "Tomas Vey", "Yes"),
])
def test_being_the_one_who_did_something_asks_whether_they_did_it(films, film, text, expected, absent) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply("rel", "tester", text)
    assert reply.kind == "answer" and expected in reply.text and absent not in reply.text, reply.text


@pytest.mark.parametrize("film, text, verdict, expected", [
    # the verb says which of a person's works is asked: starring in a film is no yes to directing it
    ("ballerina", "did kate beckinsale direct underworld?", "no", "starred"),
    ("ballerina", "did len wiseman act in underworld", "no", "directed"),
    ("ballerina", "did kate beckinsale star in underworld?", "yes", "Beckinsale"),
    # a yes/no naming both sides of the relation its verb cues is that relation, however unsure the
    # classifier is of names it never saw
    ("harbour", "did tomas vey direct harbour lights?", "yes", "Tomas Vey"),
    ("harbour", "did mira solberg direct harbour lights?", "no", "Tomas Vey"),
])
def test_a_yes_no_is_answered_for_the_relation_its_verb_asks(films, film, text, verdict, expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply("vr", "tester", text)
    assert reply.verdict == verdict and expected in reply.text, reply.text


@pytest.fixture
def takings(settings, brain, tmp_path):  # type: ignore[no-untyped-def]
    """The second film with its box office told in words only, no figure."""
    data = copy.deepcopy(SECOND_FILM)
    data["relations"].append({"id": "box_office", "label": "box office", "phrase": "{subject} {object}",
                              "subject": ["film"], "object": "text"})
    data["facts"].append({"subject": "harbour_lights", "relation": "box_office", "object": "sold out every harbour town",
                          "source": "review", "known": "2021-05"})
    return brain_on(settings, brain, data, tmp_path / "takings.yml", seed=5)


@pytest.mark.parametrize("film, text, absent", [
    # someone's full name the knowledge lacks, after "with"/"starring": another work of that name
    ("ballerina", "what's the story of the cartoon ballerina with elle fanning", "Rooney"),
    ("harbour", "who directs harbour lights starring greta lindqvist", "Tomas Vey"),
    # a part's younger or older self is not the part the facts cast
    ("ballerina", "who played young rooney", "Armas"),
    ("ballerina", "who plays winston as a kid", "McShane"),
    ("harbour", "who plays edda as a child", "Mira Solberg"),
    # "which city" asks a place, never the timeline's chapters
    ("ballerina", "what city does ballerina take place in", "Parabellum"),
])
def test_what_the_facts_do_not_cover_is_not_answered_with_a_near_fact(films, film, text, absent) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply("nf", "tester", text)
    assert reply.kind == "unknown" and absent not in reply.text, reply.text


@pytest.mark.parametrize("which, text, plain, says", [
    ("ballerina", "how much did chapter 4 earn at the box office", "how did chapter 4 do at the box office",
     "smashed box office records"),
    ("takings", "how much did harbour lights make at the box office", "how did harbour lights do at the box office",
     "sold out every harbour town"),
])
def test_a_number_asked_for_when_the_facts_hold_words_only_is_no_figure(films, takings, which, text, plain,
                                                                        says) -> None:  # type: ignore[no-untyped-def]
    bot = takings if which == "takings" else films[which]
    reply = bot.reply("fig", "tester", text)
    assert reply.kind == "unknown" and says in reply.text, reply.text
    told = bot.reply("fig2", "tester", plain)
    assert told.kind == "answer" and says in told.text, told.text  # asked how it did: the words answer


@pytest.mark.parametrize("text, expected", [
    # the question map's phrases ("revolves around") are words the bot understands, in any inflection,
    # though no training example uses them: never an unknown name, never foreign to the intent they cue
    ("who does the story revolve around", "Rooney"),
    ("which character does the whole story revolve around", "Rooney"),
])
def test_a_cue_phrase_no_example_uses_is_understood(brain, text, expected) -> None:  # type: ignore[no-untyped-def]
    assert "revolve" not in brain.mind.nlu.parse(text).unknown_words
    reply = brain.reply("cue", "tester", text)
    assert reply.kind == "answer" and expected in reply.text, reply.text


def test_one_cue_word_does_not_make_a_strange_title_known(brain) -> None:  # type: ignore[no-untyped-def]
    # "bad" cues reviews, yet *Breaking Bad* stays a title the bot does not know
    assert "breaking" in brain.mind.nlu.parse("what is the breaking bad spin-off about").unknown_words


@pytest.fixture
def keeper_job(settings, brain, tmp_path):  # type: ignore[no-untyped-def]
    """The second film where Edda, Mira Solberg's part, has a job."""
    data = copy.deepcopy(SECOND_FILM)
    data["relations"].append({"id": "occupation", "label": "occupation", "phrase": "{subject} is {object}",
                              "subject": ["person", "character"], "object": "text"})
    data["facts"].append({"subject": "edda", "relation": "occupation", "object": "a lighthouse keeper",
                          "source": "review", "known": "2021-05"})
    return brain_on(settings, brain, data, tmp_path / "job.yml", seed=6)


@pytest.mark.parametrize("which, turns, expected", [
    # "in it" points at the film talked about: someone's job *in it* is their part's there
    ("ballerina", ["what else has ana de armas been in", "who did she work with there", "what was her job in it"],
     "CIA"),
    ("keeper_job", ["who plays edda", "and what is her job in it?"], "lighthouse keeper"),
])
def test_a_persons_job_in_the_film_talked_about_is_their_parts(films, keeper_job, which, turns, expected) -> None:  # type: ignore[no-untyped-def]
    bot = keeper_job if which == "keeper_job" else films[which]
    for text in turns:
        reply = bot.reply("job", "tester", text)
    assert reply.kind == "answer" and expected in reply.text, reply.text


@pytest.mark.parametrize("film, text, expected", [
    # a yes/no's words before the name describe whom it asks of; the claim comes after the name
    ("ballerina", "is that old fellow Ian McShane in it too?", "McShane"),
    ("ballerina", "is her co-star Keanu Reeves popping up in it?", "Keanu"),
    ("harbour", "is that chap Tomas Vey in harbour lights?", "Tomas Vey"),
])
def test_words_describing_whom_a_yes_no_asks_of_claim_nothing(films, film, text, expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply("desc", "tester", text)
    assert reply.verdict == "yes" and expected in reply.text, reply.text


def test_a_word_after_the_name_still_makes_another_claim(brain) -> None:  # type: ignore[no-untyped-def]
    assert brain.reply("desc2", "tester", "does keanu reeves die in it?").verdict is None


@pytest.mark.parametrize("film, asked, meant, expected, absent", [
    # a correction closed by an apology is still the correction
    ("ballerina", "who plays rooney", "i meant paloma, sorry", "Paloma", "Rooney"),
    ("ballerina", "who is rooney", "winston i meant, sorry", "Winston", "Rooney"),
    ("harbour", "who plays inga?", "edda i meant, soz", "Mira Solberg", "Inga"),
])
def test_a_correction_closed_by_an_apology_is_still_one(films, film, asked, meant, expected, absent) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    bot.reply("apol", "tester", asked)
    reply = bot.reply("apol", "tester", meant)
    assert reply.kind == "answer" and expected in reply.text and absent not in reply.text, reply.text


@pytest.mark.parametrize("film, text, expected", [
    # "with" left at the end asks with whom, whatever the verb
    ("ballerina", "who did wiseman make underworld with", "Kate Beckinsale"),
    ("harbour", "who did tomas vey shoot harbour lights with", "Mira Solberg"),
])
def test_a_stranded_with_asks_the_company(films, film, text, expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply("with", "tester", text)
    assert reply.kind == "answer" and expected in reply.text, reply.text


def test_a_claim_before_the_name_is_still_a_claim(brain) -> None:  # type: ignore[no-untyped-def]
    # "is there a mentor figure for Rooney?": the words before the name claim a mentor, which nothing states
    reply = brain.reply("desc3", "tester", "is there a mentor figure for rooney, and who plays them")
    assert reply.kind == "unknown" and "Ana de Armas" not in reply.text, reply.text


@pytest.mark.parametrize("film, text, expected", [
    # a year a wh-question states is presumed: one the facts do not give is corrected from them
    ("ballerina", "when did ballerina come out in 2022?", "2024"),
    ("harbour", "when did harbour lights open in 2019?", "autumn of 2021"),
])
def test_a_wrong_year_in_a_question_is_corrected(films, film, text, expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply("year", "tester", text)
    assert reply.kind == "answer" and expected in reply.text and reply.intent == "ask_release", reply.text


def test_a_year_in_a_title_is_no_premise(brain) -> None:  # type: ignore[no-untyped-def]
    assert brain.reply("year2", "tester", "when did Blade Runner 2049 come out?").kind == "unknown"


@pytest.mark.parametrize("which, turns, expected, absent", [
    # a work's own name before "one" is that work, asked of however unsure the classifier is
    ("ballerina", ["what has len wiseman directed", "who was in the underworld one"], "Kate Beckinsale", "doesn't"),
    ("harbour", ["what else has mira solberg done", "who was in the low tide one"], "Mira Solberg", "doesn't"),
    # a part named in a "who was X" is asked of, not the last answer's source
    ("ballerina", ["who did ana de armas play in the bond film", "and who was bond in that one"], "Daniel Craig", "Paloma"),
    # a cue's own words are no talk of the user ("with us"), and "she after" asks her motive
    ("ballerina", ["who plays charon", "is he still with us"], "late", "employer"),
    ("ballerina", ["who is the lead in ballerina", "what's she after"], "vengeance", "Parabellum"),
    # an adjective before a one-word name is no first name ("the most recent Bond picture")
    ("ballerina", ["whom did ana de armas portray in the most recent bond picture"], "Paloma", "Rooney"),
    # someone's job, when the film talked about is another: their part's there
    ("ballerina", ["what was ana de armas's role in no time to die", "what kind of agent was she"], "CIA", "doesn't"),
])
def test_follow_ups_of_the_fresh_sets(films, which, turns, expected, absent) -> None:  # type: ignore[no-untyped-def]
    bot = films[which]
    for text in turns:
        reply = bot.reply("fu", "tester", text)
    assert reply.kind == "answer" and expected in reply.text and absent not in reply.text, reply.text


@pytest.mark.parametrize("turns, expected", [
    # a question-map relation read from its other side keeps that reading however unsure the classifier
    # is, and a pronoun may name the one asked of
    (["what did keanu call the car action"], "Car-fu"),
    (["who plays john wick", "what did he call the car stuff in chapter 4"], "Car-fu"),
])
def test_what_someone_called_something_is_their_word(brain, turns, expected) -> None:  # type: ignore[no-untyped-def]
    for text in turns:
        reply = brain.reply("coin", "tester", text)
    assert reply.kind == "answer" and expected in reply.text, reply.text


@pytest.mark.parametrize("text, expected, absent", [
    # someone tied to a work by another fact says which work: its cast is asked, and no one is
    # "corrected" for a part they were never said to have
    ("who starred in the underworld movie len wiseman made", "Kate Beckinsale", "isn't credited"),
    ("who was in the transporter films wiseman helmed", "Jason Statham", "isn't credited"),
    ("who was the star of wiseman's die hard movie", "Bruce Willis", "isn't credited"),
])
def test_a_work_named_by_its_director_is_asked_for_its_cast(brain, text, expected, absent) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply("qw", "tester", text)
    assert reply.kind == "answer" and expected in reply.text and absent not in reply.text, reply.text


def test_a_why_question_still_presumes_what_it_says(brain) -> None:  # type: ignore[no-untyped-def]
    reply = brain.reply("qw2", "tester", "why did keanu reeves direct ballerina?")
    assert "Len Wiseman" in reply.text and reply.verdict == "no", reply.text


@pytest.mark.parametrize("film, turns, expected, absent", [
    # "which of those" after a list of works asks which of them the one person named is in
    ("ballerina", ["what has len wiseman directed", "which one of those had kate beckinsale in it?"], "Underworld",
     "isn't credited"),
    ("ballerina", ["what else has wiseman made", "which of them starred bruce willis"], "Die Hard", "Underworld"),
])
def test_which_of_the_listed_works_someone_is_in(films, film, turns, expected, absent) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    for text in turns:
        reply = bot.reply("sel", "tester", text)
    assert reply.kind == "answer" and expected in reply.text and absent not in reply.text, reply.text


@pytest.mark.parametrize("film, text, kind, expected", [
    # a slip of a word the model knows, itself no English word, is read as that word
    ("ballerina", "who plys charon", "answer", "Lance Reddick"),
    ("ballerina", "wen is it relased", "answer", "2024"),
    ("harbour", "who plys edda?", "answer", "Mira Solberg"),
    # ...never a name: "Joey" is no slip of "John", and stays a title the bot does not know
    ("ballerina", "is joey a spin-off?", "unknown", "joey"),
])
def test_a_slip_is_read_as_the_word_but_a_name_is_not(films, film, text, kind, expected) -> None:  # type: ignore[no-untyped-def]
    reply = films[film].reply("slip", "tester", text)
    assert reply.kind == kind and expected in reply.text, reply.text


@pytest.mark.parametrize("film, first, then, absent", [
    # a work the bot said it knows nothing of is what "that one" next points at: not known either
    ("ballerina", "when is the 2016 animated ballerina movie with elle fanning out", "who directed that one", "Wiseman"),
    ("harbour", "who plays the lead in the harbour lights remake starring greta lindqvist", "who directs that one",
     "Tomas Vey"),
])
def test_that_one_after_another_work_is_still_that_work(films, film, first, then, absent) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    assert bot.reply("else", "tester", first).kind == "unknown"
    reply = bot.reply("else", "tester", then)
    assert reply.kind == "unknown" and absent not in reply.text, reply.text
    back = bot.reply("else", "tester", "ok, who directs " + ("ballerina" if film == "ballerina" else "harbour lights"))
    assert back.kind == "answer" and absent in back.text, back.text  # naming the film again leaves it


def test_a_context_with_another_work_survives_storage() -> None:
    from bot.context import ChatContext
    ctx = ChatContext(elsewhere="korean netflix")
    assert ChatContext.from_json(ctx.to_json()).elsewhere == "korean netflix"
    assert ChatContext.from_json('{"last_intent": "ask_cast"}').elsewhere is None  # a row from before


def test_a_multi_part_message_read_as_one_never_contradicts_what_it_did_not_claim(brain) -> None:  # type: ignore[no-untyped-def]
    # its last part nothing answers alone; read as one yes/no it came out "Not so": the parts that answer do
    reply = brain.reply("mp", "tester", "is keanu in ballerina? and ian mcshane? who do they play?")
    assert reply.verdict != "no" and "John Wick" in reply.text and "Winston" in reply.text, reply.text


@pytest.mark.parametrize("film, turns, expected", [
    # "that guy", "this actress": the person talked about, for whom someone worked with
    ("ballerina", ["who directs ballerina", "which actor did that guy make the transporter movies with"], "Jason Statham"),
    ("ballerina", ["who plays rooney", "who did that actress work with in no time to die"], "Daniel Craig"),
    ("harbour", ["who plays edda", "who did that woman work with in harbour lights"], "Tomas Vey"),
])
def test_a_person_pointed_at_is_the_one_talked_about(films, film, turns, expected) -> None:  # type: ignore[no-untyped-def]
    bot = films[film]
    for text in turns:
        reply = bot.reply("pp", "tester", text)
    assert reply.kind == "answer" and expected in reply.text, reply.text
