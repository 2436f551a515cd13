"""The serving model: tf-idf weights and a linear layer in NumPy arrays.

Answering never imports scikit-learn (that import alone costs about a second and 40 MB); scikit-learn
trains the weights once (see ``train.py``) and this class replays the same arithmetic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import features
from .vocab import IntentVocabulary

FORMAT_VERSION = "9"


@dataclass(frozen=True)
class IntentScore:
    intent: str
    confidence: float


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

    def rank(self, toks: list[str], entity_kinds: list[str], named: dict[int, str] | None = None) -> list[IntentScore]:
        """Intents by probability, highest first."""
        idx: list[int] = []
        vals: list[float] = []
        for feat, count in features(toks, entity_kinds, named).items():
            i = self.index.get(feat)
            if i is not None:
                idx.append(i)
                vals.append(1.0 + math.log(count))
        logits = self.bias.copy()
        if idx:
            x = np.asarray(vals, dtype=np.float32) * self.idf[idx]
            x /= float(np.linalg.norm(x)) or 1.0
            logits += x @ self.weights[idx]
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = np.argsort(-probs).tolist()
        values = probs.tolist()  # plain floats at once: indexing a NumPy array per class is slower
        return [IntentScore(self.classes[i], values[i]) for i in order]

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
