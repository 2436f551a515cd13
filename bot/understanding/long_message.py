"""The questions a long message asks, wherever they stand in it.

People paste an article under their question ("who plays Charon?" and 4,000 characters), but they also
ramble first and ask last ("me and my mates argued all night... who is actually directing it?"), or ask
in the middle of a story. Reading the whole message as one question drowns the question's words in the
chatter's; reading only its opening misses a question at the end. So a long message is cut into its
sentences and the ones that read as questions are kept, in order: the Brain answers the first that it
can answer (dialogue.Brain._alternatives), the way a person skims for the question mark.

A sentence reads as a question when it ends with a question mark or opens, after a few filler words
("so", "anyway", "ok but"), with a question word or an auxiliary ("is Keanu in it or not"). A short
opening paragraph with more under it is the question above a paste: only its sentences are asked (the
whole paragraph when none reads as a question: "who plays charon" with no question mark). Nothing here knows a film: it is English sentence shape only.
"""
from __future__ import annotations

import re

from ..nlu.text import tokens
from ..nlu.vocab import QUESTION_WORDS
from .interpretation import YES_NO_OPENERS

LONG_MESSAGE = 300  # characters: beyond this, a message is read for its questions
MAX_QUESTIONS = 4  # question sentences tried: a paste's own sentences are not the user's questions
QUESTION_LENGTH = 300  # characters: a longer "sentence" is run-on chatter, read only for its end
PARAGRAPH = re.compile(r"\n\s*\n")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
FILLERS = frozenset("so ok okay anyway anyways but and also hey hi hello well just oh um uh lol right then "
                    "honestly seriously basically quick question please".split())
MAX_FILLERS = 3
# an indirect question: "could you tell us when...", "I'd like to know who...", "I wonder whether..."
EMBEDDED = re.compile(r"\b(?:tell|know|wonder|wondering|ask|asking|explain)\b(?:\s+(?:me|us|them))?\s+"
                      r"(?P<wh>(?:who|whom|what|when|where|which|why|how|whether|if)\b)", re.IGNORECASE)
# a question after a short lead-in of its own: "according to this *when is it out*", "from the article, *who's
# directing*": a question word and its verb within the first few words
WH_VERB = re.compile(r"\b(?P<wh>who|what|when|where|which|why|how)(?:'s|\s+(?:is|are|was|were|does|do|did|can|"
                     r"will|would|has|have|should)\b)", re.IGNORECASE)
LEAD_IN = 4  # words before the question word
NOT_ASKING = re.compile(r"(?:\bnot|n't|\bno idea|\bdont)\s*$", re.IGNORECASE)  # "I don't know how, ..."
OPENERS = QUESTION_WORDS | YES_NO_OPENERS | frozenset("tell name list explain".split())
# a lead-in that talks of the text, the source or the turn of the talk, before a comma and a question
META_LEAD = frozenset("based on according to from in going by judging given the this that text below above "
                      "attached pasted article post piece passage lastly finally next also first firstly secondly "
                      "thirdly last one more another quick question ok okay so and well now then s is wrong "
                      "incorrect nope no hmm um uh".split())  # ...or of the last answer: "that's wrong, isn't...?"
ASIDE_WORDS = frozenset("i im ive me my mine this below above attached pasted sorry read reading article post "
                        "thread link".split())  # a remark about the user or the paste, after the question


def question_sentences(text: str) -> tuple[str, ...]:
    """The question sentences of a long message, in order (at most ``MAX_QUESTIONS``); () for a short
    message or one with no question in it (it is read as it is)."""
    if len(text) <= LONG_MESSAGE:
        return ()
    paragraphs = [p.strip() for p in PARAGRAPH.split(text) if p.strip()]
    head = paragraphs[0] if len(paragraphs) > 1 and len(paragraphs[0]) <= LONG_MESSAGE and tokens(paragraphs[0]) else ""
    asked = tuple(s for s in _sentences(head) if _asks(s))
    if head and (asked or not any(_asks(s) for p in paragraphs[1:] for s in _sentences(p))):
        # a short line above the rest: the question, and a paste under it whose own sentences ("What's
        # it about?" as a heading) are not the user's questions; a greeting above ("Dear sir or madam,")
        # is no question when the rest asks one
        return asked[:MAX_QUESTIONS] or (head,)
    found: list[str] = []
    for paragraph in paragraphs:
        for sentence in _sentences(paragraph):
            if sentence not in found and _asks(sentence):
                found.append(sentence)
            if len(found) >= MAX_QUESTIONS:
                return tuple(found)
    return tuple(found)


