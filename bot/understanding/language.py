"""Which language a message is in, when it is plainly not English: lingua-language-detector.

The bot answers in English only, so a message in Spanish gets a short note in Spanish and the English
suggestions, never an answer guessed from the few words it shares with English ("Ballerina", "film").
The detector is consulted only when a message carries signs of another language (letters outside
ASCII, or most of its words unknown to the bot), so English traffic never loads its models; it is
restricted to the languages intents/languages.yml has a note for, in low-accuracy mode (trigrams
only), which keeps its memory near 18 MB and a check near 0.1 ms.

Short messages are where trigrams fail ("C'est quand la sortie de Ballerina ?" read as Dutch): so the
film's names are taken out before detecting (they are no evidence of a language, and "Ballerina" reads
Italian), and when lingua is unsure, the small words each language declares in languages.yml (``words``:
"qui", "quand", "est"...) vote; lingua's top language stands only when it is confident or the words
cannot tell. High-accuracy mode would tell these apart too, at 300 MB.
"""
from __future__ import annotations

import functools
import re
import threading
from pathlib import Path
import weakref
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..yamlio import load_model

MIN_CONFIDENCE = 0.5  # lingua's relative confidence in the top language, over English and the others
SURE = 0.8  # lingua this confident is not second-guessed by the declared words
MIN_WORDS = 2  # one word ("ciao", "merci") is too little to tell a language from a name
MIN_UNSPACED = 4  # characters, for a script written without spaces (Japanese, Chinese)
MIN_OWN_WORDS = 2  # distinct: one is chance ("da" is txt-speak for "the" as much as Italian "from")...
SHORT_WORDS = 3  # ...except in a message this short ("Wann startet Ballerina?"), where one is all there is
UNIDENTIFIED = "und"  # ISO 639-2 "undetermined": plainly another language, but none with a note
FOREIGN_WORDS = 4  # distinct words, of which at most a quarter English, with trigrams saying "not English"...
NOT_ENGLISH = 0.05  # ...this strongly: a language without a note ("vilka filmer utspelar sig") still gets one
EVIDENCE = 120  # characters of words looked at: trigrams tell a language well within this, and lingua's
#                 time grows with the text (0.53 ms for 300 characters, 0.2 ms for 120)
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


class LanguagesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    languages: dict[str, str]
    words: dict[str, list[str]] = {}  # per language, common small words that tell it apart in short texts
    other: str = ""  # in English, for a language plainly not English that has no note here


