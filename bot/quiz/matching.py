"""Judging typed quiz answers: lenient about form, strict about substance.

Case, punctuation, accents, articles and small typos are forgiven ("de armas", "Len wisemen"), but a
typo is only forgiven when the answer is not closer to another name the question could be confused with:
"Charon" never passes for "Winston", however lenient the distance.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from rapidfuzz.distance import Levenshtein
from rapidfuzz.fuzz import ratio

ARTICLES = frozenset({"the", "a", "an"})
MAX_ANSWER_CHARS = 200  # longer than any answer: a 4,096-character paste is judged wrong, cheaply
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


class Verdict(str, Enum):
    CORRECT = "correct"
    CLOSE = "close"
    WRONG = "wrong"


def normalize(text: str) -> str:
    """Casefolded words without accents, punctuation or articles: 'The Café-Bar!' -> 'cafe bar'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = [w for w in _NON_WORD.sub(" ", plain).split() if w not in ARTICLES]
    return " ".join(words)


def allowed_typos(form: str) -> int:
    """How many edits a form of this length forgives: none for short words, where one edit is another word."""
    length = len(form.replace(" ", ""))
    return 0 if length < 5 else 1 if length < 9 else 2


@dataclass(frozen=True)
class AnswerKey:
    """The normalized forms that count as right, and those that must never count (other names)."""

    accepted: frozenset[str]
    rejected: frozenset[str]

    @classmethod
    def build(cls, accepted: Iterable[str], rejected: Iterable[str] = ()) -> "AnswerKey":
        good = frozenset(n for n in (normalize(a) for a in accepted) if n)
        bad = frozenset(n for n in (normalize(r) for r in rejected) if n) - good
        return cls(good, bad)

    def judge(self, text: str) -> Verdict:
        if len(text) > MAX_ANSWER_CHARS:
            return Verdict.WRONG
        answer = normalize(text)
        if not answer:
            return Verdict.WRONG
        if answer in self.accepted:
            return Verdict.CORRECT
        if answer in self.rejected:
            return Verdict.WRONG
        best = min((Levenshtein.distance(answer, form), form) for form in self.accepted)
        distance, form = best
        if distance <= allowed_typos(form) and not self._nearer_rejected(answer, distance):
            return Verdict.CORRECT
        if max(ratio(answer, f) for f in self.accepted) >= 70:
            return Verdict.CLOSE
        return Verdict.WRONG

    def _nearer_rejected(self, answer: str, distance: int) -> bool:
        return any(Levenshtein.distance(answer, r, score_cutoff=distance) <= distance for r in self.rejected)
