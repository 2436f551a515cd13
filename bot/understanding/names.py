"""Names that look like ones the bot knows but are someone else's: set aside before anything is answered.

The gazetteer (bot/nlu/entities.py) finds every span that reads like a known name, with typos; it cannot
tell that "Rooney" in "Wayne Rooney" or "Die Hard" in "the first Die Hard" is not ours. These rules can,
from the words around the name. A name set aside becomes an unknown phrase of the parse, which the steps
after (bot/understanding/interpreter.py: unknown_subject) decline, while the intent the classifier
ranked with it stays ("who directed ...?"). Each rule is a function ``(parse, env) -> spans``, tried in
the order of ``RULES``; a rule's docstring says what it catches.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..nlu import Parse
from ..nlu.entities import Mention, instalment
from ..nlu.text import STOPWORDS
from ..nlu.vocab import known_variant
from .grammar import can_name
from .resolution import verb_after

if TYPE_CHECKING:
    from .interpreter import Env

Span = tuple[int, int]


def numbered_title(parse: Parse, env: "Env") -> list[tuple[Span, Mention | None]]:
    """ "when is Windows 12 out?": a word and a small number outside any name is a title, even when the
    word is known (it is not a typo of one of ours: the gazetteer found nothing there)."""
    toks, covered = parse.tokens, parse.mentioned_tokens
    return [((i, i + 2), None) for i in range(len(toks) - 1)
            if i not in covered and i + 1 not in covered and toks[i].isalpha() and toks[i] not in STOPWORDS
            and toks[i + 1].isdigit() and instalment(toks[i + 1]) is not None]


def namesake(parse: Parse, env: "Env") -> list[tuple[Span, Mention | None]]:
    """ "who is Wayne Rooney?": a one-word name of someone (he/she) beside a word never seen, and no typo
    of one, is someone else's full name ("Goodman" beside "John": even two known words run together are
    more likely the rest of that name). A word the question map asks with is no name: "Edda's *family*"
    asks about her, whether or not the film's own words hold it."""
    toks, named, kb = parse.tokens, parse.mentioned_tokens, env.kb
    found: list[tuple[Span, Mention | None]] = []

    def stranger(i: int) -> bool:
        # (an adjective names no one: "the most *recent* Bond picture")
        return 0 <= i < len(toks) and i not in named and toks[i] in parse.unknown_words and \
            toks[i] not in env.questions.words and not known_variant(toks[i], env.known_words, joined=False) \
            and can_name(toks[i])

    for mention in parse.mentions:
        if mention.end - mention.start != 1 or mention.score < 100:
            continue
        if not all(kb.entities[i].pronoun in ("he", "she") for i in mention.entity_ids):
            continue
        if stranger(mention.start - 1):
            found.append(((mention.start - 1, mention.end), mention))
        elif stranger(mention.end) and not verb_after(toks, mention.start, mention.end):
            # "why did Keanu *refuse*...": the question's verb after its subject is no surname
            found.append(((mention.start, mention.end + 1), mention))
    return found


def other_instalment(parse: Parse, env: "Env") -> list[tuple[Span, Mention | None]]:
    """ "who directed the first Die Hard?" when only the fourth is known, "Underworld 2", "the 2023 Korean
    film Ballerina": another film of a series than the ones the knowledge holds."""
    if env.gazetteer is None:
        return []
    out: list[tuple[Span, Mention | None]] = []
    for mention in parse.mentions:
        span = env.gazetteer.other_instalment(parse.tokens, mention)
        if span is not None:
            out.append((span, mention))
    return out


def inside_a_cue(parse: Parse, env: "Env") -> list[tuple[Span, Mention | None]]:
    """ "who's the *director* of photography?": a name that is a relation's word (a character called the
    Director) inside a longer cue of the question map is that cue's word, not the name. Dropped as a
    mention, not made unknown: the words are known, they just ask something else."""
    found: list[tuple[Span, Mention | None]] = []
    for mention in parse.mentions:
        if any(env.kb.entities[i].kind != "character" for i in mention.entity_ids):
            continue
        inside = frozenset(range(mention.start, mention.end))
        others = frozenset(parse.mentioned_tokens) - inside
        for asked in env.questions.asked(parse.tokens, others):
            at = env.questions.span(parse.tokens, asked.question.relation, others)
            if at & inside and at - inside:  # the cue runs through the name and on past it
                found.append(((mention.start, mention.start), mention))  # an empty span: nothing unknown
                break
    return found


Rule = Callable[[Parse, "Env"], list[tuple[Span, Mention | None]]]
RULES: tuple[Rule, ...] = (inside_a_cue, numbered_title, namesake, other_instalment)


def set_aside_other_names(parse: Parse, env: "Env") -> tuple[Parse, tuple[str, ...]]:
    """The parse with every name the rules catch turned into an unknown phrase, and the rules that spoke."""
    mentions, unknown = list(parse.mentions), list(parse.unknown_words)
    spoke: list[str] = []
    aside: list[tuple[int, int]] = list(parse.aside)
    instalments: list[tuple[int, int, str]] = list(parse.instalments)
    current = parse
    for rule in RULES:
        # each rule sees what the ones before left: a mention set aside is not judged twice
        if spoke and current.mentions is not mentions:
            current = replace(parse, mentions=list(mentions), unknown_words=list(unknown))
        for (start, end), mention in rule(current, env):
            if mention is not None:
                if mention not in mentions:
                    continue
                mentions.remove(mention)
            phrase = parse.tokens[start:end]
            if rule is other_instalment and mention is not None and mention.entity_ids:
                instalments.append((start, end, mention.entity_ids[0]))  # "Die Hard 2": we know the fourth
            if phrase:
                unknown = [w for w in unknown if w not in phrase] + [" ".join(phrase)]
                aside.append((start, end))
            spoke.append(rule.__name__)
    if not spoke:
        return parse, ()
    return (replace(parse, mentions=mentions, unknown_words=unknown, aside=tuple(aside),
                    instalments=tuple(dict.fromkeys(instalments))),
            tuple(dict.fromkeys(spoke)))
