"""Fact questions, answered by reading one relation in one direction (the route says which)."""
from __future__ import annotations

import re
import weakref
from dataclasses import replace

from ..answers import Route, join_list
from ..knowledge import Entity, Fact, KnowledgeBase
from ..knowledge.dates import when_of
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation
from ..understanding.resolution import Slots
from .base import clarify_reply, confirmed, describe, who_do_you_mean


def gather(kb: KnowledgeBase, route: Route, slots: Slots, entity: Entity) -> list[Fact]:
    """The route's facts about ``entity``, in the film the slots say (named, else the chat's)."""
    found: list[Fact] = []
    for relation in route.relations:
        if route.given == "subject":
            facts = kb.facts_about(entity.id, relation)
        elif route.given == "object":
            facts = kb.facts_with_object(entity.id, relation)
        else:
            facts = kb.facts_with_role(entity.id, relation)
        found.extend(facts)
        if route.first_only and found:
            break
    if route.want == "role":
        found = [f for f in found if f.role]  # "Bruce Willis's character in Die Hard is ." is no answer
    if route.given != "subject":
        named = slots.named_film
        if route.exclude_current_film:
            # "what else has he made?" leaves out the film we are talking about; "did he direct Underworld?"
            # asks about the film it names, so that one comes first; "before / besides Ballerina" leaves
            # the film it names out
            excluded = slots.excluded_film
            keep = {named.id} if named and named is not excluded else set()
            left_out = {slots.context_film.id} | ({excluded.id} if excluded else set())
            found = [f for f in found if f.subject not in left_out or f.subject in keep]
            found.sort(key=lambda f: f.subject not in keep)
        else:  # "who plays Winston?" means in the film we are talking about, if it says
            film = named or slots.context_film
            in_film = [f for f in found if f.subject == film.id]
            # ...but "who plays the Director in John Wick 4?" is not answered with Ballerina's Director
            found = in_film or ([] if named else found[:1])
    return found


def _wanted(kb: KnowledgeBase, route: Route, fact: Fact) -> str:
    want = route.want
    if want == "subject":
        return kb.name(fact.subject)
    if want == "role":
        return kb.name(fact.role) if fact.role else ""
    return kb.value(fact)


def answer_text(kb: KnowledgeBase, route: Route, facts: list[Fact]) -> str:
    if route.verbs:  # "directed A and B, and starred in C": one verb per relation
        parts = []
        for relation, verb in route.verbs.items():
            names = [_wanted(kb, route, f) + (kb.as_role(f) if route.want != "role" else "")
                     for f in facts if f.relation == relation]
            if names:
                parts.append(f"{verb} {join_list(names)}")
        return join_list(parts)
    items = [route.item.format(name=_wanted(kb, route, f), as_role=kb.as_role(f) if route.want != "role" else "",
                               verb="") for f in facts]
    return join_list(list(dict.fromkeys(i for i in items if i)))


