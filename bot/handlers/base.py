"""What every handler gets (a Turn: the understanding stage's Interpretation, the knowledge, the
templates) and the replies they share. Whom a question is about is resolved by the stage
(bot/understanding/resolution.py); a handler reads it and decides nothing about meaning."""
from __future__ import annotations

import datetime as dt
import functools
import random
from dataclasses import dataclass, field
from typing import Any

from ..answers import Answers, Route, join_list
from ..context import ChatContext
from ..knowledge import Entity, Fact, KnowledgeBase
from ..nlu import Parse
from ..reply import Kind, Reply, SourceRef
from ..understanding import resolution
from ..understanding.resolution import PRONOUNS, Resolution, Scene, resolve

__all__ = ["PRONOUNS", "Resolution", "Turn", "resolve"]


@dataclass(frozen=True)
class Turn:
    kb: KnowledgeBase
    answers: Answers
    rng: random.Random
    parse: Parse
    context: ChatContext
    intent: str
    confidence: float
    route: Route
    known_words: frozenset[str] = frozenset()
    chat: str | None = None
    interpretation: Any = None  # the understanding stage's Interpretation, when the Brain built one
    today: dt.date = field(default_factory=dt.date.today)  # dated facts read against it (the Brain's clock)

    @property
    def scene(self) -> Scene:
        return Scene(self.kb, self.parse, self.context, self.known_words)

    @functools.cached_property
    def resolution(self) -> Resolution:
        """Whom the question is about, as the stage resolved it (resolved here for a route it did not)."""
        found = getattr(self.interpretation, "resolution", None)
        return found if found is not None else resolve(self.scene, list(self.route.about) or self.kb.kinds)

    @property
    def used(self) -> frozenset[int]:
        """The mentions the subject took: any other name may qualify it ("in No Time To Die")."""
        return self.resolution.used

    def reply(self, response: str, kind: Kind = "answer", facts: list[Fact] | None = None,
              entities: list[str] | None = None, suggestions: tuple[str, ...] = (), spoilers: tuple[str, ...] = (),
              **values: str) -> Reply:
        values.setdefault("title", self.kb.title)
        text = self.answers.render(response, self.rng, **values)
        if kind == "answer" and facts:
            text = with_attribution(self.kb, text, facts)
        return Reply(text, kind, self.intent, self.confidence, sources=sources_of(self.kb, facts or []),
                     suggestions=suggestions, spoilers=spoilers, entities=tuple(entities or ()))


def with_attribution(kb: KnowledgeBase, text: str, facts: list[Fact]) -> str:
    """Every fact answer names its source, whichever template variant was drawn: a variant that leaves
    {according_to} out gets it appended ("... Ian McShane as Winston (according to Cineworld)")."""
    attributions = list(dict.fromkeys(kb.sources[f.source].attribution for f in facts if f.source in kb.sources))
    low = text.lower()
    missing = [a for a in attributions if a.lower() not in low]
    if len(missing) < len(attributions) or not missing:
        return text  # the template named (one of) the sources itself
    note = f" ({'; '.join(missing)})"
    return text[:-1] + note + "." if text.endswith(".") else text + note


def sources_of(kb: KnowledgeBase, facts: list[Fact]) -> tuple[SourceRef, ...]:
    refs: dict[str, SourceRef] = {}
    for fact in facts:
        s = kb.sources[fact.source]
        refs.setdefault(s.id, SourceRef(s.attribution, fact.known, s.publication, s.title, s.url))
    return tuple(refs.values())


def describe(kb: KnowledgeBase, entity: Entity) -> tuple[str, list[Fact]]:
    facts = kb.facts_about(entity.id, "description")
    return (facts[0].object if facts else ""), facts


def entity_ref(entity: Entity) -> tuple[str, str, str | None]:
    return entity.id, entity.kind, entity.pronoun


def unknown_reply(turn: Turn, words: tuple[str, ...]) -> Reply:
    return turn.reply("utter_unknown_subject", kind="unknown", words=" ".join(words),
                      suggestions=turn.answers.suggestions[:3])


def clarify_reply(turn: Turn, options: tuple[Entity, ...]) -> Reply:
    labels = [f"{e.name} ({e.kind})" for e in options]
    return turn.reply("utter_clarify", kind="clarify", options=join_list(labels).replace(" and ", " or "),
                      suggestions=tuple(labels))


def who_do_you_mean(turn: Turn) -> Reply:
    return turn.reply("utter_who_do_you_mean", kind="clarify", suggestions=turn.answers.suggestions[:3])


def named_film(turn: Turn) -> Entity | None:
    """The film this message names besides the entity asked about (a title, or "the 007 film")."""
    return resolution.named_film(turn.scene, turn.used)


def context_film(turn: Turn) -> Entity:
    """The film talked about last in this chat, else the knowledge's own."""
    return resolution.context_film(turn.scene)


def current_film(turn: Turn) -> Entity:
    """The film named in this message (other than the entity asked about), else the one in context."""
    return resolution.current_film(turn.scene, turn.used)
