"""A question nothing answers gets a reply that says what is not known, in the user's own question turned
into an indirect one ("The article doesn't say who killed Edda's father"), never a bare "I don't know";
on Ballerina and on the tests' second film. What is no question about the film still gets the general one."""
from __future__ import annotations

import copy

import pytest

from bot.dialogue import Brain
from bot.understanding.restate import restate

from .test_understanding import SECOND_FILM, brain_on, second  # noqa: F401  (second: a fixture)
from .test_understanding_context import harbour, turns  # noqa: F401  (a fixture)

NAMES = {"mira solberg": "Mira Solberg", "edda": "Edda", "tomas vey": "Tomas Vey"}


@pytest.mark.parametrize("question, clause", [
    ("who killed edda's father?", "who killed Edda's father"),
    ("does mira solberg do her own stunts in it?", "whether Mira Solberg does her own stunts in Harbour Lights"),
    ("did they film it in Bergen?", "whether they filmed Harbour Lights in Bergen"),
    ("where did they shoot it", "where they shot Harbour Lights"),  # an irregular verb
    ("what's the budget of it", "what the budget of Harbour Lights is"),
    ("when is it coming out on dvd", "when Harbour Lights is coming out on dvd"),
    ("who did that woman grow up with", "who that woman grew up with"),  # "that" before a noun determines it
    ("when does the film with mira solberg come out on vinyl", "when the film with Mira Solberg comes out on vinyl"),
    ("how old was tomas vey when he made it", "how old Tomas Vey was when he made Harbour Lights"),
    ("which studio is releasing it?", "which studio is releasing Harbour Lights"),
    ("will there be a sequel", "whether there will be a sequel"),
    ("who is in the sequel?", "who is in the sequel"),
    ("so when's the next one then", "when the next one is"),
    ("why didn't edda's brother come back", "why Edda's brother did not come back"),
    ("hey, do you know who edited it?", "who edited Harbour Lights"),
    ("is edda's mother alive", "whether Edda's mother is alive"),
    ("what did my friend say about it", "what your friend said about Harbour Lights"),
    ("when is it out, I read the whole review and it never says", "when Harbour Lights is out"),
])
def test_a_question_is_said_back_as_what_is_not_known(question: str, clause: str) -> None:
    said = restate(question, NAMES, "Harbour Lights")
    assert said is not None and not said.quoted and said.clause == clause, said


@pytest.mark.parametrize("text", ["what do you think of it?", "write me a poem about Edda", "i love this film"])
def test_what_is_no_fact_question_is_not_said_back(text: str) -> None:
    assert restate(text, NAMES, "Harbour Lights") is None


@pytest.mark.parametrize("film, text, clause", [
    ("harbour", "who killed edda's father?", "who killed Edda's father"),
    ("harbour", "did mira solberg grow up in a harbour town?", "whether Mira Solberg grew up in a harbour town"),
    ("ballerina", "who killed rooney's mother?", "who killed Rooney's mother"),
    ("ballerina", "did ian mcshane ever meet keanu reeves before?", "whether Ian McShane ever met Keanu Reeves before"),
])
def test_an_unanswered_question_names_what_is_not_known(brain: Brain, harbour: Brain, film: str,  # noqa: F811
                                                         text: str, clause: str) -> None:
    reply = turns(brain if film == "ballerina" else harbour, text)
    assert reply.kind == "unknown" and clause.lower() in reply.text.lower(), reply.text
    assert not reply.text.lower().startswith("no"), reply.text  # unknown is never "no"


@pytest.mark.parametrize("text", ["what is the capital of france?", "how do i bake bread"])
def test_a_question_outside_the_film_is_not_said_back(brain: Brain, text: str) -> None:
    reply = turns(brain, text)
    assert reply.kind == "unknown" and text.rstrip("?") not in reply.text.lower(), reply.text


