"""Open questions about one entity ("tell me about Len Wiseman"): its description and key facts."""
from __future__ import annotations

import re
from dataclasses import replace

from ..knowledge import Fact, KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation
from .base import clarify_reply, describe, who_do_you_mean

MAX_EXTRA_FACTS = 3
WORD = re.compile(r"\w+")
SHORT_WORD = 2


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    """The subject's description and a few facts (the stage resolved it and checked its name)."""
    res = it.resolution
    if res is None:
        return None  # not resolved by the stage: nothing here to answer from
    if res.options:
        return clarify_reply(it, out, res.options)
    if res.entity is None:
        return who_do_you_mean(it, out)
    entity = res.entity
    description, desc_facts = describe(kb, entity)
    # Free-text facts (story, box office) say more than links, so they come first.
    others = sorted((f for f in kb.all_facts_of(entity.id) if f.relation != "description"
                     and not _said_already(kb, f, description)),
                    key=lambda f: not kb.relations[f.relation].literal)[:MAX_EXTRA_FACTS]
    if not description and not others:
        return None
    extra = " ".join(kb.sentence(f, out.today) + "." for f in others)
    if not description:
        return out.say(it, "utter_about_facts", facts=others, name=entity.name, sentence=extra,
                       entities=[entity.id])
    text_facts = desc_facts[:1] + others
    reply = out.say(it, "utter_about", facts=text_facts, name=entity.name, description=description,
                    entities=[entity.id])
    return reply if not extra else replace(reply, text=f"{reply.text} {extra}")


def _said_already(kb: KnowledgeBase, fact: Fact, description: str | None) -> bool:
    """A free-text fact whose words the description already holds ("an action specialist" beside "the
    action specialist directing Ballerina"): saying it again reads as a bot padding its answer."""
    if not description or not kb.relations[fact.relation].literal:
        return False
    said = set(WORD.findall(description.lower()))
    words = [w for w in WORD.findall(str(fact.object).lower()) if len(w) > SHORT_WORD]  # "a", "an", "of" say nothing
    return bool(words) and all(w in said for w in words)

