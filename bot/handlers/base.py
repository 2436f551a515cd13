"""What every handler gets (a Turn) and the shared entity-resolution rules."""
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
from ..nlu.text import tokens
from ..nlu.vocab import content_words, known_variant
from ..reply import Kind, Reply, SourceRef

PRONOUNS = {"he": "he", "him": "he", "his": "he", "himself": "he", "she": "she", "her": "she", "hers": "she",
            "herself": "she", "it": "it", "its": "it", "they": "they", "them": "they", "their": "they"}
# Words that pick one reading of an ambiguous name: "john wick the character".
KIND_WORDS = {"film": "film", "movie": "film", "flick": "film", "series": "series", "franchise": "series",
              "saga": "series", "universe": "series", "character": "character", "role": "character",
              "actor": "person", "actress": "person", "person": "person", "director": "person"}


@dataclass
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
    used_mentions: set[int] = field(default_factory=set)
    today: dt.date = field(default_factory=dt.date.today)  # dated facts read against it (the Brain's clock)

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


@dataclass(frozen=True)
class Resolution:
    entity: Entity | None = None
    options: tuple[Entity, ...] = ()  # more than one: ask which
    unknown_words: tuple[str, ...] = ()  # the question names something we do not know


def unknown_words(turn: Turn) -> tuple[str, ...]:
    # several words are a name the parser set aside on purpose ("underworld 2"), never a typo
    return tuple(w for w in turn.parse.unknown_words if " " in w or not known_variant(w, turn.known_words))


SHORT_QUESTION = 4  # content words besides the names
PLACE_WORDS = frozenset({"in", "of", "from", "on"})
ARTICLES = frozenset({"the", "a", "an"})


def unknown_subject(turn: Turn) -> tuple[str, ...]:
    """Words the bot does not know that make a question about a known name one it cannot answer:
    a word extending the name ("Underworld *Awakening*", "Lionsgate *Bridge*"), or unknown words making
    most of a short question ("what *band* does Keanu play *bass* in?"). Unknown words in a longer, chatty
    message ("me and my mates *saw* JW4 and we're *arguing* about who directs Ballerina, can you *settle*
    it") are mostly its chatter: not enough."""
    strangers = unknown_words(turn)
    if not strangers:
        return ()
    parse = turn.parse
    toks = parse.tokens
    # "who did Ana de Armas play in *Knives* Out?": an unknown word right after "in" or "of" names another work
    after_place = {i + 1 + (toks[i + 1] in ARTICLES if i + 1 < len(toks) else 0)
                   for i, t in enumerate(toks) if t in PLACE_WORDS}
    used = [parse.mentions[i] for i in turn.used_mentions if i < len(parse.mentions)]
    beside = {m.start - 1 for m in used} | {m.end for m in used}
    if any(0 <= i < len(toks) and toks[i] in strangers for i in after_place | beside):
        return strangers
    asked = content_words(toks, parse.mentioned_tokens)
    if len(strangers) >= 2 and len(strangers) > len(asked) / 2 and len(asked) <= SHORT_QUESTION:
        return strangers
    return ()


