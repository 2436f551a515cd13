"""Templates into Replies: the one thing a handler gets besides the Interpretation and the knowledge.

    out = Renderer(kb, answers, rng, today)
    out.say(it, "utter_ask_director", facts=facts, answer="Len Wiseman")   # -> Reply, its source named

A Renderer holds no state of a chat and decides nothing about meaning: it draws a template variant
with the Brain's random source, names every fact's source whichever variant was drawn, and dates
nothing itself (``today`` is the Brain's clock, which dated facts are read against). Built once per
message by the Brain, so a handler is a pure function of what it is handed.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Protocol

from .answers import Answers, Route
from .knowledge import Fact, KnowledgeBase
from .reply import Kind, Reply, SourceRef


class Asked(Protocol):
    """What a reply is filed under: the intent that answered and how sure the stage was."""

    @property
    def intent(self) -> str | None: ...
    @property
    def confidence(self) -> float: ...


# The responses that answer a yes/no question yes or no (bot/handlers/yesno.py, base.confirmed, premise.py):
# the Reply says which, so that "which of them plays Charon?" keeps the parts that say yes.
YES_RESPONSES = frozenset({"utter_ask_appears_yes", "utter_ask_appears_role_yes", "utter_confirmed"})
NO_RESPONSES = frozenset({"utter_ask_appears_no", "utter_ask_appears_mismatch", "utter_contradicted",
                          "utter_false_premise", "utter_false_premise_value_yesno", "utter_false_premise_credits"})


@dataclass(frozen=True)
class Renderer:
    kb: KnowledgeBase
    answers: Answers
    rng: random.Random
    today: dt.date

    @property
    def suggestions(self) -> tuple[str, ...]:
        return tuple(self.answers.suggestions)

    def has(self, response: str) -> bool:
        return self.answers.has(response)

    def render(self, response: str, **values: str) -> str:
        return self.answers.render(response, self.rng, **values)

    def route(self, intent: str | None) -> Route:
        """The route an intent is answered by (out_of_scope's when it has none)."""
        return self.answers.routes.get(intent or "") or self.answers.routes["out_of_scope"]

    def say(self, it: Asked, response: str, **kwargs: object) -> Reply:
        """``reply`` filed under the interpretation's intent (out_of_scope when it has none)."""
        return self.reply(response, it.intent or "out_of_scope", it.confidence, **kwargs)  # type: ignore[arg-type]

    def reply(self, response: str, intent: str | None, confidence: float, kind: Kind = "answer",
              facts: list[Fact] | None = None, entities: list[str] | None = None,
              suggestions: tuple[str, ...] = (), spoilers: tuple[str, ...] = (), **values: str) -> Reply:
        values.setdefault("title", self.kb.title)
        text = self.answers.render(response, self.rng, **values)
        if kind == "answer" and facts:
            text = with_attribution(self.kb, text, facts)
        verdict = "yes" if response in YES_RESPONSES else "no" if response in NO_RESPONSES else None
        return Reply(text, kind, intent, confidence, sources=sources_of(self.kb, facts or []),
                     suggestions=suggestions, spoilers=spoilers, entities=tuple(entities or ()), verdict=verdict,
                     stated=tuple(f"{f.subject} {f.relation} {f.object} {f.role or ''}" for f in facts or ()))


def with_attribution(kb: KnowledgeBase, text: str, facts: list[Fact]) -> str:
    """Every fact answer names its source, whichever template variant was drawn: a variant that leaves
    {according_to} out gets it appended ("... Ian McShane as Winston (according to Cineworld)"), and so
    does every source of an answer's facts that its words do not name (what Keanu Reeves told Collider
    and what is only in his words are two claims)."""
    attributions = list(dict.fromkeys(kb.sources[f.source].attribution for f in facts if f.source in kb.sources))
    low = text.lower()
    missing = [a for a in attributions if a.lower() not in low]
    if not missing:
        return text  # the template named the sources itself
    note = f" ({'; '.join(missing)})"
    return text[:-1] + note + "." if text.endswith(".") else text + note


def sources_of(kb: KnowledgeBase, facts: list[Fact]) -> tuple[SourceRef, ...]:
    refs: dict[str, SourceRef] = {}
    for fact in facts:
        s = kb.sources[fact.source]
        refs.setdefault(s.id, SourceRef(s.attribution, fact.known, s.publication, s.title, s.url))
    return tuple(refs.values())
