"""Pydantic models of the quiz file (knowledge/quiz.yml): strict, so a typo fails at load with its line."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Kind = Literal["choice", "truefalse", "free"]
Difficulty = Literal["easy", "medium", "hard"]
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactRef(Strict):
    """The fact a hand-written question rests on; fields left out match anything."""

    subject: str
    relation: str
    object: str | None = None
    role: str | None = None


class Generator(Strict):
    """Turns every fact of one relation into questions asking for one of its parts."""

    id: str
    relation: str
    ask: Literal["object", "subject", "role"]
    question: str
    statement: str | None = Field(None, description="a sentence for true/false questions")
    difficulty: Difficulty = "medium"
    kinds: list[Kind] = Field(default_factory=lambda: ["choice", "free", "truefalse"])
    needs_role: bool = False
    wrong: list[str] = Field(default_factory=list, description="wrong answers for text relations (a dated "
                             "relation without them gets the right date a year or two off)")
    tenses: dict[Literal["upcoming", "released", "was_due", "unknown"], str] = Field(
        default_factory=dict, description="for a dated relation, the question per tense of the fact against "
                                          "today ('When did {subject} come out?')")


class HandWritten(Strict):
    id: str
    kind: Kind
    difficulty: Difficulty = "medium"
    question: str = Field(min_length=1, max_length=300)
    answer: str = Field(min_length=1, description='an entity id, a text, or "true"/"false" for truefalse')
    accept: list[str] = Field(default_factory=list)
    wrong: list[str] = Field(default_factory=list)
    fact: FactRef
    explanation: str | None = None

    @field_validator("answer", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if isinstance(value, (int, float)) else value


class QuizFile(Strict):
    version: int = 1
    knowledge: str | None = Field(None, description="the knowledge file these questions are about")
    generators: list[Generator] = Field(default_factory=list)
    questions: list[HandWritten] = Field(default_factory=list)
    disabled: list[str] = Field(default_factory=list, description="ids of questions never asked (hw:..., gen:...)")

    @field_validator("questions")
    @classmethod
    def _unique_ids(cls, questions: list[HandWritten]) -> list[HandWritten]:
        ids = [q.id for q in questions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate question id(s): {', '.join(dupes)}")
        return questions
