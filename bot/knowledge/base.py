"""The loaded knowledge base: indexed look-ups over entities and facts.

Immutable once built: an admin edit builds a new KnowledgeBase and the Brain swaps it in whole, so a
message in flight always sees one consistent version.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import DataFileError
from ..yamlio import load_model
from .dates import when_of
from .phrasing import fit_phrase
from .schema import ENTITY_KINDS, Document, Entity, Fact, KnowledgeFile, Relation, Source


@dataclass(frozen=True)
class Passage:
    """A piece of a source document, for the search fallback."""

    document: Document
    text: str


class KnowledgeBase:
    def __init__(self, data: KnowledgeFile, root: Path, path: Path | None = None) -> None:
        self.data = data
        self.root = root
        self.path = path
        self.undefined: frozenset[str] = frozenset()  # relations added by covering(), not in the file
        self.entities: dict[str, Entity] = {e.id: e for e in data.entities}
        self.relations: dict[str, Relation] = {r.id: r for r in data.relations}
        self.sources: dict[str, Source] = {s.id: s for s in data.sources}
        self._by_subject: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        self._by_object: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        self._by_role: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        # Built once here, so that no look-up scans every fact (at 5,000 facts, building the gazetteer
        # alone made 1,200 such scans).
        self._by_relation: dict[str, list[Fact]] = defaultdict(list)
        self._by_entity: dict[str, list[Fact]] = defaultdict(list)
        for fact in data.facts:
            self._by_subject[fact.subject, fact.relation].append(fact)
            self._by_object[fact.object, fact.relation].append(fact)
            self._by_relation[fact.relation].append(fact)
            for entity_id in dict.fromkeys((fact.subject, fact.object, fact.role)):
                if entity_id:
                    self._by_entity[entity_id].append(fact)
            if fact.role:
                self._by_role[fact.role, fact.relation].append(fact)

    @classmethod
    def load(cls, path: Path, cache_dir: Path | None = None) -> "KnowledgeBase":
        """``cache_dir``: keep the parsed file there, so an unchanged file is not parsed again (yamlio)."""
        data = load_model(KnowledgeFile, path, cache_dir)
        kb = cls(data, path.parent, path)
        kb.passages  # read documents now so a missing one fails at load, not mid-chat
        return kb

    def covering(self, relation_ids: "Iterable[str]") -> "KnowledgeBase":
        """This knowledge, with every relation in ``relation_ids`` defined: one it lacks (a route of
        copied intents reads ``works_for``, this film's file never mentions it) is added with no facts,
        so its questions are answered "I don't know" rather than crash. `python -m bot check` warns."""
        missing = [r for r in dict.fromkeys(relation_ids) if r not in self.relations]
        if not missing:
            return self
        extra = [Relation(id=r, label=r.replace("_", " "), subject=list(ENTITY_KINDS), object="text") for r in missing]
        kb = KnowledgeBase(self.data.model_copy(update={"relations": [*self.data.relations, *extra]}),
                           self.root, self.path)
        kb.__dict__["passages"] = self.passages  # already read
        kb.undefined = frozenset(missing)
        return kb

    @cached_property
    def kinds(self) -> list[str]:
        """The entity kinds in use, sorted (asked per message: not worth a scan of every entity)."""
        return sorted({e.kind for e in self.entities.values()})

    @property
    def title(self) -> str:
        return self.data.title

    @property
    def default_subject(self) -> Entity:
        return self.entities[self.data.default_subject]

    @property
    def facts(self) -> list[Fact]:
        return self.data.facts

    def name(self, entity_id: str) -> str:
        entity = self.entities.get(entity_id)
        return entity.name if entity else entity_id

    def value(self, fact: Fact) -> str:
        """The fact's object as text: an entity's name, or the literal."""
        return fact.object if self.relations[fact.relation].literal else self.name(fact.object)

    def facts_about(self, subject: str, relation: str) -> list[Fact]:
        return list(self._by_subject.get((subject, relation), ()))

    def facts_with_object(self, obj: str, relation: str) -> list[Fact]:
        return list(self._by_object.get((obj, relation), ()))

    def facts_with_role(self, role: str, relation: str) -> list[Fact]:
        return list(self._by_role.get((role, relation), ()))

    def facts_of_relation(self, relation: str) -> list[Fact]:
        """Every fact of one relation, in file order."""
        return list(self._by_relation.get(relation, ()))

    def appearance_through_role(self, who: str, relation: str, work: str) -> tuple[str, Fact] | None:
        """(the role, the fact) that puts someone in a work through a character they play elsewhere: the
        knowledge casts Angelica Huston as the Director in Ballerina only, but says the Director appeared
        in Parabellum. The work may be a series (its films count: facts of a film whose object is the
        series). The appearance relations are found by their shape (a role kind's entity appearing in a
        film), so another film's files need no names here. None when nothing says so."""
        rel = self.relations.get(relation)
        role_kinds = set(rel.role or []) if rel is not None else set()
        entity = self.entities.get(who)
        if not role_kinds or entity is None:
            return None
        roles = [who] if entity.kind in role_kinds else list(dict.fromkeys(
            f.role for f in self.facts_with_object(who, relation) if f.role))
        film_kind = self.default_subject.kind
        works = {work} | {f.subject for f in self.all_facts_of(work)
                          if f.object == work and f.subject in self.entities and self.entities[f.subject].kind == film_kind}
        appearing = [r.id for r in self.relations.values() if not r.literal and set(r.subject) <= role_kinds
                     and film_kind in r.object]
        for role in roles:
            for name in appearing:
                for fact in self.facts_about(role, name):
                    if fact.object in works:
                        return role, fact
        return None

    def all_facts_of(self, entity_id: str) -> list[Fact]:
        """Every fact that mentions the entity, in file order."""
        return list(self._by_entity.get(entity_id, ()))

    def attribution(self, fact: Fact) -> str:
        return self.sources[fact.source].attribution

    def sentence(self, fact: Fact, today: dt.date | None = None) -> str:
        """A plain sentence for the fact, used by search and by the about/admin views. Given ``today``, a
        dated fact reads in its tense ("came out in 1985", "is due for release in 2027")."""
        relation = self.relations[fact.relation]
        phrase = fit_phrase(relation.phrase, fact.object) if relation.literal else relation.phrase
        when = self.value(fact)
        if relation.dated and today is not None:
            # its tense against today; {when} carries the preposition that fits ("on 6 June 2025")
            tense, when = when_of(fact.object, fact.known, today)
            phrase = relation.phrases.get(tense, phrase)
        text = phrase.format(subject=self.name(fact.subject), object=self.value(fact),
                             as_role=self.as_role(fact), label=relation.label, when=when)
        return text[:1].upper() + text[1:]

    def as_role(self, fact: Fact) -> str:
        return f" as {self.name(fact.role)}" if fact.role else ""

    @cached_property
    def passages(self) -> list[Passage]:
        """Paragraphs of the source documents (headings kept with the paragraph after them)."""
        out: list[Passage] = []
        for doc in self.data.documents:
            path = self.root / doc.path
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise DataFileError(str(path), f"document {doc.id!r} cannot be read: {exc.strerror}") from exc
            heading = ""
            for block in (b.strip() for b in text.split("\n")):
                if not block:
                    continue
                if block.endswith("?") and len(block) < 80:
                    heading = block
                    continue
                out.append(Passage(doc, f"{heading} {block}".strip() if heading else block))
                heading = ""
        return out
