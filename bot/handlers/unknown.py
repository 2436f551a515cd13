"""What the bot does not know, said specifically: "The article doesn't say who edited Ballerina."

The last word on a question nothing answered (no route's fact, no question-map relation, no passage
the search trusts): the question said back as what is not known (bot/understanding/restate.py), for a
question about the film or what it names. A message that is not a question, asks the bot itself, or
names nothing of the film's world gets None, and the Brain's general "I don't know" with suggestions."""
from __future__ import annotations

from ..knowledge import KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation
from ..nlu.text import tokens
from ..understanding.restate import restate

# words that put a question in a film's world even when it names nothing the knowledge holds
FILM_WORDS = frozenset("it its film films movie movies flick cast character characters scene scenes sequel "
                       "prequel franchise series trailer actor actress actors director plot ending story "
                       "stunts soundtrack".split())


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    if it.kind in ("empty", "other_language", "chitchat") or not out.has("utter_unknown_asked"):
        return None
    names = named(it, kb)
    on_topic = names or (it.intent not in (None, "out_of_scope")) or FILM_WORDS & set(it.parse.tokens)
    if not on_topic:
        return None
    film = it.slots.context_film.name if it.slots is not None else kb.title
    said = restate(it.text, names, film)
    if said is None:
        return None
    response = "utter_unknown_quoted" if said.quoted else "utter_unknown_asked"
    return out.say(it, response, kind="unknown", asked=said.clause, suggestions=out.suggestions[:3])


def named(it: Interpretation, kb: KnowledgeBase) -> dict[str, str]:
    """The names of the knowledge the message holds, as typed -> as the knowledge spells them: the parse's
    mentions (typos too) and every alias written out (a step may have set a mention aside: "Rooney's
    mother" is someone else, but "Rooney" is still spelt so)."""
    names = {m.text: kb.entities[m.entity_ids[0]].name for m in it.parse.mentions
             if m.entity_ids and m.entity_ids[0] in kb.entities}
    text = f" {' '.join(it.parse.tokens)} "
    for entity in kb.entities.values():
        for alias in (entity.name, *entity.aliases):
            key = " ".join(tokens(alias))
            if key and f" {key} " in text and len(key) > 2:
                names.setdefault(key, entity.name)
    return names
