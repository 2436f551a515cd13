"""Replies the understanding stage settles by itself: a question from the map, another language.

Pure functions of (interpretation, knowledge, renderer), like the handlers: the question map's answer
reads the facts of the relation asked and nothing else, so "who wrote it?" is never answered with the
main character.
"""
from __future__ import annotations

from ..answers import join_list
from ..handlers.base import confirmed
from ..knowledge import KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from .interpretation import Interpretation
from .language import LanguageNotes
from .questions import QuestionMap

MAX_FACTS = 3


def question_map_reply(it: Interpretation, kb: KnowledgeBase, out: Renderer, questions: QuestionMap) -> Reply:
    """The asked relation's facts for the subject, or "the article doesn't say who wrote X" and what the
    knowledge does say nearby. Never a "no": an unknown fact is unknown, whatever the question's form."""
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
        reply = out.reply("utter_map_fact", intent, it.confidence, facts=facts, sentence=sentence,
                          subject=entity.name, according_to=kb.attribution(facts[0]), entities=[entity.id])
        return confirmed(it, kb, out, reply, facts)  # "did Keanu Reeves coin car-fu?" -> "Yes. ..."
    near = next((r for r in question.near if r in kb.relations and kb.facts_about(entity.id, r)), None)
    offer = questions.by_relation[near].asks.format(subject=entity.name) \
        if near is not None and near in questions.by_relation else None
    if offer is None:
        return out.reply("utter_map_unknown", intent, it.confidence, kind="unknown", answer=asks,
                         subject=entity.name, suggestions=out.suggestions[:3], entities=[entity.id])
    # what is known nearby is offered as a question to ask, not stated: a fact nobody asked for would
    # read as the answer
    return out.reply("utter_map_unknown_near", intent, it.confidence, kind="unknown", answer=asks,
                     subject=entity.name, other=offer, suggestions=out.suggestions[:3], entities=[entity.id])


def other_language_reply(it: Interpretation, out: Renderer, languages: LanguageNotes) -> Reply:
    """A note in the message's language that the bot answers in English, and English questions to try."""
    note = languages.notes.get(it.language or "", "")
    suggestions = out.suggestions[:3]
    text = note + "\n" + "\n".join(f"• {s}" for s in suggestions) if suggestions else note
    return Reply(text, "unknown", None, round(it.confidence, 4), suggestions=suggestions)


def false_premise_reply(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply:
    """ "He doesn't: Len Wiseman directs Ballerina": the premise corrected from the facts, with their source."""
    assert it.premise is not None
    relation, person, film = it.premise
    facts = [f for f in kb.facts_about(film, relation) if it.premise_role in (None, f.role)][:5]
    entity = kb.entities[person]
    return out.reply("utter_false_premise", f"ask_{relation}", it.confidence, facts=facts, entity=entity.name,
                     subject=kb.name(film), label=kb.relations[relation].label, pronoun=entity.pronoun or "they",
                     sentence=join_list([kb.sentence(f) for f in facts]), according_to=kb.attribution(facts[0]),
                     entities=[film, person, *(f.object for f in facts)])
