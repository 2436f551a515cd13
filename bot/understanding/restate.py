"""A question the bot cannot answer, said back as what is not known: "who killed Rooney's family?" ->
"who killed Rooney's family", "did they film it in Prague?" -> "whether they filmed Ballerina in Prague".

    restate("does ana de armas do her own stunts in it?", {"ana de armas": "Ana de Armas"}, "Ballerina")
    # -> Restated(clause="whether Ana de Armas does her own stunts in Ballerina", quoted=False)

An honest "I don't know" names what it does not know (issue 10: "the article doesn't say who wrote
it"), whatever was asked, also for the questions no relation of the question map declares. This is
English grammar, nothing about a film: the question's auxiliary moves behind its subject (an indirect
question), "do"-support goes into the verb ("did they film" -> "they filmed", by lemminflect), names
take their spelling from the knowledge, "it" becomes the film talked about, "I"/"my" become "you"/"your".
Where the words do not fall into a shape it knows (no subject it can find), the question is quoted as
it was asked instead; a message that asks the bot itself ("what do you think?") is no fact question
and gets None, as does anything that is not a question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from ..knowledge import KnowledgeBase
from ..nlu.text import tokens
from .interpretation import Interpretation
from .grammar import inflect as _inflect, is_base_verb as _is_base_verb, is_verb_form as _is_verb_form

WH = frozenset("who whom whose what which when where why how".split())
HOW_PHRASES = frozenset("much many long old big tall far often come soon".split())
BE = frozenset("is are was were".split())
DO = frozenset("do does did".split())
MODAL = frozenset("will would can could should shall may might must has have had".split())
AUX = BE | DO | MODAL
ADVERBS = frozenset("ever really actually also even still never always first originally just already "
                    "personally".split())
PRONOUN_SUBJECTS = frozenset("he she it they there this that these those".split())
DETERMINERS = frozenset("the a an his her its their this that these those any some my your our".split())
PREPOSITIONS = frozenset("in on at for with to from by about after before during into of over than as".split())
# what a user puts before the question itself: "do you know who...", "pls tell me when..."
OPENERS = (("do", "you", "know"), ("does", "anyone", "know"), ("can", "you", "tell", "me"),
           ("could", "you", "tell", "me"), ("tell", "me"), ("i", "wonder"), ("i", "want", "to", "know"),
           ("i'd", "like", "to", "know"), ("any", "idea"), ("wondering",), ("so",), ("ok",), ("okay",),
           ("hey",), ("pls",), ("please",), ("btw",), ("and",), ("but",), ("also",), ("quick", "question"))
CONTRACTIONS = {"what's": "what is", "who's": "who is", "where's": "where is", "when's": "when is",
                "how's": "how is", "why's": "why is", "it's": "it is", "that's": "that is",
                "there's": "there is", "isn't": "is not", "aren't": "are not", "wasn't": "was not",
                "weren't": "were not", "doesn't": "does not", "don't": "do not", "didn't": "did not",
                "won't": "will not", "can't": "cannot", "couldn't": "could not", "hasn't": "has not",
                "haven't": "have not", "wouldn't": "would not", "shouldn't": "should not",
                "whats": "what is", "whos": "who is", "wheres": "where is", "whens": "when is"}
PERSON = {"i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "i'm": "you are",
          "im": "you are", "am": "are", "i've": "you have"}
SECOND_PERSON = frozenset("you your yours yourself you're ur u".split())
TAIL_FILLERS = frozenset("then lol pls please btw anyway exactly though tho again now haha".split())
MAX_WORDS = 24  # longer than a question: quoted (cut) rather than rearranged


@dataclass(frozen=True)
class Restated:
    clause: str  # "who killed Rooney's family" / "whether there will be a Ballerina 2" / the question quoted
    quoted: bool  # True: the question as asked, in quotes; False: an indirect question to say after "say"


# words that put a question in a film's world even when it names nothing the knowledge holds
FILM_WORDS = frozenset("it its film films movie movies flick cast character characters scene scenes sequel "
                       "prequel franchise series trailer actor actress actors director plot ending story "
                       "stunts soundtrack".split())


def said_back(it: Interpretation, kb: KnowledgeBase) -> Restated | None:
    """The interpreted question said back, when it is a question about the film's world: it names
    something the knowledge holds, an intent of the film took it, or it speaks of a film's parts."""
    names = named(it, kb)
    if not names and not it.parse.instalments and it.intent in (None, "out_of_scope") \
            and not FILM_WORDS & set(it.parse.tokens):
        return None
    # the film talked about: "where can I see it?" after Chapter 4 asks of Chapter 4, even when refused
    film = it.slots.context_film.name if it.slots is not None else kb.name(it.topic) if it.topic else kb.title
    return restate(it.text, names, film)


