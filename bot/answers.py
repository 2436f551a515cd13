"""Answer routes and templates (intents/answers.yml): which handler answers an intent, and the words.

Templates are checked at load time: a placeholder the renderer cannot fill is a load error, not a
KeyError in the middle of a conversation.
"""
from __future__ import annotations

import random
import string
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import DataFileError
from .yamlio import load_with_node

if TYPE_CHECKING:
    import yaml

    from .knowledge import KnowledgeBase

HandlerName = Literal["facts", "yesno", "about", "smalltalk", "help", "out_of_scope"]
Field_ = Literal["subject", "object", "role"]
PLACEHOLDERS = frozenset({
    "subject", "answer", "film", "according_to", "note", "label", "title", "known", "entity", "as_role",
    "cast", "name", "description", "other", "sentence", "words", "options", "kind", "pronoun",
    "pronoun_obj", "answer_clause", "note_or_description", "verb", "passage", "asked", "when", "played_by",
})


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    handler: HandlerName
    relations: list[str] = Field(default_factory=list)
    given: Field_ = "subject"
    want: Field_ = "object"
    about: list[str] = Field(default_factory=list)
    check: list[Field_] = Field(default_factory=list)
    item: str = "{name}"
    verbs: dict[str, str] = Field(default_factory=dict)
    exclude_current_film: bool = False
    first_only: bool = False


class Variant(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    text: str


class Suggestion(BaseModel):
    """A question to offer, filled in from the knowledge: ``{subject}`` is an entity the route can answer
    about ("Who directs {subject}?"), ``{entity}`` the other side of a yes/no question, ``{title}`` the
    knowledge's title. Left out when the knowledge holds nothing that answers it (see suggestions.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    intent: str
    text: str = Field(min_length=1)


class AnswersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = "3.1"
    suggestions: list[str | Suggestion] = Field(default_factory=list)
    routes: dict[str, Route]
    responses: dict[str, list[Variant]]

    @model_validator(mode="after")
    def _check_templates(self) -> "AnswersFile":
        formatter = string.Formatter()
        for name, variants in self.responses.items():
            if not variants:
                raise ValueError(f"response {name!r} has no variants")
            for variant in variants:
                try:
                    fields = {f for _, f, _, _ in formatter.parse(variant.text) if f is not None}
                except ValueError as exc:
                    raise ValueError(f"response {name!r}: {exc} in {variant.text!r}") from exc
                unknown = fields - PLACEHOLDERS
                if unknown:
                    raise ValueError(f"response {name!r}: unknown placeholder(s) {sorted(unknown)}; "
                                     f"known: {', '.join(sorted(PLACEHOLDERS))}")
        return self


class Answers:
    def __init__(self, data: AnswersFile, path: Path | None = None, node: "yaml.Node | None" = None,
                 suggestions: tuple[str, ...] | None = None) -> None:
        self.data = data
        self.routes = data.routes
        self.path, self.node = path, node  # for problems reported against a line of the file
        self.suggestions = suggestions if suggestions is not None else tuple(
            s for s in data.suggestions if isinstance(s, str))

    @classmethod
    def load(cls, path: Path) -> "Answers":
        data, node = load_with_node(AnswersFile, path)
        return cls(data, path, node)

    def with_knowledge(self, kb: "KnowledgeBase") -> "Answers":
        """These answers with their suggestions filled in from ``kb``: questions it can answer."""
        from .suggestions import suggestions_for

        return Answers(self.data, self.path, self.node, suggestions_for(kb, self.data))

    def has(self, name: str) -> bool:
        return name in self.data.responses

    def render(self, name: str, rng: random.Random, /, **values: str) -> str:
        """One variant of response ``name``, filled in; sentences start with a capital letter."""
        variants = self.data.responses.get(name)
        if not variants:
            raise DataFileError("intents/answers.yml", f"missing response {name!r}")
        text = rng.choice(variants).text.format_map(_Blank(values))
        return " ".join(text.split())[:1].upper() + " ".join(text.split())[1:]


class _Blank(dict[str, str]):
    """Unfilled placeholders render empty rather than crash (their names were checked at load)."""

    def __missing__(self, key: str) -> str:
        return ""


def join_list(items: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
