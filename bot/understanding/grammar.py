"""English verb forms for the stage's rewording (restate.py, tags.py), from lemminflect's dictionary.

Its dictionary loads on the first call (about 0.3 s), so only messages that are reworded pay for it,
and each word's answer is cached."""
from __future__ import annotations

import functools

@functools.cache
def is_verb_form(word: str, gerund: bool = True) -> bool:
    """A participle (or, with ``gerund``, an -ing form): "released", "set" (spelt as its verb), "coming".
    Without ``gerund``, for a wh-phrase's nouns: "what *rating*" is a noun there."""
    if word.endswith("ing") and len(word) > 4:
        return gerund
    from lemminflect import getAllLemmas, getInflection
    for lemma in getAllLemmas(word, upos="VERB").get("VERB", ()):
        if word in getInflection(lemma, tag="VBN") or word in getInflection(lemma, tag="VBD"):
            return True
    return False


@functools.cache
def is_base_verb(word: str, nouns: bool = False) -> bool:
    """A verb as a dictionary spells it ("announce"); with ``nouns``, also one that is a noun too ("set")."""
    from lemminflect import getAllLemmas
    return word in getAllLemmas(word, upos="VERB").get("VERB", ()) and (nouns or not getAllLemmas(word, upos="NOUN"))


@functools.cache
def inflect(verb: str, tag: str) -> str:
    if tag == "VB":
        return verb
    from lemminflect import getInflection
    forms = getInflection(verb, tag=tag)
    return forms[0] if forms else verb


@functools.cache
def lemma(word: str) -> str | None:
    """The verb a form is of ("plays" -> "play", "directed" -> "direct"), None when it is no verb form."""
    from lemminflect import getAllLemmas
    lemmas = getAllLemmas(word, upos="VERB").get("VERB", ())
    return lemmas[0] if lemmas else None


@functools.cache
def tense(word: str) -> str | None:
    """"VBZ" for "plays", "VBD" for "directed" (a finite verb a statement may carry), else None."""
    from lemminflect import getInflection
    base = lemma(word)
    if base is None or base == word and word not in getInflection(base, tag="VBD"):
        return None
    if word in getInflection(base, tag="VBZ"):
        return "VBZ"
    if word in getInflection(base, tag="VBD"):
        return "VBD"
    return None


GRAMMAR_WORDS = frozenset("till til until unless whilst cos coz".split())  # joining words no vocabulary needs


def finite_verb(word: str) -> bool:
    """ "comes", "gave": a verb in a tense, which a name is never extended by ("Ballerina *comes* out")."""
    return tense(word) is not None


@functools.cache
def can_name(word: str) -> bool:
    """Could the word name something ("bass", "joker", a word no dictionary holds: "Oppenheimer")? A word
    that is only a verb form, an adjective or an adverb ("passed", "away") names nothing."""
    from lemminflect import getAllLemmas
    lemmas = getAllLemmas(word)
    return not lemmas or "NOUN" in lemmas or "PROPN" in lemmas
