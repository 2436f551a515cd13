"""Handler registry: one visible table from a route's handler name to the function that answers it.
Each is ``(Interpretation, KnowledgeBase, Renderer) -> Reply | None`` (bot/handlers/base.py)."""
from __future__ import annotations

from . import about, costars, facts, mapped, premise, says, smalltalk, unknown, yesno
from .base import Handler

HANDLERS: dict[str, Handler] = {
    "facts": facts.handle,
    "yesno": yesno.handle,
    "about": about.handle,
    "map": mapped.handle,  # a question-map relation the stage named (it.asked)
    "premise": premise.handle,  # a false premise the stage found (it.premise)
    "costars": costars.handle,  # the others of a film's cast (it.company)
    "says": says.handle,  # what one publication says of something (it.says)
    "smalltalk": smalltalk.smalltalk,
    "help": smalltalk.help_,
    "out_of_scope": smalltalk.out_of_scope,
    "unknown": unknown.handle,  # the last word: what is not known, said specifically (no route names it)
}

__all__ = ["HANDLERS", "Handler"]
