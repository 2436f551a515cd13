"""Per-chat conversation state, small and JSON-serialisable so it can be persisted between restarts."""
from __future__ import annotations

import json
from dataclasses import dataclass, field


MAX_ELSEWHERE = 120  # characters of another work's words kept
MAX_NAMED = 12  # a cast list's worth; the context stays small


@dataclass
class ChatContext:
    last_intent: str | None = None
    last_by_kind: dict[str, str] = field(default_factory=dict)  # entity kind -> last entity id of that kind
    last_by_pronoun: dict[str, str] = field(default_factory=dict)  # "he"/"she"/"it" -> entity id
    turns: int = 0
    last_asked: str | None = None  # a question-map relation last asked ("who wrote it?"), for "and John Wick 4?"
    last_named: list[str] = field(default_factory=list)  # the entities of the last reply, for "which of them..."
    # another work the last reply said it knows nothing of ("the Korean Netflix Ballerina"), as asked: "who
    # directed that one?" next asks of it, not of the film talked about before
    elsewhere: str | None = None

    def remember(self, intent: str | None, entities: list[tuple[str, str, str | None]],
                 listed: tuple[str, ...] = ()) -> None:
        """Record the intent and the entities (id, kind, pronoun) the turn was about, in order; ``listed``:
        what else the reply named, in a list no pronoun takes (kept in ``last_named`` only)."""
        if intent:
            self.last_intent = intent
        if entities or listed:
            self.last_named = list(dict.fromkeys([*(e[0] for e in entities), *listed]))[:MAX_NAMED]
        for entity_id, kind, pronoun in entities:
            self.last_by_kind[kind] = entity_id
            self.last_by_pronoun[pronoun or "it"] = entity_id
        self.turns += 1

    def state(self) -> tuple[object, ...]:
        """What the next message's understanding reads (the turn count aside): unchanged, nothing to save."""
        return (self.last_intent, tuple(sorted(self.last_by_kind.items())),
                tuple(sorted(self.last_by_pronoun.items())), self.last_asked, tuple(self.last_named), self.elsewhere)

    def to_json(self) -> str:
        return json.dumps({"last_intent": self.last_intent, "last_by_kind": self.last_by_kind,
                           "last_by_pronoun": self.last_by_pronoun, "turns": self.turns,
                           "last_asked": self.last_asked, "last_named": self.last_named, "elsewhere": self.elsewhere},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "ChatContext":
        try:
            data = json.loads(text)
            asked = data.get("last_asked")
            named = data.get("last_named", [])
            elsewhere = data.get("elsewhere")
            return cls(data.get("last_intent"), dict(data.get("last_by_kind", {})),
                       dict(data.get("last_by_pronoun", {})), int(data.get("turns", 0)),
                       asked if isinstance(asked, str) else None,
                       [str(n) for n in named][:MAX_NAMED] if isinstance(named, list) else [],
                       elsewhere[:MAX_ELSEWHERE] if isinstance(elsewhere, str) else None)
        except (ValueError, TypeError, AttributeError):
            return cls()  # a corrupt row must not break the chat; start fresh
