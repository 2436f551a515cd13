"""Entity extraction: a gazetteer of the knowledge's names and aliases, with fuzzy matching for typos.

Exact matching runs on every n-gram; fuzzy matching (rapidfuzz) only on n-grams that contain a word the
bot has never seen, because a typo is exactly such a word and this keeps the hot path cheap.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz import fuzz

from ..knowledge import KnowledgeBase
from .fuzzy import Choices
from .text import STOPWORDS, tokens

MAX_NGRAM = 5
FUZZY_CUTOFF = 80.0
MIN_FUZZY_CHARS = 5
MIN_HALF = 3  # letters of each half of a compound written as two words ("spin off")
SPACING_CUTOFF = 90.0
WORD_CUTOFF = 70.0  # each word of a many-word name is a typo of its own word ("redick"), not another word
ORDINALS = {w: n for n, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth".split(), start=1)}
ORDINAL_FIGURES = {w: f"{n}{'st' if n == 1 else 'nd' if n == 2 else 'rd' if n == 3 else 'th'}"
                   for w, n in ORDINALS.items()}  # "fourth" -> "4th"
SPELT = {str(n): w for n, w in enumerate(
    "one two three four five six seven eight nine ten eleven twelve".split(), start=1)}
CARDINALS = {w: int(n) for n, w in SPELT.items()}
ROMAN = {"ii": 2, "iii": 3, "iv": 4, "vi": 6, "vii": 7, "viii": 8, "ix": 9}
PART_WORDS = frozenset({"chapter", "part", "vol", "volume", "episode"})
MAX_INSTALMENT = 20  # "Ballerina 2024" is a year, "Underworld 2" a sequel
YEAR_WINDOW = 3  # tokens either side of a title where a year dates it
# ...unless a preposition makes it a date of something said about the film: "is Ballerina out *in* 2023"
DATE_PREPOSITIONS = frozenset({"in", "by", "until", "till", "before", "after", "since", "during", "around", "for"})
NUMBERED = re.compile(r"(\d{1,2})(st|nd|rd|th)?")  # "2", "2nd": compiled once, asked of every token of a name
YEAR = re.compile(r"(?:19|20)\d\d")


def instalment(token: str, *, ordinal_only: bool = False) -> int | None:
    """The number of a film in a series that `token` spells: "2", "2nd", "second", "ii" (None if none).
    `ordinal_only`: only the forms that can stand before a title ("the second Underworld")."""
    if token in ORDINALS:
        return ORDINALS[token]
    match = NUMBERED.fullmatch(token)
    if match and (match.group(2) or not ordinal_only):
        number = int(match.group(1))
        return number if 1 <= number <= MAX_INSTALMENT else None
    return None if ordinal_only else ROMAN.get(token)


@dataclass(frozen=True)
class Mention:
    """A span of the message that names one or more entities (more than one means ambiguous)."""

    entity_ids: tuple[str, ...]
    start: int  # token offsets
    end: int
    text: str
    score: float  # 100 for an exact match

    @property
    def ambiguous(self) -> bool:
        return len(self.entity_ids) > 1


def _spacings(key: str, vocabulary: frozenset[str]) -> set[str]:
    """The key with one compound joined ("wick spin off" -> "wick spinoff") or split ("wick spinoff" ->
    "wick spin off"), where the split's halves are ``vocabulary`` (the names' words and small words): how
    people type compounds varies, and a name's words are not misspelt for it."""
    words = key.split()
    out = {" ".join([*words[:i], words[i] + words[i + 1], *words[i + 2:]]) for i in range(len(words) - 1)
           if words[i] not in STOPWORDS and words[i + 1] not in STOPWORDS}
    for i, word in enumerate(words):
        for cut in range(MIN_HALF, len(word) - MIN_HALF + 1):
            head, tail = word[:cut], word[cut:]
            if head in vocabulary and tail in vocabulary and not head.isdigit() and not tail.isdigit():
                out.add(" ".join([*words[:i], head, tail, *words[i + 1:]]))
    return out - {key}


def _numbers(phrase: str) -> set[int]:
    return {n for t in phrase.split() if (n := instalment(t) or CARDINALS.get(t)) is not None}


