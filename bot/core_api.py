"""A front-neutral way into the Brain when another system has already understood the message.

Rasa (or any NLU front) may hand us an intent, entities and conversation slots. This module turns those
into the same core call as ``Brain.reply``: it never decides anything about films itself.

    reply, slots = answer_with_intent(brain, chat="42", user="7", text="and Charon?",
                                      intent="ask_actor_of_character", confidence=0.93,
                                      entities=[{"entity": "character", "value": "charon"}],
                                      context_slots={"last_film": "ballerina", "last_intent": "ask_cast"})

- ``intent`` is used when the core has a route for it; otherwise (None, unknown to us) the Brain's own NLU
  decides. ``FALLBACK_INTENTS`` (Rasa's ``nlu_fallback``) goes straight to the search fallback.
- ``entities`` from the other NLU are added as mentions when the Brain's gazetteer missed them and they
  name a known entity (by id, name or alias); anything else is ignored.
- ``context_slots`` seeds the chat context (``last_person``, ``last_film``, ``last_character``,
  ``last_intent``). When it is None, or carries none of those keys, the Brain's own per-chat context is used.
- The second value returned holds the slots whose values changed, ready to become ``SlotSet`` events.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Mapping

from .context import ChatContext
from .dialogue import Brain, Mind
from .conversation import entity_ref
from .incoming import incoming_text
from .nlu import IntentScore, Mention, Parse
from .nlu.text import tokens
from .reply import Reply

SLOT_KINDS: dict[str, tuple[str, ...]] = {
    "last_person": ("person",),
    "last_film": ("film", "series"),
    "last_character": ("character",),
}
INTENT_SLOT = "last_intent"
CONTEXT_SLOTS = (*SLOT_KINDS, INTENT_SLOT)
FALLBACK_INTENTS = frozenset({"nlu_fallback"})
MAX_TEXT = 2000  # characters of a message the NLU looks at
MAX_SLOT = 200  # longer slot values cannot be an entity id or name: ignored


def answer_with_intent(brain: Brain, chat: str | None, user: str | None, text: str, intent: str | None = None,
                       confidence: float | None = None, entities: Iterable[Mapping[str, Any]] | None = None,
                       context_slots: Mapping[str, Any] | None = None,
                       force_fallback: bool = False) -> tuple[Reply, dict[str, str | None]]:
    """One message through the core, with understanding supplied from outside where it is usable."""
    mind = brain.mind
    text = incoming_text(text)[:MAX_TEXT]
    use_slots = context_slots is not None and any(k in context_slots for k in CONTEXT_SLOTS)
    ctx = context_from_slots(mind, context_slots or {}) if use_slots else brain.context(chat)
    before = slots_of(mind, ctx)

    parse = mind.nlu.parse(text)
    parse = _with_entities(mind, parse, text, entities or ())
    if intent in FALLBACK_INTENTS:
        force_fallback = True
    usable = intent is not None and intent in mind.answers.routes
    if usable and not force_fallback:
        conf = _clamp(confidence if confidence is not None else 1.0)
        rest = [s for s in parse.ranking if s.intent != intent]
        parse = replace(parse, ranking=[IntentScore(intent, conf), *rest])

    reply = brain.reply_parsed(mind, chat, user, text, parse, ctx=ctx, persist=not use_slots,
                               fallback=force_fallback, fallback_intent=intent or "nlu_fallback",
                               fallback_confidence=_clamp(confidence if confidence is not None else 0.0))
    if force_fallback and reply.intent is None and intent:
        reply = replace(reply, intent=intent)
    after = slots_of(mind, ctx)
    return reply, {k: v for k, v in after.items() if v != before.get(k)}


def context_from_slots(mind: Mind, slots: Mapping[str, Any]) -> ChatContext:
    """A ChatContext as the slots describe it; unknown or oversized values are ignored."""
    ctx = ChatContext()
    refs = []
    for slot in ("last_film", "last_character", "last_person"):  # later ones win the pronoun
        entity_id = resolve_entity(mind, slots.get(slot))
        if entity_id is not None and mind.kb.entities[entity_id].kind in SLOT_KINDS[slot]:
            refs.append(entity_ref(mind.kb.entities[entity_id]))
    last_intent = slots.get(INTENT_SLOT)
    if isinstance(last_intent, str) and last_intent in mind.answers.routes:
        ctx.last_intent = last_intent
    for entity_id, kind, pronoun in refs:
        ctx.last_by_kind[kind] = entity_id
        ctx.last_by_pronoun[pronoun or "it"] = entity_id
    return ctx


def slots_of(mind: Mind, ctx: ChatContext) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for slot, kinds in SLOT_KINDS.items():
        ids = [ctx.last_by_kind.get(k) for k in kinds if ctx.last_by_kind.get(k) in mind.kb.entities]
        out[slot] = ids[0] if ids else None
    out[INTENT_SLOT] = ctx.last_intent
    return out


def resolve_entity(mind: Mind, value: Any) -> str | None:
    """An entity id from an id, a name or an alias (any case); None when it names nothing we know."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SLOT:
        return None
    if value in mind.kb.entities:
        return value
    ids = mind.nlu.gazetteer.names.get(" ".join(tokens(value)))
    return ids[0] if ids and len(ids) == 1 else None


def _refs(mind: Mind, items: Iterable[Any]) -> list[tuple[str, str, str | None]]:
    """Entity refs from a Reply's entities, which hold ids (or (id, kind, pronoun) tuples)."""
    refs = []
    for item in items:
        entity_id = item[0] if isinstance(item, (tuple, list)) and item else item
        if isinstance(entity_id, str) and entity_id in mind.kb.entities:
            refs.append(entity_ref(mind.kb.entities[entity_id]))
    return refs


def _with_entities(mind: Mind, parse: Parse, raw: str, entities: Iterable[Mapping[str, Any]]) -> Parse:
    """Add the other NLU's entities that name a known entity and that the gazetteer missed."""
    mentions = list(parse.mentions)
    taken = parse.mentioned_tokens
    added = False
    for ent in list(entities)[:50]:
        if not isinstance(ent, Mapping):
            continue
        entity_id = resolve_entity(mind, ent.get("value"))
        if entity_id is None or any(entity_id in m.entity_ids for m in mentions):
            continue
        span = _span(parse, raw, ent)
        if span is None or any(i in taken for i in range(*span)):
            continue
        start, end = span
        mentions.append(Mention((entity_id,), start, end, " ".join(parse.tokens[start:end]), 100.0))
        taken = taken | set(range(start, end))
        added = True
    if not added:
        return parse
    covered = {i for m in mentions for i in range(m.start, m.end)}
    unknown = [t for i, t in enumerate(parse.tokens) if i not in covered and t in parse.unknown_words]
    return replace(parse, mentions=sorted(mentions, key=lambda m: m.start), unknown_words=unknown)


def _span(parse: Parse, raw: str, ent: Mapping[str, Any]) -> tuple[int, int] | None:
    """Token offsets of the entity's surface text in the message (its start/end, else its value)."""
    for surface in (_surface(raw, ent), ent.get("value")):
        if not isinstance(surface, str):
            continue
        toks = tokens(surface)
        n = len(toks)
        if not n:
            continue
        for i in range(len(parse.tokens) - n + 1):
            if parse.tokens[i:i + n] == toks:
                return i, i + n
    return None


def _surface(raw: str, ent: Mapping[str, Any]) -> str | None:
    start, end = ent.get("start"), ent.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw):
        return raw[start:end]
    return None


def _clamp(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if number != number else min(1.0, max(0.0, number))
