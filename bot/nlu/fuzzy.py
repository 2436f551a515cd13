"""Fuzzy look-ups of one phrase among fixed strings (rapidfuzz's ``fuzz.ratio`` at a cutoff), by length.

    names = Choices(["keanu reeves", "ian mcshane"], cutoff=80.0)
    names.best("keanu reevs")  # -> ("keanu reeves", 95.6...)

``fuzz.ratio`` is at most ``200 * min(a, b) / (a + b)`` for strings of ``a`` and ``b`` characters, so a
choice whose length is too far from the phrase's cannot reach the cutoff. Only the choices that can are
handed to ``process.extractOne``, in their order, so its answer is the one the whole list gives (the best
score, the first of equals): rapidfuzz prepares every choice it is given on each call, which was most of
the time of a look-up, and a long message asks dozens.
"""
from __future__ import annotations

from rapidfuzz import fuzz, process

MARGIN = 1.0  # points under the cutoff still handed over: the bound is exact, this is for rounding


class Choices:
    def __init__(self, choices: list[str], cutoff: float) -> None:
        self.choices = list(choices)
        self.cutoff = cutoff
        self._by_length: dict[int, list[str]] = {}  # a phrase's length -> the choices it may match
        self._positions: dict[int, list[int]] = {}  # a choice's length -> where choices that long stand
        for at, choice in enumerate(self.choices):
            self._positions.setdefault(len(choice), []).append(at)

    def best(self, phrase: str) -> tuple[str, float] | None:
        """The choice ``process.extractOne(phrase, choices, scorer=fuzz.ratio, score_cutoff=cutoff)``
        picks, with its score; None when none reaches the cutoff."""
        size = len(phrase)
        within = self._by_length.get(size)
        if within is None:
            floor = self.cutoff - MARGIN
            at = sorted(i for n, where in self._positions.items()
                        if 200.0 * min(size, n) >= floor * (size + n) for i in where)
            within = [self.choices[i] for i in at]  # in the choices' order
            self._by_length[size] = within  # one list per length: a few hundred at most
        if not within:
            return None
        match = process.extractOne(phrase, within, scorer=fuzz.ratio, score_cutoff=self.cutoff)
        return (match[0], match[1]) if match is not None else None
