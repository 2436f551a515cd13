"""What each intent's questions talk about: the content words of its training examples.

The classifier picks the most likely intent even when a message asks something that intent never
covers: "does John Wick *die* in Ballerina?" looks like "is John Wick in Ballerina?", and "when did
*filming start*?" looks like "when is it out?". Answering those would state a fact that was never asked
for. So the words a message uses besides names are checked against the words the chosen intent (and the
intents that read the same relation) were trained with; a predicate the intent has never seen means the
bot does not know the answer, and says so.

Words are matched through inflection ("returning" ~ "return") and typos ("directer" ~ "director").
"""
from __future__ import annotations

import functools
from collections.abc import Iterable

from rapidfuzz import fuzz, process

from .fuzzy import Choices
from .text import FILLER, STOPWORDS, is_word

_SUFFIXES = ("ings", "ing", "ers", "er", "ed", "es", "s", "ly", "y")
FUZZY_CUTOFF = 82.0
TYPO_CUTOFF = 80.0  # "palys" ~ "plays"
MIN_FUZZY_CHARS = 5


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude stem that only joins inflections of one word: "returns", "returning" -> "return"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2]:  # "hitting" -> "hitt" -> "hit"
        word = word[:-1]
    return word


_INFLECTIONS = ("ing", "ed", "ly", "ness", "ment", "ful", "less", "ise", "ize", "est", "er", "es", "s")
_variant_cache: dict[tuple[int, str], bool] = {}


def known_variant(word: str, known: frozenset[str], *, joined: bool = True) -> bool:
    """Is `word` an inflection or a typo of a known word ("premiering", "directd"), rather than the name
    of something the bot does not know ("Ghosted", "Louvre")?

    An inflection counts only if its stem is known ("premiering" -> "premier"): "awakening" is a title,
    not a form of a word the bot knows. A typo keeps the first letter and most of the rest. `joined`:
    two known words run together count too ("boxoffice"), though a surname may be one ("Goodman").
    """
    if len(word) < 3:
        return True
    key = (id(known), word)
    if key not in _variant_cache:
        if len(_variant_cache) > 50_000:
            _variant_cache.clear()
        _variant_cache[key] = _inflected(word, known) or _misspelt(word, known)
    return _variant_cache[key] or (joined and _joined(word, known))


def _inflected(word: str, known: frozenset[str]) -> bool:
    for suffix in _INFLECTIONS:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            forms = {base, base + "e", base + "y", base[:-1] if len(base) > 3 and base[-1] == base[-2] else base}
            if forms & known:
                return True
    return False


def _joined(word: str, known: frozenset[str]) -> bool:
    """Two known words run together ("boxoffice"), or a contraction without its apostrophe ("howd")."""
    if word[-1] in "ds" and word[:-1] in known:
        return True
    return any(word[:i] in known and word[i:] in known for i in range(3, len(word) - 2))


_starts: dict[int, tuple[frozenset[str], dict[tuple[str, int], list[str]]]] = {}


def _by_start(known: frozenset[str]) -> dict[tuple[str, int], list[str]]:
    """The known words by first letter and length, worked out once per vocabulary (a Mind has one): a typo's
    near words were picked out of the whole vocabulary on each look-up. Kept with the set itself, so a new
    set given the id of a freed one is not answered with the old one's words."""
    entry = _starts.get(id(known))
    if entry is None or entry[0] is not known:
        index: dict[tuple[str, int], list[str]] = {}
        for k in known:
            index.setdefault((k[:1], len(k)), []).append(k)
        if len(_starts) >= 8:
            _starts.clear()
        entry = _starts[id(known)] = (known, index)
    return entry[1]


def _near_words(word: str, known: frozenset[str]) -> list[str]:
    """The known words a slip of one or two keys may have meant: the same first letter, the length give or
    take one ("palys" ~ "plays", "comming" ~ "coming"; "blonde" is not "bond", nor "fringe" "fine")."""
    by_start = _by_start(known)
    return [k for size in (len(word) - 1, len(word), len(word) + 1) for k in by_start.get((word[:1], size), ())]


