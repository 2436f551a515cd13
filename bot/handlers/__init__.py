"""Handler registry: one visible table from a route's handler name to the function that answers it."""
from __future__ import annotations

from collections.abc import Callable

from ..reply import Reply
from . import about, facts, smalltalk, yesno
from .base import Turn

Handler = Callable[[Turn], Reply | None]

HANDLERS: dict[str, Handler] = {
    "facts": facts.handle,
    "yesno": yesno.handle,
    "about": about.handle,
    "smalltalk": smalltalk.smalltalk,
    "help": smalltalk.help_,
    "out_of_scope": smalltalk.out_of_scope,
}

__all__ = ["HANDLERS", "Handler", "Turn"]