def answer_entities(kb: KnowledgeBase, route: Route, facts: list[Fact]) -> list[Entity]:
    ids = [getattr(f, route.want) for f in facts]
    return [kb.entities[i] for i in ids if i in kb.entities]


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    """The facts of the route's relation about the subject the understanding stage resolved (names it
    does not know, strange words and stray numbers were its steps' business: unknown_name,
    unknown_subject, stray_number), in the film its slots say."""
    res, slots = it.resolution, it.slots
    if res is None or slots is None:
        return None  # not resolved by the stage: nothing here to answer from
    route = out.route(it.intent)
    if res.options:
        return clarify_reply(it, out, res.options)
    if res.entity is None:
        return who_do_you_mean(it, out)
    entity = res.entity
    facts = gather(kb, route, slots, entity)
    in_context = slots.context_film
    film = in_context if route.exclude_current_film else slots.film
    if not facts and route.given == "subject" and film.id != entity.id:
        # "is it a John Wick movie?": the named thing is the answer side of a fact about our film.
        film_facts = gather(kb, route, slots, film)
        if any(f.object == entity.id or entity.name.lower() in kb.value(f).lower() for f in film_facts):
            entity, facts = film, film_facts
    label = kb.relations[route.relations[0]].label
    if not facts and slots.named_film is not None and out.has("utter_ask_appears_through"):
        # "what part did Angelica Huston play in Parabellum?": no cast of it, but her character was there
        found = kb.appearance_through_role(entity.id, route.relations[0], slots.named_film.id)
        if found is not None and found[0] != entity.id:
            role, fact = found
            return out.say(it, "utter_ask_appears_through", facts=[fact], entity=entity.name, answer=kb.name(role),
                           subject=kb.name(fact.object), according_to=kb.attribution(fact),
                           entities=[fact.object, entity.id, role])
    if not facts and route.exclude_current_film and out.has("utter_ask_appears_through"):
        # "what was Angelica Huston in before?": no other credit, but her character appeared elsewhere
        found = earlier_through_role(kb, route, entity, {film.id} | ({slots.excluded_film.id} if slots.excluded_film else set()))
        if found is not None:
            role, fact = found
            return out.say(it, "utter_ask_appears_through", facts=[fact], entity=entity.name, answer=kb.name(role),
                           subject=kb.name(fact.object), according_to=kb.attribution(fact),
                           entities=[fact.object, entity.id, role])
    if not facts and route.want == "role" and out.has("utter_role_unknown"):
        # "who did Bruce Willis play in Die Hard 4?": he is in it, but no part is named for him
        credits = [f for r in route.relations for f in kb.facts_with_object(entity.id, r) if not f.role
                   and (slots.named_film is None or f.subject == slots.named_film.id)][:3]
        if credits:
            return out.say(it, "utter_role_unknown", kind="unknown", entity=entity.name,
                           subject=join_list([kb.name(f.subject) for f in credits]),
                           sentence=join_list([kb.sentence(f) for f in credits]),
                           according_to=kb.attribution(credits[0]),
                           entities=[entity.id, *(f.subject for f in credits)])
    if not facts and route.given == "role" and slots.named_film is not None and out.has("utter_cast_elsewhere"):
        # "who played the Director in Parabellum?": no cast of it there, but the part is in it, and who
        # plays the part elsewhere is known
        cast = [f for r in route.relations for f in kb.facts_with_role(entity.id, r)
                if f.subject != slots.named_film.id][:3]
        # ...and whether the part is in the film named at all ("the Director appeared in Parabellum")
        there = [f for f in kb.all_facts_of(entity.id) if f.subject == entity.id and f.object == slots.named_film.id
                 and not kb.relations[f.relation].literal][:1]
        if cast and there:  # (not in it as far as the facts go: another film's cast is no answer)
            return out.say(it, "utter_cast_elsewhere", entity=entity.name,
                           subject=slots.named_film.name,
                           sentence=join_list([kb.sentence(f) for f in there + cast]),
                           according_to=kb.attribution(cast[0]), facts=there + cast,
                           entities=[entity.id, *(f.object for f in cast), slots.named_film.id])
    if not facts:
        if route.exclude_current_film and out.has(f"utter_{it.intent}_none"):
            return out.say(it, f"utter_{it.intent}_none", kind="answer", subject=entity.name, film=film.name,
                           entities=[entity.id])
        return no_fact(it, kb, out, route, entity, label, named=res.named)
    first = facts[0]
    if _asks_amount(it) and all(kb.relations[f.relation].literal and not any(c.isdigit() for c in f.object)
                                for f in facts) and out.has("utter_no_figure"):
        # "how much did Chapter 4 earn?" and the facts say it "smashed box office records": no figure
        return out.say(it, "utter_no_figure", kind="unknown", facts=facts[:1], subject=entity.name, label=label,
                       sentence=kb.sentence(first), according_to=kb.attribution(first), entities=[entity.id])
    answer = answer_text(kb, route, facts)
    answered = answer_entities(kb, route, facts)
    description = describe(kb, answered[0])[0] if answered else ""
    response = f"utter_{it.intent}"
    if out.has(f"{response}_{first.relation}"):
        response = f"{response}_{first.relation}"
    when = answer
    if kb.relations[first.relation].dated:  # "is due for release in 2027" / "came out in July 1985"
        tense, when = when_of(first.object, first.known, out.today)
        if out.has(f"{response}_{tense}"):
            response = f"{response}_{tense}"
    if route.exclude_current_film and out.has(f"{response}_elsewhere") and \
            not any(entity.id in (f.object, f.role) for f in kb.all_facts_of(in_context.id)):
        response = f"{response}_elsewhere"  # "Besides Ballerina, Daniel Craig..." would put him in it
    fact_film = kb.name(first.subject) if route.given != "subject" else entity.name
    if route.exclude_current_film:
        fact_film = in_context.name
    spoilers = (answer,) if any(f.spoiler for f in facts) else ()
    quoted = speakers(kb, facts)
    actors = played_by(kb, first, answered)
    reply = out.say(
        it, 
        response, facts=facts, spoilers=spoilers,
        # who said it comes first, so "he" means them only if the answer names no one else ("when is it
        # out?" "Joe Drake says..." "who does he work for?"); then the film a fact is about, so "it" next
        # means that film even when it went unnamed ("who plays Winston?" is about Ballerina); the names in
        # the answer come last and win "he"/"she", the first of a list last of all: after the cast, "she"
        # is its lead, not the last woman listed
        # ...except that a series answered about a film does not take "it" from the film: after "Ballerina
        # is a spin-off of the John Wick series", "who's in it?" still means Ballerina
        entities=[*quoted, *(f.object for f in actors), *salient(kb, [kb.entities[f.subject] for f in facts]),
                  *backdrop(kb, entity, answered),
                  entity.id, *named_in_text(kb, facts),
                  *(i for i in reversed(salient(kb, answered)) if i not in backdrop(kb, entity, answered)),
                  # the film the question named among its answers is the one talked about now ("did he direct
                  # Die Hard?" "starring?"), even in a list of several
                  *([slots.named_film.id] if slots.named_film is not None and slots.named_film in answered
                    and slots.named_film is not slots.excluded_film else [])],
        subject=entity.name, answer=answer, film=fact_film, according_to=kb.attribution(first),
        known=first.known, note=first.note or "", label=label, answer_clause=answer,
        note_or_description=first.note or description or answer, pronoun=entity.pronoun or "they", when=when,
        played_by=f", played by {join_list([kb.name(f.object) for f in actors])}" if actors else "",
    )
    # a speaker the template left out of the words is no one the user has heard of
    named = [e for e in reply.entities if e not in quoted or kb.name(e) in reply.text]
    reply = reply if len(named) == len(reply.entities) else replace(reply, entities=tuple(named))
    listed = tuple(e.id for e in answered if e.id not in reply.entities)  # several films: "with whom?" next
    reply = replace(reply, listed=listed) if listed else reply
    return confirmed(it, kb, out, reply, facts)


