"""The question map (intents/questions.yml): which relation a question asks about, from its words.

The intent classifier always picks one of its intents, so "who penned it?" came out as the nearest one
(the main character) and got that fact. The map names the relations people ask about films, with or
without facts in the knowledge, and the words that ask for each; a question cueing a relation no intent
reads is answered as that relation: its facts, or an honest "the article doesn't say who wrote it".
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..nlu.text import tokens
from ..yamlio import load_model

GAP = "..."
MAX_GAP = 4  # words allowed between the two sides of "where ... from"


class Question(BaseModel):
    """One relation people ask about, and how they ask."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    relation: str
    about: list[str]
    cues: list[str] = Field(default_factory=list)
    asks: str = Field(default="the {subject} answer", description='indirect question: "who wrote {subject}"')
    object: list[str] = Field(default_factory=list, description="the entity kinds its answer names, for a "
                              "relation the knowledge may not define: \"did X write it?\" names X, the other side of "
                              "a writing fact, not someone the question is about")
    near: list[str] = Field(default_factory=list)
    told: list[str] = Field(default_factory=list, description="relations whose facts bear on what the question "
                            "takes as given (\"who killed her family?\": her backstory): when it has no facts, "
                            "theirs are stated beside the \"doesn't say\", not only offered")
    grounds: list[str] = Field(default_factory=list, description="told relations that are the question's very "
                               "ground (\"how did he die?\": that he died): unknown, that is said first")
    quoted: bool = Field(default=False, description="answered by the facts whose source quotes the subject "
                         "(what someone said), whatever their relation")
    roles: list[str] = Field(default_factory=list, description="relations whose facts name the subject as "
                             "their role also answer it: a character appears in the films it is cast in")
    sourced: bool = Field(default=False, description="its words ask where another relation's facts come "
                          "from (\"which outlet reported the story?\"): the other relation cued answers, its "
                          "facts naming their source")


class QuestionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    questions: list[Question]


@dataclass(frozen=True)
class Cue:
    """A cue as token pieces: ("where",), ("from",) for "where ... from"."""

    pieces: tuple[tuple[str, ...], ...]

    @functools.cached_property
    def length(self) -> int:
        return sum(len(p) for p in self.pieces)

    @functools.cached_property
    def words(self) -> frozenset[str]:
        """Every word of the cue: a message lacking one cannot hold it, which a set says at once (most
        of the cues tried on a message are not in it)."""
        return frozenset(w for p in self.pieces for w in p)

    def found(self, toks: list[str], skip: frozenset[int]) -> bool:
        start = 0
        for n, piece in enumerate(self.pieces):
            limit = len(toks) if n == 0 else min(len(toks), start + MAX_GAP + len(piece))
            at = _find(toks, piece, start, limit, skip)
            if at < 0:
                return False
            start = at + len(piece)
        return True

    def where(self, toks: list[str], skip: frozenset[int]) -> frozenset[int] | None:
        """The token indices the cue's pieces take, or None when it is not there."""
        start, taken = 0, set()
        for n, piece in enumerate(self.pieces):
            limit = len(toks) if n == 0 else min(len(toks), start + MAX_GAP + len(piece))
            at = _find(toks, piece, start, limit, skip)
            if at < 0:
                return None
            taken.update(range(at, at + len(piece)))
            start = at + len(piece)
        return frozenset(taken)


def _find(toks: list[str], piece: tuple[str, ...], start: int, limit: int, skip: frozenset[int]) -> int:
    """Where ``piece`` first stands in ``toks[start:limit]`` outside ``skip``, or -1. Its first word is
    looked for by ``index`` (in C), the rest compared only where it stands: a cue is tried on every
    message whose words include its first, and most of its tries fail."""
    first, size = piece[0], len(piece)
    last = limit - size  # the last position the whole piece fits at
    i = start
    while i <= last:
        try:
            i = toks.index(first, i, last + 1)
        except ValueError:
            return -1
        if size == 1:  # most pieces are one word
            if i not in skip:
                return i
        elif all(toks[i + k] == piece[k] for k in range(1, size)) and skip.isdisjoint(range(i, i + size)):
            return i
        i += 1
    return -1


@dataclass(frozen=True)
class Asked:
    """A relation a message's words ask about, and how strongly (the longest cue found)."""

    question: Question
    strength: int


class QuestionMap:
    def __init__(self, data: QuestionsFile) -> None:
        self.questions = tuple(data.questions)
        self._cues = [(q, [Cue(tuple(tuple(tokens(p)) for p in c.split(GAP) if tokens(p))) for c in q.cues])
                      for q in self.questions]
        self.by_relation = {q.relation: q for q in self.questions}
        # words that ask something: known to the bot even when no training example uses them
        self.words = frozenset(w for _, cues in self._cues for c in cues for p in c.pieces for w in p)
        # the cues' phrases of several words ("revolves around"): together, they are never a name
        self.phrases = frozenset(p for _, cues in self._cues for c in cues for p in c.pieces if len(p) > 1)
        # each relation's cues, for span(): several questions may read one relation
        self._cues_of: dict[str, list[Cue]] = {}
        for question, cues in self._cues:
            self._cues_of.setdefault(question.relation, []).extend(cues)
        # cues by their first word: a message only tries the cues that can start at one of its words
        self._by_first: dict[str, list[tuple[int, Cue]]] = {}
        for index, (_, cues) in enumerate(self._cues):
            for cue in cues:
                if cue.pieces:
                    self._by_first.setdefault(cue.pieces[0][0], []).append((index, cue))

    @classmethod
    def load(cls, path: Path) -> "QuestionMap":
        if not path.exists():  # an older film folder without a map still answers, as before
            return cls(QuestionsFile(questions=[]))
        return cls(load_model(QuestionsFile, path))

    def asked(self, toks: list[str], skip: frozenset[int] = frozenset()) -> list[Asked]:
        """Relations the words cue, strongest first; words inside names (``skip``) do not count:
        "Die Hard" asks nothing about dying."""
        return list(self._asked(tuple(toks), skip))

    def span(self, toks: list[str], relation: str, skip: frozenset[int] = frozenset()) -> frozenset[int]:
        """The tokens of the longest cue of ``relation`` in the words (empty: not cued)."""
        best: frozenset[int] = frozenset()
        present = set(toks)
        for cue in self._cues_of.get(relation, ()):
            if not cue.words <= present:
                continue
            at = cue.where(toks, skip)
            if at is not None and len(at) > len(best):
                best = at
        return best

    @functools.lru_cache(maxsize=4096)
    def _asked(self, toks: tuple[str, ...], skip: frozenset[int]) -> tuple[Asked, ...]:
        best: dict[int, int] = {}  # question index -> strongest cue found
        words, present = list(toks), set(toks)
        for tok in present:
            for index, cue in self._by_first.get(tok, ()):
                if cue.length > best.get(index, 0) and cue.words <= present and cue.found(words, skip):
                    best[index] = cue.length
        found = [Asked(self.questions[i], n) for i, n in sorted(best.items())]
        return tuple(sorted(found, key=lambda a: -a.strength))
