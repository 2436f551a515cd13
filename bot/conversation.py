"""What one reply leaves in the chat's context, and one reply made of a multi-part message's answers.

The Brain routes; these decide the dialogue's bookkeeping, as plain functions of the reply and the
files' routes and question map, so that the rules for "what does the next message's *he* or *and
Charon?* read" live in one place and are tested without a Brain:

    follow_up_context(ctx, reply, routes, questions, entities)   # after each answered message
    joined(replies)                                              # "who plays Winston, and Charon?"
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from .context import ChatContext
from .knowledge import Entity
from .reply import Reply
from .understanding.questions import QuestionMap

FACT_HANDLERS = ("facts", "yesno")


class RouteLike(Protocol):
    handler: str


EntityRef = tuple[str, str, str | None]


def entity_ref(entity: Entity) -> EntityRef:
    """What the context keeps of an entity a reply was about: its id, kind and pronoun."""
    return entity.id, entity.kind, entity.pronoun


def answered(reply: Reply, routes: Mapping[str, RouteLike]) -> bool:
    """Does the reply leave its question in play? A fact, a clarification, and also a fact question
    answered "not as far as I know": "is Daniel Craig in it?" -> "no" -> "what about Ian McShane?"
    asks the same."""
    if reply.kind in ("answer", "clarify"):
        return True
    route = routes.get(reply.intent or "")
    return reply.kind == "unknown" and route is not None and route.handler in FACT_HANDLERS


def asked_relation(reply: Reply, routes: Mapping[str, RouteLike], questions: QuestionMap) -> str | None:
    """The question-map relation a reply answered ("who wrote it?": written_by), known or not."""
    relation = (reply.intent or "").removeprefix("ask_")
    return relation if reply.intent not in routes and relation in questions.by_relation else None


def follow_up_context(ctx: ChatContext, reply: Reply, routes: Mapping[str, RouteLike], questions: QuestionMap,
                      entities: list[EntityRef]) -> None:
    """Record what the next message may lean on: the intent in play (when the reply left it in play),
    the entities the reply was about, and a question-map relation, which stays the question in play
    known or not ("who wrote it?" "and John Wick 4?"). Context is kept through search and unknown
    replies: they change nothing but the turn count."""
    in_play = answered(reply, routes)
    ctx.remember(reply.intent if in_play else None, entities, reply.listed)
    relation = asked_relation(reply, routes, questions)
    if relation is not None:
        ctx.last_asked = relation
    elif in_play:
        ctx.last_asked = None


def answers_its_part(reply: Reply, routes: Mapping[str, RouteLike], questions: QuestionMap) -> bool:
    """A part of a multi-part message is answered by a fact, or by the map's honest "the article doesn't
    say who wrote it"; anything else (off-topic, a guess) and the message is read as one question."""
    return reply.kind == "answer" or (reply.kind == "unknown" and asked_relation(reply, routes, questions) is not None)


def joined(replies: Sequence[Reply]) -> Reply | None:
    """One reply answering every part, in order, with every part's sources; None unless one part at
    least is answered with a fact (the last such reply lends its intent and kind)."""
    facts = [r for r in replies if r.kind == "answer"]
    if not facts:
        return None
    replies = _said_once(replies)
    return replace(facts[-1], text=" ".join(r.text for r in replies),
                   sources=tuple(dict.fromkeys(s for r in replies for s in r.sources)),
                   spoilers=tuple(s for r in replies for s in r.spoilers),
                   entities=tuple(dict.fromkeys(e for r in replies for e in r.entities)))


def _said_once(replies: Sequence[Reply]) -> list[Reply]:
    """The parts whose reply says something the earlier ones did not: two parts answered from the same
    facts ("is it set between Chapter 3 and Chapter 4?" read as two, "who's the director? the director of
    Ballerina, I mean") or in the same words say it once."""
    kept: list[Reply] = []
    said: set[str] = set()
    texts: set[str] = set()
    for r in replies:
        if r.text in texts or (r.stated and set(r.stated) <= said):
            continue
        kept.append(r)
        said.update(r.stated)
        texts.add(r.text)
    return kept
