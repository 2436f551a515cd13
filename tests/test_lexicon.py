"""The verb table answers as lemminflect does, for every word: the grammar the bot rewords with is built
on the table (bot/understanding/lexicon.py), and the same grammar built on lemminflect itself must give
the same answer to every question, for every key and form of lemminflect's dictionary, every word of the
evaluation sets, intents and knowledge, their capitalised spellings, and made-up words the dictionary
lacks. A table written from another lemminflect, or edited, fails here: write it again with
`python -m bot.understanding.lexicon_build`."""
from __future__ import annotations

import random
import re
import string
from pathlib import Path

import lemminflect
import pytest
from lemminflect import config
from lemminflect.codecs.InflectionLUCodec import InflectionLUCodec
from lemminflect.codecs.LemmaLUCodec import LemmaLUCodec
from lemminflect.codecs.OverridesCodec import OverridesCodec

from bot.understanding.grammar import ENGLISH, Grammar
from bot.understanding.lexicon import VERB_TAGS, VerbTable

ROOT = Path(__file__).resolve().parent.parent


class Lemminflect:
    """The lexicon as grammar.py asked lemminflect before the table: its own calls, its own dictionary."""

    def parts_of_speech(self, word: str) -> frozenset[str]:
        return frozenset(lemminflect.getAllLemmas(word))

    def verb_lemmas(self, word: str) -> tuple[str, ...]:
        return lemminflect.getAllLemmas(word, upos="VERB").get("VERB", ())

    def verb_forms(self, lemma: str, tag: str) -> tuple[str, ...]:
        return lemminflect.getInflection(lemma, tag=tag)


def dictionary_words() -> set[str]:
    """Every key of lemminflect's lemma and inflection files and overrides, and every spelling they give."""
    words: set[str] = set()
    for entries in (LemmaLUCodec.load(config.lemma_lu_fn), OverridesCodec.load(config.lemma_overrides_fn),
                    InflectionLUCodec.load(config.inflection_lu_fn), OverridesCodec.load(config.infl_overrides_fn)):
        for key, forms in entries.items():
            words.add(key)
            words.update(spelling for spellings in forms.values() for spelling in spellings)
    return words


def project_words() -> set[str]:
    """The words people write to the bot and it writes back: evaluation sets, intents, knowledge."""
    words: set[str] = set()
    for folder in ("tests/eval", "intents", "knowledge"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in {".yml", ".yaml", ".jsonl", ".md", ".txt"}:
                words.update(re.findall(r"[\w'’-]+", path.read_text(encoding="utf-8")))
    return words


def made_up_words(count: int) -> list[str]:
    """Words no dictionary holds, spelt like English verbs ("blorfed", "snizzes", "trappying") and not."""
    rng = random.Random(10)
    endings = ["", "e", "s", "es", "ed", "d", "ing", "y", "ies", "ied", "ie", "ee", "ch", "sh", "x", "z", "n", "en"]
    out = ["", "-", "'", "'s", "x", "ñandú", "straße", "İstanbul", "ǅemal", "42", "1990s", "e-mail", "re-re-edited"]
    while len(out) < count:
        stem = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 9)))
        out.append(stem + rng.choice(endings))
    return out


def spellings(words: set[str], every: int) -> set[str]:
    """Each word as typed, lower-cased, and, for every ``every``-th one, Capitalised, UPPER and mIxEd."""
    out = set(words) | {w.lower() for w in words}
    for n, word in enumerate(sorted(words)):
        if n % every == 0:
            out |= {word.capitalize(), word.upper(), word[:1].lower() + word[1:].upper()}
    return out


def table_keys(table: VerbTable, column: str, name: str) -> set[str]:
    """The table's own keys, so that a word it holds and lemminflect does not is asked about too."""
    import sqlite3

    with sqlite3.connect(table.path) as db:
        return {key for (key,) in db.execute(f"SELECT {column} FROM {name}")}


@pytest.fixture(scope="module")
def sample() -> list[str]:
    words = dictionary_words() | table_keys(VerbTable(), "word", "words") | table_keys(VerbTable(), "lemma", "forms")
    words = spellings(words, every=7) | spellings(project_words(), every=1)
    return sorted(words | spellings(set(made_up_words(1000)), every=3))


@pytest.fixture(scope="module")
def lemmas(sample: list[str]) -> list[str]:
    """The words verb forms are asked of: each spelling of a lemma either side lists verb forms for, and the
    project's and the made-up words, as written. Any other word goes to lemminflect's model on both sides alike."""
    inflections = InflectionLUCodec.load(config.inflection_lu_fn)
    listed = {key for key, forms in inflections.items() if set(forms) & set(VERB_TAGS)}
    listed |= set(OverridesCodec.load(config.infl_overrides_fn)) | table_keys(VerbTable(), "lemma", "forms")
    asked = project_words() | {w.lower() for w in project_words()} | set(made_up_words(1000))
    return [w for w in sample if w.lower() in listed or w in asked]