def resolve(turn: Turn, kinds: list[str], default: bool = True, skip: set[int] | None = None,
            use_context: bool = True) -> Resolution:
    """Which entity of one of ``kinds`` the message is about: named, pronoun, context, or default."""
    kb, parse = turn.kb, turn.parse
    skip = skip or set()
    kind_hint = {KIND_WORDS[t] for t in parse.tokens if t in KIND_WORDS}
    # When several things are named, the last usually is what the question is about:
    # "we saw John Wick 4, but who is directing the Ballerina movie?"
    for index, mention in reversed(list(enumerate(parse.mentions))):
        if index in skip:
            continue
        candidates = [kb.entities[i] for i in mention.entity_ids if kb.entities[i].kind in kinds]
        if len(candidates) > 1 and kind_hint:
            candidates = [e for e in candidates if e.kind in kind_hint] or candidates
        if len(candidates) > 1 and parse.tokens[:1] == ["who"]:  # "who is John Wick?" asks about someone
            candidates = [e for e in candidates if e.pronoun in ("he", "she")] or candidates
        if len(candidates) == 1:
            turn.used_mentions.add(index)
            return Resolution(candidates[0])
        if candidates:
            turn.used_mentions.add(index)
            return Resolution(options=tuple(candidates))
    if use_context:
        for tok in parse.tokens:
            pronoun = PRONOUNS.get(tok)
            entity_id = turn.context.last_by_pronoun.get(pronoun) if pronoun else None
            if entity_id in kb.entities and kb.entities[entity_id].kind in kinds:
                return Resolution(kb.entities[entity_id])
    strangers = unknown_words(turn)
    if strangers:
        return Resolution(unknown_words=strangers)
    described = described_entity(turn, kinds)  # after the strangers: "the lead in Barbie" is not ours
    if described is not None:
        return described
    if use_context:
        # the thing talked about most recently, if it is of a wanted kind ("the plot" of the last film or
        # series named, whichever came last)
        recent = turn.context.last_by_pronoun.get("it")
        if recent in kb.entities and kb.entities[recent].kind in kinds:
            return Resolution(kb.entities[recent])
        for kind in kinds:
            entity_id = turn.context.last_by_kind.get(kind)
            if entity_id in kb.entities and kind != kb.default_subject.kind:
                return Resolution(kb.entities[entity_id])
        film = turn.context.last_by_kind.get(kb.default_subject.kind)
        if film in kb.entities and kb.default_subject.kind in kinds:
            return Resolution(kb.entities[film])
    if default and kb.default_subject.kind in kinds:
        return Resolution(kb.default_subject)
    return Resolution()


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
    """The film named in this message, other than the entity asked about."""
    kb = turn.kb
    kind = kb.default_subject.kind
    for index, mention in enumerate(turn.parse.mentions):
        films = [i for i in mention.entity_ids if kb.entities[i].kind == kind]
        if index not in turn.used_mentions and len(films) == 1:
            return kb.entities[films[0]]
    return None


def context_film(turn: Turn) -> Entity:
    """The film talked about last in this chat, else the knowledge's own."""
    kb = turn.kb
    film = turn.context.last_by_kind.get(kb.default_subject.kind)
    return kb.entities.get(film or "", kb.default_subject)


def current_film(turn: Turn) -> Entity:
    """The film named in this message (other than the entity asked about), else the one in context."""
    return named_film(turn) or context_film(turn)


def described_entity(turn: Turn, kinds: list[str]) -> Resolution | None:
    """ "who plays the lead?": a relation's descriptor ("the lead" for main_character) stands for its
    object in the current film. None if the message uses no descriptor; nothing resolved if the film
    has no such fact (the lead of a film the knowledge has no lead for is not our film's lead)."""
    kb, toks = turn.kb, turn.parse.tokens
    text = f" {' '.join(toks)} "
    for relation in kb.relations.values():
        if relation.literal or not set(relation.object) & set(kinds):
            continue
        for descriptor in relation.descriptors:
            if _spaced(descriptor) not in text:
                continue
            film = current_film(turn)
            # "the director of Ballerina": Ballerina is how he was named, not a film asked about
            turn.used_mentions.update(i for i, m in enumerate(turn.parse.mentions) if film.id in m.entity_ids)
            facts = [f for f in kb.facts_about(film.id, relation.id) if f.object in kb.entities]
            if not facts:
                return Resolution(unknown_words=(descriptor,))
            return Resolution(kb.entities[facts[0].object])
    return None


@functools.lru_cache(maxsize=1024)
def _spaced(phrase: str) -> str:
    """A phrase's tokens padded with spaces (" the lead "), to match whole words; worked out once."""
    return f" {' '.join(tokens(phrase))} "


def stray_numbers(turn: Turn, above: int = 0) -> bool:
    """A number (greater than `above`) outside any name, with nothing named or pointed at ("what is
    17 * 23", "is 1883 a spin-off?"): the question is not about the film in context."""
    parse = turn.parse
    if parse.mentions or any(t in PRONOUNS for t in parse.tokens):
        return False
    return any(t.isdigit() and int(t) > above for i, t in enumerate(parse.tokens) if i not in parse.mentioned_tokens)
