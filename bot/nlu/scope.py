"""Is the question really the one the classifier picked? A check on the words besides the names.

The classifier ranks intents by likeness, so "does John Wick die in Ballerina?" comes out as "is John Wick
in Ballerina?" and "who plays Rooney's father?" as "who plays Rooney?". The answer would then be a fact
that was never asked for. Three signs say the message asks something the intent does not cover:

- a yes/no question uses a word that no intent reading the same relation was trained with: a "yes"
  asserts the whole sentence, so "does Wick *die* in it" is not "is Wick in it";
- a question uses a word the intent's relation family never uses but the out-of-scope examples do
  ("when did *filming* start", "in *imax*"): it asks about something the knowledge does not hold;
- a word the intent never uses hangs on the name of someone ("Rooney's *father*", "the *sister* of
  Rooney"): the question is about someone else, whom the bot does not know.

The families come from the answer routes (intents that read a common relation), the words from the
training data, so another film's files get the same check with no code change.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .vocab import QUESTION_WORDS, IntentVocabulary, content_words, opening

OUT_OF_SCOPE = "out_of_scope"
FACT_HANDLERS = frozenset({"facts", "yesno", "about"})
CHAT_HANDLERS = frozenset({"smalltalk", "help"})
PERSONAL_PRONOUNS = frozenset("he him his she her hers they them their".split())
POINTING = PERSONAL_PRONOUNS | {"it", "its", "this", "that", "film", "movie", "flick", "spinoff", "spin", "one"}
NARROW_OPENINGS = frozenset({"where", "when", "why", "how", "which"})
# The scope rules in the order they are tried (Scope._rule_NAME), each a registered step of the understanding
# stage (bot/understanding/interpreter.py, scope_NAME); the first that speaks decides.
RULES = ("opening", "yes_no", "chit_chat", "unnamed", "elsewhere")
GENERIC_SHARE = 0.5  # a word used by at least this share of the fact intents says nothing about which


class RouteLike(Protocol):
    handler: str
    relations: list[str]


class MentionLike(Protocol):
    entity_ids: tuple[str, ...]
    start: int
    end: int


class ParseLike(Protocol):
    tokens: list[str]
    unknown_words: list[str]
    possessive: tuple[bool, ...]
    mentions: list[MentionLike]

    @property
    def mentioned_tokens(self) -> frozenset[int]: ...


class Scope:
    def __init__(self, vocab: IntentVocabulary, routes: Mapping[str, RouteLike],
                 personal: frozenset[str] = frozenset(), described: frozenset[str] = frozenset()) -> None:
        self.vocab = vocab
        self.personal = personal  # ids of entities that are someone (have a he/she pronoun)
        self.pointing = POINTING | described  # words that point at something without naming it ("the lead")
        self.handlers = {name: route.handler for name, route in routes.items()}
        self.fact = frozenset(n for n, r in routes.items() if r.handler in FACT_HANDLERS)
        self.others = frozenset(i for i in vocab.words if i != OUT_OF_SCOPE)
        self.families: dict[str, frozenset[str]] = {}
        for name, route in routes.items():
            if route.handler in ("facts", "yesno"):
                self.families[name] = frozenset(
                    other for other, r in routes.items()
                    if r.handler in ("facts", "yesno") and set(r.relations) & set(route.relations)) | {name}
            else:
                self.families[name] = frozenset({name})
        counts: dict[str, int] = {}
        for intent in self.fact:
            for word in vocab.words.get(intent, ()):
                counts[word] = counts.get(word, 0) + 1
        self.generic = frozenset(w for w, n in counts.items() if n >= max(2, GENERIC_SHARE * len(self.fact)))

    def foreign(self, parse: ParseLike, intent: str) -> list[str]:
        """Content words (names aside) that neither the intent nor its relation family was trained with."""
        if intent not in self.vocab.words:
            return []
        words = [w for w in content_words(parse.tokens, parse.mentioned_tokens) if w not in self.generic]
        return self.vocab.foreign(words, self.families.get(intent, {intent}))

    def applies(self, intent: str) -> str | None:
        """The intent's handler if the scope rules check it (fact and chat intents), else None."""
        handler = self.handlers.get(intent)
        return handler if handler in FACT_HANDLERS or handler in CHAT_HANDLERS else None

    def rule(self, name: str, parse: ParseLike, intent: str, foreign: list[str]) -> list[str] | None:
        """One rule of ``RULES`` on its own (the understanding stage registers each as a step): None when
        it has nothing to say, [] when it decides the message fits, else the words that show it does not.
        ``foreign``: the message's words the intent's family was never trained with (``foreign()``)."""
        handler = self.applies(intent)
        if handler is None or name not in RULES:
            return None
        return getattr(self, "_rule_" + name)(parse, intent, handler, foreign)  # type: ignore[no-any-return]

    def _rule_opening(self, parse: ParseLike, intent: str, handler: str, foreign: list[str]) -> list[str] | None:
        """A question opening as none of the intent's examples do asks for something else: "why so late?"
        is no goodbye (chit-chat opens only with its own question words: "how are you", "who are you");
        "*where* is Ana de Armas from?" and "*how* many films has Keanu made?" are no filmography. Fact
        questions are only held to the narrow openers: "who" and "what" open anything ("who revealed
        when it is set?" asks the timeline's source)."""
        openers = QUESTION_WORDS if handler in CHAT_HANDLERS else NARROW_OPENINGS
        trained = self.vocab.words.get(intent)
        if trained and parse.tokens and parse.tokens[0] in openers and opening(parse.tokens[0]) not in trained:
            return [opening(parse.tokens[0])]
        return None

    def _rule_yes_no(self, parse: ParseLike, intent: str, handler: str, foreign: list[str]) -> list[str] | None:
        """A yes/no asserts the whole sentence: a word no intent of its relation was trained with makes it
        another question ("does Wick *die* in it"). Unless nobody is named or pointed at: "is Carrie-Anne
        Moss in it?" has strange words that are the name asked about, and the honest answer ("not that I
        know of") is the handler's."""
        if handler != "yesno":
            return None
        someone = any(set(m.entity_ids) & self.personal for m in parse.mentions)
        if not someone and not any(t in PERSONAL_PRONOUNS for t in parse.tokens):
            return [w for w in foreign if w not in parse.unknown_words]
        return foreign

    def _rule_chit_chat(self, parse: ParseLike, intent: str, handler: str, foreign: list[str]) -> list[str] | None:
        """Chit-chat with a topic is not chit-chat: "did you see the match last night" is no goodbye."""
        if handler not in CHAT_HANDLERS:
            return None
        elsewhere = [w for w in foreign if self.vocab.licensed(w, (OUT_OF_SCOPE,))]
        topical = [w for w in foreign if self.vocab.licensed(w, self.fact)]
        return foreign if elsewhere or topical or len(foreign) >= 2 else []

    def _rule_unnamed(self, parse: ParseLike, intent: str, handler: str, foreign: list[str]) -> list[str] | None:
        """Nothing named, nothing pointed at: the answer would be about the film in context, so a word no
        question the bot answers ever uses names something else ("when is *Oppenheimer* out?" is not
        "when is it out?"; "who *announced* the release window?" is still about the film)."""
        if parse.mentions or any(t in self.pointing for t in parse.tokens):
            return None
        strange = [w for w in foreign if not self.vocab.licensed(w, self.others)]
        return strange or None

    def _rule_elsewhere(self, parse: ParseLike, intent: str, handler: str, foreign: list[str]) -> list[str] | None:
        """A word only off-topic questions use ("imax", "runtime"), which no fact question ever does
        (chit-chat words such as "time" or "start" are everyone's), or a word naming a relative or part
        of someone named ("Rooney's *father*")."""
        elsewhere = [w for w in foreign if self.vocab.licensed(w, (OUT_OF_SCOPE,)) and not self.vocab.licensed(w, self.others)]
        return elsewhere or self._attached(parse, foreign)

    def _attached(self, parse: ParseLike, foreign: list[str]) -> list[str]:
        """Foreign words that name a relative or part of a named thing: "Rooney's father", "father of Rooney"."""
        toks, named = parse.tokens, parse.mentioned_tokens
        poss = parse.possessive
        someone = {i for m in parse.mentions if set(m.entity_ids) & self.personal for i in range(m.start, m.end)}
        found = []
        for j, tok in enumerate(toks):
            if tok not in foreign or j in named:
                continue
            after_possessive = j > 0 and (j - 1) in someone and j - 1 < len(poss) and poss[j - 1]
            k = j + 2 if j + 1 < len(toks) and toks[j + 1] == "of" else -1
            if 0 <= k < len(toks) and toks[k] == "the":
                k += 1
            before_of_name = k >= 0 and k in someone
            if after_possessive or before_of_name:
                found.append(tok)
        return found
