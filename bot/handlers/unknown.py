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
from ..understanding.restate import said_back


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    if it.kind in ("empty", "other_language", "chitchat") or not out.has("utter_unknown_asked"):
        return None
    said = said_back(it, kb)
    if said is None:
        return None
    response = "utter_unknown_quoted" if said.quoted else "utter_unknown_asked"
    return out.say(it, response, kind="unknown", asked=said.clause, suggestions=out.suggestions[:3])
