"""What a message means, as one immutable value: the output of the understanding stage.

Every front's message becomes one Interpretation before anything is answered; handlers read it and
never re-decide what was asked. Steps (bot/understanding/interpreter.py) build it in order, each
returning a new value, so what one step decided is visible to the next and to tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..nlu import Parse
from .questions import Question
from .resolution import Resolution, Slots

QuestionKind = Literal["wh", "yesno", "list", "about", "chitchat", "empty", "other_language"]
YES_NO_OPENERS = frozenset("is are was were does do did has have had will would can could should am".split())
LIST_WORDS = frozenset("list all everyone everything".split())


@dataclass(frozen=True)
class Verdict:
    """Whether the message asks something the bot may answer, and why not when it may not."""

    in_scope: bool = True
    reason: str = ""  # the step that decided: "off_topic", "low_confidence", ...
    words: tuple[str, ...] = ()  # the words that showed it
    rule: str = ""  # the rule that decided (a scope rule: "opening", "unnamed", ...), also when it fits


@dataclass(frozen=True)
class Premise:
    """What a question takes as given that the facts contradict (the false_premise step), for any relation:
    "why did *Keanu* direct it?" (someone else does), "why is it out in *2022*?" (a stated value it is
    not), "how did Len Wiseman direct *Parabellum*?" (the film has no such fact; his are elsewhere)."""

    relation: str
    subject: str  # the fact's subject the question is about (the film)
    presumed: str | None = None  # the entity it takes as the fact's object; None when it presumes a value
    role: str | None = None  # the character it casts them as ("why does X play *Charon*?")
    credits: bool = False  # the subject has no fact of the relation: corrected from the presumed one's own
    values: tuple[str, ...] = ()  # the presumed words the stated value lacks ("2022", "after")
    absent: bool = False  # it presumes ``presumed`` is not in the film ("why did Keanu refuse to be in it?")


@dataclass(frozen=True)
class Company:
    """ "who did Ana de Armas work alongside in No Time To Die?", "which Transporter stars did he work
    with?": the people of a film's cast (``relations``: the film-to-person relations with a role) other
    than the one asked about."""

    person: str
    films: tuple[str, ...]  # one, or the works the last answer listed ("he directed X, Y and Z" "with whom?")
    relations: tuple[str, ...]
    parts: tuple[str, ...] = ()  # the characters asked for ("who played *Bond* opposite her?"): only their actors


@dataclass(frozen=True)
class Interpretation:
    text: str  # the text understood (a long paste: its opening question)
    parse: Parse
    kind: QuestionKind
    intent: str | None  # the route that answers it (None: nothing does)
    confidence: float
    relations: tuple[str, ...] = ()  # the relations asked about
    asked: Question | None = None  # a relation from the question map that no intent reads
    nearby: tuple[Question, ...] = ()  # ...and the map's questions it offers when its fact is unknown
    subject: str | None = None  # entity id the map's question is about, when it is resolved here
    language: str | None = None  # ISO code of a message in another language
    polarity: bool = True  # False for "isn't", "didn't", "not": the yes/no asked negatively
    follow_up: bool = False  # continues the last turn's question ("and Charon?")
    correction: bool = False  # replaces the last turn's question or subject ("sorry, I meant Charon")
    source_request: bool = False  # "says who?": the last question again, with its source
    parts: tuple[str, ...] = ()  # the questions of a multi-part message, in order
    alternatives: tuple[str, ...] = ()  # a long message's question sentences: the first answered is the reply
    selection: bool = False  # ...asked of each of the last reply's people: the reply keeps the yes ("which of them")
    premise: Premise | None = None  # what it wrongly takes as a fact, to be corrected from the facts
    company: Company | None = None  # "who did she work with in it?": the others of a film's cast
    says: tuple[str, str] | None = None  # (publication, subject): "what did Collider say about Rooney?"
    presumes: str | None = None  # a clause taken as given ("since X directs it, ..."), as a yes/no to check first
    presumed_in: str = ""  # ...and the message it was taken from, read whole when the check decides nothing
    resolution: Resolution | None = None  # whom a fact question is about, resolved once (resolve_subject)
    work: Resolution | None = None  # the work a yes/no question asks of ("is Keanu in *Ballerina*?")
    slots: Slots | None = None  # the film qualifier, the film left out, the other names (with resolution)
    ellipsis: str | None = None  # the side of the last turn's fact a bare fragment asks for ("as who?")
    foreign: tuple[str, ...] | None = None  # words the intent's family was never trained with (scope_words)
    verdict: Verdict = field(default_factory=Verdict)
    topic: str | None = None  # the film the chat is talking about (entity id), whatever the steps decide
    steps: tuple[str, ...] = ()  # the steps that changed it, in order (for tests and tracing)


def question_kind(toks: list[str]) -> QuestionKind:
    """wh, yes/no, list or about from how the question opens."""
    if not toks:
        return "wh"  # the "empty" step decides, after another script has had its chance
    if toks[0] in YES_NO_OPENERS:
        return "yesno"
    if toks[0] in LIST_WORDS or toks[:2] in (["name", "all"], ["who", "all"]):
        return "list"
    if toks[:3] == ["tell", "me", "about"] or toks[:2] == ["who", "is"] and len(toks) <= 4:
        return "about"
    return "wh"


NEGATIONS = frozenset("not isnt arent wasnt werent doesnt dont didnt hasnt havent wont cant never".split())


def polarity_of(toks: list[str]) -> bool:
    return NEGATIONS.isdisjoint(toks)


def named_subject(it: Interpretation) -> bool:
    """Whether the question map's subject is a name the message says, not the film it fell back to or a
    pronoun's ("who wrote it?")."""
    return it.subject is not None and any(it.subject in m.entity_ids for m in it.parse.mentions)