def answer(function, *args):  # type: ignore[no-untyped-def]
    """What a call gives, or the error it raises: lemminflect's model fails on an empty word, and so must ours."""
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001
        return f"raises {type(exc).__name__}"


def differences(ours: Grammar, theirs: Grammar, calls: list[tuple[str, tuple[object, ...]]]) -> list[str]:
    out = []
    for name, args in calls:
        got, want = answer(getattr(ours, name), *args), answer(getattr(theirs, name), *args)
        if got != want:
            out.append(f"{name}{args!r}: table {got!r}, lemminflect {want!r}")
    return out


def test_the_grammar_answers_as_lemminflect_for_every_word(sample: list[str], lemmas: list[str]) -> None:
    """Every 8th word of the sample and every word of the project: the next test asks the table about all of
    them, and the grammar asks nothing else of it."""
    words = sorted(set(sample[::8]) | project_words() | {w.lower() for w in project_words()})
    assert len(words) > 20_000 and len(lemmas) > 15_000
    calls = [(name, (word, *extra)) for word in words
             for name, extra in [("is_verb_form", ()), ("is_verb_form", (False,)), ("is_base_verb", ()),
                                 ("is_base_verb", (True,)), ("lemma", ()), ("tense", ()), ("can_name", ()),
                                 ("is_english", ())]]
    calls += [("inflect", (word, tag)) for word in lemmas for tag in ("VB", "VBD", "VBZ")]
    diff = differences(Grammar(VerbTable()), Grammar(Lemminflect()), calls)
    assert not diff, f"{len(diff)} answers differ, e.g. {diff[:10]}"


def test_the_table_gives_every_verb_form_and_part_of_speech_lemminflect_gives(sample: list[str],
                                                                            lemmas: list[str]) -> None:
    """Every word of the sample (over 120,000: the dictionary has 70,000) and every spelling of a listed lemma."""
    assert len(sample) > 120_000
    table, theirs = VerbTable(), Lemminflect()
    diff = [f"{word} {tag}: {answer(table.verb_forms, word, tag)} != {answer(theirs.verb_forms, word, tag)}"
            for word in lemmas for tag in VERB_TAGS
            if answer(table.verb_forms, word, tag) != answer(theirs.verb_forms, word, tag)]
    diff += [f"{word}: {table.parts_of_speech(word)} != {theirs.parts_of_speech(word)}"
             for word in sample if table.parts_of_speech(word) != theirs.parts_of_speech(word)]
    diff += [f"{word}: {table.verb_lemmas(word)} != {theirs.verb_lemmas(word)}"
             for word in sample if table.verb_lemmas(word) != theirs.verb_lemmas(word)]
    assert not diff, f"{len(diff)} differ, e.g. {diff[:10]}"


def test_the_table_was_written_from_the_installed_lemminflect() -> None:
    import sqlite3

    with sqlite3.connect(VerbTable().path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'lemminflect'").fetchone() == (lemminflect.__version__,)


@pytest.mark.parametrize("word, answers", [
    ("cancelled", {"lemma": "cancel", "tense": "VBD", "is_verb_form": True, "can_name": False}),
    ("learnt", {"lemma": "learn", "tense": "VBD", "is_verb_form": True}),
    ("is", {"lemma": "be", "tense": "VBZ", "is_verb_form": False}),
    ("set", {"is_verb_form": True, "can_name": True}),
    ("Oppenheimer", {"lemma": None, "tense": None, "can_name": True}),
])
def test_the_bot_s_grammar_knows_spelling_variants_and_auxiliaries(word: str, answers: dict[str, object]) -> None:
    for name, want in answers.items():
        assert getattr(ENGLISH, name)(word) == want, name


def test_a_verb_the_dictionary_lacks_is_inflected_by_lemminflect_s_model() -> None:
    table = VerbTable()
    assert Grammar(table).inflect("blorf", "VBD") == "blorfed" and table.oov_calls == 1
    assert Grammar(table).inflect("directed", "VBD") == "directeded"  # lemminflect's own guess, kept
    assert Grammar(table).inflect("can", "VBZ") == "cans" and table.oov_calls == 3


def test_the_table_s_examples_hold() -> None:
    import doctest

    from bot.understanding import lexicon

    assert doctest.testmod(lexicon).failed == 0
