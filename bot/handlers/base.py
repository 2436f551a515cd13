"""What the handlers share. A handler is a pure function of the understanding stage's Interpretation,
the knowledge and a Renderer (bot/rendering.py):

    handler(it, kb, out) -> Reply | None        # None: no fact answers it, the Brain's fallback decides

Whom a question is about, the film it is set in or leaves out, and the other names it holds are the
stage's slots (it.resolution, it.work, it.slots: bot/understanding/resolution.py); a handler reads
them and decides nothing about meaning, nor reads the parse or the chat's context."""
from __future__ import annotations

from collections.abc import Callable

from ..answers import join_list
from ..knowledge import Entity, Fact, KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation

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
