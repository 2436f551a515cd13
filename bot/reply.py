"""What the core hands to a front: a Reply, rendered by each front in its own way."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["answer", "search", "clarify", "unknown", "smalltalk"]


@dataclass(frozen=True)
class SourceRef:
    """Where an answer came from, for "according to ..." and the /about view."""

    attribution: str
    known: str
    publication: str | None = None
    title: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    text: str
    kind: Kind
    intent: str | None = None
    confidence: float = 0.0
    sources: tuple[SourceRef, ...] = ()
    suggestions: tuple[str, ...] = ()
    spoilers: tuple[str, ...] = ()  # substrings of text that fronts hide in group chats
    entities: tuple[str, ...] = ()  # entity ids the reply is about (for follow-up context)
    verdict: Literal["yes", "no"] | None = None  # a yes/no question's answer, where the reply gives one
    # the facts it states, each as "subject relation object role": a multi-part reply says each once
    stated: tuple[str, ...] = ()
    # what a list answer names that no pronoun takes ("he directed Transporter, Die Hard and Underworld"):
    # "with whom?" next asks of them
    listed: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "kind": self.kind,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "sources": [s.attribution for s in self.sources],
            "suggestions": list(self.suggestions),
        }
