"""Search fallback over fact sentences and source passages: SQLite FTS5 ranked by BM25.

A hit is used only when it covers most of the question's content words and every one of them that is
not generic: a passage about "James Bond played by Daniel Craig" does not answer who plays Bond *next*.
Otherwise the bot says it does not know. Coverage, not the raw BM25 score, is the threshold, because BM25 scores are not comparable
across queries of different lengths, while "how much of what you asked does this passage talk about" is.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from .knowledge import KnowledgeBase
from .nlu.text import FILLER, STOPWORDS, tokens

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
# Words too generic to count as evidence that a passage answers the question.
_GENERIC = frozenset("film films movie movies actor actress character characters story new first".split())


@dataclass(frozen=True)
class Hit:
    text: str
    source_id: str
    coverage: float
    score: float


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "er", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


class SearchIndex:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE VIRTUAL TABLE docs USING fts5(text, source UNINDEXED, "
                        "tokenize = 'porter unicode61 remove_diacritics 2')")
        rows: list[tuple[str, str]] = [(kb.sentence(f), f.source) for f in kb.facts]
        for passage in kb.passages:
            for sentence in _SENTENCE.split(passage.text):
                if len(sentence.split()) >= 4:
                    rows.append((sentence.strip(), passage.document.source))
        self.db.executemany("INSERT INTO docs(text, source) VALUES (?, ?)", rows)

    def search(self, text: str, min_coverage: float = 0.6, min_terms: int = 2) -> Hit | None:
        words = [w for w in dict.fromkeys(tokens(text)) if w not in STOPWORDS and len(w) > 1]
        if not words:
            return None
        # Every word that is not generic must be in a passage for it to count (see `missed` below), so
        # those are asked for together: at 100,000 facts, OR over a common word scored half the index.
        required = [w for w in words if w not in _GENERIC and w not in FILLER]
        query = " AND ".join(f'"{w}"' for w in required) if required else " OR ".join(f'"{w}"' for w in words)
        try:
            rows = self.db.execute("SELECT text, source, bm25(docs) FROM docs WHERE docs MATCH ? "
                                   "ORDER BY bm25(docs) LIMIT 8", (query,)).fetchall()
        except sqlite3.OperationalError:
            return None
        best: Hit | None = None
        for row_text, source, score in rows:
            stems = {_stem(t) for t in tokens(row_text)}
            matched = [w for w in words if _stem(w) in stems]
            evidence = [w for w in matched if w not in _GENERIC]
            missed = [w for w in words if w not in matched and w not in _GENERIC and w not in FILLER]
            coverage = len(matched) / len(words)
            if coverage < min_coverage or len(evidence) < min_terms or missed:
                continue
            hit = Hit(row_text, source, coverage, float(score))
            if best is None or (hit.coverage, -hit.score) > (best.coverage, -best.score):
                best = hit
        return best
