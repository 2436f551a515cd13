"""The question bank: hand-written questions plus questions generated from the knowledge base's facts.

Built from one KnowledgeBase version, so it is never stale: an admin edit builds a new knowledge base,
and with it a new bank in which a changed fact's old questions are gone (hand-written ones that rested on
it are dropped; generated ones are regenerated from the new fact, under a new id).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import random
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..knowledge.base import KnowledgeBase
from ..knowledge.dates import shifted, when_of
from ..knowledge.schema import Fact
from ..yamlio import load_with_node
from .matching import AnswerKey
from .schema import DIFFICULTIES, Difficulty, FactRef, Generator, HandWritten, Kind, QuizFile

MAX_WRONG = 3
TRUE, FALSE = "True", "False"


@dataclass(frozen=True)
class Question:
    id: str
    topic: str          # questions on one topic (one fact) are never both asked in a game
    kind: Kind
    difficulty: Difficulty
    text: str
    answer: str         # as shown in the reveal
    accepted: tuple[str, ...]
    wrong: tuple[str, ...]
    rejected: tuple[str, ...] = ()
    source: str = ""    # "according to Collider"
    known: str = ""
    explanation: str = ""
    key: AnswerKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", AnswerKey.build(self.accepted, self.rejected))

    @property
    def sourced_explanation(self) -> str:
        """The reveal's last line: the fact and who said it, e.g. 'Len Wiseman directs it, according to X'."""
        base = self.explanation or self.answer
        return f"{base} ({self.source}, as of {self.known})" if self.source else base

    def as_choice(self) -> bool:
        """Can this question be asked with options (as a quiz poll)?"""
        return self.kind == "truefalse" or bool(self.wrong)


@dataclass(frozen=True)
class QuestionBank:
    questions: tuple[Question, ...]

    def by_id(self, question_id: str) -> Question | None:
        return self._index.get(question_id)

    @property
    def _index(self) -> dict[str, Question]:
        index = self.__dict__.get("_index_cache")
        if index is None:
            index = {q.id: q for q in self.questions}
            object.__setattr__(self, "_index_cache", index)
        return index

    def topic_count(self, *, need_choice: bool) -> int:
        """How many questions a game can ask at most (one per topic)."""
        key = f"_topics_{need_choice}"
        count = self.__dict__.get(key)
        if count is None:
            count = len({q.topic for q in self.questions if q.as_choice() or not need_choice})
            object.__setattr__(self, key, count)
        return count

    def pick(self, count: int, difficulty: str, rng: random.Random, *, need_choice: bool,
             exclude_topics: set[str] | frozenset[str] = frozenset()) -> list[Question]:
        """``count`` questions on topics not yet asked, of the wanted difficulty when there are enough
        ("mixed": any, then sorted easy to hard), topped up from the other levels if a level runs short."""
        wanted, others = self._pools(difficulty, need_choice)
        chosen: list[Question] = []
        topics = set(exclude_topics)
        for pool in (wanted, others):
            for index in rng.sample(range(len(pool)), len(pool)) if len(pool) <= 4 * count else _draws(pool, rng):
                if len(chosen) == count:
                    break
                question = pool[index]
                if question.topic not in topics:
                    chosen.append(question)
                    topics.add(question.topic)
        if difficulty == "mixed":
            chosen.sort(key=lambda q: DIFFICULTIES.index(q.difficulty))
        return chosen

    def _pools(self, difficulty: str, need_choice: bool) -> tuple[list[Question], list[Question]]:
        cache: dict[tuple[str, bool], tuple[list[Question], list[Question]]] = self.__dict__.setdefault("_pool_cache", {})
        key = (difficulty, need_choice)
        if key not in cache:
            usable = [q for q in self.questions if q.as_choice() or not need_choice]
            cache[key] = ([q for q in usable if difficulty in ("mixed", q.difficulty)],
                          [q for q in usable if difficulty not in ("mixed", q.difficulty)])
        return cache[key]


def _draws(pool: list[Question], rng: random.Random) -> Iterator[int]:
    """Random indexes into a big pool: a few cheap draws first (usually enough), then every index once."""
    for _ in range(16):
        yield rng.randrange(len(pool))
    yield from rng.sample(range(len(pool)), len(pool))


def load_quiz(path: Path) -> tuple[QuizFile, Any]:
    """The quiz file and its node tree (for lines in problems); no file is an empty quiz."""
    return load_with_node(QuizFile, path) if Path(path).exists() else (QuizFile(), None)


def load_quiz_file(path: Path) -> QuizFile:
    return load_quiz(path)[0]


def written_for(quiz: QuizFile, quiz_path: Path | None, kb: KnowledgeBase) -> bool:
    """Are the hand-written questions for this knowledge? Their ``knowledge:`` key names the file they
    were written for (its name: a copied folder is still the same film); without one, for any."""
    if not quiz.knowledge or kb.path is None:
        return True
    return Path(quiz.knowledge).name == Path(kb.path).name


