"""Which language a message is in, when it is plainly not English: lingua-language-detector.

The bot answers in English only, so a message in Spanish gets a short note in Spanish and the English
suggestions, never an answer guessed from the few words it shares with English ("Ballerina", "film").
The detector is consulted only when a message carries signs of another language (letters outside
ASCII, or most of its words unknown to the bot), so English traffic never loads its models; it is
restricted to the languages intents/languages.yml has a note for, in low-accuracy mode (trigrams
only), which keeps its memory near 18 MB and a check near 0.1 ms.
"""
from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..yamlio import load_model

MIN_CONFIDENCE = 0.5  # lingua's relative confidence in the top language, over English and the others
MIN_WORDS = 2  # one word ("ciao", "merci") is too little to tell a language from a name


class LanguagesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    languages: dict[str, str]


class LanguageNotes:
    """The note per language, and the detector restricted to those languages and English."""

    def __init__(self, notes: dict[str, str]) -> None:
        self.notes = dict(notes)
        self._lock = threading.Lock()
        self._detector: Any = None

    @classmethod
    def load(cls, path: Path) -> "LanguageNotes":
        if not path.exists():
            return cls({})
        return cls(load_model(LanguagesFile, path).languages)

    def _build(self) -> Any:
        with self._lock:
            if self._detector is None:
                from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                wanted = [Language.ENGLISH]
                for code in self.notes:
                    try:
                        wanted.append(Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())))
                    except (AttributeError, ValueError):
                        continue
                # all models at once, on the first message that needs them: loading one language's
                # models lazily on each of the next few messages made each of those slow
                self._detector = (LanguageDetectorBuilder.from_languages(*wanted).with_low_accuracy_mode()
                                  .with_preloaded_language_models().build())
        return self._detector

    def detect(self, text: str) -> str | None:
        """The ISO code of the message's language if it is one with a note, confidently; else None."""
        if not self.notes or len(text.split()) < MIN_WORDS:
            return None
        values = self._build().compute_language_confidence_values(text)
        if not values:
            return None
        top = values[0]
        code = top.language.iso_code_639_1.name.lower()
        if code == "en" or code not in self.notes or top.value < MIN_CONFIDENCE:
            return None
        return code


@functools.lru_cache(maxsize=8)
def notes_for(path: Path) -> LanguageNotes:
    return LanguageNotes.load(path)
