"""What the bot does not know, said specifically: "The article doesn't say who edited Ballerina."

The last word on a question nothing answered (no route's fact, no question-map relation, no passage
the search trusts): the question said back as what is not known (bot/understanding/restate.py), for a
question about the film or what it names. A message that is not a question, asks the bot itself, or
names nothing of the film's world gets None, and the Brain's general "I don't know" with suggestions."""
from __future__ import annotations

from ..answers import join_list
from ..knowledge import Fact, KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation
from ..understanding.restate import said_back

MAX_FACTS = 3


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    if it.kind in ("empty", "other_language", "chitchat") or not out.has("utter_unknown_asked"):
        return None
    said = said_back(it, kb)
    if said is None:
        return None
    response = "utter_unknown_quoted" if said.quoted else "utter_unknown_asked"
    known = _known_instalment(it, kb)
    if known and not said.quoted and out.has("utter_unknown_other_instalment"):
        # "did Wiseman direct Die Hard 2?": not known, but what he did in the one we know is
        return out.say(it, "utter_unknown_other_instalment", kind="unknown", asked=said.clause,
                       sentence=join_list([kb.sentence(f) for f in known]), according_to=kb.attribution(known[0]),
                       entities=list(dict.fromkeys(e for f in known for e in (f.subject, f.object)
                                                   if e in kb.entities)),
                       facts=known, suggestions=out.suggestions[:3])
    return out.say(it, response, kind="unknown", asked=said.clause, suggestions=out.suggestions[:3])


def _known_instalment(it: Interpretation, kb: KnowledgeBase) -> list[Fact]:
    """The facts joining what the message names to the film of ours whose series it named another
    instalment of ("Die Hard 2" beside Len Wiseman: he directed the fourth Die Hard film)."""
    named = {i for m in it.parse.mentions for i in m.entity_ids[:1]}
    out: list[Fact] = []
    for _, _, film in it.parse.instalments:
        out += [f for f in kb.all_facts_of(film) if {f.subject, f.object} & named]
    return out[:MAX_FACTS]
