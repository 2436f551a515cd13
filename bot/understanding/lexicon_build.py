"""Writes the verb table (lexicon.sqlite3) that lexicon.py reads, from lemminflect's own dictionaries.

    python -m bot.understanding.lexicon_build

Run it after upgrading lemminflect: tests/test_lexicon.py compares the table with lemminflect itself and
fails until the table is written again. The table is committed (1.9 MB) because `chat` and `ask` run
straight after `pip install -e .`, before any `train`; building it means loading the dictionaries this
table exists to avoid (0.55 s and 54 MB).

What is kept is what lemminflect's dictionary look-ups would answer to the questions lexicon.py asks:
- a word's parts of speech and verb lemmas: `getAllLemmas` reads the lemma file plus its overrides
  (an override replaces that part of speech), keyed by the lower-cased word;
- a lemma's verb forms (VBD VBG VBN VBP VBZ): `getInflection` reads the inflection file, its hard-coded
  auxiliaries and modals ("can" -> "could", "be" -> "was/were"), then its overrides.
Keys with capitals ("Google") are left out: both look-ups lower-case the word first, so they never match.
A word whose only part of speech is NOUN is kept too; the table is a copy, not a digest of grammar.py.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from .lexicon import PACKAGED, VERB_TAGS


def lemma_entries() -> dict[str, dict[str, tuple[str, ...]]]:
    """Lower-case word -> {upos: lemma spellings}, as Lemmatizer.getAllLemmas merges them."""
    from lemminflect import config
    from lemminflect.codecs.LemmaLUCodec import LemmaLUCodec
    from lemminflect.codecs.OverridesCodec import OverridesCodec

    looked_up = LemmaLUCodec.load(config.lemma_lu_fn)
    overrides = OverridesCodec.load(config.lemma_overrides_fn)
    merged = {}
    for word in sorted(set(looked_up) | set(overrides)):
        if word == word.lower():
            merged[word] = {**looked_up.get(word, {}), **overrides.get(word, {})}
    return merged


def verb_form_entries() -> dict[str, dict[str, tuple[str, ...]]]:
    """Lower-case lemma -> {verb tag: spellings}, as Inflections.getAllInflections merges them."""
    from lemminflect import config
    from lemminflect.codecs.InflectionLUCodec import InflectionLUCodec
    from lemminflect.codecs.OverridesCodec import OverridesCodec

    looked_up = InflectionLUCodec.load(config.inflection_lu_fn)  # with its auxiliaries and modals
    overrides = OverridesCodec.load(config.infl_overrides_fn)
    merged = {}
    for lemma in sorted(set(looked_up) | set(overrides)):
        forms = {**looked_up.get(lemma, {}), **overrides.get(lemma, {})}
        verb = {tag: forms[tag] for tag in VERB_TAGS if tag in forms}
        if lemma == lemma.lower() and verb:
            merged[lemma] = verb
    return merged


def _joined(spellings: tuple[str, ...] | None) -> str | None:
    if spellings is None:
        return None
    assert all("/" not in s for s in spellings), spellings  # lemminflect's files split spellings on "/"
    return "/".join(spellings)


def build(path: Path = PACKAGED) -> Path:
    import lemminflect

    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    with db:
        db.execute("PRAGMA page_size = 4096")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
        db.execute("INSERT INTO meta VALUES ('lemminflect', ?)", (lemminflect.__version__,))
        db.execute("CREATE TABLE words (word TEXT PRIMARY KEY, upos TEXT NOT NULL, verb TEXT) WITHOUT ROWID")
        db.executemany("INSERT INTO words VALUES (?, ?, ?)",
                       ((word, " ".join(entry), _joined(entry.get("VERB"))) for word, entry in lemma_entries().items()))
        columns = ", ".join(tag.lower() for tag in VERB_TAGS)
        db.execute(f"CREATE TABLE forms (lemma TEXT PRIMARY KEY, {columns}) WITHOUT ROWID")
        db.executemany(f"INSERT INTO forms VALUES (?{', ?' * len(VERB_TAGS)})",
                       ((lemma, *(_joined(forms.get(tag)) for tag in VERB_TAGS))
                        for lemma, forms in verb_form_entries().items()))
    db.execute("VACUUM")
    db.close()
    tmp.replace(path)
    return path


if __name__ == "__main__":
    print(f"wrote {build()} ({PACKAGED.stat().st_size / 1e6:.1f} MB)")
