"""Suggested questions, filled in from the knowledge: every one is a question the knowledge can answer.

answers.yml lists them as templates tied to an intent, in the order they are offered:

    suggestions:
      - {intent: ask_director, text: "Who directs {subject}?"}
      - {intent: ask_actor_of_character, text: "Who plays {subject}?"}

For each, the intent's route says which facts answer it (relation, direction); the first fact about the
knowledge's default subject (else any) picks the name put in. A template the knowledge cannot fill (no
such fact) is left out, so another film's bot never suggests a question about the first film, nor one it
would answer "I don't know". A plain string is offered as it is.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .answers import AnswersFile, Route, Suggestion
    from .knowledge import Fact, KnowledgeBase

MAX_SUGGESTIONS = 8


def suggestions_for(kb: "KnowledgeBase", data: "AnswersFile") -> tuple[str, ...]:
    out: list[str] = []
    for item in data.suggestions:
        text = item if isinstance(item, str) else _fill(kb, data.routes.get(item.intent), item)
        if text and text not in out:
            out.append(text)
    return tuple(out[:MAX_SUGGESTIONS])


def _fill(kb: "KnowledgeBase", route: "Route | None", item: "Suggestion") -> str | None:
    if route is None:
        return None
    values = _values(kb, route)
    if values is None:
        return None
    try:
        text = item.text.format(title=kb.title, **values)
    except (KeyError, IndexError, ValueError):
        return None  # a placeholder this route cannot fill (reported by `python -m bot check`)
    return text[:1].upper() + text[1:]


def _ordered(kb: "KnowledgeBase", relations: Iterable[str]) -> list["Fact"]:
    """The relations' facts, those about the default subject first."""
    home = kb.default_subject.id
    facts = [f for r in relations if r in kb.relations for f in kb.facts_of_relation(r) if not f.spoiler]
    return sorted(facts, key=lambda f: f.subject != home)


def _values(kb: "KnowledgeBase", route: "Route") -> dict[str, str] | None:
    home = kb.default_subject
    if route.handler in ("smalltalk", "help", "out_of_scope"):
        return {"subject": home.name}
    if route.handler == "about":
        # someone the default subject's facts name (a person first), who has facts of their own to tell
        named = [i for f in kb.all_facts_of(home.id) for i in (f.object, f.role)
                 if i in kb.entities and i != home.id and any(g.subject == i for g in kb.all_facts_of(i))]
        named.sort(key=lambda i: kb.entities[i].kind != "person")
        if named:
            return {"subject": kb.name(named[0])}
        return {"subject": home.name} if kb.all_facts_of(home.id) else None
    facts = _ordered(kb, route.relations)
    if route.handler == "yesno":
        film_facts = [f for f in facts if f.subject == (facts[0].subject if facts else "")]
        if not film_facts:
            return None
        fact = film_facts[1] if len(film_facts) > 1 else film_facts[0]  # the lead is too obvious a question
        return {"subject": kb.name(fact.subject), "entity": kb.name(fact.object)}
    for fact in facts:
        entity_id = getattr(fact, route.given)
        if not entity_id or entity_id not in kb.entities:
            continue
        if route.about and kb.entities[entity_id].kind not in route.about:
            continue
        if route.want == "role" and not fact.role:
            continue
        if route.exclude_current_film and not any(
                f.subject != home.id and getattr(f, route.given) == entity_id for f in facts):
            continue  # "what else has X directed?" needs something else
        return {"subject": kb.name(entity_id), "entity": kb.value(fact)}
    return None
