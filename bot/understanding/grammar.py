"""English verb forms for the stage's rewording (restate.py, tags.py), as lemminflect's dictionary gives them.

The look-ups go to a `Lexicon`: in the bot, lexicon.py's table, written from lemminflect's own dictionary,
which answers the first question at once and costs no memory, where lemminflect itself loads its whole
dictionary on the first call (0.55 s, 54 MB). tests/test_lexicon.py builds the same `Grammar` on
lemminflect and checks that every function answers the same for every word of that dictionary.
Each word's answer is kept: a conversation asks about the same few words again and again."""
from __future__ import annotations

import functools
from typing import Protocol

from .lexicon import VerbTable


class Lexicon(Protocol):
    """What the grammar asks of a dictionary; each method is named for the lemminflect call it stands for."""

    def parts_of_speech(self, word: str) -> frozenset[str]: ...  # the keys of getAllLemmas(word)
    def verb_lemmas(self, word: str) -> tuple[str, ...]: ...  # getAllLemmas(word, upos="VERB")["VERB"]
    def verb_forms(self, lemma: str, tag: str) -> tuple[str, ...]: ...  # getInflection(lemma, tag)


class Grammar:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.is_verb_form = functools.cache(self._is_verb_form)
        self.is_base_verb = functools.cache(self._is_base_verb)
        self.inflect = functools.cache(self._inflect)
        self.lemma = functools.cache(self._lemma)
        self.tense = functools.cache(self._tense)
        self.can_name = functools.cache(self._can_name)
        self.is_english = functools.cache(self._is_english)

    def _is_verb_form(self, word: str, gerund: bool = True) -> bool:
        """A participle (or, with ``gerund``, an -ing form): "released", "set" (spelt as its verb), "coming".
        Without ``gerund``, for a wh-phrase's nouns: "what *rating*" is a noun there."""
        if word.endswith("ing") and len(word) > 4:
            return gerund
        forms = self.lexicon.verb_forms
        return any(word in forms(lemma, "VBN") or word in forms(lemma, "VBD")
                   for lemma in self.lexicon.verb_lemmas(word))

    def _is_base_verb(self, word: str, nouns: bool = False) -> bool:
        """A verb as a dictionary spells it ("announce"); with ``nouns``, also one that is a noun too ("set")."""
        return word in self.lexicon.verb_lemmas(word) and (nouns or "NOUN" not in self.lexicon.parts_of_speech(word))

    def _inflect(self, verb: str, tag: str) -> str:
        """"directed" for ("direct", "VBD"): the form a tag asks for, the verb itself when there is none."""
        if tag == "VB":
            return verb
        forms = self.lexicon.verb_forms(verb, tag)
        return forms[0] if forms else verb

    def _lemma(self, word: str) -> str | None:
        """The verb a form is of ("plays" -> "play", "directed" -> "direct"), None when it is no verb form."""
        lemmas = self.lexicon.verb_lemmas(word)
        return lemmas[0] if lemmas else None

    def _tense(self, word: str) -> str | None:
        """"VBZ" for "plays", "VBD" for "directed" (a finite verb a statement may carry), else None."""
        base = self.lemma(word)
        forms = self.lexicon.verb_forms
        if base is None or base == word and word not in forms(base, "VBD"):
            return None
        if word in forms(base, "VBZ"):
            return "VBZ"
        if word in forms(base, "VBD"):
            return "VBD"
        return None

    def _can_name(self, word: str) -> bool:
        """Could the word name something ("bass", "joker", a word no dictionary holds: "Oppenheimer")? A word
        that is only a verb form, an adjective or an adverb ("passed", "away") names nothing."""
        parts = self.lexicon.parts_of_speech(word)
        return not parts or "NOUN" in parts or "PROPN" in parts


    def _is_english(self, word: str) -> bool:
        """Is the word in the English dictionary ("recipe", "convert"), as any part of speech? A message with
        hardly any such word is plainly in another language (language.py)."""
        return bool(self.lexicon.parts_of_speech(word))


ENGLISH = Grammar(VerbTable())  # opens its table on the first question, not here
is_verb_form = ENGLISH.is_verb_form
is_base_verb = ENGLISH.is_base_verb
inflect = ENGLISH.inflect
lemma = ENGLISH.lemma
tense = ENGLISH.tense
can_name = ENGLISH.can_name
is_english = ENGLISH.is_english

GRAMMAR_WORDS = frozenset("till til until unless whilst cos coz rather instead unlike besides except".split())  # joining and contrasting words no vocabulary needs


def finite_verb(word: str) -> bool:
    """ "comes", "gave": a verb in a tense, which a name is never extended by ("Ballerina *comes* out")."""
    return tense(word) is not None