def find_fact(kb: KnowledgeBase, ref: FactRef) -> Fact | None:
    """The fact a hand-written question rests on, or None (changed or removed: the question is stale)."""
    for fact in kb.facts_about(ref.subject, ref.relation):
        if (ref.object is None or fact.object == ref.object) and (ref.role is None or fact.role == ref.role):
            return fact
    return None


_BANKS: "weakref.WeakKeyDictionary[KnowledgeBase, tuple[dt.date, QuestionBank]]" = weakref.WeakKeyDictionary()


def bank_for(kb: KnowledgeBase, quiz_path: Path, today: dt.date | None = None) -> QuestionBank:
    """The bank for this knowledge version and day, built once (kb objects are immutable; edits make new
    ones; a release date passing turns "when is it due?" into "when did it come out?" the next day)."""
    today = today or dt.date.today()
    cached = _BANKS.get(kb)
    if cached is None or cached[0] != today:
        cached = today, build_bank(kb, load_quiz_file(quiz_path), quiz_path, today)
        _BANKS[kb] = cached
    return cached[1]


def build_bank(kb: KnowledgeBase, quiz: QuizFile, quiz_path: Path | None = None,
               today: dt.date | None = None) -> QuestionBank:
    """Questions from ``quiz`` over ``kb``. What is left out (a question whose fact changed, questions
    written for another knowledge file, a generator over an unknown relation) is reported by
    bot/validation.py, at start-up and by `python -m bot check`, not here on every rebuild."""
    builder = _Builder(kb, today or dt.date.today())
    questions: list[Question] = []
    if written_for(quiz, quiz_path, kb):
        for written in quiz.questions:
            question = builder.hand_written(written)
            if question:
                questions.append(question)
    for generator in quiz.generators:
        if generator.relation in kb.relations:
            questions.extend(builder.generated(generator))
    disabled = set(quiz.disabled)  # switched off by an admin; the rest of the bank is unchanged
    return QuestionBank(tuple(q for q in questions if q.id not in disabled))