class Gazetteer:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        names: dict[str, set[str]] = defaultdict(set)
        for entity in kb.entities.values():
            for alias in (entity.name, *entity.aliases):
                key = " ".join(tokens(alias))
                if key and key not in STOPWORDS:
                    names[key].add(entity.id)
        # "spin off" is "spinoff" is "spin-off": a name matches with a compound written as one word or two
        vocabulary = frozenset(w for k in names for w in k.split()) | STOPWORDS
        spaced: set[str] = set()  # (not tried for typos: a typo's spacing is forgiven there already)
        for key, ids in list(names.items()):
            for variant in _spacings(key, vocabulary) - names.keys():
                names[variant] |= ids
                spaced.add(variant)
        # "chapter four" is "chapter 4": a small number in a name may be spelt out; "the fourth Die Hard"
        # is "the 4th Die Hard" (an ordinal in figures)
        for key, ids in list(names.items()):
            spelt = " ".join(SPELT.get(w, w) for w in key.split())
            if spelt != key:
                names[spelt] |= ids
            figures = " ".join(ORDINAL_FIGURES.get(w, w) for w in key.split())
            if figures != key:
                names[figures] |= ids
        # A longer alias wins over a shorter one for the same span; ties stay ambiguous.
        self.names: dict[str, tuple[str, ...]] = {k: tuple(sorted(v)) for k, v in names.items()}
        self.words: frozenset[str] = frozenset(w for k in self.names for w in k.split())
        # Which instalments a work's names spell ("die hard 4", "the fourth die hard" -> {4}); people and
        # characters (he, she, they) are not instalments of anything.
        self.instalments: dict[str, frozenset[int]] = {
            entity.id: frozenset(n for alias in (entity.name, *entity.aliases) for t in tokens(alias)
                                 if (n := instalment(t)) is not None)
            for entity in kb.entities.values() if entity.pronoun in (None, "it")}
        # The years the knowledge ties to each work ("spring or summer 2024"): "Ballerina from 2016" is
        # another film called Ballerina
        self.years: dict[str, frozenset[int]] = {
            entity_id: frozenset(int(y) for f in kb.all_facts_of(entity_id)
                                 for y in re.findall(r"\b(?:19|20)\d\d\b", kb.sentence(f)))
            for entity_id in self.instalments}
        self._fuzzy_keys = Choices([k for k in self.names if len(k) >= MIN_FUZZY_CHARS and k not in spaced],
                                   FUZZY_CUTOFF)
        self._fuzzy_cache: dict[str, tuple[str, float] | None] = {}
        # how many words the names starting with each word have: a span whose first word starts no name of
        # its length cannot match exactly, and is not even joined unless it may be a typo
        sizes: dict[str, set[int]] = defaultdict(set)
        for key in self.names:
            words = key.split()
            sizes[words[0]].add(len(words))
        self._sizes = {first: frozenset(n) for first, n in sizes.items()}

    def find(self, toks: list[str], known_words: frozenset[str] = frozenset()) -> list[Mention]:
        """Longest-first, non-overlapping mentions in the token list. A span not found as it is may be a typo
        when it is five characters or more, neither end is a small word, and one of its words is unknown to
        the names and the training data (a typo is such a word).

        Only the spans that may match are tried, in the order of a walk over every span (longest first,
        then left to right), which decides which of two overlapping ones is taken: those whose first word
        starts a name that long, and those that may be a typo. A long message has hundreds of spans and a
        handful of candidates."""
        n = len(toks)
        top = min(MAX_NGRAM, n)
        sizes = self._sizes
        stop = [t in STOPWORDS for t in toks]
        unknown_at = [n] * (n + 1)  # the first unknown word at or after each position (n: none)
        for i in range(n - 1, -1, -1):
            unknown_at[i] = i if toks[i] not in self.words and toks[i] not in known_words else unknown_at[i + 1]
        candidates: list[tuple[int, int, bool, bool]] = []  # (-size, start, may match exactly, may be a typo)
        for start in range(n):
            limit = min(top, n - start)
            exact = sizes.get(toks[start])
            shortest = unknown_at[start] - start + 1 if not stop[start] else limit + 1  # holding an unknown word
            if exact is not None:
                for size in range(1, limit + 1):
                    typo = size >= shortest and not stop[start + size - 1]
                    if typo or size in exact:
                        candidates.append((-size, start, size in exact, typo))
            else:  # only a typo may start here
                candidates.extend((-size, start, False, True) for size in range(shortest, limit + 1)
                                  if not stop[start + size - 1])
        candidates.sort()
        found: list[Mention] = []
        taken = [False] * n
        names = self.names
        for minus, start, exact, typo in candidates:
            end = start - minus
            if found and any(taken[start:end]):
                continue
            phrase = " ".join(toks[start:end])
            ids = names.get(phrase) if exact else None
            score = 100.0
            if ids is None and typo and len(phrase) >= MIN_FUZZY_CHARS:
                match = self._fuzzy(phrase)
                if match is not None:
                    ids, score = names[match[0]], match[1]
            if ids:
                found.append(Mention(ids, start, end, phrase, score))
                taken[start:end] = [True] * (end - start)
        return sorted(found, key=lambda m: m.start)

    def other_instalment(self, toks: list[str], mention: Mention) -> tuple[int, int] | None:
        """The token span naming another film of the series than the one(s) the knowledge holds ("the
        first Die Hard" when only the fourth is known, "Underworld 2", "Ballerina 2"), or None."""
        # only the works a name may mean count: "John Wick 1" is the series' first film, not the man
        works = [self.instalments[i] for i in mention.entity_ids if i in self.instalments]
        if not works:
            return None
        lo = max(0, mention.start - YEAR_WINDOW)
        years = {int(t) for at, t in enumerate(toks[lo:mention.end + YEAR_WINDOW], start=lo)
                 if YEAR.fullmatch(t) and not (at and toks[at - 1] in DATE_PREPOSITIONS)}
        if years and all(years - self.years.get(i, frozenset()) for i in mention.entity_ids if i in self.instalments):
            return mention.start, mention.end  # "the 2023 Korean film Ballerina"
        end = mention.end
        if end + 1 < len(toks) and toks[end] in PART_WORDS:  # "John Wick: Chapter 2", "Underworld part 2"
            end += 1
        after = instalment(toks[end]) if end < len(toks) else None
        if after is not None:
            return (mention.start, end + 1) if all(after not in n for n in works) else None
        before = instalment(toks[mention.start - 1], ordinal_only=True) if mention.start > 0 else None
        # "the second Ballerina" is another film; "the first Ballerina film" may well be this one
        if before is not None and all(before not in n and (n or before > 1) for n in works):
            return mention.start - 1, mention.end
        return None

    def _fuzzy(self, phrase: str) -> tuple[str, float] | None:
        """Best alias within the cutoff; memoised because the same typos recur across users."""
        if phrase not in self._fuzzy_cache:
            if len(self._fuzzy_cache) > 50_000:
                self._fuzzy_cache.clear()
            match = self._fuzzy_keys.best(phrase)
            # a typo is in the letters: "underworld 2" is not a misspelt "underworld 1", and "keanu reeves
            # vegan" is not a misspelt "keanu reeves" (a word more is a word more, unless only a space is
            # missing or extra: "ana dearmas")
            if match and _numbers(match[0]) != _numbers(phrase):
                match = None
            if match and len(match[0].split()) != len(phrase.split()) and \
                    fuzz.ratio(match[0].replace(" ", ""), phrase.replace(" ", "")) < SPACING_CUTOFF:
                match = None
            # and a typo is in one name's words: "ballerina imdb" is no misspelt "ballerina film", however
            # close the whole strings are
            if match and len(match[0].split()) == len(phrase.split()) and any(
                    fuzz.ratio(a, b) < WORD_CUTOFF and min(len(a), len(b)) > 2
                    for a, b in zip(match[0].split(), phrase.split())):
                match = None
            self._fuzzy_cache[phrase] = (match[0], match[1]) if match else None
        return self._fuzzy_cache[phrase]
