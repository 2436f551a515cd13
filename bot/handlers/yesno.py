"""Yes/no questions ("is Keanu in Ballerina?"): yes with the role, or an honest "not as far as I know"."""
from __future__ import annotations

from ..answers import join_list
from ..reply import Reply
from ..understanding.resolution import resolve_yes_no, unknown_words
from .base import Turn, unknown_reply, who_do_you_mean


def handle(turn: Turn) -> Reply | None:
    kb, route = turn.kb, turn.route
    relation = kb.relations[route.relations[0]]
    # who is asked about, named first or by pronoun; the film named, implied, or the default (the stage
    # resolved both: bot/understanding/resolution.py resolve_yes_no)
    scene = turn.scene
    it = turn.interpretation
    if it is not None and it.resolution is not None and it.work is not None:
        who, film_res = it.resolution, it.work
    else:
        who, film_res = resolve_yes_no(scene, relation.id, list(route.check), list(route.about))
    film = film_res.entity or kb.default_subject
    cast_facts = kb.facts_about(film.id, relation.id)
    cast = join_list([kb.name(f.object) + kb.as_role(f) for f in cast_facts])
    if not cast_facts:  # "is Keanu in John Wick 5?": no cast known to say yes or no from
        return turn.reply("utter_no_fact", kind="unknown", subject=film.name, label=relation.label,
                          suggestions=turn.answers.suggestions[:3], entities=[film.id])
    if who.options:
        who_entity = who.options[0]
    elif who.entity is not None:
        who_entity = who.entity
    else:
        strangers = who.unknown_words or unknown_words(scene)
        if strangers and not _one_name(turn.parse.tokens, strangers):
            # "is it cold in Madrid in March?": words scattered around the sentence are not someone's name
            return unknown_reply(turn, strangers)
        if strangers:
            return turn.reply("utter_ask_appears_no", kind="unknown", subject=film.name, entity=" ".join(strangers),
                              cast=cast, facts=cast_facts, entities=[film.id])
        if not cast_facts:
            return who_do_you_mean(turn)
        return turn.reply("utter_ask_appears_which", kind="clarify", subject=film.name, cast=cast,
                          facts=cast_facts, entities=[film.id])
    pair = _pair(turn, cast_facts)
    if pair is not None:
        return pair
    hits = [f for f in cast_facts if who_entity.id in {getattr(f, c) for c in route.check}]
    if hits:
        fact = hits[0]
        as_role = kb.as_role(fact) if who_entity.id != fact.role else f", played by {kb.name(fact.object)}"
        return turn.reply("utter_ask_appears_yes", facts=[fact], subject=film.name, entity=who_entity.name,
                          as_role=as_role, according_to=kb.attribution(fact),
                          entities=[film.id, who_entity.id])
    return turn.reply("utter_ask_appears_no", kind="unknown", subject=film.name, entity=who_entity.name, cast=cast,
                      facts=cast_facts, entities=[film.id, who_entity.id])


def _one_name(toks: list[str], strangers: tuple[str, ...]) -> bool:
    """Do the unknown words sit together, as a name does ("is Carrie-Anne Moss in it")?"""
    words = {w for s in strangers for w in s.split()}
    at = [i for i, t in enumerate(toks) if t in words]
    return bool(at) and at[-1] - at[0] + 1 == len(at) <= 4


def _pair(turn: Turn, cast_facts: list) -> Reply | None:  # type: ignore[type-arg]
    """ "Is Ian McShane playing Charon?" names both sides of one fact: the answer is about the pair, and
    "yes, Charon is in it" would be wrong. None unless the message names one of each."""
    kb, route = turn.kb, turn.route
    if len(route.check) < 2:
        return None
    named = {i for m in turn.parse.mentions for i in m.entity_ids}
    sides = [{f for f in cast_facts if getattr(f, field) in named} for field in route.check]
    if not all(sides):
        return None
    both = sides[0] & sides[1]
    film = kb.entities[cast_facts[0].subject]
    if both:
        fact = next(iter(both))
        return turn.reply("utter_ask_appears_yes", facts=[fact], subject=film.name, entity=kb.name(fact.object),
                          as_role=kb.as_role(fact), according_to=kb.attribution(fact),
                          entities=[film.id, fact.object])
    asked_by = {getattr(f, route.check[0]) for f in sides[0]} & named
    fact = next(iter(sides[1]))  # the fact for the other side ("Charon is played by Lance Reddick")
    asked = kb.name(next(iter(asked_by))) if asked_by else ""
    return turn.reply("utter_ask_appears_mismatch", facts=[fact], subject=film.name, entity=asked,
                      answer=kb.name(getattr(fact, route.check[1])), other=kb.name(getattr(fact, route.check[0])),
                      according_to=kb.attribution(fact), entities=[film.id, getattr(fact, route.check[1])])
