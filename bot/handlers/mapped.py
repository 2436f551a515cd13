"""Questions from the question map (intents/questions.yml: the writer, the runtime, a person's age): the
asked relation's facts, or an honest "the article doesn't say who wrote it" and what is known nearby.

It reads the facts of the relation asked and nothing else, so "who wrote it?" is never answered with
the main character. The stage named the relation, its subject and the map's questions nearby
(it.asked, it.subject, it.nearby)."""
from __future__ import annotations

from ..answers import join_list
from ..knowledge import KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation
from .base import confirmed

MAX_FACTS = 3


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    """Never a "no": an unknown fact is unknown, whatever the question's form. None without a map question."""
    question = it.asked
    if question is None or it.subject is None:
        return None
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
    near = next((q for q in it.nearby if q.relation in kb.relations and kb.facts_about(entity.id, q.relation)), None)
    if near is None:
        return out.reply("utter_map_unknown", intent, it.confidence, kind="unknown", answer=asks,
                         subject=entity.name, suggestions=out.suggestions[:3], entities=[entity.id])
    # what is known nearby is offered as a question to ask, not stated: a fact nobody asked for would
    # read as the answer
    return out.reply("utter_map_unknown_near", intent, it.confidence, kind="unknown", answer=asks,
                     subject=entity.name, other=near.asks.format(subject=entity.name),
                     suggestions=out.suggestions[:3], entities=[entity.id])