@pytest.fixture
def quoted_studio(settings, brain, tmp_path):  # type: ignore[no-untyped-def]
    """The second film, its release told by someone of a studio the facts name (and no studio fact)."""
    data = copy.deepcopy(SECOND_FILM)
    data["relations"].append({"id": "works_for", "label": "employer", "phrase": "{subject} works for {object}",
                              "subject": ["person"], "object": ["company"]})
    data["entities"] += [{"id": "quay_pictures", "kind": "company", "name": "Quay Pictures",
                          "aliases": ["quay pictures"]},
                         {"id": "oskar_lind", "kind": "person", "name": "Oskar Lind", "pronoun": "he",
                          "aliases": ["oskar lind"]}]
    data["sources"].append({"id": "lind", "said_by": "oskar_lind", "known": "2021-04",
                            "attribution": "according to Quay Pictures boss Oskar Lind"})
    data["facts"] = [f for f in data["facts"] if f["relation"] != "release"] + [
        {"subject": "harbour_lights", "relation": "release", "object": "the autumn of 2021", "source": "lind",
         "known": "2021-04"},
        {"subject": "oskar_lind", "relation": "works_for", "object": "quay_pictures", "source": "review",
         "known": "2021-05"}]
    return brain_on(settings, brain, data, tmp_path / "quay.yml")


@pytest.mark.parametrize("question", ["which studio is behind harbour lights?", "what company is making it"])
def test_a_studio_question_names_the_studio_whose_people_the_facts_quote(quoted_studio, second, question) -> None:  # type: ignore[no-untyped-def]
    # not stated as the studio (the article never says so), but the company whose boss gave its release
    reply = turns(quoted_studio, question)
    assert "Quay Pictures" in reply.text and "autumn of 2021" in reply.text and "outright" in reply.text
    assert reply.sources  # the fact's own source, named
    plain = turns(second, question)  # nobody of a company quoted: an honest unknown
    assert plain.kind == "unknown" and "studio" in plain.text


@pytest.fixture
def late(settings, brain, tmp_path):  # type: ignore[no-untyped-def]
    """The second film, its director no longer alive (and nothing said of how)."""
    data = copy.deepcopy(SECOND_FILM)
    data["relations"].append({"id": "living", "label": "alive or not", "phrase": "{subject} {object}",
                              "subject": ["person"], "object": "text"})
    data["facts"].append({"subject": "tomas_vey", "relation": "living", "object": "died in 2022",
                          "source": "review", "known": "2022-05"})
    return brain_on(settings, brain, data, tmp_path / "late.yml")


@pytest.mark.parametrize("question", ["how did tomas vey die?", "what did tomas vey die of"])
def test_how_someone_died_says_it_is_unknown_and_that_they_died(late, question) -> None:  # type: ignore[no-untyped-def]
    reply = turns(late, question)
    assert reply.kind == "unknown" and "how or when Tomas Vey died" in reply.text and "died in 2022" in reply.text


def test_when_someone_died_with_nothing_saying_they_did_takes_nothing_as_given(late) -> None:  # type: ignore[no-untyped-def]
    reply = turns(late, "when did mira solberg die?")
    assert reply.kind == "unknown" and "whether Mira Solberg is alive" in reply.text
    assert not reply.text.startswith("The article doesn't say how")


@pytest.mark.parametrize("film, question, source, fact", [
    ("ballerina", "why did warner bros set the release for spring", "Joe Drake", "2024"),
    ("ballerina", "did keanu reveal the timeline to empire magazine?", "Collider", "Parabellum"),
    ("harbour", "when did disney announce the release of harbour lights", "Oskar Lind", "autumn of 2021"),
])
def test_someone_unknown_credited_with_a_claim_is_not_taken_as_given(quoted_studio, brain, film, question,
                                                                      source, fact) -> None:  # type: ignore[no-untyped-def]
    # nothing says they did; what the facts say of it, and whose claim that is, is said instead
    reply = turns(quoted_studio if film == "harbour" else brain, question)
    assert reply.kind == "unknown" and "mentions" in reply.text and source in reply.text and fact in reply.text