class LanguageNotes:
    """The note per language, and the detector restricted to those languages and English."""

    def __init__(self, notes: dict[str, str], words: dict[str, list[str]] | None = None, other: str = "") -> None:
        self.notes = dict(notes)
        self.other = other
        self.words = {code: frozenset(w.lower() for w in ws) for code, ws in (words or {}).items() if code in notes}
        self._lock = threading.Lock()
        self._detector: Any = None
        # per vocabulary (a Mind's EnglishWords, by identity): dropped with the Mind it came from
        self._own: weakref.WeakKeyDictionary[EnglishWords, dict[str, frozenset[str]]] = weakref.WeakKeyDictionary()

    @classmethod
    def load(cls, path: Path) -> "LanguageNotes":
        if not path.exists():
            return cls({})
        data = load_model(LanguagesFile, path)
        return cls(data.languages, data.words, data.other)

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

    def detect(self, text: str, names: frozenset[str] = frozenset(), english: EnglishWords | None = None) -> str | None:
        """The ISO code of the message's language if it is one with a note, confidently; else None.
        ``names``: the message's words that are names the bot knows (folded), left out of the evidence.
        ``english``: words known to be English (folded). A message in Latin letters is another
        language only with two of that language's own small words in it (one, if it is three words or
        fewer), ones English does not share
        (``words`` in languages.yml, less ``english``): trigrams of a few English nouns read as anything
        ("best hostels in Berlin" as Dutch, "convert euros to dollars" as Italian), and a reply in Dutch
        to an English question is a worse miss than an English reply to a Dutch one."""
        if not self.notes:
            return None
        words = [w for w in WORD.findall(text) if _folded(w) not in names]
        # Latin letters only (accents too: lingua, restricted to the noted languages, is sure that Swedish
        # is German); a kana or CJK letter is a word too, so this also rules out unspaced scripts
        if words and all(_latin(w) for w in words):
            own = self.own_words(english if english is not None else NO_ENGLISH)
            low = {w.lower() for w in words}
            needed = 1 if len(words) <= SHORT_WORDS else MIN_OWN_WORDS
            said = {code for code, ws in own.items() if len(low & ws) >= needed}
            # one language has the words: they tell, whatever the detector picks ("Quand sort Ballerina ?"
            # read as Dutch by trigrams, French by "quand"); with none, its pick could not stand either, so
            # the detector is asked only to choose among two or more
            if len(said) == 1:
                return next(iter(said))
            if said and (found := self._detect(words, text, own)) in said:
                return found
            return self._unidentified(words, english)
        return self._detect(words, text, self.words) or self._unidentified(words, english)

    def _unidentified(self, words: list[str], english: EnglishWords | None) -> str | None:
        """``UNIDENTIFIED`` for a message plainly in another language that none of the notes is for
        (Swedish, or Portuguese that reads as Spanish too): four distinct words or more, under a quarter
        of them English (the bot's vocabulary or the English dictionary), and trigrams giving English next to no chance. It gets the English note
        (``other``), never an English guess from its words; English slang ("omg omg omg", "thx m8") is
        too short or too repetitive to count."""
        if not self.other:
            return None
        distinct = {w.lower() for w in words if len(w) > 1}
        if len(distinct) < FOREIGN_WORDS:
            return None
        from .grammar import is_english

        known = english if english is not None else NO_ENGLISH
        if sum(_folded(w) in known or is_english(_folded(w)) for w in distinct) * 4 >= len(distinct):
            return None  # "recipe for spaghetti carbonara": English words the bot was never trained with
        values = self._build().compute_language_confidence_values(" ".join(words)[:EVIDENCE])
        chance = next((v.value for v in values if v.language.iso_code_639_1.name == "EN"), 0.0)
        return UNIDENTIFIED if chance < NOT_ENGLISH else None

    def own_words(self, english: EnglishWords) -> dict[str, frozenset[str]]:
        """Each language's declared words that English does not share; one letter is chance too ("z" is
        Polish "with", and a typo anywhere). Worked out once per vocabulary: a Mind builds its
        ``EnglishWords`` once, and a knowledge edit's new Mind brings a new one."""
        with self._lock:
            found = self._own.get(english)
            if found is None:
                found = {code: frozenset(w for w in ws if len(w) > 1 and w not in english)
                         for code, ws in self.words.items()}
                self._own[english] = found
        return found

    def _detect(self, words: list[str], text: str, declared: dict[str, frozenset[str]]) -> str | None:
        unspaced = sum(1 for ch in text if _unspaced(ch))
        if len(words) < MIN_WORDS and unspaced < MIN_UNSPACED:
            return None
        evidence = " ".join(words)
        if len(evidence) > EVIDENCE:
            cut = evidence.rfind(" ", 0, EVIDENCE + 1)
            evidence = evidence[:cut if cut > 0 else EVIDENCE]
        values = self._build().compute_language_confidence_values(evidence)
        top = values[0] if values else None
        code = top.language.iso_code_639_1.name.lower() if top is not None else "en"
        if top is not None and top.value >= SURE and code != "en":
            return code if code in self.notes else None
        voted = self._vote(words, declared)
        if voted is not None:
            return voted
        if code == "en" or code not in self.notes or top is None or top.value < MIN_CONFIDENCE:
            return None
        return code

    def _vote(self, words: list[str], declared: dict[str, frozenset[str]]) -> str | None:
        """The language whose declared small words the message uses most, if one leads (at least two)."""
        low = [w.lower() for w in words]
        counts = sorted(((sum(w in ws for w in low), code) for code, ws in declared.items()), reverse=True)
        if not counts or counts[0][0] < 2 or (len(counts) > 1 and counts[1][0] == counts[0][0]):
            return None
        return counts[0][1]


@dataclass(frozen=True, eq=False)
class EnglishWords:
    """The words the bot knows as English: English's small words, the question map's words, and the
    training vocabulary less the words of names ("de" is known from "Ana de Armas", which says nothing of
    English). Frozen sets, fixed for a Mind: each language's own words are worked out once per value
    (``LanguageNotes.own_words``), not for each message. Compared by identity: equal vocabularies of two
    Minds are two keys, which costs one more computation and saves hashing four big sets per message."""

    small: frozenset[str]
    questions: frozenset[str]
    vocabulary: frozenset[str]
    names: frozenset[str]

    def __contains__(self, word: object) -> bool:
        return (word in self.small or word in self.questions
                or (word in self.vocabulary and word not in self.names))


NO_ENGLISH = EnglishWords(frozenset(), frozenset(), frozenset(), frozenset())


def _folded(word: str) -> str:
    from ..nlu.text import fold

    return fold(word).replace("'", "").replace("’", "")


def _latin(word: str) -> bool:
    """Written in the Latin alphabet, accents included ("när", "című")."""
    return all(ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in word)


def _unspaced(ch: str) -> bool:
    """A letter of a script written without spaces between words (kana, CJK ideographs, Thai)."""
    return "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" or "\u0e00" <= ch <= "\u0e7f" or "\uac00" <= ch <= "\ud7af"


@functools.lru_cache(maxsize=8)
def notes_for(path: Path) -> LanguageNotes:
    return LanguageNotes.load(path)
