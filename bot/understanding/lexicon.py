"""English words' parts of speech and verb forms, answered as lemminflect answers them, from a small table.

lemminflect loads its whole dictionary on the first look-up: 0.55 s and 54 MB in a process that otherwise
answers in a millisecond within 60 MB. lexicon.sqlite3, written from that same dictionary by
lexicon_build.py, holds what the look-ups read; SQLite reads the few pages a word needs, so the first
question costs a file open, and memory stays as it was.

Only one path still needs lemminflect: the verb forms of a word its dictionary does not list
("blorf" -> "blorfed", "can" -> "cans"), which lemminflect guesses with a small model (2 ms and 1.5 MB to
load, no dictionary). `VerbTable.verb_forms` asks that model exactly where `getInflection` would, so the
answers stay lemminflect's. It is rare: of the 3,979 messages of tests/eval/*.yml and off_topic.jsonl sent to one
Brain (bench/bench_lexicon.py), 320 ask the grammar about a new word and 9 reach the model, each for a
word the rewording took for a question's verb that is none ("and" in "when did X and Y divorce?", "tea",
a year). `oov_calls` counts them; the first costs the process about 20 ms (lemminflect's import and model).

Capitals are lemminflect's too: both look-ups lower-case the word and give the answer the word's style
("Released" -> "Release"), which `_caps_style` and `_in_style` repeat (lemminflect's LexicalUtils: importing
lemminflect for them would be most of the first question's cost).
"""
from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

PACKAGED = Path(__file__).with_name("lexicon.sqlite3")
VERB_TAGS = ("VBD", "VBG", "VBN", "VBP", "VBZ")  # the base form (VB) is the lemma itself
_ALTERNATIVE = {"VBD": "VBN", "VBN": "VBD"}  # lemminflect's pennTagAlts: regular verbs list one of the two
ROWS_KEPT = 65_536  # rows kept per table: a flood of made-up words must not grow memory without bound


def _caps_style(word: str) -> str:
    if word.isupper():
        return "all_upper"
    if word and word[0].isupper():
        return "first_upper"
    return "lower"


def _in_style(word: str, style: str) -> str:
    return word.upper() if style == "all_upper" else word.capitalize() if style == "first_upper" else word.lower()


class VerbTable:
    """The packaged table, opened on the first question (read-only, so processes and threads may share it).

    >>> table = VerbTable()
    >>> table.verb_lemmas("Cancelled"), table.verb_forms("learn", "VBD"), sorted(table.parts_of_speech("set"))
    (('Cancel',), ('learned', 'learnt'), ['ADJ', 'NOUN', 'VERB'])
    """

    def __init__(self, path: Path = PACKAGED) -> None:
        self.path = path
        self.oov_calls = 0
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._lock = threading.Lock()  # one connection, many threads: SQLite's own serialisation is not assumed
        # rows as read, by key: a word's parts of speech and its verb lemmas are one row, a lemma's forms
        # for every tag another, and the grammar asks each several times for a word it sees first
        self._words: dict[str, tuple | None] = {}
        self._forms: dict[str, tuple | None] = {}

    def _row(self, sql: str, key: str) -> tuple | None:
        with self._lock:
            if self._db is None or self._pid != os.getpid():  # a forked worker opens its own
                if not self.path.is_file():
                    raise FileNotFoundError(f"{self.path}: the verb table is missing; write it with "
                                            "`python -m bot.understanding.lexicon_build`")
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                           check_same_thread=False)
                self._pid = os.getpid()
            return self._db.execute(sql, (key,)).fetchone()

    def _cached(self, cache: dict[str, tuple | None], sql: str, key: str) -> tuple | None:
        if key not in cache:
            if len(cache) >= ROWS_KEPT:
                cache.clear()
            cache[key] = self._row(sql, key)
        return cache[key]

    def _word_row(self, word: str) -> tuple | None:
        return self._cached(self._words, "SELECT upos, verb FROM words WHERE word = ?", word.lower())

    def parts_of_speech(self, word: str) -> frozenset[str]:
        """The keys of lemminflect's ``getAllLemmas(word)``: {"NOUN", "VERB"} for "play", none for "Oppenheimer"."""
        row = self._word_row(word)
        return frozenset(row[0].split()) if row else frozenset()

    def verb_lemmas(self, word: str) -> tuple[str, ...]:
        """``getAllLemmas(word, upos="VERB").get("VERB", ())``: "plays" -> ("play",), "'d" -> ("will", "have")."""
        row = self._word_row(word)
        if row is None or row[1] is None:
            return ()
        style = _caps_style(word)
        return tuple(_in_style(lemma, style) for lemma in row[1].split("/"))

    def verb_forms(self, lemma: str, tag: str) -> tuple[str, ...]:
        """``getInflection(lemma, tag)`` for a verb tag: ("directed",) for ("direct", "VBD"), lemminflect's guess
        for a lemma its dictionary lacks."""
        if tag not in VERB_TAGS:
            raise ValueError(f"the verb table holds the tags {', '.join(VERB_TAGS)}, not {tag!r}")
        row = self._cached(self._forms, "SELECT vbd, vbg, vbn, vbp, vbz FROM forms WHERE lemma = ?", lemma.lower())
        forms = None
        if row is not None:
            forms = row[VERB_TAGS.index(tag)]
            if forms is None and tag in _ALTERNATIVE:
                forms = row[VERB_TAGS.index(_ALTERNATIVE[tag])]
        if forms is None:
            return self._guessed(lemma, tag)
        style = _caps_style(lemma)
        return tuple(_in_style(form, style) for form in forms.split("/"))

    def _guessed(self, lemma: str, tag: str) -> tuple[str, ...]:
        from lemminflect import getAllInflectionsOOV  # its model only: the dictionary is never loaded here

        self.oov_calls += 1
        return getAllInflectionsOOV(lemma, "VERB").get(tag, ())
