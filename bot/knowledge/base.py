"""The loaded knowledge base: indexed look-ups over entities and facts.

Immutable once built: an admin edit builds a new KnowledgeBase and the Brain swaps it in whole, so a
message in flight always sees one consistent version.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import DataFileError
from ..yamlio import load_model
from .phrasing import fit_phrase
from .schema import Document, Entity, Fact, KnowledgeFile, Relation, Source


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
        self.entities: dict[str, Entity] = {e.id: e for e in data.entities}
        self.relations: dict[str, Relation] = {r.id: r for r in data.relations}
        self.sources: dict[str, Source] = {s.id: s for s in data.sources}
        self._by_subject: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        self._by_object: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        self._by_role: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        for fact in data.facts:
            self._by_subject[fact.subject, fact.relation].append(fact)
            self._by_object[fact.object, fact.relation].append(fact)
            if fact.role:
                self._by_role[fact.role, fact.relation].append(fact)

    @classmethod
    def load(cls, path: Path) -> "KnowledgeBase":
        data = load_model(KnowledgeFile, path)
        kb = cls(data, path.parent, path)
        kb.passages  # read documents now so a missing one fails at load, not mid-chat
        return kb

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

    def all_facts_of(self, entity_id: str) -> list[Fact]:
        """Every fact that mentions the entity, in file order."""
        return [f for f in self.data.facts if entity_id in (f.subject, f.object, f.role)]

    def attribution(self, fact: Fact) -> str:
        return self.sources[fact.source].attribution

    def sentence(self, fact: Fact) -> str:
        """A plain sentence for the fact, used by search and by the about/admin views."""
        relation = self.relations[fact.relation]
        phrase = fit_phrase(relation.phrase, fact.object) if relation.literal else relation.phrase
        text = phrase.format(subject=self.name(fact.subject), object=self.value(fact),
                                      as_role=self.as_role(fact), label=relation.label)
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
