"""Whom or what a question is about: a name, a pronoun, the chat's context, a description, the default.

    res = resolve(scene, kinds=["character"])      # -> Resolution(entity | options | unknown words, used)

Pure functions of a ``Scene`` (the knowledge, the parse, the chat's context, the words the bot knows):
the understanding stage resolves the subject once (interpreter.py: ``resolve_subject``) and the handlers
read the result; nothing here mutates anything. ``used`` says which mentions the subject took, so that
another name in the message can qualify it ("Ana's role in *No Time To Die*").
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..context import ChatContext
from ..knowledge import Entity, KnowledgeBase
from ..nlu import Parse
from ..nlu.text import STOPWORDS, tokens
from .grammar import GRAMMAR_WORDS, can_name, finite_verb, is_base_verb, is_verb_form, lemma
from ..nlu.vocab import content_words, known_variant

PRONOUNS = {"he": "he", "him": "he", "his": "he", "himself": "he", "she": "she", "her": "she", "hers": "she",
            "herself": "she", "it": "it", "its": "it", "they": "they", "them": "they", "their": "they"}
# Words that pick one reading of an ambiguous name: "john wick the character".
KIND_WORDS = {"film": "film", "movie": "film", "flick": "film", "series": "series", "franchise": "series",
              "saga": "series", "universe": "series", "character": "character", "role": "character",
              "actor": "person", "actress": "person", "person": "person", "director": "person"}
FILM_WORDS = frozenset({"film", "movie", "flick", "one", "installment", "instalment", "entry", "films", "movies", "flicks",
                        "installments", "instalments", "entries", "picture", "pictures", "pic", "pics"})
SHORT_QUESTION = 4  # content words besides the names
PLACE_WORDS = frozenset({"in", "of", "from", "on"})
DO_WORDS = frozenset({"do", "does", "did"})
ARTICLES = frozenset({"the", "a", "an"})
EXCLUDING = frozenset({"before", "besides", "except", "excluding", "outside", "beyond", "prior"})
EXCLUDING_PAIRS = frozenset({("other", "than"), ("apart", "from"), ("aside", "from"), ("prior", "to")})


@dataclass(frozen=True)
class Scene:
    """What resolving reads: the knowledge, the message's parse, the chat's context, the known words."""

    kb: KnowledgeBase
    parse: Parse
    context: ChatContext
    known_words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Resolution:
    entity: Entity | None = None
    options: tuple[Entity, ...] = ()  # more than one: ask which
    unknown_words: tuple[str, ...] = ()  # the question names something we do not know
    used: frozenset[int] = field(default_factory=frozenset)  # indices of the mentions it took

    @property
    def named(self) -> bool:
        """Did the message's own names give the subject (a name, or a description with its film named),
        rather than a pronoun, the context or the default?"""
        return bool(self.used)


@dataclass(frozen=True)
class Slots:
    """What else a fact question's words point at, once its subject is resolved (``slots_of``): the
    film it is set in (named as a qualifier, "Ana's role *in No Time To Die*", else the chat's), the
    film it names to leave out ("what was she in *before* Ballerina"), the other names, and the words
    the bot does not know. Handlers read these and nothing of the parse or the chat's context."""

    context_film: Entity  # the film talked about last in the chat, else the knowledge's own
    named_film: Entity | None = None  # the film the message names besides the subject
    excluded_film: Entity | None = None  # ...when it names it to leave it out
    others: frozenset[str] = frozenset()  # the first reading of each name the subject did not take
    named: frozenset[str] = frozenset()  # every reading of every name in the message
    strangers: tuple[str, ...] = ()  # words the bot does not know (a yes/no's "not in the cast")
    one_name: bool = False  # ...sitting together as a name does ("is Carrie-Anne Moss in it?")
    claimed: tuple[str, ...] = ()  # the words besides names a yes/no claims ("out in *spring* *2024*")

    @property
    def film(self) -> Entity:
        """The film named in this message (other than the subject), else the one in context."""
        return self.named_film or self.context_film


def slots_of(scene: Scene, subject: Resolution, strangers: tuple[str, ...] = ()) -> Slots:
    """The slots around a resolved subject (``strangers``: the unknown words a yes/no reads)."""
    mentions = scene.parse.mentions
    named = named_film(scene, subject.used)
    taken = subject.entity.id if subject.entity is not None else ""
    # a name qualifying a film word stands for that film ("was Paloma her character in *the Bond film*?")
    qualifying = set(film_qualifiers(scene.kb, scene.parse))
    works = {n: qualified_work(scene, n, [scene.kb.default_subject.kind]) for n in qualifying}
    others = {i for n, m in enumerate(mentions) if n not in subject.used and n not in qualifying for i in m.entity_ids[:1]}
    others |= {w.id for n, w in works.items() if w is not None and n not in subject.used}
    return Slots(
        context_film(scene), named, excluded_film(scene, subject.used) if named is not None else None,
        frozenset(others) - {taken},
        frozenset(i for m in mentions for i in m.entity_ids),
        strangers, bool(strangers) and one_name(scene.parse.tokens, strangers), claimed_words(scene.parse))


CLAIM_SKIP = frozenset("is are was were does do did has have had will would can could should am".split())


def claimed_words(parse: Parse) -> tuple[str, ...]:
    """The words a statement or yes/no claims besides the names it holds: not the small words, not its
    verbs, which say how the value holds ("is it *coming* out in spring?"), not what it names."""
    named = {i for m in parse.mentions for i in range(m.start, m.end)}
    return tuple(w for i, w in enumerate(parse.tokens) if i not in named and w not in STOPWORDS
                 and w not in CLAIM_SKIP and not _verb(w))


# verbs that only say how a value holds ("is it *coming* out?", "did they *make* it?"), never what it is
LIGHT_VERBS = frozenset("be have do come go get make take give become seem look happen set put keep say".split())


def claimed_verbs(parse: Parse) -> tuple[str, ...]:
    """The lemmas of the verbs a yes/no claims with, besides the light ones: "has she *won* an Oscar?"
    claims a win, which a fact calling her a nominee does not state."""
    named = {i for m in parse.mentions for i in range(m.start, m.end)}
    out = []
    for i, w in enumerate(parse.tokens):
        if i in named or w in STOPWORDS or w in CLAIM_SKIP or not _verb(w):
            continue
        base = lemma(w) or w
        if base not in LIGHT_VERBS:
            out.append(base)
    return tuple(out)


def _verb(word: str) -> bool:
    if finite_verb(word) or word.endswith("ing") and lemma(word) not in (None, word):  # "coming", not "spring"
        return True
    return not can_name(word) and (is_verb_form(word) or is_base_verb(word))  # "spring" names a season too


def one_name(toks: list[str], strangers: tuple[str, ...]) -> bool:
    """Do the unknown words sit together, as a name does ("is Carrie-Anne Moss in it")? Words scattered
    around the sentence ("is it cold in Madrid in March?") are not someone's name."""
    words = {w for s in strangers for w in s.split()}
    at = [i for i, t in enumerate(toks) if t in words]
    return bool(at) and at[-1] - at[0] + 1 == len(at) <= 4


def unknown_words(scene: Scene) -> tuple[str, ...]:
    """Words the bot does not know that may name something it does not know ("who plays *Eve*?"). Not
    a word for a kind of thing ("the Ballerina *flick*"), an adjective describing a film ("the
    *forthcoming* Ballerina film", "the *old* films"), nor the verb after a name that "did" asks with
    ("which seasons did Lionsgate *mention*"): those are English the training data lacked, and refusing
    them as strangers' names refused the question."""
    toks = scene.parse.tokens
    out = []
    for w in scene.parse.unknown_words:
        if " " in w:  # several words are a name set aside on purpose ("underworld 2"), never a typo
            out.append(w)
        elif not known_variant(w, scene.known_words) and may_name(scene, w):
            out.append(w)
    return tuple(out)


def may_name(scene: Scene, word: str) -> bool:
    """Could this word of the question name a thing (unknown_words)?"""
    if word in KIND_WORDS or word in FILM_WORDS:
        return False
    parse = scene.parse
    toks = parse.tokens
    at = [i for i, t in enumerate(toks) if t == word]
    if not at:
        return True
    i = at[0]
    if not can_name(word) and (i == 0 or toks[i - 1] in ARTICLES):  # "the *forthcoming* Ballerina film"
        film = next((m for m in parse.mentions if m.start == i + 1
                     and any(scene.kb.entities[e].kind in ("film", "series") for e in m.entity_ids)), None)
        after = film.end if film is not None else i + 1
        if film is not None and toks[film.end - 1] in FILM_WORDS or after < len(toks) and toks[after] in FILM_WORDS:
            return False
    return not any(m.end == i and verb_after(toks, m.start, m.end) and any(t in DO_WORDS for t in toks[:m.start])
                   for m in parse.mentions)


# words that set a name against the one asked about: "not the spin-off", "before Ballerina", "unlike Wick"
CONTRASTING = frozenset("not before after since unlike than besides except instead rather nor".split())
CONTRAST_GAP = frozenset("the a an of in to".split())  # "instead *of the* spin-off", "not *in* Ballerina"


def contrasted(parse: Parse) -> frozenset[int]:
    """The mentions a contrasting word stands before (at most a few small words between): each names
    what the question is set against, never what it asks about while another name is there."""
    out = set()
    for n, m in enumerate(parse.mentions):
        at = m.start - 1
        while at >= 0 and parse.tokens[at] in CONTRAST_GAP:
            at -= 1
        if at >= 0 and parse.tokens[at] in CONTRASTING:
            out.add(n)
    return frozenset(out)


COMPANY_WORDS = frozenset("with alongside opposite beside".split())


def accompanying(parse: Parse) -> frozenset[int]:
    """The mentions right after a word of company ("with Willis", "alongside Daniel Craig")."""
    return frozenset(n for n, m in enumerate(parse.mentions)
                     if m.start > 0 and parse.tokens[m.start - 1] in COMPANY_WORDS)


def _named(scene: Scene, kinds: list[str], skip: frozenset[int], order: list, film_words: frozenset[int],
           against: bool) -> Resolution | None:
    """The first mention of ``order`` naming one entity of ``kinds`` (or several: the options)."""
    kb, parse = scene.kb, scene.parse
    kind_hint = {KIND_WORDS[t] for t in parse.tokens if t in KIND_WORDS}
    for index, mention in order:
        if index in skip:
            continue
        candidates = [kb.entities[i] for i in mention.entity_ids if kb.entities[i].kind in kinds]
        if not candidates and index in film_words:
            # "the *Wick* films, not the spin-off": the work the name qualifies, before the one set against it
            work = qualified_work(scene, index, kinds)
            candidates = [work] if work is not None else []
        if len(candidates) > 1 and kind_hint:
            candidates = [e for e in candidates if e.kind in kind_hint] or candidates
        if len(candidates) > 1 and parse.tokens[:1] == ["who"]:  # "who is John Wick?" asks about someone
            candidates = [e for e in candidates if e.pronoun in ("he", "she")] or candidates
        if len(candidates) == 1:
            return Resolution(candidates[0], used=skip | {index})
        if candidates:
            return Resolution(options=tuple(candidates), used=skip | {index})
    return None


def resolve(scene: Scene, kinds: list[str], default: bool = True, skip: frozenset[int] = frozenset(),
            use_context: bool = True, strangers: bool = True) -> Resolution:
    """Which entity of one of ``kinds`` the message is about: named, pronoun, context, or default.
    ``strangers``: whether words it does not know may name someone it does not know (not in a fragment
    that asks the last question again: "according to which *paper*?")."""
    kb, parse, ctx = scene.kb, scene.parse, scene.context
    # When several things are named, the last usually is what the question is about:
    # "we saw John Wick 4, but who is directing the Ballerina movie?"; a name qualifying a film word
    # ("who plays Charon in the *Wick* films?") is the film's, asked about only when nothing else is named
    # and a name set against another ("the Wick films, *not the spin-off*", "the films *before Ballerina*")
    # is what the question is not about
    several = len(parse.mentions) > 1
    film_words = frozenset(film_qualifiers(kb, parse))
    against = contrasted(parse) | home_qualifiers(kb, parse) if several else frozenset()
    # ...and the company of the one a pronoun names: "did *he* do the Die Hard one *with Willis*?"
    company = accompanying(parse)
    mentions = list(reversed(list(enumerate(parse.mentions))))
    first = [(i, m) for i, m in mentions if i not in film_words | against | company]
    first += [(i, m) for i, m in mentions if i in film_words - against - company]
    found = _named(scene, kinds, skip, first, film_words, bool(against))
    if found is not None:
        return found
    if use_context:
        for tok in parse.tokens:
            pronoun = PRONOUNS.get(tok)
            entity_id = ctx.last_by_pronoun.get(pronoun) if pronoun else None
            if entity_id in kb.entities and kb.entities[entity_id].kind in kinds:
                return Resolution(kb.entities[entity_id], used=skip)
    later = [(i, m) for i, m in mentions if (i, m) not in first]  # set against, or in company
    found = _named(scene, kinds, skip, later, film_words, bool(against))
    if found is not None:
        return found
    unknown = unknown_words(scene) if strangers else ()
    if unknown:
        return Resolution(unknown_words=unknown, used=skip)
    described = described_entity(scene, kinds, skip)  # after the strangers: "the lead in Barbie" is not ours
    if described is not None:
        return described
    if use_context:
        # the thing talked about most recently, if it is of a wanted kind ("the plot" of the last film or
        # series named, whichever came last)
        recent = ctx.last_by_pronoun.get("it")
        if recent in kb.entities and kb.entities[recent].kind in kinds:
            return Resolution(kb.entities[recent], used=skip)
        for kind in kinds:
            entity_id = ctx.last_by_kind.get(kind)
            if entity_id in kb.entities and kind != kb.default_subject.kind:
                return Resolution(kb.entities[entity_id], used=skip)
        film = ctx.last_by_kind.get(kb.default_subject.kind)
        if film in kb.entities and kb.default_subject.kind in kinds:
            return Resolution(kb.entities[film], used=skip)
    if default and kb.default_subject.kind in kinds:
        return Resolution(kb.default_subject, used=skip)
    return Resolution(used=skip)


def resolve_yes_no(scene: Scene, relation: str, check: list[str], about: list[str]) -> tuple[Resolution, Resolution]:
    """The two sides of "is Keanu in Ballerina?": who or what is asked about (of the kinds the fact's
    ``check`` fields hold: the actor, the role), named or by a pronoun, never the context's last person
    unasked; then the work it is asked of, named, implied or the film by default."""
    kb = scene.kb
    rel = kb.relations[relation]
    kinds: list[str] = []
    for name in check:
        held = rel.role if name == "role" else rel.object
        kinds += list(held or []) if held != "text" else []
    qualifiers = film_qualifiers(kb, scene.parse)
    who = resolve(scene, kinds, default=False, skip=frozenset(qualifiers), use_context=False)
    who = Resolution(who.entity, who.options, who.unknown_words, who.used - frozenset(qualifiers))
    if who.entity is None and not who.options and not who.unknown_words:
        for tok in scene.parse.tokens:
            pronoun = PRONOUNS.get(tok)
            entity_id = scene.context.last_by_pronoun.get(pronoun) if pronoun in ("he", "she", "they") else None
            if entity_id in kb.entities and kb.entities[entity_id].kind in kinds:
                who = Resolution(kb.entities[entity_id])
                break
    skip = who.used | frozenset(qualifiers)
    if qualifiers:
        named = resolve(scene, about, default=False, skip=skip, use_context=False)
        if named.entity is not None or named.options or named.unknown_words:
            return who, named
        # "was she in an earlier *Wick film*?": the work a character's name qualifies, before the context's
        home = next((h for h in (qualified_work(scene, i, about) for i in qualifiers) if h is not None), None)
        if home is not None:
            return who, Resolution(home, used=skip)
    return who, resolve(scene, about, skip=skip, use_context=True)


def film_qualifiers(kb: KnowledgeBase, parse: Parse) -> list[int]:
    """The mentions that qualify a film word rather than name whom a question is about: "an earlier
    *Wick* film", "the *Bond* movies" (the name of someone cast in it, right before "film")."""
    toks = parse.tokens
    roles = {k for r in kb.relations.values() if r.role for k in r.role}
    return [i for i, m in enumerate(parse.mentions)
            if m.end < len(toks) and toks[m.end] in FILM_WORDS
            and all(kb.entities[e].kind in roles for e in m.entity_ids)]


def home_qualifiers(kb: KnowledgeBase, parse: Parse) -> frozenset[int]:
    """A name right beside a work's name that the facts put the work in qualifies it: "the *John Wick*
    Ballerina thing", "Ballerina *John Wick*" (a film named with its series, asked about as the film)."""
    mentions = parse.mentions
    out = set()
    for n, m in enumerate(mentions):
        for other in (n - 1, n + 1):
            if not 0 <= other < len(mentions):
                continue
            o = mentions[other]
            if not (o.end == m.start or m.end == o.start):
                continue
            if any(f.object in m.entity_ids for e in o.entity_ids for f in kb.all_facts_of(e) if f.subject == e):
                out.add(n)
    return frozenset(out)


def qualified_work(scene: Scene, mention: int, about: list[str]) -> Entity | None:
    """The work a character's name before a film word stands for: the one work of ``about`` kinds that
    casts the character, else the one series among them ("a *Wick* film": the John Wick series)."""
    kb = scene.kb
    ids = scene.parse.mentions[mention].entity_ids
    homes = {f.subject for i in ids for r in kb.relations.values() if r.role
             for f in kb.facts_with_role(i, r.id) if f.subject in kb.entities and kb.entities[f.subject].kind in about}
    if len(homes) == 1:
        return kb.entities[homes.pop()]
    collections = [h for h in homes if kb.entities[h].kind != kb.default_subject.kind]
    return kb.entities[collections[0]] if len(collections) == 1 else None


def named_film(scene: Scene, used: frozenset[int]) -> Entity | None:
    """The film this message names besides the entity asked about: by its title, or as the film of a
    character ("the 007 film", "the Bond movie": the one film the knowledge casts that character in)."""
    kb, parse = scene.kb, scene.parse
    kind = kb.default_subject.kind
    for index, mention in enumerate(parse.mentions):
        if index in used:
            continue
        films = [i for i in mention.entity_ids if kb.entities[i].kind == kind]
        if len(films) == 1:
            return kb.entities[films[0]]
        if mention.end < len(parse.tokens) and parse.tokens[mention.end] in FILM_WORDS:
            homes = {f.subject for i in mention.entity_ids for r in kb.relations.values() if r.role
                     for f in kb.facts_with_role(i, r.id)
                     if f.subject in kb.entities and kb.entities[f.subject].kind == kind}
            if len(homes) == 1:
                return kb.entities[homes.pop()]
    return None


def excluded_film(scene: Scene, used: frozenset[int]) -> Entity | None:
    """The film a question names to leave out: "what was she in *before* Ballerina", "*besides* Chapter 4",
    "*other than* Ballerina"."""
    film = named_film(scene, used)
    if film is None:
        return None
    toks = scene.parse.tokens
    for mention in scene.parse.mentions:
        if film.id in mention.entity_ids:
            before = toks[max(0, mention.start - 3):mention.start]
            while before and before[-1] in ARTICLES:
                before = before[:-1]
            if before and (before[-1] in EXCLUDING or tuple(before[-2:]) in EXCLUDING_PAIRS):
                return film
    return None


def context_film(scene: Scene) -> Entity:
    """The film talked about last in this chat, else the knowledge's own."""
    kb = scene.kb
    film = scene.context.last_by_kind.get(kb.default_subject.kind)
    return kb.entities.get(film or "", kb.default_subject)


def current_film(scene: Scene, used: frozenset[int]) -> Entity:
    """The film named in this message (other than the entity asked about), else the one in context."""
    return named_film(scene, used) or context_film(scene)


def described_entity(scene: Scene, kinds: list[str], used: frozenset[int] = frozenset()) -> Resolution | None:
    """ "who plays the lead?": a relation's descriptor ("the lead" for main_character) stands for its
    object in the current film. None if the message uses no descriptor; nothing resolved if the film
    has no such fact (the lead of a film the knowledge has no lead for is not our film's lead)."""
    kb, parse = scene.kb, scene.parse
    text = f" {' '.join(parse.tokens)} "
    for relation in kb.relations.values():
        if relation.literal or not set(relation.object) & set(kinds):
            continue
        for descriptor in relation.descriptors:
            if _spaced(descriptor) not in text:
                continue
            film = current_film(scene, used)
            # "the director of Ballerina": Ballerina is how he was named, not a film asked about
            taken = used | {i for i, m in enumerate(parse.mentions) if film.id in m.entity_ids}
            facts = [f for f in kb.facts_about(film.id, relation.id) if f.object in kb.entities]
            if not facts:
                return Resolution(unknown_words=(descriptor,), used=taken)
            return Resolution(kb.entities[facts[0].object], used=taken)
    return None


@functools.lru_cache(maxsize=1024)
def _spaced(phrase: str) -> str:
    """A phrase's tokens padded with spaces (" the lead "), to match whole words; worked out once."""
    return f" {' '.join(tokens(phrase))} "


NAME_LINKS = frozenset("with starring featuring feat by alongside".split())  # words before someone's name
# words that make a part another one: its younger or older self ("*young* Rooney", "Rooney *as a child*")
AGE_WORDS = frozenset("young younger child kid kids teen teenage teenager little baby toddler adult older "
                      "childhood girl boy".split())


def age_variant(scene: Scene, used: frozenset[int]) -> tuple[str, ...]:
    """The words that ask of a part's younger or older self ("who plays *young* Rooney?", "Rooney *as a
    kid*"): right before the part's name, or after it behind "as (a)"; () when there are none. The facts
    cast the part, not its other ages, so naming its player would answer another question."""
    parse, kb = scene.parse, scene.kb
    toks = parse.tokens
    for m in parse.mentions:
        if not any(kb.entities[e].kind == "character" for e in m.entity_ids):
            continue
        if m.start and toks[m.start - 1] in AGE_WORDS:
            return (f"{toks[m.start - 1]} {m.text}",)
        after = toks[m.end:m.end + 3]
        if after[:1] in (["as"], ["when"]) and any(t in AGE_WORDS for t in after[1:]):
            return (" ".join([m.text, *after]),)
    return ()


def unknown_subject(scene: Scene, used: frozenset[int]) -> tuple[str, ...]:
    """Words the bot does not know that make a question about a known name one it cannot answer:
    a word extending the name ("Underworld *Awakening*", "Lionsgate *Bridge*"), or unknown words making
    most of a short question ("what *band* does Keanu play *bass* in?"). Unknown words in a longer, chatty
    message ("me and my mates *saw* JW4 and we're *arguing* about who directs Ballerina, can you *settle*
    it") are mostly its chatter: not enough."""
    parse = scene.parse
    toks = parse.tokens
    strangers = tuple(w for w in unknown_words(scene) if w not in GRAMMAR_WORDS)  # "how long *till* it's out"
    if not strangers:
        return ()
    # "the animated Ballerina *with Elle Fanning*": two unknown words after "with" or "starring" are
    # someone's full name, so the work is another one
    # (one of the two may look like a typo of a known word: "*Greta* Lindqvist")
    raw = set(parse.unknown_words)
    for i, t in enumerate(toks[:-2]):
        pair = toks[i + 1:i + 3]
        if t in NAME_LINKS and set(pair) <= raw and set(pair) & set(strangers):
            return tuple(dict.fromkeys([*pair, *strangers]))
    # "who did Ana de Armas play in *Knives* Out?": an unknown word right after "in" or "of" names another work
    after_place = {i + 1 + (toks[i + 1] in ARTICLES if i + 1 < len(toks) else 0)
                   for i, t in enumerate(toks) if t in PLACE_WORDS}
    taken = [parse.mentions[i] for i in used if i < len(parse.mentions)]
    beside = {m.start - 1 for m in taken} | {m.end for m in taken if not verb_after(toks, m.start, m.end)}
    if any(0 <= i < len(toks) and toks[i] in strangers for i in after_place | beside):
        return strangers
    asked = content_words(toks, parse.mentioned_tokens)
    naming = [w for w in strangers if can_name(w)]  # "has *passed away*": verb forms and adverbs name nothing
    if len(naming) >= 2 and len(strangers) > len(asked) / 2 and len(asked) <= SHORT_QUESTION:
        return strangers
    return ()


def verb_after(toks: list[str], start: int, end: int) -> bool:
    """Is the word after a name its verb, not an extension of the name: a verb in a tense ("Ballerina
    *comes* out"), or the base verb of a question with "do" before the name ("where does Ballerina *fall*")?"""
    if end >= len(toks):
        return False
    word = toks[end]
    if word in STOPWORDS or word.isdigit():
        return False
    if finite_verb(word):
        return True
    return any(t in DO_WORDS for t in toks[:start]) and is_base_verb(word, nouns=True)


def stray_numbers(parse: Parse, above: int = 0) -> bool:
    """A number (greater than `above`) outside any name, with nothing named or pointed at ("what is
    17 * 23", "is 1883 a spin-off?"): the question is not about the film in context."""
    if parse.mentions or any(t in PRONOUNS for t in parse.tokens):
        return False
    return any(t.isdigit() and int(t) > above for i, t in enumerate(parse.tokens) if i not in parse.mentioned_tokens)
