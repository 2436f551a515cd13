"""False premises ("why did Keanu direct it?", "why is it out in 2022?"): the correction, from the facts.

The understanding stage found what the question takes as given and how the facts contradict it
(it.premise, bot/understanding/interpretation.py: Premise); this says so, with the facts' source."""
from __future__ import annotations


from ..answers import join_list
from ..knowledge import KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation
from .base import with_own_part

MAX_FACTS = 5


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    """ "He doesn't: Len Wiseman directs Ballerina"; "Not quite: Ballerina is due for release in spring or
    summer 2024"; "I have no part for Len Wiseman in Parabellum: he directed ...". None without a premise."""
    premise = it.premise
    if premise is None:
        return None
    relation, film = premise.relation, premise.subject
    intent = f"ask_{relation}" if relation else None
    if premise.presumed is None:  # a stated value presumed otherwise
        facts = kb.facts_about(film, relation)[:MAX_FACTS]
        response = "utter_false_premise_value_yesno" if it.kind == "yesno" else "utter_false_premise_value"
        return out.reply(response, intent, it.confidence, facts=facts, subject=kb.name(film),
                         label=kb.relations[relation].label, presumed=" ".join(premise.values),
                         sentence=join_list([kb.sentence(f, out.today) for f in facts]),
                         according_to=kb.attribution(facts[0]), entities=[film])
    entity = kb.entities[premise.presumed]
    if premise.absent:  # "why did Keanu refuse to be in it?": the facts put him there, or nothing does
        facts = [f for f in kb.all_facts_of(film) if f.subject == film and f.object == entity.id][:MAX_FACTS]
        if not facts:
            return out.reply("utter_absent_unexplained", None, it.confidence, kind="unknown", entity=entity.name,
                             subject=kb.name(film), entities=[entity.id, film])
        return out.reply("utter_false_premise_absent", intent, it.confidence, facts=facts, entity=entity.name,
                         subject=kb.name(film), pronoun=entity.pronoun or "they",
                         sentence=join_list([kb.sentence(f) for f in facts]), according_to=kb.attribution(facts[0]),
                         entities=[entity.id, film, *(f.role for f in facts if f.role)])
    if premise.credits:  # the film has no such fact: what the knowledge credits them with instead
        facts = kb.facts_with_object(entity.id, relation)[:MAX_FACTS]
        return out.reply("utter_false_premise_credits", intent, it.confidence, facts=facts, entity=entity.name,
                         subject=kb.name(film), label=kb.relations[relation].label,
                         pronoun=entity.pronoun or "they", sentence=join_list([kb.sentence(f) for f in facts]),
                         answer=join_list(list(dict.fromkeys(kb.name(f.subject) for f in facts))),
                         according_to=kb.attribution(facts[0]), entities=[entity.id, film])
    facts = [f for f in kb.facts_about(film, relation) if premise.role in (None, f.role)][:MAX_FACTS]
    reply = out.reply("utter_false_premise", intent, it.confidence, facts=facts, entity=entity.name,
                      subject=kb.name(film), label=kb.relations[relation].label, pronoun=entity.pronoun or "it",
                      sentence=join_list([kb.sentence(f) for f in facts]), according_to=kb.attribution(facts[0]),
                      entities=[film, entity.id, *(f.object for f in facts)])
    # "why does Ian McShane play Charon?": and what the presumed one does hold there (he plays Winston)
    return with_own_part(reply, kb, out, film, relation, entity.id, facts) if premise.role is not None else reply
