"""Replies the understanding stage settles by itself: a question from the map, another language.

Pure functions of (interpretation, knowledge, templates): the question map's answer reads the facts of
the relation asked and nothing else, so "who wrote it?" is never answered with the main character.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..answers import join_list
from ..reply import Reply
from .interpretation import Interpretation
from .questions import QuestionMap

MAX_FACTS = 3


def question_map_reply(turn: Any, it: Interpretation, questions: QuestionMap) -> Reply:
    """The asked relation's facts for the subject, or "the article doesn't say who wrote X" and what the
    knowledge does say nearby. Never a "no": an unknown fact is unknown, whatever the question's form."""
    kb = turn.kb
    question = it.asked
    assert question is not None and it.subject is not None
    entity = kb.entities[it.subject]
    intent = f"ask_{question.relation}"
    facts = kb.facts_about(entity.id, question.relation) if question.relation in kb.relations else []
    if question.quoted:
        facts = [f for f in kb.facts if kb.sources[f.source].said_by == entity.id]
    facts = (facts + [f for r in question.roles if r in kb.relations for f in kb.facts_with_role(entity.id, r)
                      if f.subject not in {g.object for g in facts}])[:MAX_FACTS]
    asks = question.asks.format(subject=entity.name)
    if facts:
        sentence = join_list([kb.sentence(f) for f in facts])
        reply = turn.reply("utter_map_fact", facts=facts, sentence=sentence, subject=entity.name,
                           according_to=kb.attribution(facts[0]), entities=[entity.id])
        return replace(reply, intent=intent, confidence=it.confidence)
    near = next((r for r in question.near if r in kb.relations and kb.facts_about(entity.id, r)), None)
    offer = questions.by_relation[near].asks.format(subject=entity.name) \
        if near is not None and near in questions.by_relation else None
    if offer is None:
        reply = turn.reply("utter_map_unknown", kind="unknown", answer=asks, subject=entity.name,
                           suggestions=turn.answers.suggestions[:3], entities=[entity.id])
    else:
        # what is known nearby is offered as a question to ask, not stated: a fact nobody asked for
        # would read as the answer
        reply = turn.reply("utter_map_unknown_near", kind="unknown", answer=asks, subject=entity.name,
                           other=offer, suggestions=turn.answers.suggestions[:3], entities=[entity.id])
    return replace(reply, intent=intent, confidence=it.confidence)


def other_language_reply(mind: Any, it: Interpretation) -> Reply:
    """A note in the message's language that the bot answers in English, and English questions to try."""
    note = mind.languages.notes.get(it.language or "", "")
    suggestions = tuple(mind.answers.suggestions[:3])
    text = note + "\n" + "\n".join(f"• {s}" for s in suggestions) if suggestions else note
    return Reply(text, "unknown", None, round(it.confidence, 4), suggestions=suggestions)


def false_premise_reply(turn: Any, it: Interpretation) -> Reply:
    """ "He doesn't: Len Wiseman directs Ballerina": the premise corrected from the facts, with their source."""
    kb = turn.kb
    assert it.premise is not None
    relation, person, film = it.premise
    facts = [f for f in kb.facts_about(film, relation) if it.premise_role in (None, f.role)][:5]
    entity = kb.entities[person]
    reply = turn.reply("utter_false_premise", facts=facts, entity=entity.name, subject=kb.name(film),
                       label=kb.relations[relation].label, pronoun=entity.pronoun or "they",
                       sentence=join_list([kb.sentence(f) for f in facts]), according_to=kb.attribution(facts[0]),
                       entities=[film, person, *(f.object for f in facts)])
    return replace(reply, intent=f"ask_{relation}", confidence=it.confidence)
