"""Feature extraction for the intent classifier: word uni/bigrams, character n-grams inside words, and
one token per kind of entity mentioned ("__person__"), so "who plays X" generalises to any character.
"""
from __future__ import annotations

from collections import Counter

CHAR_NGRAMS = (3, 4, 5)


def features(toks: list[str], entity_kinds: list[str]) -> Counter[str]:
    feats: Counter[str] = Counter()
    for i, tok in enumerate(toks):
        feats["w:" + tok] += 1
        if i:
            feats["b:" + toks[i - 1] + " " + tok] += 1
        padded = f" {tok} "
        for n in CHAR_NGRAMS:
            for j in range(0, max(len(padded) - n + 1, 1)):
                feats["c:" + padded[j:j + n]] += 1
    if toks:
        feats["b:<s> " + toks[0]] += 1
    for kind in entity_kinds:
        feats[f"e:__{kind}__"] += 1
    feats["n:" + str(min(len(toks), 8))] += 1
    return feats