def named(it: Interpretation, kb: KnowledgeBase) -> dict[str, str]:
    """The names of the knowledge the message holds, as typed -> as the knowledge spells them: the parse's
    mentions (typos too) and every alias written out (a step may have set a mention aside: "Rooney's
    mother" is someone else, but "Rooney" is still spelt so), except inside a title set aside as
    someone else's whole ("Die Hard 2" is not "the fourth Die Hard film 2")."""
    names = {m.text: kb.entities[m.entity_ids[0]].name for m in it.parse.mentions
             if m.entity_ids and m.entity_ids[0] in kb.entities}
    toks = it.parse.tokens
    if it.parse.instalments:
        aside = {i for start, end, _ in it.parse.instalments for i in range(start, end)}
        toks = ["|" if i in aside else t for i, t in enumerate(toks)]
    text = f" {' '.join(toks)} "
    for key, padded, name in _spellings(kb):
        if padded in text:
            names.setdefault(key, name)
    return names


_SPELLINGS: WeakKeyDictionary[KnowledgeBase, tuple[tuple[str, str, str], ...]] = WeakKeyDictionary()


def _spellings(kb: KnowledgeBase) -> tuple[tuple[str, str, str], ...]:
    """(alias as tokens, the same padded with spaces, the entity's name) for every name and alias of the
    knowledge, in its order: a pure function of the knowledge, worked out once per knowledge base (done per
    message, tokenizing every alias was half the time of a message the bot cannot answer). Weakly keyed, so
    a reloaded knowledge base takes its old one's entry with it."""
    found = _SPELLINGS.get(kb)
    if found is None:
        found = tuple((key, f" {key} ", entity.name) for entity in kb.entities.values()
                      for alias in (entity.name, *entity.aliases)
                      if len(key := " ".join(tokens(alias))) > 2)
        _SPELLINGS[kb] = found
    return found


def restate(text: str, names: dict[str, str], film: str) -> Restated | None:
    """The indirect question for ``text``; ``names`` maps a lowercased name in it to its spelling."""
    words = _words(text)
    while True:  # "hey, do you know who..." -> "who..."
        opener = next((o for o in OPENERS if tuple(words[:len(o)]) == o and len(words) > len(o)), None)
        if opener is None:
            break
        words = words[len(opener):]
    while len(words) > 2 and words[-1].lower() in TAIL_FILLERS:  # "...the next one *then*", "...it *lol*"
        words = words[:-1]
    if not words or (words[0] not in WH and words[0] not in AUX):
        return None  # a statement or a request, no question to say back
    if any(w in SECOND_PERSON for w in words):
        return None  # asks the bot itself: no fact the article could state
    words = _spelled(words, names, film)
    if len(words) > MAX_WORDS:
        return Restated(" ".join(words[:MAX_WORDS]) + "…", True)
    clause = _indirect(words)
    if clause is None:
        return Restated(" ".join(words), True)
    return Restated(" ".join(PERSON.get(w, w) for w in clause), False)


def _words(text: str) -> list[str]:
    first = re.split(r"[?\n]", text.strip(), maxsplit=1)[0]
    clauses = first.split(",")
    while len(clauses) > 1 and len(clauses[0].split()) < 3:  # "hey, who..." : the opener is no clause
        clauses[:2] = [clauses[0] + " " + clauses[1]]
    out: list[str] = []
    for raw in clauses[0].split():  # "when is it out, read this...": the question is its first clause
        word = raw.strip(".,!;:\"“”()[]").replace("’", "'")
        low = word.lower()
        if not word:
            continue
        grammar = low in CONTRACTIONS or low in WH or low in AUX or low in DETERMINERS or low in PREPOSITIONS \
            or low in PERSON or low in SECOND_PERSON or low in PRONOUN_SUBJECTS or word.isupper()
        out.extend(CONTRACTIONS.get(low, low).split() if grammar else [word])  # "Bergen" stays as typed
    return out


FILM_NOUNS = frozenset("film films movie movies one".split())  # a name ending in one is not followed by another


def _spelled(words: list[str], names: dict[str, str], film: str) -> list[str]:
    """Names as the knowledge spells them (longest first), "it" as the film, the rest as typed."""
    out: list[str] = []
    i = 0
    spans = sorted(((tuple(k.split()), v) for k, v in names.items() if k), key=lambda kv: -len(kv[0]))
    while i < len(words):
        for key, name in spans:
            bare = [w.lower().removesuffix("'s") for w in words[i:i + len(key)]]
            if tuple(bare) == key:
                out.append(name + ("'s" if words[i + len(key) - 1].endswith("'s") else ""))
                i += len(key)
                break
        else:
            out.append(film if words[i] == "it" else film + "'s" if words[i] == "its" else words[i])
            i += 1
        if len(out) > 1 and out[-2] == "the" and out[-1][:4].lower() == "the ":
            out[-2:] = [out[-1]]  # "the" + "the John Wick series"
        elif len(out) > 1 and out[-2].lower() in ("which", "what") and out[-1][:4].lower() == "the ":
            out[-1] = out[-1][4:]  # "which" + "the fourth Die Hard film"
        if len(out) > 1 and out[-1].lower() in FILM_NOUNS and out[-2].lower().endswith(tuple(FILM_NOUNS)):
            out.pop()  # "the fourth Die Hard film" + "film"
    return out


