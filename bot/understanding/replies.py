"""The reply the understanding stage settles by itself: a message in another language gets a note in
that language (intents/languages.yml), which is the stage's data, not the knowledge's. Questions from
the map and false premises are answered by handlers (bot/handlers/mapped.py, premise.py)."""
from __future__ import annotations

from ..rendering import Renderer
from ..reply import Reply
from .interpretation import Interpretation
from .language import LanguageNotes


def other_language_reply(it: Interpretation, out: Renderer, languages: LanguageNotes) -> Reply:
    """A note in the message's language that the bot answers in English, and English questions to try."""
    note = languages.notes.get(it.language or "", "") or languages.other
    suggestions = out.suggestions[:3]
    text = note + "\n" + "\n".join(f"• {s}" for s in suggestions) if suggestions else note
    return Reply(text, "unknown", None, round(it.confidence, 4), suggestions=suggestions)
