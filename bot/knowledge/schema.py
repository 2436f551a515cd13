"""Pydantic models of the knowledge base: what a valid knowledge file may contain.

The schema is strict (unknown keys are errors) because a typo in a hand-edited YAML file should fail
loudly at load time, naming the file, line and field, rather than silently drop a fact.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# a "term" is a word the sources coin or quote ("car-fu" in an article): who coined it, what it means
EntityKind = Literal["film", "series", "person", "character", "company", "publication", "organisation", "term"]
KNOWN_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ENTITY_KINDS: tuple[str, ...] = get_args(EntityKind)


def check_date(value: str) -> str:
    """A real date written YYYY, YYYY-MM or YYYY-MM-DD ("2023-13" and "2023-02-30" are refused, as
    `kb set --known` refuses them)."""
    if not KNOWN_DATE.match(value):
        raise ValueError(f"{value!r} is not a date like 2024, 2024-03 or 2024-03-29")
    try:
        dt.date.fromisoformat(value + "-01" * (2 - value.count("-")))
    except ValueError:
        raise ValueError(f"{value!r} is not a real date") from None
    return value


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError(f"{value!r} is not a valid id: use lowercase letters, digits and underscores")
    return value


class Source(Strict):
    """Who said a fact and where: rendered into answers as its attribution."""

    id: str
    attribution: str = Field(min_length=1, description='e.g. "according to the studio\'s chair"')
    publication: str | None = None
    said_by: str | None = None
    title: str | None = None
    url: str | None = None
    known: str = Field(description="when the claim was known: YYYY, YYYY-MM or YYYY-MM-DD")

    _check_id = field_validator("id")(_slug)

    @field_validator("known")
    @classmethod
    def _check_known(cls, value: str) -> str:
        return check_date(value)


class Document(Strict):
    """A source text indexed for the search fallback."""

    id: str
    path: str
    title: str
    source: str


class Relation(Strict):
    """A kind of fact, with the entity kinds it may connect (``text`` means a free-text object)."""

    id: str
    label: str = Field(description="a noun phrase, read as 'the LABEL of SUBJECT' ('director', 'cast')")
    phrase: str = Field(default="{subject}, {label}: {object}{as_role}",
                        description="how a fact reads as a sentence; placeholders subject, object, as_role, label")
    subject: list[EntityKind]
    object: list[EntityKind] | Literal["text"]
    role: list[EntityKind] | None = None
    dated: bool = Field(False, description="the object is a date or period (a release): answers and quiz "
                                           "questions read it against today (see dates.py)")
    phrases: dict[Literal["upcoming", "released", "was_due", "unknown"], str] = Field(
        default_factory=dict, description="for a dated relation, the phrase per tense; {when} is the date with "
                                          "its preposition ('in July 1985', 'on 6 June 2025')")
    descriptors: list[str] = Field(
        default_factory=list,
        description="phrases that stand for this relation's object in the film talked about: 'the lead', "
                    "'the protagonist' for main_character ('who plays the lead?')")

    _check_id = field_validator("id")(_slug)

    @property
    def literal(self) -> bool:
        return self.object == "text"


class Entity(Strict):
    id: str
    kind: EntityKind
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    pronoun: Literal["he", "she", "they", "it"] | None = None

    _check_id = field_validator("id")(_slug)

    @field_validator("aliases")
    @classmethod
    def _clean_aliases(cls, values: list[str]) -> list[str]:
        cleaned = [str(v).strip() for v in values]
        if any(not v for v in cleaned):
            raise ValueError("an alias cannot be empty")
        return cleaned


class Fact(Strict):
    """One claim: subject / relation / object, optionally with the character a person plays (role)."""

    subject: str
    relation: str
    object: str = Field(min_length=1)
    role: str | None = None
    source: str
    known: str
    quote: str | None = None
    note: str | None = None
    spoiler: bool = False

    @field_validator("object", "quote", "note", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        # YAML may hand us numbers for values such as a year; facts are text.
        return str(value) if isinstance(value, (int, float)) else value

    @field_validator("known")
    @classmethod
    def _check_known(cls, value: str) -> str:
        return check_date(value)


class KnowledgeFile(Strict):
    """The whole knowledge base as written in YAML, with cross-references checked."""

    version: int = 1
    title: str
    default_subject: str
    documents: list[Document] = Field(default_factory=list)
    sources: list[Source]
    relations: list[Relation]
    entities: list[Entity]
    facts: list[Fact]

    @model_validator(mode="after")
    def _check_references(self) -> "KnowledgeFile":
        problems = reference_problems(self)
        if problems:
            # one line per problem, each starting with the item it is about (yamlio turns it into a line)
            raise ValueError("\n".join(problems))
        return self


def _duplicates(label: str, section: str, ids: list[str]) -> list[str]:
    first: dict[str, int] = {}
    out = []
    for index, item_id in enumerate(ids):
        if item_id in first:
            out.append(f"{section}[{index}].id: duplicate {label} id {item_id!r} (first at {section}[{first[item_id]}])")
        else:
            first[item_id] = index
    return out


def reference_problems(kf: KnowledgeFile) -> list[str]:
    """Every broken cross-reference of the file, each as "section[index].field: what is wrong"."""
    entities = {e.id: e for e in kf.entities}
    relations = {r.id: r for r in kf.relations}
    sources = {s.id for s in kf.sources}
    out = [*_duplicates("entity", "entities", [e.id for e in kf.entities]),
           *_duplicates("relation", "relations", [r.id for r in kf.relations]),
           *_duplicates("source", "sources", [s.id for s in kf.sources])]
    if kf.default_subject not in entities:
        out.append(f"default_subject: {kf.default_subject!r} is not an entity")
    for index, source in enumerate(kf.sources):
        if source.said_by and source.said_by not in entities:
            out.append(f"sources[{index}].said_by: source {source.id!r}: {source.said_by!r} is not an entity")
    for index, doc in enumerate(kf.documents):
        if doc.source not in sources:
            out.append(f"documents[{index}].source: document {doc.id!r}: unknown source {doc.source!r}")
    for index, fact in enumerate(kf.facts):
        where = f"facts[{index}]"
        what = f"({fact.subject} {fact.relation})"
        relation = relations.get(fact.relation)
        if relation is None:
            out.append(f"{where}.relation: {what} unknown relation {fact.relation!r}; "
                       f"known: {', '.join(sorted(relations))}")
            continue
        subject = entities.get(fact.subject)
        if subject is None:
            out.append(f"{where}.subject: {what} unknown subject entity {fact.subject!r}")
        elif subject.kind not in relation.subject:
            out.append(f"{where}.subject: {what} a {subject.kind} cannot be the subject of {relation.id!r}")
        if not relation.literal:
            obj = entities.get(fact.object)
            if obj is None:
                out.append(f"{where}.object: {what} unknown object entity {fact.object!r}")
            elif obj.kind not in relation.object:
                out.append(f"{where}.object: {what} a {obj.kind} cannot be the object of {relation.id!r}")
        if fact.role is not None:
            role = entities.get(fact.role)
            if relation.role is None:
                out.append(f"{where}.role: {what} relation {relation.id!r} takes no role")
            elif role is None or role.kind not in relation.role:
                out.append(f"{where}.role: {what} role {fact.role!r} is not a known {'/'.join(relation.role)}")
        if fact.source not in sources:
            out.append(f"{where}.source: {what} unknown source {fact.source!r}")
    return out
