"""Text normalisation shared by training, entity matching and serving.

Training and serving must see identical tokens, so this is the single place that decides them.
"""
from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
MAX_NLU_CHARS = 500  # a 4,096-character message is answered from its start; NLU cost stays bounded


def fold(text: str) -> str:
    """Lowercase, strip accents and unify apostrophes: "Ana de Ármas’" -> "ana de armas'"."""
    text = unicodedata.normalize("NFKD", text[:MAX_NLU_CHARS].translate(_APOSTROPHES).lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Word tokens of folded text; possessive 's is dropped so "keanu's" matches "keanu"."""
    return [t[:-2] if t.endswith("'s") else t.replace("'", "") for t in _TOKEN.findall(fold(text))]


STOPWORDS = frozenset(
    """a an the and or but of in on at to for from by with about as is are was were be been being am do does
    did done has have had having will would shall should can could may might must it its it's this that these
    those there here what which who whom whose when where why how i me my mine you your yours we us our he him
    his she her hers they them their theirs not no yes so if then than too very just also any some all
    one ones s t ll re ve d m im youre whats whos hows wheres thats dont doesnt isnt arent wasnt whats
    please pls plz tell know say give show let lets get got ok okay oh hey hi yo u ur r ya yeah yep nope
    really actually like well now again still ever even more most other else into out up over much many
    gonna wanna gotta kinda sorta guys guy anyone someone something thing things stuff""".split()
)


def content_tokens(toks: list[str]) -> list[str]:
    return [t for t in toks if t not in STOPWORDS]
