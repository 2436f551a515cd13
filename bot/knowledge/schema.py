"""Pydantic models of the knowledge base: what a valid knowledge file may contain.

The schema is strict (unknown keys are errors) because a typo in a hand-edited YAML file should fail
loudly at load time, naming the file, line and field, rather than silently drop a fact.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EntityKind = Literal["film", "series", "person", "character", "company", "publication", "organisation"]
KNOWN_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError(f"{value!r} is not a valid id: use lowercase letters, digits and underscores")
    return value


class Source(Strict):
    """Who said a fact and where: rendered into answers as its attribution."""

    id: str
    attribution: str = Field(min_length=1, description='e.g. "according to Lionsgate chair Joe Drake"')
    publication: str | None = None
    said_by: str | None = None
    title: str | None = None
    url: str | None = None
    known: str = Field(description="when the claim was known: YYYY, YYYY-MM or YYYY-MM-DD")

    _check_id = field_validator("id")(_slug)

    @field_validator("known")
    @classmethod
    def _check_known(cls, value: str) -> str:
        if not KNOWN_DATE.match(value):
            raise ValueError(f"{value!r} is not a date like 2024, 2024-03 or 2024-03-29")
        return value


class Document(Strict):
    """A source text indexed for the search fallback."""

    id: str
    path: str
    title: str
    source: str


class Relation(Strict):
    """A kind of fact, with the entity kinds it may connect (``text`` means a free-text object)."""

    id: str
    label: str
    phrase: str = Field(default="{subject}, {label}: {object}{as_role}",
                        description="how a fact reads as a sentence; placeholders subject, object, as_role, label")
    subject: list[EntityKind]
    object: list[EntityKind] | Literal["text"]
    role: list[EntityKind] | None = None
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
        return Source._check_known(value)  # type: ignore[operator]


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
        entities = {e.id: e for e in self.entities}
        relations = {r.id: r for r in self.relations}
        sources = {s.id for s in self.sources}
        for label, ids in (("entity", [e.id for e in self.entities]), ("relation", list(relations)),
                           ("source", [s.id for s in self.sources])):
            dupes = {i for i in ids if ids.count(i) > 1}
            if dupes:
                raise ValueError(f"duplicate {label} id(s): {', '.join(sorted(dupes))}")
        if self.default_subject not in entities:
            raise ValueError(f"default_subject {self.default_subject!r} is not an entity")
        for source in self.sources:
            if source.said_by and source.said_by not in entities:
                raise ValueError(f"source {source.id!r}: said_by {source.said_by!r} is not an entity")
        for doc in self.documents:
            if doc.source not in sources:
                raise ValueError(f"document {doc.id!r}: unknown source {doc.source!r}")
        for index, fact in enumerate(self.facts):
            where = f"facts[{index}] ({fact.subject} {fact.relation})"
            relation = relations.get(fact.relation)
            if relation is None:
                raise ValueError(f"{where}: unknown relation {fact.relation!r}; known: {', '.join(sorted(relations))}")
            subject = entities.get(fact.subject)
            if subject is None:
                raise ValueError(f"{where}: unknown subject entity {fact.subject!r}")
            if subject.kind not in relation.subject:
                raise ValueError(f"{where}: a {subject.kind} cannot be the subject of {relation.id!r}")
            if not relation.literal:
                obj = entities.get(fact.object)
                if obj is None:
                    raise ValueError(f"{where}: unknown object entity {fact.object!r}")
                if obj.kind not in relation.object:
                    raise ValueError(f"{where}: a {obj.kind} cannot be the object of {relation.id!r}")
            if fact.role is not None:
                role = entities.get(fact.role)
                if relation.role is None:
                    raise ValueError(f"{where}: relation {relation.id!r} takes no role")
                if role is None or role.kind not in relation.role:
                    raise ValueError(f"{where}: role {fact.role!r} is not a known {'/'.join(relation.role)}")
            if fact.source not in sources:
                raise ValueError(f"{where}: unknown source {fact.source!r}")
        return self