def _indirect(words: list[str]) -> list[str] | None:
    if words[0] in AUX:  # yes/no: "is it out in May" -> "whether it is out in May"
        moved = _behind_subject(words[0], words[1:])
        return None if moved is None else ["whether", *moved]
    end = 1  # the wh-phrase: "who", "how much", "which studio", "what kind of fighting"
    if words[0] == "how" and len(words) > 1 and words[1] in HOW_PHRASES:
        end = 2
    while end < len(words) and end < 5 and words[end] not in AUX and words[0] in ("which", "what", "whose") \
            and words[end] not in PREPOSITIONS - {"of"} and not _is_verb_form(words[end], gerund=False):
        end += 1
    if end >= len(words) or words[end] not in AUX:
        return words  # "who choreographed the fights": already in the order of a statement
    if end + 1 < len(words) and words[end] not in DO and _is_verb_form(words[end + 1]):
        return words  # "which studio is releasing it": the wh-phrase is the subject
    if words[end] in BE and end + 1 < len(words) and words[end + 1] in PREPOSITIONS:
        return words  # "who is in Harbour Lights": the wh-word is the subject
    if words[end] in BE and end + 1 < len(words) and words[end + 1] != "not" and not _finds_subject(words[end + 1:]):
        return words[:end] + words[end + 1:] + [words[end]]  # "what is the budget" -> "what the budget is"
    moved = _behind_subject(words[end], words[end + 1:])
    return None if moved is None else [*words[:end], *moved]


def _behind_subject(aux: str, rest: list[str]) -> list[str] | None:
    """``aux`` moved behind the subject that opens ``rest``; "do"-support folded into the verb."""
    negated = bool(rest) and rest[0] == "not"  # "why did not Rooney's father come" (from "didn't")
    if negated:
        rest = rest[1:]
    n = _subject_length(rest, do=aux in DO)
    if n is None or n == 0:
        return None
    subject, tail = rest[:n], rest[n:]
    if negated:
        return [*subject, aux, "not", *tail]  # "why Rooney's father did not come": the negation keeps "do"
    if not tail and len(subject) > 2 and (aux in BE or aux in DO):
        subject, tail = subject[:2], subject[2:]  # "is Rooney's father alive": the predicate ran into it
    if aux in DO:
        if not tail:
            return None
        k = 0
        while k < len(tail) - 1 and tail[k] in ADVERBS:  # "did he *ever* meet her": the verb comes after
            k += 1
        if tail[k] in PREPOSITIONS:
            # the subject ran on past the words counted ("does the Korean film *with Jeon Jong-seo* come
            # out"): its verb is the first base form after them, or there is no reading
            j = next((j for j in range(k + 1, min(len(tail), k + 7)) if _is_base_verb(tail[j], nouns=True)), None)
            if j is None:
                return None
            subject, tail, k = [*subject, *tail[:j]], tail[j:], 0
        verb = _inflect(tail[k], "VBD" if aux == "did" else "VBZ" if aux == "does" else "VB")
        return [*subject, *tail[:k], verb, *tail[k + 1:]]
    if aux in BE and subject == ["you"]:
        aux = "are"
    return [*subject, aux, *tail]


def _subject_length(rest: list[str], do: bool = False) -> int | None:
    """How many words of ``rest`` are the subject: a pronoun, a name (one capitalised run), or a
    determiner and its nouns up to the first verb form or preposition."""
    if not rest:
        return None
    demonstrative_noun = rest[0] in DETERMINERS and len(rest) > 1 and not _is_base_verb(rest[1], nouns=True) \
        and not _is_verb_form(rest[1]) and rest[1] not in AUX and rest[1] not in PREPOSITIONS
    if (rest[0] in PRONOUN_SUBJECTS or rest[0] in ("i", "you")) and not demonstrative_noun:
        return 1  # ("did *that woman* work with...": "that" before a noun is its determiner)
    if rest[0][:1].isupper() and not rest[0].endswith("'s"):  # a name as the knowledge spells it
        n = 1
        while n < len(rest) and rest[n][:1].isupper():
            n += 1
        return n
    if not rest[0] in DETERMINERS and not rest[0].endswith("'s"):
        # a name the knowledge does not hold ("did disney announce..."): up to the verb in its base form
        verb = next((n for n in range(1, min(len(rest), 4)) if _is_base_verb(rest[n], nouns=True)), None)
        return verb
    if rest[0] in DETERMINERS or rest[0].endswith("'s"):  # "the director", "Rooney's father"
        n = 1
        while n < len(rest) and n < 5 and rest[n] not in PREPOSITIONS and rest[n] not in AUX \
                and rest[n] not in ADVERBS and not _is_verb_form(rest[n]) and not (n > 1 and _is_base_verb(rest[n], nouns=do)):
            n += 1
        return n
    return None


def _finds_subject(rest: list[str]) -> bool:
    """After "is": does a subject come before a verb form ("is *Keanu* coming back")? Else "is" is the
    copula of the wh-word ("what is *the budget*")."""
    n = _subject_length(rest)
    if n is None:
        return False
    definite = rest[0] in PRONOUN_SUBJECTS or rest[0][:1].isupper() and not rest[0].endswith("'s")
    return definite or n < len(rest) and _is_verb_form(rest[n])
