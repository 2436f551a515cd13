"""What the handlers share. A handler is a pure function of the understanding stage's Interpretation,
the knowledge and a Renderer (bot/rendering.py):

    handler(it, kb, out) -> Reply | None        # None: no fact answers it, the Brain's fallback decides

Whom a question is about, the film it is set in or leaves out, and the other names it holds are the
stage's slots (it.resolution, it.work, it.slots: bot/understanding/resolution.py); a handler reads
them and decides nothing about meaning, nor reads the parse or the chat's context."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..answers import join_list
from ..knowledge import Entity, Fact, KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.grammar import lemma
from ..understanding.interpretation import Interpretation
from ..understanding.resolution import claimed_verbs

Handler = Callable[[Interpretation, KnowledgeBase, Renderer], Reply | None]


def describe(kb: KnowledgeBase, entity: Entity) -> tuple[str, list[Fact]]:
    facts = kb.facts_about(entity.id, "description")
    return (facts[0].object if facts else ""), facts


def unknown_reply(it: Interpretation, out: Renderer, words: tuple[str, ...]) -> Reply:
    return out.say(it, "utter_unknown_subject", kind="unknown", words=" ".join(words),
                   suggestions=out.suggestions[:3])


def clarify_reply(it: Interpretation, out: Renderer, options: tuple[Entity, ...]) -> Reply:
    labels = [f"{e.name} ({e.kind})" for e in options]
    return out.say(it, "utter_clarify", kind="clarify", options=join_list(labels).replace(" and ", " or "),
                   suggestions=tuple(labels))


def who_do_you_mean(it: Interpretation, out: Renderer) -> Reply:
    return out.say(it, "utter_who_do_you_mean", kind="clarify", suggestions=out.suggestions[:3])


def confirmed(it: Interpretation, kb: KnowledgeBase, out: Renderer, reply: Reply, facts: list[Fact]) -> Reply:
    """A yes/no question a fact route answers says yes or no first: "is Len Wiseman directing it?" ->
    "Yes. Len Wiseman directs Ballerina"; "did he do Underworld?" -> "Yes. He directed Underworld...".
    Yes when everything else the message names is on the facts; no when something named is of the kind
    the facts name but is not on them ("did Chad Stahelski direct it?"); else the answer as it is."""
    if it.kind != "yesno" or not it.polarity or reply.text.lower().startswith(("yes", "no")):
        return reply  # a template that says yes or no itself ("Yes, Ballerina belongs to...")
    if any(kb.relations[f.relation].literal for f in facts):
        # a text fact says yes only to what its own words state: "is it out in spring or summer 2024?",
        # never to "is it set after 4?" ("between Chapter 3 and 4" lacks the "after")
        if _stated_in_text(it, kb, facts) and out.has("utter_confirmed"):
            return replace(reply, text=out.render("utter_confirmed", answer=reply.text), verdict="yes")
        return reply
    if it.relations and any(f.relation not in it.relations for f in facts):
        # "did Kate Beckinsale *direct* Underworld?": only the facts of the relation its verb asks say
        # yes; the film on her other facts (she starred in it) is a no
        facts = [f for f in facts if f.relation in it.relations]
    on_facts = {i for f in facts for i in (f.subject, f.object, f.role) if i}
    # a part's player is on a fact of the part: "is Ana de Armas the lead?" (the lead is Rooney, hers)
    on_facts |= {p.object for i in list(on_facts) if i in kb.entities and kb.entities[i].kind != kb.default_subject.kind
                 for r in kb.relations.values() if r.role and kb.entities[i].kind in r.role
                 for p in kb.facts_with_role(i, r.id)}
    others = it.slots.others if it.slots is not None else frozenset()
    if not others:
        return reply
    if facts and others <= on_facts and out.has("utter_confirmed"):
        response = "utter_confirmed"
    elif (not facts or any(i in kb.entities and i not in on_facts and kb.entities[i].kind in
                           {kb.entities[j].kind for j in on_facts if j in kb.entities} for i in others)) \
            and out.has("utter_contradicted"):
        # something named is of a kind the facts name, and not on them: "was *Rooney* her character in
        # the Bond film?" (Paloma was), "did Chad Stahelski direct it?"
        response = "utter_contradicted"
    else:
        return reply
    return replace(reply, text=out.render(response, answer=reply.text),
                   verdict="yes" if response == "utter_confirmed" else "no")


def _stated_in_text(it: Interpretation, kb: KnowledgeBase, facts: list[Fact]) -> bool:
    """Every word a yes/no question claims (the stage's ``slots.claimed``), besides the words that ask
    the relation (its phrase and label: "is it *out*", "*set* between"), is in the text of one fact, and so
    is every other name it holds; and it claims something (a bare "is it out?" checks no value)."""
    slots = it.slots
    if slots is None:
        return False
    subjects = {f.subject for f in facts}
    asked = {it.resolution.entity.id} if it.resolution is not None and it.resolution.entity is not None else set()
    names = [kb.entities[e] for e in (slots.others | asked) - subjects if e in kb.entities]
    for f in facts:
        relation = kb.relations[f.relation]
        if not relation.literal:
            continue
        asking = _words(" ".join((relation.phrase, relation.label, *relation.phrases.values())))
        claimed = [w for w in _words(" ".join(slots.claimed)) if w not in asking]
        if not claimed and not names:
            continue
        text = kb.sentence(f).lower()
        stated = _words(text)
        if all(w in stated for w in claimed) and all(e.name.lower() in text for e in names) \
                and _verbs_stated(it, stated | asking):
            return True
    return False


def _verbs_stated(it: Interpretation, stated: set[str]) -> bool:
    """Every verb the question claims with is a word of the fact, in some form: "won" is not "nominee"."""
    forms = {lemma(w) or w for w in stated} | stated
    # a shared stem counts ("nominated" and "nominee", "directs" and "director")
    return all(v in forms or any(len(v) >= STEM and f[:STEM] == v[:STEM] for f in forms) for v in claimed_verbs(it.parse))


STEM = 5


def claims_stated(it: Interpretation, kb: KnowledgeBase, facts: list[Fact], asking: list[str],
                  given: frozenset[str] = frozenset()) -> bool:
    """Every word the yes/no question claims, besides the ones that ask (``asking``: the relation's cues),
    and every name it holds besides the ``given`` ones (who and where it asks of), is in the text of one
    of the facts; it claims something, and nothing the knowledge does not know ("an *MI6* agent")."""
    slots = it.slots
    if slots is None or slots.strangers:
        return False
    names = [kb.entities[e].name.lower().removeprefix("the ") for e in slots.others - given if e in kb.entities]
    skip = _words(" ".join(asking)) | {w for e in slots.named if e in kb.entities for w in _words(kb.name(e))}
    claimed = [w for w in _words(" ".join(slots.claimed)) if w not in skip]
    if not claimed and not names:
        return False
    for f in facts:
        text = kb.sentence(f).lower()
        stated = _words(text)  # one sentence and one word set per fact, for all three tests
        if all(w in stated for w in claimed) and all(n in text for n in names) and _verbs_stated(it, stated | skip):
            return True
    return False


def _words(text: str) -> set[str]:
    """A text's words for comparing one with another: lower case, no punctuation, no plural -s."""
    out = set()
    for word in text.lower().replace("{", " ").replace("}", " ").replace("'", "").split():
        word = word.strip(".,;:!?\"()–-")
        out.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return out


MAX_OWN = 3


def with_own_part(reply: Reply, kb: KnowledgeBase, out: Renderer, film: str, relation: str, entity: str,
                  shown: list[Fact]) -> Reply:
    """A correction that someone else holds the part asked of ("why does Ian McShane play Charon?",
    "is Ian McShane playing Charon?") goes on with the part they do hold there: "...Ian McShane plays
    Winston, though". The reply as it is when the facts give them none."""
    own = [f for f in kb.facts_about(film, relation) if f.object == entity and f not in shown][:MAX_OWN]
    if not own:
        return reply
    also = out.reply("utter_false_premise_own", reply.intent, reply.confidence, facts=own,
                     entity=kb.name(entity), sentence=join_list([kb.sentence(f) for f in own]),
                     according_to=kb.attribution(own[0]))
    return replace(reply, text=f"{reply.text} {also.text}", sources=tuple(dict.fromkeys((*reply.sources, *also.sources))),
                   entities=tuple(dict.fromkeys((*reply.entities, *(f.role for f in own if f.role)))),
                   stated=(*reply.stated, *also.stated))
