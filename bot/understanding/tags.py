"""A statement asked as a question, made the yes/no question it is: "Ana de Armas is the lead, right?" ->
"is Ana de Armas the lead", "Keanu plays John Wick, doesn't he?" -> "does Keanu play John Wick".

People check a fact by stating it and asking for agreement: a tag at the end ("right?", "correct?",
"isn't it?", "yeah?"), an opener ("is it true that ..."), or only the question mark ("Ana's the lead?").
Read as a statement, the classifier sees no question and the scope rules see no question word. This
is English word order, nothing about a film: the statement's auxiliary (or "do", with the verb's base
form) moves before its subject, the tag is dropped, and the stage reads the question that results.
"""
from __future__ import annotations

from .grammar import lemma, tense

END_TAGS = tuple(sorted((tuple(t.split()) for t in (
    "right", "correct", "yeah", "yes", "no", "innit", "true", "eh", "ya", "yea", "ok", "am i right",
    "is that right", "is that true", "is that correct", "right or wrong", "or not", "or what",
    "isnt it", "isnt he", "isnt she", "arent they", "wasnt it", "wasnt he", "wasnt she", "werent they",
    "doesnt it", "doesnt he", "doesnt she", "dont they", "didnt it", "didnt he", "didnt she", "didnt they",
    "is it", "is he", "is she", "are they", "does he", "does she", "does it", "did he", "did she", "did they",
    "wont it", "wont he", "wont she", "will it", "hasnt it", "hasnt he", "hasnt she", "havent they")),
    key=len, reverse=True))
TRUE_OPENERS = tuple(tuple(t.split()) for t in (
    "is it true that", "is it right that", "is it correct that", "am i right that", "am i right in thinking that",
    "am i right in thinking", "is it true", "true that", "correct me if im wrong but", "correct me if im wrong"))
FILLERS = tuple(tuple(t.split()) for t in ("so", "ok so", "okay so", "wait", "i think", "i heard", "i read",
                                              "i believe", "i thought", "apparently", "and"))
AUX = frozenset("is are was were will would can could has have had does do did isnt arent wasnt werent "
                "wont doesnt dont didnt hasnt havent cant".split())
WH = frozenset("who what where when why how which whose".split())
NOT_SUBJECTS = frozenset("no nope sorry what who where when why how which i you we".split())
MAX_SUBJECT = 6
OPENS_QUESTION = AUX | WH | {"and"}
# END_TAGS by their last word, each list in END_TAGS' order (longest first): a message is checked against
# the few tags that can end it, not all fifty, with the same first match
TAGS_BY_LAST: dict[str, tuple[tuple[str, ...], ...]] = {
    last: tuple(t for t in END_TAGS if t[-1] == last) for last in {t[-1] for t in END_TAGS}}


def as_question(text: str, named: frozenset[str] = frozenset()) -> str | None:
    """The yes/no question a tagged statement asks, or None when ``text`` is no such statement.
    ``named``: the words of the names in it ("Keanu *Reeves*" is no verb)."""
    words = [w.strip(".,!?;:\"“”()") for w in text.replace("’", "'").split()]
    words = [w for w in words if w]
    low = [w.lower().replace("'", "") for w in words]
    tagged = False
    # only the tags ending in the message's last word can end it (an empty message reads them all, as it did)
    for tag in TAGS_BY_LAST.get(low[-1], ()) if low else END_TAGS:
        if tag[0] in AUX and low[0] in OPENS_QUESTION:
            continue  # "how old is she", "and is it": a question's own words, no tag
        if len(low) > len(tag) + 1 and tuple(low[-len(tag):]) == tag:
            words, low, tagged = words[:-len(tag)], low[:-len(tag)], True
            break
    for opener in TRUE_OPENERS:
        if len(low) > len(opener) + 1 and tuple(low[:len(opener)]) == opener:
            words, low, tagged = words[len(opener):], low[len(opener):], True
            break
    if not tagged and not text.rstrip().endswith("?"):
        return None
    for filler in FILLERS:
        if len(low) > len(filler) + 1 and tuple(low[:len(filler)]) == filler:
            words, low = words[len(filler):], low[len(filler):]
            break
    if not low or low[0] in NOT_SUBJECTS or low[0] in AUX:
        asks = tagged and low and (low[0] in AUX or low[0] in WH)
        return " ".join(words) if asks else None  # "is it out, right?": the question it already is
    for p in range(1, min(len(low), MAX_SUBJECT + 1)):
        if low[p] in WH:
            return None  # "from this article, *how* long is it?": a wh-question after a lead-in, no statement
        if low[p] in AUX:
            return " ".join([words[p], *words[:p], *words[p + 1:]])
        form = tense(low[p]) if tagged and low[p] not in named else None  # a bare "?" moves an auxiliary only: "Wiseman directed it?"
        if form is not None and (base := lemma(low[p])) is not None:
            return " ".join(["does" if form == "VBZ" else "did", *words[:p], base, *words[p + 1:]])
    return None
