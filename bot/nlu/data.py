"""Training data in Rasa's YAML format (``version: "3.1"``, ``nlu:`` items with intents, synonyms and
lookup tables), read without Rasa. Entity markup ``[Ana de Armas](person)`` is reduced to its text.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import DataFileError
from ..yamlio import read_yaml, validate

_ENTITY_MARKUP = re.compile(r"\[([^\]]+)\]\((?:[^)]*)\)|\[([^\]]+)\]\{[^}]*\}")


class NluItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    intent: str | None = None
    synonym: str | None = None
    lookup: str | None = None
    regex: str | None = None
    examples: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> "NluItem":
        if sum(x is not None for x in (self.intent, self.synonym, self.lookup, self.regex)) != 1:
            raise ValueError("each nlu item needs exactly one of intent, synonym, lookup or regex")
        return self


class NluFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str = "3.1"
    nlu: list[NluItem] = Field(default_factory=list)


def strip_markup(example: str) -> str:
    return _ENTITY_MARKUP.sub(lambda m: m.group(1) or m.group(2), example).strip()


def marked_names(example: str) -> list[str]:
    """The entity values an example marks up ("who plays [winstn](character)" -> ["winstn"])."""
    return [m.group(1) or m.group(2) for m in _ENTITY_MARKUP.finditer(example)]


def parse_examples(block: str) -> list[str]:
    lines = [line.strip() for line in block.splitlines()]
    return [line[1:].strip() for line in lines if line.startswith("-") and line[1:].strip()]


@dataclass
class TrainingData:
    examples: list[tuple[str, str]] = field(default_factory=list)  # (text without markup, intent)
    raw: dict[str, list[str]] = field(default_factory=dict)  # intent -> examples as written (for export)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    digest: str = ""

    @property
    def intents(self) -> list[str]:
        return sorted(self.raw)


def nlu_files(intents_dir: Path) -> list[Path]:
    return sorted(p for p in intents_dir.rglob("*.yml") if _is_nlu(p))


def _is_nlu(path: Path) -> bool:
    head = path.read_text(encoding="utf-8", errors="replace")[:4000]
    # an empty file in the intents folder is a half-written NLU file, not something else to skip
    return not head.strip() or re.search(r"^nlu:", head, re.M) is not None


def training_digest(intents_dir: Path) -> str:
    """The digest of :func:`load_training_data` without parsing the files: a start that finds the model
    trained on these bytes in the cache needs nothing else from them."""
    files = nlu_files(intents_dir)
    if not files:
        raise DataFileError(str(intents_dir), "no NLU training files (YAML with an 'nlu:' key) found")
    sha = hashlib.sha256()
    for path in files:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def load_training_data(intents_dir: Path) -> TrainingData:
    """Read every NLU file under ``intents_dir``; the digest keys the trained-model cache."""
    data = TrainingData()
    sha = hashlib.sha256()
    files = nlu_files(intents_dir)
    if not files:
        raise DataFileError(str(intents_dir), "no NLU training files (YAML with an 'nlu:' key) found")
    for path in files:
        sha.update(path.read_bytes())
        raw, node = read_yaml(path)
        if not isinstance(raw, dict):
            raise DataFileError(str(path), "file is empty" if raw is None else "expected a mapping with an 'nlu:' list")
        parsed = validate(NluFile, raw, path, node)
        for item in parsed.nlu:
            examples = parse_examples(item.examples)
            if item.intent:
                data.raw.setdefault(item.intent, []).extend(examples)
                data.examples.extend((strip_markup(e), item.intent) for e in examples)
            elif item.synonym:
                data.synonyms.setdefault(item.synonym, []).extend(examples)
            elif item.lookup:
                data.lookups.setdefault(item.lookup, []).extend(examples)
    data.digest = sha.hexdigest()
    return data