def _misspelt(word: str, known: frozenset[str]) -> bool:
    if len(word) < MIN_FUZZY_CHARS:
        return False
    match = process.extractOne(word, _near_words(word, known), scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
    return match is not None


MIN_TYPO_CHARS = 4  # "plys" ~ "plays": shorter slips are other words too often ("hte" aside)


def typo_of(word: str, known: frozenset[str]) -> str | None:
    """The known word a typo is of ("plys" -> "plays", "relase" -> "release"), by the rule of
    ``_misspelt`` (the first letter kept, the length give or take one, most letters right); None when
    none is near, or two are equally near (a guess either way)."""
    if len(word) < MIN_TYPO_CHARS or word in known or not word.isalpha():
        return None
    key = (id(known), word)
    if key not in _typo_cache:
        if len(_typo_cache) > 50_000:
            _typo_cache.clear()
        found = process.extract(word, _near_words(word, known), scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF, limit=2)
        best = found[0][0] if found and (len(found) == 1 or found[0][1] > found[1][1]) else None
        _typo_cache[key] = best
    return _typo_cache[key]


_typo_cache: dict[tuple[int, str], str | None] = {}


QUESTION_WORDS = frozenset("what who whom whose which when where why how".split())


def opening(question_word: str) -> str:
    """The vocabulary entry recording that an intent's examples open with this question word."""
    return "?" + question_word


def content_words(toks: list[str], skip: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    return [t for i, t in enumerate(toks)
            if i not in skip and is_word(t) and t not in STOPWORDS and t not in FILLER and not t.isdigit()]


class IntentVocabulary:
    def __init__(self, words: dict[str, Iterable[str]]) -> None:
        self.words = {intent: frozenset(ws) for intent, ws in words.items()}
        self.stems = {intent: frozenset(stem(w) for w in ws) for intent, ws in self.words.items()}
        self._groups: dict[frozenset[str], tuple[frozenset[str], frozenset[str], Choices]] = {}
        self._cache: dict[tuple[frozenset[str], str], bool] = {}

    def licensed(self, word: str, intents: Iterable[str]) -> bool:
        """Whether one of ``intents`` was trained with this word, an inflection of it, or a near spelling.
        Asked of the intents together (their words, stems and longer words pooled): one of them knows the
        word exactly when the pool does, and a scope rule asks it of twenty intents at a time, which was
        twenty fuzzy look-ups for a word none of them knows."""
        group = intents if isinstance(intents, frozenset) else frozenset(intents)
        pooled = self._groups.get(group)
        if pooled is None:
            known = [i for i in group if self.words.get(i)]
            words = frozenset(w for i in known for w in self.words[i])
            pooled = (words, frozenset(s for i in known for s in self.stems[i]),
                      Choices(sorted(w for w in words if len(w) >= MIN_FUZZY_CHARS), FUZZY_CUTOFF))
            if len(self._groups) >= 256:
                self._groups.clear()
            self._groups[group] = pooled
        words, stems, near = pooled
        if word in words or stem(word) in stems:
            return True
        if len(word) < MIN_FUZZY_CHARS:
            return False
        key = (group, word)
        if key not in self._cache:
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[key] = near.best(word) is not None
        return self._cache[key]

    def foreign(self, words: list[str], intents: Iterable[str]) -> list[str]:
        """The words none of ``intents`` was trained with."""
        group = frozenset(intents)
        return [w for w in dict.fromkeys(words) if not self.licensed(w, group)]

    def to_rows(self) -> list[str]:
        return sorted(f"{intent}\t{w}" for intent, ws in self.words.items() for w in ws)

    @classmethod
    def from_rows(cls, rows: Iterable[str]) -> "IntentVocabulary":
        words: dict[str, set[str]] = {}
        for row in rows:
            intent, _, word = str(row).partition("\t")
            words.setdefault(intent, set()).add(word)
        return cls(words)