def asked_sentences(text: str) -> tuple[str, str] | None:
    """A short message of several sentences, some asking and some not ("Thank you. And which actress has
    the title role?", "My grandson mentioned a film called Ballerina. What is it about?"), or one question
    after a lead-in about the text or the turn ("Based on the text below, who...?", "Lastly, which..."):
    (its question sentences, its other sentences), so that the question is read without the talk around
    it. None for one plain sentence, or when no sentence, or every one, asks."""
    if len(text) > LONG_MESSAGE:
        return None
    sentences = [s for p in PARAGRAPH.split(text) for s in _sentences(p.strip(), short=True) if s]
    asked = [s for s in sentences if _asks(s)]
    rest = [s for s in sentences if not _asks(s)]
    joined = " ".join(asked)
    if not asked or not rest and joined == " ".join(text.split()):
        return None
    return joined, " ".join(rest)


def _sentences(paragraph: str, short: bool = False) -> list[str]:
    """The paragraph's sentences; a question after a lead-in ("So my question is: *where does it sit?*")
    or asked inside a statement ("we'd be grateful if you could tell us *when the film is released*") is
    the sentence from its question on. ``short``: a short message's sentences, where only a lead-in about
    the text or the turn is cut ("Lastly, which..."): a name before the question ("Anjelica Huston, who
    does she play?") is what its pronoun stands for."""
    out = []
    for sentence in SENTENCE_END.split(paragraph):
        sentence = sentence.strip()
        lead, colon, rest = sentence.rpartition(": ")
        if colon and rest and _asks(rest):
            sentence = rest.strip()  # "So my question is: where does it sit?"
        lead, comma, rest = sentence.partition(", ")
        if comma and _asks(rest) and all(t in META_LEAD for t in tokens(lead)):
            sentence = rest.strip()  # "Based on the text below, who is the chair?", "Lastly, which actor...?"
        if short:
            if sentence:
                out.append(sentence)
            continue
        embedded = EMBEDDED.search(sentence)
        if embedded is not None and not _asks(sentence) and len(tokens(sentence[embedded.start("wh"):])) > 2 \
                and not NOT_ASKING.search(sentence[:embedded.start()]):
            sentence = sentence[embedded.start("wh"):]
        lead_in = WH_VERB.search(sentence) if not _asks(sentence) else None
        if lead_in is not None and len(sentence[:lead_in.start()].split()) <= LEAD_IN \
                and not NOT_ASKING.search(sentence[:lead_in.start()]):
            sentence = sentence[lead_in.start("wh"):]  # "according to this when is it out"
        if len(sentence) > QUESTION_LENGTH:
            sentence = _tail(sentence)
        sentence = _without_aside(sentence)
        if sentence:
            out.append(sentence)
    return out


def _without_aside(sentence: str) -> str:
    """A question with a remark of the user's own after a comma ("when is it out, *read this but couldn't
    find it*", "is keanu in it, *long read sorry*"): the question alone, the remark's words being about
    the paste, not the film. A remark tells itself by talking of the user or the text (``ASIDE_WORDS``)."""
    question, comma, remark = sentence.partition(", ")
    if not comma or not _asks(question) or _asks(remark) or not set(tokens(remark)) & ASIDE_WORDS:
        return sentence
    return question


def _asks(sentence: str) -> bool:
    toks = tokens(sentence)
    if not toks:
        return False
    if sentence.rstrip().endswith("?"):
        return True
    lead = 0
    while lead < min(MAX_FILLERS, len(toks) - 1) and toks[lead] in FILLERS:
        lead += 1
    return toks[lead] in OPENERS


def _tail(sentence: str) -> str:
    """A run-on sentence's last clause ("...and nobody could agree, who is directing it?")."""
    clauses = [c.strip() for c in re.split(r"[,;:]\s+", sentence) if c.strip()]
    return clauses[-1] if clauses and len(clauses[-1]) <= QUESTION_LENGTH else ""
