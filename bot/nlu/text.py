"""Text normalisation shared by training, entity matching and serving.

Training and serving must see identical tokens, so this is the single place that decides them.
"""
from __future__ import annotations

import re
import unicodedata

# Words, and single pictographs ("👋", "🙏"): an emoji alone is a message too, and the training data says
# what it means. Skin-tone modifiers and joiners are not tokens.
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[\u2600-\u27bf\U0001f300-\U0001f3fa\U0001f400-\U0001faff]")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
MAX_NLU_CHARS = 500  # a 4,096-character message is answered from its start; NLU cost stays bounded


def fold(text: str) -> str:
    """Lowercase, strip accents and unify apostrophes: "Ana de Ármas’" -> "ana de armas'"."""
    text = text[:MAX_NLU_CHARS].translate(_APOSTROPHES).lower()
    if text.isascii():  # nothing to strip: most text, and a per-character loop at 5,000 facts costs 0.5 s
        return text
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


# Chat spellings of common words, one word for one ("wot" is "what"): every reader of tokens (the
# classifier, the grammar, the question map) sees the word it knows. Only spellings no other word has,
# in English or in the languages people write to it in ("wer" is German, "da" Italian).
CHAT_SPELLINGS = {
    "wot": "what", "wat": "what", "wut": "what", "wht": "what", "whut": "what", "wen": "when", "wher": "where",
    "hoo": "who", "r": "are", "u": "you", "ur": "your", "abt": "about", "bc": "because", "coz": "because",
    "cuz": "because", "bcoz": "because", "ppl": "people",
    "thx": "thanks", "thnx": "thanks", "pls": "please", "plz": "please", "gud": "good", "nite": "night",
}


def _words(found: list[str]) -> list[str]:
    words = [t[:-2] if t.endswith("'s") else t.replace("'", "") for t in found]
    if CHAT_SPELLINGS.keys().isdisjoint(words):  # most messages: no call per word
        return words
    return [CHAT_SPELLINGS.get(w, w) for w in words]


def tokens(text: str) -> list[str]:
    """Word tokens of folded text; possessive 's is dropped so "keanu's" matches "keanu", and a chat
    spelling is its word ("wot" -> "what")."""
    return _words(_TOKEN.findall(fold(text)))


def analysed(text: str) -> tuple[str, list[str], list[bool]]:
    """``fold(text)``, ``tokens(text)`` and ``possessives(text)`` from one fold and one scan: what the
    parser asks of every message."""
    folded = fold(text)
    found = _TOKEN.findall(folded)
    return folded, _words(found), [t.endswith("'s") for t in found]


def possessives(text: str) -> list[bool]:
    """For each token of ``tokens(text)``, whether it carried a possessive (or contracted) 's."""
    return [t.endswith("'s") for t in _TOKEN.findall(fold(text))]


def is_word(token: str) -> bool:
    """Letters or digits; emoji and other pictographs are tokens for the classifier, not words."""
    return token[:1].isascii() and token[:1].isalnum()


STOPWORDS = frozenset(
    """a an the and or but of in on at to for from by with about as is are was were be been being am do does
    did done has have had having will would shall should can could may might must it its it's this that these
    those there here what which who whom whose when where why how i me my mine you your yours we us our he him
    his she her hers they them their theirs not no yes so if then than too very just also any some all
    one ones s t ll re ve d m im youre whats whos hows wheres thats dont doesnt isnt arent wasnt whats
    please pls plz tell know say give show let lets get got ok okay oh hey hi yo u ur r ya yeah yep nope
    really actually like well now again still ever even more most other else into out up over much many
    gonna wanna gotta kinda sorta guys guy anyone someone something thing things stuff
    id youd hed theyd youll theyll ive youve weve theyve wont cant couldnt wouldnt shouldnt didnt havent
    hasnt hadnt aint werent myself yourself himself herself itself themselves""".split()
)


# Discourse filler: says how something is asked, never what ("charon's in it, right?", "or nah").
FILLER = frozenset(
    """right nah naw yup yass lol lmao haha hahaha huh eh hmm hmmm umm um uh ah ahh aha btw tbh imo idk
    basically exactly sure probably maybe perhaps honestly literally seriously totally definitely anyway
    mean wondering wonder curious quick question quickly idea think guess bet reckon suppose man dude bro
    mate pal folks cool nice great awesome fine alright true correct wow omg plz pls please yeah yea yep ya
    okay ok guys tho though actually kinda sorta wanna gonna gotta lemme gimme gal fam bruh rn ngl smh hey
    yo ooh oh besides else except apart remind recall forgot forget forgotten""".split()
)
# Irregular verb forms no suffix rule reaches ("gave" is no name): known words for telling names apart,
# not vocabulary (they never make an intent fit a question)
IRREGULAR_VERBS = frozenset(
    """gave given told said saw seen made did done went gone took taken came got gotten knew known thought
    found began begun wrote written shot brought bought left felt kept held meant met paid ran sat stood
    spoke spoken heard lost won chose chosen fell fought led rode rose sang sold sent shook slept spent
    stole struck swore taught threw understood woke wore drove driven ate eaten flew flown grew grown
    hung forgot forgotten forgave hid hidden""".split()
)


def content_tokens(toks: list[str]) -> list[str]:
    return [t for t in toks if t not in STOPWORDS]
