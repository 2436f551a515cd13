"""Yes/no questions ("is Keanu in Ballerina?"): yes with the role, or an honest "not as far as I know"."""
from __future__ import annotations

from ..answers import Route, join_list
from ..knowledge import Entity, Fact, KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation
from ..understanding.resolution import film_qualifiers
from .base import unknown_reply, with_own_part


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    """Who is asked about and the work asked of are the stage's (resolve_subject: it.resolution,
    it.work; the unknown words and whether they sit together as a name: it.slots)."""
    who, work, slots = it.resolution, it.work, it.slots
    if who is None or work is None or slots is None:
        return None  # not resolved by the stage: nothing here to answer from
    route = out.route(it.intent)
    relation = kb.relations[route.relations[0]]
    film = work.entity or kb.default_subject
    cast_facts = kb.facts_about(film.id, relation.id)
    cast = join_list([kb.name(f.object) + kb.as_role(f) for f in cast_facts])
    through = _through_role(it, kb, out, relation.id, film)
    if through is not None:
        return through
    if not cast_facts:  # "is Keanu in John Wick 5?": no cast known to say yes or no from
        return out.say(it, "utter_no_fact", kind="unknown", subject=film.name, label=relation.label,
                       suggestions=out.suggestions[:3], entities=[film.id])
    if who.options:
        who_entity = who.options[0]
    elif who.entity is not None:
        who_entity = who.entity
    else:
        if slots.strangers and not slots.one_name:
            # "is it cold in Madrid in March?": words scattered around the sentence are not someone's name
            return unknown_reply(it, out, slots.strangers)
        if slots.strangers:
            return out.say(it, "utter_ask_appears_no", kind="unknown", subject=film.name,
                           entity=" ".join(slots.strangers), cast=cast, facts=cast_facts, entities=[film.id])
        return out.say(it, "utter_ask_appears_which", kind="clarify", subject=film.name, cast=cast,
                       facts=cast_facts, entities=[film.id])
    pair = _pair(it, kb, out, route, cast_facts)
    if pair is not None:
        return pair
    hits = [f for f in cast_facts if who_entity.id in {getattr(f, c) for c in route.check}]
    if hits:
        fact = hits[0]
        as_role = kb.as_role(fact) if who_entity.id != fact.role else f", played by {kb.name(fact.object)}"
        return out.say(it, "utter_ask_appears_yes", facts=[fact], subject=film.name, entity=who_entity.name,
                       as_role=as_role, according_to=kb.attribution(fact), entities=[film.id, who_entity.id])
    return out.say(it, "utter_ask_appears_no", kind="unknown", subject=film.name, entity=who_entity.name,
                   cast=cast, facts=cast_facts, entities=[film.id, who_entity.id])


def _pair(it: Interpretation, kb: KnowledgeBase, out: Renderer, route: Route, cast_facts: list[Fact]) -> Reply | None:
    """ "Is Ian McShane playing Charon?" names both sides of one fact: the answer is about the pair, and
    "yes, Charon is in it" would be wrong. None unless the message names one of each."""
    if len(route.check) < 2 or it.slots is None:
        return None
    # "is Ian McShane in the *Wick* movies?": a name qualifying a film word names no one asked about
    qualifying = {e for i in film_qualifiers(kb, it.parse) for e in it.parse.mentions[i].entity_ids}
    named = it.slots.named - qualifying
    sides = [{f for f in cast_facts if getattr(f, field) in named} for field in route.check]
    if not all(sides):
        return None
    both = sides[0] & sides[1]
    film = kb.entities[cast_facts[0].subject]
    if both:
        fact = next(iter(both))
        return out.say(it, "utter_ask_appears_yes", facts=[fact], subject=film.name, entity=kb.name(fact.object),
                       as_role=kb.as_role(fact), according_to=kb.attribution(fact), entities=[film.id, fact.object])
    asked_by = {getattr(f, route.check[0]) for f in sides[0]} & named
    fact = next(iter(sides[1]))  # the fact for the other side ("Charon is played by Lance Reddick")
    asked = kb.name(next(iter(asked_by))) if asked_by else ""
    reply = out.say(it, "utter_ask_appears_mismatch", facts=[fact], subject=film.name, entity=asked,
                    answer=kb.name(getattr(fact, route.check[1])), other=kb.name(getattr(fact, route.check[0])),
                    according_to=kb.attribution(fact), entities=[film.id, getattr(fact, route.check[1])])
    if len(asked_by) != 1:
        return reply
    return with_own_part(reply, kb, out, film.id, fact.relation, next(iter(asked_by)), [fact])


def _through_role(it: Interpretation, kb: KnowledgeBase, out: Renderer, relation: str, work: Entity) -> Reply | None:
    """ "Was Angelica Huston in John Wick 3?" when the knowledge casts no one in that film but says her
    character appeared there: the answer is what the article says, the character's appearance, not "no"
    (KnowledgeBase.appearance_through_role). None when the person is in the work's cast or nothing says so."""
    who = it.resolution.entity if it.resolution is not None else None
    if who is None:
        return None
    cast = kb.facts_about(work.id, relation)
    if any(who.id in (f.object, f.role) for f in cast):
        return None
    found = kb.appearance_through_role(who.id, relation, work.id)
    if found is None:
        return None
    role, fact = found
    template = "utter_ask_appears_role_yes" if role == who.id else "utter_ask_appears_through"
    return out.say(it, template, facts=[fact], entity=who.name, answer=kb.name(role), subject=kb.name(fact.object),
                   according_to=kb.attribution(fact), entities=[fact.object, who.id, role])

