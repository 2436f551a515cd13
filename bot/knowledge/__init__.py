"""The knowledge base: schema, loading and indexed look-ups."""
from .base import KnowledgeBase, Passage
from .schema import Entity, Fact, KnowledgeFile, Relation, Source

__all__ = ["Entity", "Fact", "KnowledgeBase", "KnowledgeFile", "Passage", "Relation", "Source"]
