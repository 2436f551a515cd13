"""Open questions about one entity ("tell me about Len Wiseman"): its description and key facts."""
from __future__ import annotations

from ..reply import Reply
from .base import Turn, clarify_reply, describe, who_do_you_mean

MAX_EXTRA_FACTS = 3


def handle(turn: Turn) -> Reply | None:
    """The subject's description and a few facts (the stage resolved it and checked its name)."""
    kb = turn.kb
    res = turn.resolution
    if res.options:
        return clarify_reply(turn, res.options)
    if res.entity is None:
        return who_do_you_mean(turn)
    entity = res.entity
    description, desc_facts = describe(kb, entity)
    # Free-text facts (story, box office) say more than links, so they come first.
    others = sorted((f for f in kb.all_facts_of(entity.id) if f.relation != "description"),
                    key=lambda f: not kb.relations[f.relation].literal)[:MAX_EXTRA_FACTS]
    if not description and not others:
        return None
    extra = " ".join(kb.sentence(f, turn.today) + "." for f in others)
    if not description:
        return turn.reply("utter_about_facts", facts=others, name=entity.name, sentence=extra,
                          entities=[entity.id])
    text_facts = desc_facts[:1] + others
    reply = turn.reply("utter_about", facts=text_facts, name=entity.name, description=description,
                       entities=[entity.id])
    return reply if not extra else _append(reply, extra)


def _append(reply: Reply, extra: str) -> Reply:
    from dataclasses import replace

    return replace(reply, text=f"{reply.text} {extra}")