def _digest(*parts: str | None) -> str:
    return hashlib.sha1("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:8]


class _Builder:
    def __init__(self, kb: KnowledgeBase, today: dt.date) -> None:
        self.kb = kb
        self.today = today
        self._by_kind: dict[str, list[str]] = {}
        for entity in kb.entities.values():
            self._by_kind.setdefault(entity.kind, []).append(entity.id)

    # names and answer forms
    def display(self, value: str) -> str:
        return self.kb.name(value) if value in self.kb.entities else value

    def forms(self, value: str) -> list[str]:
        """Everything a player may type for this answer: the name, its aliases, a person's surname."""
        entity = self.kb.entities.get(value)
        if not entity:
            return [value]
        forms = [entity.name, *entity.aliases]
        words = entity.name.split()
        if entity.kind == "person" and len(words) > 1:
            forms.append(" ".join(words[1:]))  # "de Armas", "Wiseman"
        return forms

    def same_kind(self, value: str) -> list[str]:
        entity = self.kb.entities.get(value)
        if not entity:
            return []
        return [i for i in self._by_kind[entity.kind] if i != value]

    def rejected(self, correct: set[str]) -> list[str]:
        out: list[str] = []
        for value in sorted(correct):
            for other in self.same_kind(value):
                if other not in correct:
                    out.extend(self.forms(other))
        return out

    def distractors(self, correct: set[str], relation: str, position: str, seed: str) -> list[str]:
        """Wrong options of the same kind, preferring those that fill the same slot elsewhere (other directors).

        The same in every process: a set's order changes with the process's hash seed, and two workers of one
        bot whose banks differ judge each other's questions wrong (a question one worker asked, another could
        not find: its right votes scored nothing). The kind is the first entity's among the right answers
        (a film may be right beside a title the knowledge has no entity for)."""
        values = sorted(correct)
        first = next((v for v in values if v in self.kb.entities), values[0])
        candidates = [c for c in self.same_kind(first) if c not in correct]
        slot = {getattr(f, position) for f in self.kb.facts_of_relation(relation)}
        rng = random.Random(seed)
        rng.shuffle(candidates)
        candidates.sort(key=lambda c: c not in slot)
        return candidates[:MAX_WRONG]

    def source_of(self, fact: Fact) -> tuple[str, str]:
        return self.kb.attribution(fact), fact.known

    # hand-written
    def find_fact(self, ref: FactRef) -> Fact | None:
        return find_fact(self.kb, ref)

    def hand_written(self, q: HandWritten) -> Question | None:
        fact = self.find_fact(q.fact)
        if fact is None:
            return None  # its fact was changed or removed: the question would be stale
        source, known = self.source_of(fact)
        # a question on a whole text fact (a plot) shares no topic: several can ask about its details
        topic = _topic(fact) if q.fact.object is not None else f"hw:{q.id}"
        if q.kind == "truefalse":
            truth = q.answer.strip().lower() in ("true", "yes")
            return Question(id=f"hw:{q.id}", topic=topic, kind="truefalse", difficulty=q.difficulty,
                            text=q.question, answer=TRUE if truth else FALSE, accepted=(), wrong=(),
                            source=source, known=known,
                            explanation=q.explanation or self.kb.sentence(fact, self.today))
        wrong = [self.display(w) for w in q.wrong]
        if q.kind == "choice" and not wrong:
            wrong = [self.display(w) for w in self.distractors({q.answer}, fact.relation, "object", q.id)]
        accepted = [*self.forms(q.answer), *q.accept]
        return Question(id=f"hw:{q.id}", topic=topic, kind=q.kind, difficulty=q.difficulty,
                        text=q.question, answer=self.display(q.answer), accepted=tuple(accepted),
                        wrong=tuple(wrong), rejected=tuple(self.rejected({q.answer}) + list(q.wrong)),
                        source=source, known=known, explanation=q.explanation or self.kb.sentence(fact, self.today))

    # generated
    def generated(self, gen: Generator) -> list[Question]:
        out: list[Question] = []
        relation = self.kb.relations[gen.relation]
        for fact in self.kb.facts_of_relation(gen.relation):
            if (gen.needs_role or gen.ask == "role") and not fact.role:
                continue
            if gen.ask != "object" and relation.literal:
                continue
            out.extend(self._from_fact(gen, fact))
        return out

    def _correct_values(self, gen: Generator, fact: Fact) -> set[str]:
        if gen.ask == "object":
            facts = self.kb.facts_about(fact.subject, gen.relation)
            if gen.needs_role:
                facts = [f for f in facts if f.role == fact.role]
            return {f.object for f in facts}
        if gen.ask == "subject":
            return {f.subject for f in self.kb.facts_with_object(fact.object, gen.relation)}
        return {f.role for f in self.kb.facts_about(fact.subject, gen.relation)
                if f.object == fact.object and f.role}

    def _from_fact(self, gen: Generator, fact: Fact) -> list[Question]:
        asked = getattr(fact, gen.ask)
        assert asked is not None
        correct = self._correct_values(gen, fact)
        relation = self.kb.relations[gen.relation]
        literal = relation.literal and gen.ask == "object"
        names = {"subject": self.kb.name(fact.subject), "object": self.kb.value(fact),
                 "role": self.kb.name(fact.role) if fact.role else ""}
        source, known = self.source_of(fact)
        fields = {**names, "according_to": source}
        topic = _topic(fact)
        qid = f"gen:{gen.id}:{_digest(fact.subject, fact.relation, fact.object, fact.role, fact.source)}"
        position = gen.ask
        template = gen.question
        if relation.dated and gen.ask == "object":
            tense, _ = when_of(fact.object, fact.known, self.today)
            template = gen.tenses.get(tense, template)
        if literal:
            options = gen.wrong or (_other_dates(fact.object, qid) if relation.dated else [])
            wrong = [w for w in options if w.casefold() != fact.object.casefold()][:MAX_WRONG]
            rejected: list[str] = list(options)
        else:
            wrong = self.distractors(correct, gen.relation, position, qid)
            rejected = self.rejected(correct)
        accepted = [form for value in sorted(correct) for form in self.forms(value)] if not literal else [fact.object]
        explanation = self.kb.sentence(fact, self.today)
        common = dict(topic=topic, difficulty=gen.difficulty, source=source, known=known, explanation=explanation)
        out: list[Question] = []
        question_text = _capital(template.format(**fields))
        if "choice" in gen.kinds and wrong:
            out.append(Question(id=qid + ":c", kind="choice", text=question_text, answer=self.display(asked),
                                accepted=tuple(accepted), wrong=tuple(self.display(w) for w in wrong),
                                rejected=tuple(rejected), **common))
        if "free" in gen.kinds and not literal:
            out.append(Question(id=qid + ":f", kind="free", text=question_text, answer=self.display(asked),
                                accepted=tuple(accepted), wrong=tuple(self.display(w) for w in wrong),
                                rejected=tuple(rejected), **common))
        if "truefalse" in gen.kinds and gen.statement:
            out.append(Question(id=qid + ":t", kind="truefalse", text=_capital(gen.statement.format(**fields)),
                                answer=TRUE, accepted=(), wrong=(), **common))
            if wrong:
                false_fields = {**fields, gen.ask: self.display(wrong[0])}
                out.append(Question(id=qid + ":x", kind="truefalse",
                                    text=_capital(gen.statement.format(**false_fields)),
                                    answer=FALSE, accepted=(), wrong=(), **common))
        return out


def _other_dates(text: str, seed: str) -> list[str]:
    """Wrong options for a date: the same date a year or two off, in random order ("spring or summer 2022")."""
    shifts = [-2, -1, 1, 2]
    random.Random(seed).shuffle(shifts)
    return [moved for by in shifts if (moved := shifted(text, by)) != text][:MAX_WRONG]


def _topic(fact: Fact) -> str:
    """One fact, one topic: a game never asks about the same fact twice, however the question is put."""
    return f"{fact.relation}:{fact.subject}:{_digest(fact.object)}:{fact.role or ''}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
