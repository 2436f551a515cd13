"""What one publication says of something: its facts whose source is that publication (it.says)."""
from __future__ import annotations

from ..answers import join_list
from ..knowledge import KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation

MAX_FACTS = 4


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply:
    """ "According to Collider, Ballerina centres on Rooney..." for "what did Collider say about it?"; when
    none of the thing's facts come from there, it says so (which is no "no": the article may not say)."""
    assert it.says is not None
    outlet, subject = kb.entities[it.says[0]], kb.entities[it.says[1]]
    from_there = {s.id for s in kb.sources.values() if (s.publication or "").lower() == outlet.name.lower()}
    # "what did Keanu reveal to Collider?": the one named is who told it, so everything he told it
    told = {s for s in from_there if kb.sources[s].said_by == subject.id}
    found = [f for f in kb.facts if f.source in told] if told else \
        [f for f in kb.all_facts_of(subject.id) if f.subject == subject.id and f.source in from_there] or \
        [f for f in kb.all_facts_of(subject.id) if f.source in from_there]  # a part: the facts that cast it
    found.sort(key=lambda f: not kb.relations[f.relation].literal)  # what it says in words first, then the links
    facts: list = []
    said: set[str] = set()
    for fact in found:
        words = set(kb.sentence(fact).lower().replace(",", " ").split())
        if not words <= said:  # "a young assassin" again, after the whole description
            facts.append(fact)
            said |= words
    facts = facts[:MAX_FACTS]
    if not facts:
        return out.reply("utter_says_nothing", None, it.confidence, kind="unknown", entity=outlet.name,
                         subject=subject.name, entities=[subject.id])
    return out.reply("utter_told" if told else "utter_says", None, max(it.confidence, 0.9), facts=facts, entity=outlet.name,
                     subject=subject.name, sentence=join_list([kb.sentence(f) for f in facts]),
                     according_to=kb.attribution(facts[0]), entities=[subject.id])