AMOUNT_ASKS = (("how", "much"), ("how", "many"), ("what", "figure"), ("what", "amount"))


def _asks_amount(it: Interpretation) -> bool:
    """ "how much did it make?", "how many tickets?": a number is asked for."""
    toks = it.parse.tokens
    return any(tuple(toks[i:i + 2]) in AMOUNT_ASKS for i in range(len(toks) - 1))


def earlier_through_role(kb: KnowledgeBase, route: Route, entity: Entity, left_out: set[str]) -> tuple[str, Fact] | None:
    """(the part, the fact) putting someone in another work through a part they play: the knowledge casts
    Angelica Huston as the Director in Ballerina only, but says the Director appeared in Parabellum. The
    appearance relations are found by their shape (a part's kind appearing in a film), as in
    KnowledgeBase.appearance_through_role."""
    film_kind = kb.default_subject.kind
    for relation in route.relations:
        rel = kb.relations[relation]
        roles = list(dict.fromkeys(f.role for f in kb.facts_with_object(entity.id, relation) if f.role))
        appearing = [r.id for r in kb.relations.values() if not r.literal and rel.role
                     and set(r.subject) <= set(rel.role) and film_kind in r.object]
        for role in roles:
            for name in appearing:
                for fact in kb.facts_about(role, name):
                    if fact.object not in left_out:
                        return role, fact
    return None


def played_by(kb: KnowledgeBase, first: Fact, answered: list[Entity]) -> list[Fact]:
    """The cast facts of the film asked about that play the character answered ("the lead" is Rooney,
    played by Ana de Armas): "who's the lead?" asks for either, and "who is she playing?" follows."""
    if len(answered) != 1:
        return []
    return [f for r in kb.relations.values() if r.role for f in kb.facts_with_role(answered[0].id, r.id)
            if f.subject == first.subject and f.object in kb.entities]


