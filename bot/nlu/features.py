"""Feature extraction for the intent classifier: word uni/bigrams, character n-grams inside words, and
one token per kind of entity mentioned ("__person__"), so "who plays X" generalises to any character.
"""
from __future__ import annotations

import functools
from collections import Counter

CHAR_NGRAMS = (3, 4, 5)


@functools.lru_cache(maxsize=65536)
def char_grams(tok: str) -> tuple[str, ...]:
    """The character n-gram features of one token, worked out once: words recur across messages, and
    building these strings was a third of the classifier's time per message."""
    padded = f" {tok} "
    return tuple("c:" + padded[j:j + n] for n in CHAR_NGRAMS for j in range(0, max(len(padded) - n + 1, 1)))


def features(toks: list[str], entity_kinds: list[str], named: dict[int, str] | None = None) -> Counter[str]:
    """``named`` maps the tokens of a name to its kind: a word inside a name is not the same word asked
    ("die" in "Die Hard" is not "does he die"), and "plays __character__" holds for any character."""
    feats: Counter[str] = Counter()
    named = named or {}
    for i, tok in enumerate(toks):
        feats[("m:" if i in named else "w:") + tok] += 1
        if i:
            left = named.get(i - 1, toks[i - 1])
            right = named.get(i, tok)
            if not (i in named and i - 1 in named):
                feats["b:" + left + " " + right] += 1
        feats.update(char_grams(tok))
    if toks:
        feats["b:<s> " + named.get(0, toks[0])] += 1
    for kind in entity_kinds:
        feats[f"e:__{kind}__"] += 1
    feats["n:" + str(min(len(toks), 8))] += 1
    return feats
