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
from ..understanding.grammar import is_base_verb, is_verb_form
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
    return (None if said.quoted else credited(it, kb, out, said.clause)) or \
        out.say(it, response, kind="unknown", asked=said.clause, suggestions=out.suggestions[:3])


def credited(it: Interpretation, kb: KnowledgeBase, out: Renderer, asked: str | None = None) -> Reply | None:
    """ "why did Disney push its release?", "did Keanu tell Empire?": nothing says that someone the
    knowledge does not know did it, and what it asks of comes from a named source, which is said."""
    found = _credited_instead(it, kb, out)
    if found is None or not out.has("utter_unknown_credited"):
        return None
    if asked is None:
        said = said_back(it, kb)
        if said is None or said.quoted:
            return None
        asked = said.clause
    words, facts = found
    return out.say(it, "utter_unknown_credited", kind="unknown", asked=asked, words=words,
                   sentence=join_list([kb.sentence(f, out.today) for f in facts]),
                   according_to=kb.attribution(facts[0]), facts=facts,
                   entities=list(dict.fromkeys(f.subject for f in facts)), suggestions=out.suggestions[:3])


# words after which a name is who did or said something, or whom it was said to ("did *Disney*
# push it?", "did he tell it to *Empire*?")
AGENT_OPENERS = frozenset("did does do has have had will would was were is by to from".split())


def _verb(word: str) -> bool:
    return is_verb_form(word) or is_base_verb(word, nouns=True)  # "push" is a noun too


def _credited_instead(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> tuple[str, list[Fact]] | None:
    """(the words naming someone the knowledge does not know, the facts of what was asked) when the
    question credits that someone with something whose facts come from a named source ("why did Disney
    push the release?": Lionsgate's chair gave it; "did Keanu reveal it to Empire?": he told Collider)."""
    if not it.parse.unknown_words:
        return None
    route = out.answers.routes.get(it.intent or "")
    if route is None or route.handler != "facts":
        return None
    film = it.slots.context_film.id if it.slots is not None else it.topic or kb.default_subject.id
    facts = [f for r in route.relations if r in kb.relations for f in kb.facts_about(film, r)
             if kb.sources[f.source].said_by]  # someone's claim: who said it is the point
    if not facts:
        return None  # (checked before the words: the verb look-ups below cost more)
    toks = it.parse.tokens
    unknown = {w for phrase in it.parse.unknown_words for w in phrase.split()}
    spans = []
    for at, tok in enumerate(toks[:-1]):
        if tok not in AGENT_OPENERS:
            continue
        end = at + 1
        while end < len(toks) and toks[end] in unknown and end not in it.parse.mentioned_tokens \
                and (end == at + 1 or not _verb(toks[end])):  # "Disney *push*": the name ends at its verb
            end += 1
        if end == at + 2 and _verb(toks[at + 1]):
            continue  # "did *announce*...": a verb, no name
        if end > at + 1:
            spans.append(" ".join(toks[at + 1:end]))
    if not spans:
        return None
    name = spans[0].title() if spans[0].islower() else spans[0]  # a name typed in lower case: "Disney"
    return name, facts[:MAX_FACTS]


def _known_instalment(it: Interpretation, kb: KnowledgeBase) -> list[Fact]:
    """The facts joining what the message names to the film of ours whose series it named another
    instalment of ("Die Hard 2" beside Len Wiseman: he directed the fourth Die Hard film)."""
    named = {i for m in it.parse.mentions for i in m.entity_ids[:1]}
    out: list[Fact] = []
    for _, _, film in it.parse.instalments:
        out += [f for f in kb.all_facts_of(film) if {f.subject, f.object} & named]
    return out[:MAX_FACTS]