def salient(kb: KnowledgeBase, answered: list[Entity]) -> list[str]:
    """The answer's names that later "it", "he" or "she" may mean. Several films listed ("he directed
    Transporter, Die Hard 4 and Underworld") are no new film to talk about: "when is it out?" next still
    means the film in context."""
    film_kind = kb.default_subject.kind
    films = {e.id for e in answered if e.kind == film_kind}
    return list(dict.fromkeys(e.id for e in answered if len(films) < 2 or e.kind != film_kind))


def backdrop(kb: KnowledgeBase, entity: Entity, answered: list[Entity]) -> list[str]:
    """Answered things that are not films and take "it", when the question was about a film."""
    film_kind = kb.default_subject.kind
    if entity.kind != film_kind:
        return []
    return [e.id for e in answered if e.kind != film_kind and e.pronoun in (None, "it")]


def speakers(kb: KnowledgeBase, facts: list[Fact]) -> list[str]:
    """The people the facts' sources quote ("according to Lionsgate chair Joe Drake")."""
    return list(dict.fromkeys(s for f in facts if (s := kb.sources[f.source].said_by) in kb.entities))


def named_in_text(kb: KnowledgeBase, facts: list[Fact]) -> list[str]:
    """People a free-text answer names ("centres on Rooney, a young assassin..."), so that "and who plays
    her?" can follow. Only someone (he/she), so "it" keeps meaning the film asked about."""
    texts = [kb.value(f).lower() for f in facts if kb.relations[f.relation].literal]
    if not texts:
        return []
    pattern, people = _people(kb)
    if pattern is None:
        return []
    named = {m.group(0) for t in texts for m in pattern.finditer(t)}
    return [entity_id for name, entity_id in people if name in named]


_PEOPLE: "weakref.WeakKeyDictionary[KnowledgeBase, tuple[re.Pattern[str] | None, list[tuple[str, str]]]]" = \
    weakref.WeakKeyDictionary()


def _people(kb: KnowledgeBase) -> tuple[re.Pattern[str] | None, list[tuple[str, str]]]:
    """One pattern for every person's name, built once per knowledge version (a pattern per entity on
    every answer cost 110 ms at 3,000 entities)."""
    cached = _PEOPLE.get(kb)
    if cached is None:
        people = [(e.name.lower(), e.id) for e in kb.entities.values() if e.pronoun in ("he", "she")]
        names = sorted({n for n, _ in people}, key=len, reverse=True)
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in names) + r")\b") if names else None
        cached = _PEOPLE[kb] = (pattern, people)
    return cached


def no_fact(it: Interpretation, kb: KnowledgeBase, out: Renderer, route: Route, entity: Entity, label: str,
            named: bool) -> Reply:
    """Say we do not know; if the same relation is known for another work, offer that instead.

    The offer counts as an answer when the question named something linked to the other entity (the
    series of the film that has the fact); otherwise it stays an "I don't know" with a pointer
    ("Ballerina's box office?"), because the question may have meant something else entirely.
    """
    # films compare ("Ballerina's box office?" -> Chapter 4's); people don't: another person's employer
    # is no answer to "who does Keanu work for?"
    comparable = entity.pronoun not in ("he", "she")
    for relation in route.relations:
        others = [f for f in kb.facts_of_relation(relation) if f.subject != entity.id]
        if others and route.given == "subject" and comparable:
            other = others[0]
            linked = any(entity.id in (f.subject, f.object) for f in kb.all_facts_of(other.subject))
            if linked and named:
                return out.say(it, "utter_no_fact_elsewhere", kind="answer", facts=[other], subject=entity.name,
                               other=kb.name(other.subject), sentence=kb.sentence(other, out.today),
                               entities=[entity.id, other.subject])
            # not the answer, so not stated: another film's figure would read as this one's
            return out.say(it, "utter_no_fact_offer", kind="unknown", subject=entity.name, label=label,
                           other=kb.name(other.subject), suggestions=out.suggestions[:3], entities=[entity.id])
    return out.say(it, "utter_no_fact", kind="unknown", subject=entity.name, label=label,
                   suggestions=out.suggestions[:3], entities=[entity.id])
