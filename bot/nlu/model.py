"""The serving model: tf-idf weights and a linear layer in NumPy arrays.

Answering never imports scikit-learn (that import alone costs about a second and 40 MB); scikit-learn
trains the weights once (see ``train.py``) and this class replays the same arithmetic.
"""
from __future__ import annotations

import math
from collections import Counter
from itertools import repeat
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .features import CHAR_NGRAMS
from .vocab import IntentVocabulary

FORMAT_VERSION = "11"
TOKEN_COLUMNS = 65536  # tokens whose columns are kept


class IntentScore(NamedTuple):
    """One intent's probability (a named tuple: a message builds one per intent, and a frozen
    dataclass took as long to build as the classifier's arithmetic)."""

    intent: str
    confidence: float


_SUBLINEAR = [0.0] + [1.0 + math.log(c) for c in range(1, 64)]  # tf of a feature seen c times
# the same values as float32, for any count a message can reach (it is cut at 500 characters): one look-up
# per message instead of a Python list of them converted (np.asarray rounds each the same way)
_SUBLINEAR32 = np.asarray(_SUBLINEAR + [1.0 + math.log(c) for c in range(64, 1024)], dtype=np.float32)


class IntentModel:
    def __init__(self, classes: list[str], vocabulary: list[str], idf: np.ndarray, weights: np.ndarray,
                 bias: np.ndarray, domain_words: list[str] | None = None,
                 vocabulary_rows: list[str] | None = None) -> None:
        self.classes = classes
        self.index = {f: i for i, f in enumerate(vocabulary)}
        self.idf = idf.astype(np.float32)
        self.weights = weights.astype(np.float32)  # (features, classes)
        self.bias = bias.astype(np.float32)
        # Words of the in-domain examples only: "titanic" in an out-of-scope example is still a stranger.
        self.known_words = frozenset(domain_words if domain_words is not None
                                     else (f[2:] for f in vocabulary if f.startswith("w:")))
        # The content words each intent was trained with (see vocab.py).
        self.vocab = IntentVocabulary.from_rows(vocabulary_rows or [])
        self._columns: dict[str, tuple[int, ...]] = {}  # token -> its character n-grams' columns

    def rank(self, toks: list[str], entity_kinds: list[str], named: dict[int, str] | None = None) -> list[IntentScore]:
        """Intents by probability, highest first."""
        counts = self._feature_counts(toks, entity_kinds, named or {})
        logits = self.bias.copy()
        if counts:
            # the columns as one index array, made once for both look-ups (a list was converted twice)
            idx = np.fromiter(counts, dtype=np.intp, count=len(counts))
            seen = np.fromiter(counts.values(), dtype=np.intp, count=len(counts))
            if np.maximum.reduce(seen) < len(_SUBLINEAR32):
                tf = _SUBLINEAR32[seen]
            else:
                tf = np.asarray([1.0 + math.log(c) for c in counts.values()], dtype=np.float32)
            x = tf * self.idf[idx]
            x /= float(np.sqrt(x.dot(x))) or 1.0  # np.linalg.norm's own arithmetic, without its checks
            logits += x @ self.weights.take(idx, axis=0)
        probs = np.exp(logits - np.maximum.reduce(logits))
        probs /= probs.sum()
        order = (-probs).argsort().tolist()
        values = probs.tolist()  # plain floats at once: indexing a NumPy array per class is slower
        classes = self.classes
        # each score made as the tuple it is (its class's __new__ is a Python function, called per intent)
        return list(map(tuple.__new__, repeat(IntentScore), [(classes[i], values[i]) for i in order]))

    def _feature_counts(self, toks: list[str], entity_kinds: list[str], named: dict[int, str]) -> Counter[int]:
        """Column -> count of the known features of ``features.features`` (the same columns in the same
        order, so the same sums), with each token's own columns looked up once per model, not per message:
        building and looking up its character n-grams was most of the classifier's time."""
        cols: list[int] = []
        get, append, extend, chars = self.index.get, cols.append, cols.extend, self._columns.get
        if not named:  # most messages name nothing: the same features, without asking of every token
            before = ""
            for i, tok in enumerate(toks):
                j = get("w:" + tok)
                if j is not None:
                    append(j)
                if i:
                    j = get("b:" + before + " " + tok)
                    if j is not None:
                        append(j)
                extend(chars(tok) or self._token_columns(tok))
                before = tok
        for i, tok in enumerate(toks if named else ()):
            j = get(("m:" if i in named else "w:") + tok)
            if j is not None:
                append(j)
            if i and not (i in named and i - 1 in named):
                j = get("b:" + named.get(i - 1, toks[i - 1]) + " " + named.get(i, tok))
                if j is not None:
                    append(j)
            extend(chars(tok) or self._token_columns(tok))
        tail = [f"e:__{kind}__" for kind in entity_kinds] + ["n:" + str(min(len(toks), 8))]
        if toks:
            tail.insert(0, "b:<s> " + named.get(0, toks[0]))
        cols.extend(j for j in map(get, tail) if j is not None)
        return Counter(cols)  # first seen first, as features' Counter

    def _token_columns(self, tok: str) -> tuple[int, ...]:
        """The columns of the token's character n-grams, in ``features.char_grams``' order, kept per token.
        The n-grams are sliced here rather than asked of ``char_grams``, whose own cache would keep every
        token's strings as well (a tuple of thirty for each word ever seen), for nothing once the
        columns are kept."""
        cols = self._columns.get(tok)
        if cols is None:
            get, padded = self.index.get, f" {tok} "
            cols = tuple([j for n in CHAR_NGRAMS for k in range(max(len(padded) - n + 1, 1))
                          if (j := get("c:" + padded[k:k + n])) is not None])
            if len(self._columns) >= TOKEN_COLUMNS:
                self._columns.clear()  # a flood of made-up words must not grow memory without bound
            self._columns[tok] = cols
        return cols

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        vocabulary = sorted(self.index, key=self.index.__getitem__)
        np.savez(tmp, classes=np.array(self.classes), vocabulary=np.array(vocabulary), idf=self.idf,
                 weights=self.weights, bias=self.bias, domain_words=np.array(sorted(self.known_words)),
                 intent_words=np.array(self.vocab.to_rows()))
        tmp.replace(path)  # a half-written cache file must never be read

    @classmethod
    def load(cls, path: Path) -> "IntentModel":
        with np.load(path, allow_pickle=False) as npz:
            return cls(npz["classes"].tolist(), npz["vocabulary"].tolist(), npz["idf"], npz["weights"], npz["bias"],
                       npz["domain_words"].tolist(), npz["intent_words"].tolist())
