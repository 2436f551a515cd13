"""The understanding stage: ordered, registered steps turn a message and the chat's context into one
Interpretation (bot/understanding/interpretation.py).

    interpreter = Interpreter(mind_parts...)
    it = interpreter.interpret(text, ctx)            # or interpret_parsed(text, parse, ctx) for Rasa

Each step is a plain function ``(Interpretation, Env) -> Interpretation`` registered in ``STEPS`` in the
order it runs, with a docstring saying what it claims and why. A step returns its input unchanged when
the message is not its business; it never mutates anything. A step that settles the message (an empty
message, another language, a question the map answers, a verdict that it is out of scope) ends the run:
later steps only refine questions still open.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol

from ..context import ChatContext
from ..knowledge import KnowledgeBase
from ..nlu import Parse
from ..nlu.text import STOPWORDS, fold, tokens
from ..nlu.vocab import stem
from ..knowledge.schema import Relation
from .interpretation import NEGATIONS, YES_NO_OPENERS, Company, Interpretation, Premise, Verdict, polarity_of, question_kind
from ..nlu.entities import MAX_INSTALMENT, Gazetteer
from .language import EnglishWords, LanguageNotes
from .long_message import LONG_MESSAGE, asked_sentences, question_sentences
from .names import set_aside_other_names
from .questions import Asked, Question, QuestionMap
from .grammar import can_name, finite_verb, is_english, is_verb_form, lemma, tense
from .tags import as_question
from .resolution import (FILM_WORDS, age_variant, KIND_WORDS, PRONOUNS, Resolution, Scene, resolve, resolve_yes_no, slots_of, stray_numbers, unknown_words,
                         unknown_subject as strangers_in_question)

FOLLOW_UP_STARTS = (("and",), ("what", "about"), ("how", "about"), ("what", "of"), ("and", "what", "about"),
                    ("ok", "and"), ("also",), ("then",))
FOLLOW_UP_FILLER = frozenset("and what about how of ok okay also then the so too please hmm well".split())
QUESTION_OPENERS = frozenset("who whom what when where which why how whose".split()) | YES_NO_OPENERS
ELLIPSIS_FILLER = frozenset("else one ones it that this them".split())  # "and who else?", "and which one?"
# "is he *doing* Ballerina *too*?": the last question again of a new name, with the pronoun its subject
LIGHT_FOLLOW_UP = frozenset("does did do doing done too also either as well he she they him her them".split())
FOLLOW_UP_PLACES = frozenset("in for of on from".split())  # "and in Ballerina?": the same question of that film
SOURCE_INTENT = "ask_source"  # "says who?", "source?"
FACT_HANDLERS = frozenset({"facts", "yesno", "about"})
CORRECTION_OPENERS = frozenset("sorry no nope nah wait oops whoops actually rather".split())
CORRECTION_PHRASES = (("i", "meant"), ("i", "mean"), ("i", "ment"), ("meant",), ("ment",), ("i", "was", "asking", "about"),
                      ("i", "actually", "wanted"), ("i", "wanted"), ("i", "was", "after"), ("not", "that"),
                      ("not", "this"), ("not", "him"), ("not", "her"), ("not", "them"), ("wrong", "one"))
CORRECTION_CLOSERS = (("i", "meant"), ("i", "mean"), ("i", "ment"))
CORRECTION_TAILS = frozenset("actually instead rather then sorry soz oops whoops lol haha please pls thanks thx".split())
CORRECTION_FILLER = 2  # words that may come before "I meant" ("ugh no I meant", "oh sorry I mean")
OPENING_FILLER = frozenset("ok okay k well so hmm hm um umm uh er alright right anyway anyways oh ah hey yo lol haha "
                           "ooh wait listen look ugh meh".split())  # talk before a question ("ok well who...")
CLOSING_FILLER = frozenset("then though tho lol haha please pls thanks thx again".split())  # ...and after it
CORRECTING_WORDS = NEGATIONS | frozenset("no mean meant sorry wait actually instead rather oops".split())
CORRECTION_REACH = 8  # how far into "not the fighting styles, I mean ..." the meant words may start
PEOPLE_TALK = frozenset("i me my mine you your yours we our us".split())  # "how old are you", "my budget"
ENGLISH_SHARE = 3  # a message whose words are more than a third English function words is English
PART_SPLIT = re.compile(
    r"\?\s+(?=\S)|,\s*(?=and\b)|\s+(?=(?:and|&)\s+(?:who|whom|what|when|where|which|how|is|are|does|do|did|was|will)\b)"
    r"|\s*\+\s*|,\s*(?=(?:who|whom|what|when|where|which|how)\b)|\s*;\s*(?=\S)",
    re.IGNORECASE)
MAX_PARTS = 3
MULTI_WORD_CUE = 2  # words: a question-map cue this long says which relation is asked
MIN_FACT_WORDS = 2  # a message's words in another subject's stated fact that make it that fact's question
SUBJECT_HANDLERS = frozenset({"facts", "about"})
UNKNOWN_SUBJECT = "unknown_subject"  # verdict reasons the Brain routes: say the name is unknown...
STRAY_NUMBER = "stray_number"  # ...or leave it to the search fallback
# Bare ellipsis: the side of the last fact a fragment asks for, by its words (English function words and
# film talk, no film's names), tried in this order.
ELLIPSIS_CUES = (
    ("role", frozenset("as playing role character part".split())),
    ("company", frozenset("opposite alongside with beside besides costar costars co else together".split())),
    ("film", frozenset("film movie flick picture one".split())),
)
SAYING = frozenset("say says said saying describe describes described describing report reports reported write "
                   "wrote written call calls called claim claims claimed reveal reveals revealed".split())
COMPANY_WORDS = frozenset("alongside opposite together beside with".split())  # "who did she work *with*"
COSTAR_NOUNS = frozenset("costar costars co-star co-stars castmate castmates".split())  # "her *co-star*"
ACTING_WORDS = frozenset("work worked working works star starred starring stars act acted acting appear appeared "
                         "appears play played playing plays team teamed teaming teams paired partnered".split())
ELLIPSIS_WH = frozenset("who whom what which anyone anybody someone somebody".split())  # "anyone else?"
ELLIPSIS_WORDS = frozenset(w for _, words in ELLIPSIS_CUES for w in words) | frozenset(
    "in is was s does did do that this he she they him her them star stars starring starred acting working work worked "
    "actor actors actress actresses people".split())  # "with which actor?"
ELLIPSIS_LENGTH = 6
DEMONSTRATIVES = frozenset("that this same".split())  # "that character", "this film": the last one talked of
FILM_POINTERS = frozenset("it its this that".split())  # "why did Keanu direct *it*?": the film talked about
# Openings that take the rest of the question as given ("why is it out in 2022?"), and the order words a
# presumed value may carry ("set *after* Chapter 4")
PRESUMING = (("why",), ("how", "come"), ("since",), ("given",), ("now", "that"), ("seeing", "as"), ("considering",),
             ("how", "did"), ("how", "does"), ("how", "was"), ("how", "is"))
PRESUMING_FIRST = frozenset(o[0] for o in PRESUMING)  # a message opening otherwise presumes nothing
ORDER_WORDS = frozenset("before after between during".split())
BEING_IN = frozenset("in appear appears appearing star stars starring back return returning join joining cast".split())
# verbs that take someone's absence as given ("why did he *refuse* to be in it?")
REFUSING = frozenset("refuse refused refusing refuses decline declined declining declines quit quits quitting "
                     "reject rejected rejecting skip skipped skipping".split())
# Openings of a clause taken as given before the question ("since X directs it, ...")
PRESUPPOSING = tuple(tuple(o.split()) for o in ("now that", "given that", "seeing as", "seeing that", "considering that",
                                                "since", "given", "considering", "so", "as", "because", "if"))
TITLE_OPENERS = frozenset("the a an in of on".split())
ROLE_MARKERS = frozenset("as playing plays played portrays portraying".split())
CASTING_WORDS = ROLE_MARKERS | frozenset("play portray portrayed cast casting star stars starring starred role part "
                                         "character".split())  # words that give someone a part
ELLIPSIS_PRONOUNS = frozenset("he she they him her them".split())
POSSESSIVES = {"his": "he", "her": "she", "their": "they"}
ABOUT_OPENERS = frozenset("what who whats whos".split())  # "what is the High Table?": tell me about it
ABOUT_WORDS = ABOUT_OPENERS | frozenset("is are was were s exactly called named titled".split())  # "what's X called"
ROLE_WORDS = frozenset("character role part".split())  # "her character": the part she plays
ANSWER_KINDS = {"who": frozenset({"person", "character"})}  # what a question opening with the word asks for


class RouteLike(Protocol):
    handler: str
    relations: list[str]
    about: list[str]
    given: str


class ScopeLike(Protocol):
    def applies(self, intent: str) -> str | None: ...
    def foreign(self, parse: Parse, intent: str) -> list[str]: ...
    def rule(self, name: str, parse: Parse, intent: str, foreign: list[str]) -> list[str] | None: ...


@dataclass(frozen=True)
class Env:
    """What the steps may read: the knowledge, the routes, the parser, the chat's context, the settings."""

    kb: KnowledgeBase
    routes: Mapping[str, RouteLike]
    parse: Callable[[str], Parse]
    questions: QuestionMap
    languages: LanguageNotes
    scope: ScopeLike | None
    known_words: frozenset[str]
    context: ChatContext
    threshold: float
    follow_up_confidence: float
    gazetteer: Gazetteer | None = None  # for names of other instalments ("Underworld 2")
    english: EnglishWords | None = None  # the Mind's English vocabulary, built once (None: built here)

    def handler(self, intent: str | None) -> str | None:
        route = self.routes.get(intent or "")
        return route.handler if route is not None else None


def english_words(questions: QuestionMap, known_words: frozenset[str], gazetteer: Gazetteer | None) -> EnglishWords:
    """The words that say a message is English: built once per Mind (``Mind.english``), since the
    languages' own words are worked out once per value of it."""
    names = gazetteer.words if gazetteer is not None else frozenset()
    return EnglishWords(STOPWORDS, frozenset(questions.words), frozenset(known_words), frozenset(names))


Step = Callable[[Interpretation, Env], Interpretation]
INTERPRETATION_FIELDS = frozenset(f.name for f in fields(Interpretation))
STEPS: list[Step] = []


def step(fn: Step) -> Step:
    """Register a step; registration order is run order."""
    STEPS.append(fn)
    return fn


def settled(it: Interpretation) -> bool:
    return (not it.verdict.in_scope or it.kind in ("empty", "other_language") or it.asked is not None
            or bool(it.parts) or bool(it.alternatives) or it.premise is not None or it.company is not None
            or it.says is not None)


def _mark(it: Interpretation, name: str, **changes: object) -> Interpretation:
    """``dataclasses.replace`` without its per-call field walk (a step's mark is on every message's path):
    a copy of the frozen value with the changes and the step's name."""
    unknown = changes.keys() - INTERPRETATION_FIELDS
    if unknown:
        raise TypeError(f"Interpretation has no field(s) {sorted(unknown)}")
    new = object.__new__(Interpretation)
    new.__dict__.update(it.__dict__, **changes)
    new.__dict__["steps"] = (*it.steps, name)
    return new


def _fresh(text: str, parse: Parse) -> Interpretation:
    return Interpretation(text=text, parse=parse, kind=question_kind(parse.tokens),
                          intent=parse.intent if parse.ranking else None,
                          confidence=parse.confidence if parse.ranking else 0.0,
                          polarity=polarity_of(parse.tokens))


def _reparsed(it: Interpretation, env: Env, text: str, name: str, **changes: object) -> Interpretation:
    fresh = _fresh(text, set_aside_other_names(env.parse(text), env)[0])
    return replace(fresh, steps=(*it.steps, name), topic=it.topic, **changes)  # type: ignore[arg-type]


# what "is he in Chapter 4 as well?" says besides its names: nothing that asks another relation
APPEARS_WORDS = frozenset("is was are were in the a an also too as well still even again back any of part "
                          "earlier later first next previous other another wick series franchise main new old "
                          "one ones cast".split())
DETAIL_LENGTH = 5  # "to which outlet exactly?"
DETAIL_PREPOSITIONS = frozenset("to in from at on for by with of since".split())  # "*to* which outlet?"
DETAIL_WH = frozenset("which what when where why whose how".split())
NEW_QUESTION_OPENERS = frozenset({("what", "about"), ("how", "about")})  # "what about Charon?": follow_up's
AUX_WORDS = frozenset("is are was were be been am does do did has have had will would can could should "
                      "isnt arent wasnt werent doesnt dont didnt hasnt havent wont cant s".split())
SELECTED = frozenset("them those these both".split())  # "which of *them*"
SELECTED_COUNTS = frozenset("two three four five".split())  # "which of those *two*"
SELECTABLE = ("person", "character")  # the kind chosen among, in this order: "who plays..." named both

# --- the steps, in order -------------------------------------------------------------------------------

def opening_cut(text: str) -> str | None:
    """The question a long message is first read for (long_message.py), or None: the Brain parses only
    that, since parsing the paste's first 500 characters too would be thrown away."""
    questions = question_sentences(text)
    return questions[0] if questions else None


@step
def opening_question(it: Interpretation, env: Env) -> Interpretation:
    """A long message asks its question sentences (bot/understanding/long_message.py), wherever they
    stand: the paste's or the chatter's words would otherwise drown the question's and make it read as
    off-topic. One question is understood alone; several are ``alternatives`` the Brain tries in order,
    answering the first it can ("...we argued all night. who directs it?"). First, so that nothing reads
    the paste's names."""
    questions = question_sentences(it.text)
    if not questions:
        return it
    cut = questions[0]
    parse = it.parse if it.parse.text == fold(cut) else env.parse(cut)
    fresh = replace(_fresh(cut, parse), steps=(*it.steps, "opening_question"), topic=it.topic)
    return fresh if len(questions) == 1 else replace(fresh, alternatives=questions)


@step
def other_language(it: Interpretation, env: Env) -> Interpretation:
    """Another language gets a note in that language (intents/languages.yml), never a guess from the few
    words it shares with English. It runs before other_names, which would turn "Chi ... Winston" into
    someone else's name: the names the bot knows are no evidence of a language. The detector runs only on
    messages with letters outside ASCII or with half their words or more unknown to the bot, so English
    messages never pay for it."""
    toks = it.parse.tokens
    named = it.parse.mentioned_tokens
    words = [t for i, t in enumerate(toks) if i not in named and t.isalpha()]
    strange = [w for w in words if w not in env.known_words and w not in STOPWORDS and w not in env.questions.words]
    english = [w for w in words if w in STOPWORDS]
    head = it.text[:LONG_MESSAGE]
    non_ascii = not head.isascii() and any(ord(ch) > 127 and ch.isalpha() for ch in head)
    if not non_ascii and (not strange or len(strange) * 2 < len(words)):
        return it
    if words and len(english) * ENGLISH_SHARE > len(words):
        return it  # "who penned the script?": English's own small words say English, whatever the rest
    names = frozenset(toks[i] for i in named)  # "Ballerina", "Rooney": no evidence of a language
    vocabulary = env.english if env.english is not None else english_words(env.questions, env.known_words, env.gazetteer)
    code = env.languages.detect(head, names, english=vocabulary)
    if code is None:
        return it
    return _mark(it, "other_language", kind="other_language", language=code, intent=None)


@step
def question_sentence(it: Interpretation, env: Env) -> Interpretation:
    """ "Thank you. And which actress has the title role?", "Cheers. Is Keanu in it?", "Based on the text
    below, who is the chair?": a short message's question sentences are read without its other sentences
    and lead-ins (long_message.asked_sentences), which ask nothing and whose words ("cheers") would read as
    an unknown name or off-topic talk. Kept whole when the other sentences name someone a pronoun of the
    question may stand for ("Ana de Armas is in it. Who does she play?")."""
    if "opening_question" in it.steps or not INNER_BREAK.search(it.text):
        return it  # (most messages: one sentence, no comma)
    found = asked_sentences(it.text)
    if found is None:
        return it
    question, rest = found
    film = env.context.last_by_kind.get(env.kb.default_subject.kind) or env.kb.default_subject.id
    said = env.parse(rest) if rest else None
    if said is not None and (any(set(m.entity_ids) - {film} for m in said.mentions)
                             or set(said.tokens) & CORRECTING_WORDS):
        # "Ana de Armas is in it. Who does she play?"; "when is it out... wait no, I mean Ballerina"
        return it
    return _reparsed(it, env, question, "question_sentence")


@step
def other_names(it: Interpretation, env: Env) -> Interpretation:
    """Names that read like ours but are someone else's ("Wayne Rooney", "Windows 12", "the first Die
    Hard") become unknown phrases before anything else reads the names (bot/understanding/names.py,
    its RULES in order). The classifier's intent stays: "who directed the first Die Hard?" is still a
    director question, about a film the bot does not know."""
    parse, spoke = set_aside_other_names(it.parse, env)
    return _mark(it, "other_names", parse=parse) if spoke else it


INNER_BREAK = re.compile(r"[.!?,;:]\s+\S")  # a sentence or a lead-in ends inside the message


ELSEWHERE_POINTERS = frozenset("it that this".split())  # "who directed *that* one?"


@step
def pointed_elsewhere(it: Interpretation, env: Env) -> Interpretation:
    """ "when does the Korean Netflix Ballerina come out?" (not known) "who directed that one?": a question
    naming nothing that points back at a work the last reply said it knows nothing of
    (``ChatContext.elsewhere``) asks of that work, not of the film talked about before: not known either."""
    elsewhere = env.context.elsewhere
    toks = it.parse.tokens
    if not elsewhere or it.parse.mentions or not any(t in ELSEWHERE_POINTERS for t in toks) \
            or any(t in PRONOUNS and PRONOUNS[t] in ("he", "she") for t in toks):
        return it
    return _mark(it, "pointed_elsewhere", verdict=Verdict(False, UNKNOWN_SUBJECT, (elsewhere,), "elsewhere"))


RELATIVE_HEADS = frozenset("guy one man woman person actor actress lady dude fellow chap bloke girl boy filmmaker "
                           "bloke film movie".split())  # "is he *the guy who* directed Underworld?"
RELATIVE_OPENERS = frozenset("is was isnt wasnt".split())


@step
def relative_yes_no(it: Interpretation, env: Env) -> Interpretation:
    """ "Is Len Wiseman the guy who directed Underworld?", "is he the one who plays Winston?": a yes/no
    about someone being "the one who" did something asks whether they did it, so it is read as "did Len
    Wiseman direct Underworld?": the relative clause's verb carries the relation; "the guy" names no one."""
    toks = it.parse.tokens
    if it.kind != "yesno" or not toks or toks[0] not in RELATIVE_OPENERS or len(toks) < 5:
        return it
    at = next((i for i in range(3, len(toks) - 1) if toks[i] in ("who", "that") and toks[i - 1] in RELATIVE_HEADS
               and toks[i - 2] in ("the", "a")), None)
    if at is None or it.parse.mentions and any(m.start < at - 2 < m.end for m in it.parse.mentions):
        return it
    verb = toks[at + 1]
    time = tense(verb)
    base = lemma(verb)
    if time is None or base is None:
        return it
    words = it.text.split()
    folded = [" ".join(tokens(w)) for w in words]
    # the subject as typed (its case kept for the reply): the words between the opener and "the guy"
    head = next((i for i in range(2, len(words)) if folded[i] == toks[at - 1] and folded[i - 1] == toks[at - 2]), None)
    tail = next((i for i in range(len(words)) if folded[i] == verb and head is not None and i > head), None)
    if head is None or tail is None or head < 3:
        return it
    text = " ".join(["did" if time == "VBD" else "does", *words[1:head - 1], base, *words[tail + 1:]])
    fixed = _reparsed(it, env, text, "relative_yes_no")
    return fixed if fixed.kind == "yesno" else it


@step
def empty(it: Interpretation, env: Env) -> Interpretation:
    """Nothing to understand (blank, punctuation, emoji the model never saw)."""
    return _mark(it, "empty", kind="empty") if not it.parse.tokens else it


@step
def presupposition(it: Interpretation, env: Env) -> Interpretation:
    """ "Since Chad Stahelski is directing Ballerina, will it look like Chapter 4?", "so it's set after
    Chapter 4, what happens to Wick?": a clause taken as given before the question. The question is
    what is asked; the clause is kept as the yes/no question it states (``presumes``, by tags.py's word
    order), which the Brain checks first: when the facts say no, the correction is the reply, since an
    answer would build on what is not so."""
    toks = it.parse.tokens
    opener = next((o for o in PRESUPPOSING if tuple(toks[:len(o)]) == o), None)
    if opener is None:
        return it
    words = it.text.split()
    if len(words) != len(toks) and len(words) < len(opener):
        return it
    rest = " ".join(words[len(opener):])
    clause, sep, question = rest.partition(",")
    if not sep:
        clause, sep, question = rest.partition(" - ")
    question = question.strip()
    if not question or not tokens(question) or not tokens(clause):
        return it
    named = frozenset(toks[i] for i in it.parse.mentioned_tokens)
    claim = as_question(clause.strip() + ", right?", named)  # tagged: a finite verb takes "do" ("directs" -> "does ... direct")
    if claim is None or tokens(claim)[0] not in YES_NO_OPENERS:
        return it
    return _reparsed(it, env, question, "presupposition", presumes=claim, presumed_in=it.text)


@step
def tag_question(it: Interpretation, env: Env) -> Interpretation:
    """ "Ana de Armas is the lead, right?", "Keanu plays Wick, doesn't he?", "is it true that...": a
    statement asked as a question is the yes/no question it asks (bot/understanding/tags.py)."""
    if not it.parse.tokens or it.kind == "other_language":
        return it
    named = frozenset(it.parse.tokens[i] for i in it.parse.mentioned_tokens)
    asked = as_question(it.text, named)
    if asked is None or asked == it.text.strip():
        return it
    return _reparsed(it, env, asked, "tag_question")


@step
def without_filler(it: Interpretation, env: Env) -> Interpretation:
    """ "ok well what is she known for then", "hmm so who's winston then": talk around a question the
    classifier is unsure of, or takes for off-topic, is read without it, when what is left is a question
    of the film it is sure of. Not
    "and" or "but", which make a follow-up; not a word of a name."""
    sure = it.confidence >= env.threshold and it.intent != "out_of_scope"
    toks = it.parse.tokens
    if sure or it.kind == "other_language" or len(toks) < 3 \
            or (toks[0] not in OPENING_FILLER and toks[-1] not in CLOSING_FILLER):
        return it  # (most messages: no talk around them, nothing to split)
    words = it.text.split()
    start, end = 0, len(words)
    while start < end - 1 and _folded(words[start]) in OPENING_FILLER:
        start += 1
    while end - 1 > start and _folded(words[end - 1]) in CLOSING_FILLER:
        end -= 1
    if (start, end) == (0, len(words)) or end - start < 2:
        return it
    fixed = _reparsed(it, env, " ".join(words[start:end]), "without_filler")
    return fixed if fixed.confidence >= env.threshold and fixed.intent != "out_of_scope" else it


def _folded(word: str) -> str:
    return word.lower().strip(".,!?;:\"'()")


@step
def select_among(it: Interpretation, env: Env) -> Interpretation:
    """ "which of them died?", "who of those two plays Charon?": the question asked of each of the people
    the last reply named, as the parts of one message ("did Lance Reddick die", "did Ian McShane die"),
    each answered from its facts, so the reply says which, and what is not known of the others."""
    toks = it.parse.tokens
    if len(toks) < 4 or toks[0] not in ("which", "who") or not env.context.last_named:
        return it
    k = 2 if toks[1] == "of" else 3 if toks[1:3] == ["one", "of"] else 0
    if k == 0 or toks[k] not in SELECTED:
        return it
    k += 1 + (k + 1 < len(toks) and toks[k + 1] in SELECTED_COUNTS)
    rest = it.text.split()[k:] if len(it.text.split()) == len(toks) else toks[k:]
    named = [env.kb.entities[i] for i in env.context.last_named if i in env.kb.entities]
    kind = next((k for k in SELECTABLE if sum(e.kind == k for e in named) >= 2), None)  # people before their parts
    people = [e for e in named if e.kind == kind]
    if kind is None and rest:
        return _select_work(it, env, named)
    if kind is None or not rest:
        return it
    parts = []
    for person in people:
        asked = as_question(f"{person.name} {' '.join(rest)}, right?", frozenset(tokens(person.name)))
        if asked is None:
            return it
        parts.append(asked)
    return _mark(it, "select_among", parts=tuple(parts), selection=True)


def _select_work(it: Interpretation, env: Env, named: list[Entity]) -> Interpretation:
    """ "which one of those had Kate Beckinsale in it?" after "he directed X, Y and Z": whether the one
    person the question names is in each of the works the last reply listed, as parts ("is Kate
    Beckinsale in X?"), the reply keeping those that say yes."""
    kb = env.kb
    works = [e for e in named if e.kind == kb.default_subject.kind]
    someone = {i for m in it.parse.mentions for i in m.entity_ids[:1] if kb.entities[i].kind == "person"}
    if len(works) < 2 or len(someone) != 1:
        return it
    person = kb.entities[someone.pop()]
    return _mark(it, "select_among", parts=tuple(f"is {person.name} in {w.name}?" for w in works), selection=True)


SAID_FRAGMENT = frozenset("and so but he she they him her said say says saying what did exactly then".split())


@step
def said_fragment(it: Interpretation, env: Env) -> Interpretation:
    """ "and he said?", "what did she say?": a bare fragment of saying about someone the chat talked of
    asks what they said, the question it is short for, asked of them by name (what the knowledge quotes
    them on: the question map's quoted relation)."""
    toks = it.parse.tokens
    if it.follow_up or it.parse.mentions or not toks or len(toks) > 5 or not set(toks) <= SAID_FRAGMENT \
            or not set(toks) & {"said", "say", "says"}:
        return it
    pronoun = next((PRONOUNS[t] for t in toks if t in PRONOUNS and PRONOUNS[t] in ("he", "she", "they")), None)
    who = env.context.last_by_pronoun.get(pronoun or "")
    if who not in env.kb.entities:
        return it
    return _reparsed(it, env, f"what did {env.kb.entities[who].name} say", "said_fragment")


@step
def source_request(it: Interpretation, env: Env) -> Interpretation:
    """ "says who?", "source?": the last question again, whose answer names its source."""
    if it.intent != SOURCE_INTENT or it.confidence < env.threshold:
        return it
    if any(env.kb.entities[e].kind in ("person", "character") for m in it.parse.mentions for e in m.entity_ids[:1]) \
            or _pointed_person(it.parse.tokens):
        return it  # "and who was Bond in that one?", "who did *that woman* work with?" ask of someone
    asked = env.questions.asked(it.parse.tokens, _cue_skip(it, env))
    if any(_subject_of_kinds(it, env, set(a.question.about)) is not None for a in asked if not a.question.sourced):
        # "who starred in that?" asks a relation of its own, not the last answer's source; a relation of
        # something nobody named ("who told you that?" cues a publication's informant) does not
        return it
    last = env.context.last_intent
    if not last or last not in env.routes:
        return _mark(it, "source_request", source_request=True)
    return _mark(it, "source_request", source_request=True, intent=last, follow_up=True,
                 confidence=max(it.confidence, env.follow_up_confidence))


@step
def split_parts(it: Interpretation, env: Env) -> Interpretation:
    """ "who plays Winston, and Charon?", "who directs it and when is it out?": several questions, each
    answered in one reply. Split at a question mark followed by more, at ", and" and at "and" followed
    by a question word; a split that leaves an empty part is no split."""
    pieces = [p.strip(" ,") for p in PART_SPLIT.split(it.text) if p and p.strip(" ,?")]
    if len(pieces) > 1 and _only_correcting(tokens(pieces[0])):
        return it  # "not that, who's the director of the Wick films?": one corrected question (correction)
    if len(pieces) < 2:
        pieces = _listed_names(it, env)
    if len(pieces) < 2 or len(pieces) > MAX_PARTS:
        return it
    words = [tokens(p) for p in pieces]  # each piece tokenized once, for both tests
    if any(not w for w in words) or all(len(w) < 2 for w in words):
        return it
    return _mark(it, "split_parts", parts=tuple(pieces))


def _only_correcting(toks: list[str]) -> bool:
    """Words that only take the last answer back ("not that", "no wait", "sorry, wrong one")."""
    rest = [t for t in toks if t not in CORRECTION_OPENERS]
    return bool(toks) and (not rest or any(tuple(rest) == p for p in CORRECTION_PHRASES))


def _listed_names(it: Interpretation, env: Env) -> list[str]:
    """ "who plays Winston and Charon?": a name after the last "and", with one of its kind before it, is
    the same question asked of it ("and Charon?"). Nothing else may follow the name."""
    parse, kb = it.parse, env.kb
    toks = parse.tokens
    if "and" not in toks:
        return []
    at = len(toks) - 1 - toks[::-1].index("and")
    after = [m for m in parse.mentions if m.start > at]
    if len(after) != 1 or after[0].start != at + 1 or after[0].end != len(toks):
        return []
    kinds = {kb.entities[i].kind for i in after[0].entity_ids}
    before = [m for m in parse.mentions if m.end <= at and {kb.entities[i].kind for i in m.entity_ids} & kinds]
    if not before or before[-1].start > 0 and toks[before[-1].start - 1] == "between":
        return []  # "set between Chapter 3 and Chapter 4" names two ends of one span
    # "who plays Winston, Charon and the Director?": the names listed before the "and", one after the
    # other, are each asked of too
    run = [m for m in before if m.end == at]
    while run and (prev := next((m for m in before if m.end == run[0].start), None)) is not None:
        run.insert(0, prev)
    if len(run) > 1:
        return [" ".join(toks[:run[0].end]), *("and " + " ".join(toks[m.start:m.end]) for m in run[1:]),
                " ".join(toks[at:])]
    return [" ".join(toks[:at]), " ".join(toks[at:])]


@step
def correction(it: Interpretation, env: Env) -> Interpretation:
    """ "sorry, I meant Charon", "no wait, Rooney", "I meant Ballerina actually", "nope, Winston I mean":
    the last question again with what the correction names, or the corrected question when it asks one
    ("no, I mean who directs it"). The "I mean" may open or close it. Words that are part of a name ("No
    Time To Die") are no correction."""
    toks = it.parse.tokens
    if not (env.context.last_intent or env.context.last_asked) or not toks:
        return it
    k = 0
    if len(toks) > 1 and toks[0] in OPENING_FILLER and toks[1] in CORRECTION_OPENERS:
        k = 1  # "ugh no, the Transporter ones", "hmm no, ..."
    while k < len(toks) and toks[k] in CORRECTION_OPENERS and k not in it.parse.mentioned_tokens:
        k += 1
    # "ugh no I meant...", "oh sorry, I mean...": a little filler may come before the phrase
    for start in range(k, min(k + CORRECTION_FILLER, len(toks)) + 1):
        if any(i in it.parse.mentioned_tokens for i in range(start)):
            break
        # ...and something after it: "oops, Winston I meant" closes with it
        phrase = next((p for p in CORRECTION_PHRASES if len(p) > 1 and tuple(toks[start:start + len(p)]) == p
                       and start + len(p) < len(toks)), None)
        if start == k:
            phrase = phrase or next((p for p in CORRECTION_PHRASES if tuple(toks[k:k + len(p)]) == p), None)
        if phrase is not None:
            k = start + len(phrase)
            break
    # "not that one, I mean...", "not the fighting styles, I mean...": what it takes back, then what it
    # means; the last "I mean" of the message's opening says where the meant words start
    if k > 0 or toks[0] == "not":
        later = [i + len(p) for i in range(k, min(len(toks), CORRECTION_REACH)) for p in CORRECTION_CLOSERS
                 if tuple(toks[i:i + len(p)]) == p and i + len(p) < len(toks)
                 and not any(j in it.parse.mentioned_tokens for j in range(i, i + len(p)))]
        k = max([k, *later])
    end = len(toks)
    tail = end
    while tail > k and toks[tail - 1] in CORRECTION_TAILS:
        tail -= 1  # "winston I meant, *sorry*"
    for phrase in CORRECTION_CLOSERS:  # "winston I meant": the phrase closing it
        if tail - len(phrase) > k and tuple(toks[tail - len(phrase):tail]) == phrase:
            end = tail - len(phrase)
            break
    if (k == 0 and end == len(toks)) or k >= end:
        return it
    if k == 1 and end == len(toks) and toks[0] in ("actually", "rather") and len(toks) > 3:
        return it  # "actually, who directs it?" is a question of its own, handled as one
    rest = toks[k:end]
    # "the director, not Charon": the name it takes back is not asked about
    taken_back = [m.start - 1 - k for m in it.parse.mentions if k + 1 < m.start < end and toks[m.start - 1] == "not"]
    if taken_back:
        rest = rest[:taken_back[0]]
    while rest and rest[-1] in CORRECTION_TAILS:
        rest = rest[:-1]
    if not rest:
        return it
    fixed = _reparsed(it, env, " ".join(rest), "correction", correction=True)
    follow = follow_up_intent(env, fixed.parse, env.context, bare=True)
    if follow is not None:
        return replace(fixed, intent=follow, follow_up=True,
                       confidence=max(fixed.confidence, env.follow_up_confidence))
    again = _map_again(fixed, env, bare=True)  # "I meant the Die Hard one" after a question-map relation
    if again is not fixed:
        return replace(again, correction=True)
    return fixed


@step
def follow_up(it: Interpretation, env: Env) -> Interpretation:
    """ "and Charon?" after "who plays Winston?": the same question about a new entity."""
    if it.follow_up:
        return it
    intent = follow_up_intent(env, it.parse, env.context)
    if intent is None:
        return it
    return _mark(it, "follow_up", intent=intent, follow_up=True,
                 confidence=max(it.confidence, env.follow_up_confidence))


@step
def map_follow_up(it: Interpretation, env: Env) -> Interpretation:
    """ "and John Wick 4?" after "who wrote Ballerina?": the question map's relation again, about the new
    name, whether the last answer was a fact or "the article doesn't say"."""
    return _map_again(it, env)


def _map_again(it: Interpretation, env: Env, bare: bool = False) -> Interpretation:
    """The last question-map relation asked of the one new name the message brings; ``bare``: a
    correction's remainder, whose article and film word are no question ("I meant the Die Hard one")."""
    question = env.questions.by_relation.get(env.context.last_asked or "")
    if it.follow_up or question is None or not it.parse.mentions:
        return it
    toks = it.parse.tokens
    others = [t for i, t in enumerate(toks) if i not in it.parse.mentioned_tokens]
    # "and in Ballerina?", "what about for Chapter 4?": a place word before the new name changes nothing
    if any(t not in FOLLOW_UP_FILLER and t not in FOLLOW_UP_PLACES
           and not (bare and (t in STOPWORDS or t in FILM_WORDS)) for t in others):
        return it
    ids = [i for m in it.parse.mentions for i in m.entity_ids if env.kb.entities[i].kind in question.about]
    if len(set(ids)) != 1:
        return it
    return _mark(it, "map_follow_up", asked=question, subject=ids[0], follow_up=True, nearby=_nearby(env, question),
                 relations=(question.relation,), intent=f"ask_{question.relation}",
                 confidence=max(it.confidence, env.follow_up_confidence))


@step
def ellipsis(it: Interpretation, env: Env) -> Interpretation:
    """A bare fragment that only means something with the last turn's fact: "as who?", "playing who?"
    (the role the last person plays), "opposite who?", "alongside whom?" (the rest of the last film's
    cast), "in what movie?", "which film was that?" (the last question again: its answer names the
    film). Nothing may be named; pronouns and filler may stand around the cue. The route is found from
    the routes' own fields (a relation with roles, read from the side the fragment asks for), so
    another film's files need no change."""
    if it.follow_up or it.parse.mentions or not env.context.last_intent:
        return it
    last = env.routes.get(env.context.last_intent)
    toks = it.parse.tokens
    if last is None or last.handler not in FACT_HANDLERS:
        # a question-map answer naming someone in a film ("she plays Paloma in No Time To Die"): "alongside
        # whom?" still asks that film's other cast
        company = _named_company(it, env) if _asks_company(toks) else None
        if company is None:
            return it
        return _mark(it, "ellipsis", company=company, follow_up=True, ellipsis="company", intent=None,
                     confidence=max(it.confidence, env.follow_up_confidence))
    bare_with = len(toks) == 1 and toks[0] in COMPANY_WORDS  # "with?", "alongside?": no wh-word needed
    if not toks or len(toks) > ELLIPSIS_LENGTH or not (bare_with or any(t in ELLIPSIS_WH for t in toks)):
        return it
    if any(t not in ELLIPSIS_WORDS and t not in ELLIPSIS_WH and t not in FOLLOW_UP_FILLER for t in toks):
        return it
    side = next((name for name, words in ELLIPSIS_CUES if any(t in words for t in toks)), None)
    if side is None or (side == "role" and any(t in ELLIPSIS_PRONOUNS for t in toks)):
        return it  # "who's playing her?" is a question of its own: who plays the character she is
    if side == "company":
        company = _listed_company(it, env)
        if company is not None:
            return _mark(it, "ellipsis", company=company, follow_up=True, ellipsis=side, intent=None,
                         confidence=max(it.confidence, env.follow_up_confidence))
    intent = env.context.last_intent if side == "film" else _route_for_side(env, side)
    if intent is None:
        return it
    return _mark(it, "ellipsis", intent=intent, follow_up=True, ellipsis=side,
                 confidence=max(it.confidence, env.follow_up_confidence))


@step
def detail_of_last(it: Interpretation, env: Env) -> Interpretation:
    """ "to which outlet?", "which part of the year?", "why not?", "why didn't that happen?": a short
    question with no verb of its own and no name (or a "why" about "that") asks after a detail of the
    fact just given, so it is the last question again: its answer holds the detail, or nothing does.
    A fragment that names something, or asks with a verb of its own ("who directs it?"), asks anew."""
    if it.follow_up or it.parse.mentions or not env.context.last_intent:
        return it
    last = env.routes.get(env.context.last_intent)
    asked = _asked_last(env)
    toks = it.parse.tokens
    if (last is None or last.handler not in FACT_HANDLERS) and asked is None:
        return it
    if not toks or len(toks) > DETAIL_LENGTH:
        return it
    at = 1 if toks[0] in DETAIL_PREPOSITIONS else 0
    if at >= len(toks) or toks[at] not in DETAIL_WH or tuple(toks[at:at + 2]) in NEW_QUESTION_OPENERS:
        return it
    guess = env.routes.get(it.intent or "")
    if guess is not None and guess.handler in FACT_HANDLERS and it.intent != env.context.last_intent \
            and it.confidence >= env.threshold:
        return it  # "what's the premise?": a question of its own, whatever its length
    if it.intent == "out_of_scope" and it.confidence >= env.threshold:
        return it  # "what's the weather like?": a question of its own, about something else
    rest = toks[at + 1:]
    why_that = toks[at] == "why" and any(t in DEMONSTRATIVES or t == "it" for t in rest)
    if not why_that and any(t in AUX_WORDS or finite_verb(t) or is_verb_form(t) for t in rest):
        return it
    cued = _cued_of_last(it, env, asked[0].relation if asked else None, last)
    if cued is not None:  # "what agency?" after Paloma: her agency, a relation of its own, of her
        question, subject = cued
        return _mark(it, "detail_of_last", asked=question, subject=subject, follow_up=True,
                     nearby=_nearby(env, question), relations=(question.relation,),
                     intent=f"ask_{question.relation}", confidence=max(it.confidence, env.follow_up_confidence))
    if asked is not None:  # the question map's relation again, about what its answer was about
        question, subject = asked
        return _mark(it, "detail_of_last", asked=question, subject=subject, follow_up=True,
                     nearby=_nearby(env, question), relations=(question.relation,),
                     intent=env.context.last_intent, confidence=max(it.confidence, env.follow_up_confidence))
    return _mark(it, "detail_of_last", intent=env.context.last_intent, follow_up=True,
                 confidence=max(it.confidence, env.follow_up_confidence))


def _cued_of_last(it: Interpretation, env: Env, last_relation: str | None, last: Any) -> tuple[Question, str] | None:
    """A fragment whose words cue a relation other than the last answer's ("what agency?", "which
    year?" after a cast answer), and something the last reply named that the facts give it for: that
    relation, of the first such. None when the words cue the last relation, or nothing named has facts."""
    toks = it.parse.tokens
    mine = set(last.relations) if last is not None and last.handler in FACT_HANDLERS else set()
    kb = env.kb
    skip = _cue_skip(it, env)
    asking = {i for i, t in enumerate(toks) if t not in STOPWORDS and t not in DETAIL_WH}
    named = _named_with_parts(kb, env.context.last_named)
    cued = env.questions.asked(toks, skip)
    for a in (a for a in cued if a.strength == cued[0].strength):  # the strongest cue's, or none
        relation = a.question.relation
        if relation == last_relation or relation in mine or relation not in kb.relations or a.question.sourced:
            return None  # "who's the source for that?" asks the last answer's source (source_request)
        if not asking <= env.questions.span(toks, relation, skip):
            return None  # "which *part of* the year?": its other words ask after the last answer's detail
        subject = next((i for i in named if i in kb.entities
                        and kb.entities[i].kind in a.question.about and kb.facts_about(i, relation)), None)
        if subject is not None:
            return a.question, subject
    return None


def _named_with_parts(kb: KnowledgeBase, named: tuple[str, ...] | list[str]) -> list[str]:
    """What the last reply named, then the parts its people play in the films it named ("No Time To Die
    stars Ana de Armas as Paloma": Paloma too, whom "what agency?" asks after)."""
    said = set(named)
    parts = [f.role for f in kb.facts if f.role and f.object in said and f.subject in said]
    return list(dict.fromkeys([*named, *parts]))


def _asked_last(env: Env) -> tuple[Question, str] | None:
    """The question-map relation the last reply answered with a fact or an honest "doesn't say", and the
    entity it was about (the first the reply named of a kind the relation is about), or None."""
    question = env.questions.by_relation.get(env.context.last_asked or "")
    if question is None or env.context.last_intent != f"ask_{question.relation}":
        return None
    subject = next((i for i in env.context.last_named
                    if i in env.kb.entities and env.kb.entities[i].kind in question.about), None)
    return (question, subject) if subject is not None else None


def _route_for_side(env: Env, side: str) -> str | None:
    """The fact route reading a relation with roles (a cast) for the side asked: the role a person
    plays ("as who?") or the people of a film ("opposite who?")."""
    given, want = {"role": ("object", "role"), "actor": ("role", "object")}.get(side, ("subject", "object"))
    for name, route in env.routes.items():
        if route.handler != "facts" or getattr(route, "given", "") != given or getattr(route, "want", "") != want:
            continue
        if any(env.kb.relations[r].role for r in route.relations if r in env.kb.relations):
            return name
    return None


@step
def role_named(it: Interpretation, env: Env) -> Interpretation:
    """ "who stars *as* the Director?", "who is playing Winston?": a character right after "as" or a verb
    of playing is the role asked about, whatever relation the words of its name cue ("the Director" is
    no directing question): the route reading the cast by its role answers."""
    toks = it.parse.tokens
    opener = 1 if toks[:1] == ["and"] else 0
    if toks[opener:opener + 1] == ["who"] and _part_in_film(it, env, opener + 1):
        # "(and) who was Bond in that one?", "who's Winston in Chapter 4?": a part in a film is asked
        # for its player, whatever the classifier read into "who ... that"
        target = _route_for_side(env, "actor")
        if target is not None and target != it.intent:
            return _mark(it, "role_named", intent=target, follow_up=False,
                         confidence=max(it.confidence, env.follow_up_confidence))
    if it.follow_up or toks[:1] != ["who"]:
        return it
    route = env.routes.get(it.intent or "")
    if route is None or route.handler != "facts" or getattr(route, "given", "") == "role":
        return it
    for m in it.parse.mentions:
        if m.start and toks[m.start - 1] in ROLE_MARKERS and \
                all(env.kb.entities[e].kind == "character" for e in m.entity_ids):
            target = _route_for_side(env, "actor")
            if target is not None:
                return _mark(it, "role_named", intent=target, confidence=max(it.confidence, env.follow_up_confidence))
    return it


def _part_in_film(it: Interpretation, env: Env, at: int) -> bool:
    """ "who *was Bond in that one*": at ``at``, "is"/"was", a part's name, then "in" and a film (named,
    or pointed at: "that one", "it")."""
    toks = it.parse.tokens
    if at >= len(toks) or toks[at] not in ("is", "was", "s"):
        return False
    part = next((m for m in it.parse.mentions if m.start == at + 1), None)
    if part is None or not all(env.kb.entities[e].kind == "character" for e in part.entity_ids):
        return False
    after = toks[part.end:]
    if after[:1] != ["in"] or len(after) < 2:
        return False
    film = any(m.start == part.end + 1 or m.start == part.end + 2 for m in it.parse.mentions
               if any(env.kb.entities[e].kind in ("film", "series") for e in m.entity_ids))
    return film or after[1] in FILM_POINTERS or after[1] in ("the",) and len(after) > 2 and after[2] in FILM_WORDS


@step
def possessive_role(it: Interpretation, env: Env) -> Interpretation:
    """ "who was her character there?", "what's his role in it?": "character" after a possessive pronoun
    for someone the chat was talking about asks the part that person plays, whatever the classifier
    makes of the word (the main character is a film's). The route reading the cast from the person's
    side answers, with the film the chat was on."""
    if it.follow_up:
        return it
    route = env.routes.get(it.intent or "")
    if route is None or route.handler != "facts":
        return it
    target = _route_for_side(env, "role")
    toks = it.parse.tokens
    if target is None or target == it.intent:
        return it
    for word, after in zip(toks, toks[1:]):
        pronoun = POSSESSIVES.get(word)
        who = env.context.last_by_pronoun.get(pronoun or "")
        if pronoun and after in ROLE_WORDS and who in env.kb.entities \
                and env.kb.entities[who].kind in env.routes[target].about:
            return _mark(it, "possessive_role", intent=target, confidence=max(it.confidence, env.follow_up_confidence))
    return it


@step
def answer_kind(it: Interpretation, env: Env) -> Interpretation:
    """ "who starred in his Underworld movie?": a question opening with "who" asks for someone, so a fact
    route that answers with films ("his" pulled the classifier to his filmography) gives way to the route
    reading the same relation the other way, from the film named to its people. Only between fact routes
    of one relation, and only to one that fits what is named."""
    toks = it.parse.tokens
    if it.follow_up or toks[:1] != ["who"] or not it.parse.mentions:
        return it
    route = env.routes.get(it.intent or "")
    if route is None or route.handler != "facts":
        return it
    named = {env.kb.entities[i].kind for m in it.parse.mentions for i in m.entity_ids}
    if _wanted_kinds(env, route) & ANSWER_KINDS["who"]:
        # the route already answers with someone: when the words cue its relation and the name is what
        # it is about ("who *starred* in her Low Tide film?"), a doubtful classifier is no reason to search
        cued = {a.question.relation for a in env.questions.asked(toks, _cue_skip(it, env))} & set(route.relations)
        film_kind = env.kb.default_subject.kind  # a film's people, of a film named ("who's gonna play Bond
        # next?" names a part, and may well ask beyond the facts)
        if cued and film_kind in named & set(route.about) and it.confidence < env.follow_up_confidence:
            return _mark(it, "answer_kind", confidence=env.follow_up_confidence)
        return it
    # the relation the words ask for, when the route reads several ("starred" of directed_by, starring)
    cued = {a.question.relation for a in env.questions.asked(toks, _cue_skip(it, env))} & set(route.relations)
    relations = cued or set(route.relations)
    found = {name for name, other in env.routes.items()
             if other.handler == "facts" and set(other.relations) & relations and name != it.intent
             and _wanted_kinds(env, other) & ANSWER_KINDS["who"] and named & set(other.about)}
    if len(found) != 1:
        return it
    return _mark(it, "answer_kind", intent=found.pop(), confidence=max(it.confidence, env.follow_up_confidence))


def _wanted_kinds(env: Env, route: RouteLike) -> set[str]:
    """The entity kinds a fact route's answers are (the side of its relations it wants)."""
    side = getattr(route, "want", "object")
    kinds: set[str] = set()
    for r in route.relations:
        relation = env.kb.relations.get(r)
        if relation is None:
            continue
        got = {"subject": relation.subject, "object": relation.object, "role": relation.role}.get(side)
        kinds |= set(got) if isinstance(got, list) else set()
    return kinds


@step
def bare_mention(it: Interpretation, env: Env) -> Interpretation:
    """ "Keanu?" with nothing asked before and a weak classifier: a name and filler means "tell me about".
    So does "what is the High Table?", whatever the classifier's confidence that it is off-topic: "what
    is X" is the shape of most off-topic questions, but X here is a name the knowledge holds."""
    if it.follow_up or not it.parse.mentions:
        return it
    others = [t for i, t in enumerate(it.parse.tokens) if i not in it.parse.mentioned_tokens]
    if it.confidence < env.threshold and all(t in FOLLOW_UP_FILLER for t in others):
        pass
    elif not ((it.intent in (None, "out_of_scope") or it.confidence < env.threshold) and others and others[0] in ABOUT_OPENERS
              and all(t in ABOUT_WORDS or t in FOLLOW_UP_FILLER or t in FILM_WORDS for t in others)):
        return it
    about = next((name for name, route in env.routes.items() if route.handler == "about"), None)
    if about is None:
        return it
    return _mark(it, "bare_mention", intent=about, follow_up=True, kind="about",
                 confidence=max(it.confidence, env.follow_up_confidence))


# what people call the text the bot knows from: "what does *the article* say about him?"
OWN_SOURCE_WORDS = frozenset("article articles piece roundup writeup source sources".split())


def _own_outlets(kb: KnowledgeBase) -> list[str]:
    """The entities that published the documents the knowledge was read from (the article's outlet)."""
    names = {(kb.sources[d.source].publication or "").lower() for d in kb.data.documents if d.source in kb.sources}
    return [e.id for e in kb.entities.values() if e.name.lower() in names]  # a publisher of any kind (a cinema chain)


@step
def source_says(it: Interpretation, env: Env) -> Interpretation:
    """ "what did Collider say about Rooney?", "how does Cineworld describe Len Wiseman?": a wh-question with
    a verb of saying (``SAYING``) that names a publication and one thing of the film's world (else the film
    talked about) asks for that thing's facts whose source is that publication, not for a relation. "The
    article" (``OWN_SOURCE_WORDS``) is the publication of the documents the knowledge was read from."""
    toks = it.parse.tokens
    if it.kind not in ("wh", "about") or not toks or toks[0] not in ("what", "how", "whats") or not set(toks) & SAYING:
        return it
    kb = env.kb
    named = [i for m in it.parse.mentions for i in m.entity_ids[:1]]
    own = _own_outlets(kb)
    outlets = [i for i in named if kb.entities[i].kind == "publication" or i in own]
    if not outlets and set(toks) & OWN_SOURCE_WORDS:
        outlets = own  # "what does *the article* say about Lance Reddick?"
    others = [i for i in named if i not in outlets]
    if len(set(outlets)) != 1 or len(set(others)) > 1:
        return it
    subject = others[0] if others else (it.topic or kb.default_subject.id)
    if subject not in kb.entities or unknown_words(_scene(it, env)):
        return it  # "what does the article say about *Harry Potter*?" is asked of no one it knows
    return _mark(it, "source_says", says=(outlets[0], subject), intent=None)


def _cast_relations(kb: KnowledgeBase) -> tuple[str, ...]:
    """The relations that cast people in the film's kind of work with a part ("starring")."""
    return tuple(r.id for r in kb.relations.values() if r.role and "person" in (r.object if r.object != "text" else ())
                 and kb.default_subject.kind in r.subject)


def _asks_company(toks: list[str]) -> bool:
    """A bare fragment asking with whom: "alongside whom?", "with?", "opposite who?"."""
    company = dict(ELLIPSIS_CUES)["company"]
    return bool(toks) and len(toks) <= ELLIPSIS_LENGTH and any(t in company for t in toks) and all(
        t in ELLIPSIS_WORDS or t in ELLIPSIS_WH or t in FOLLOW_UP_FILLER for t in toks)


def _named_company(it: Interpretation, env: Env) -> Company | None:
    """The film the last answer named and the person it was about: that film's other cast."""
    kb, ctx = env.kb, env.context
    person = next((i for i in ctx.last_named if i in kb.entities and kb.entities[i].kind == "person"), None)
    works = tuple(i for i in ctx.last_named if i in kb.entities and kb.entities[i].kind == kb.default_subject.kind)
    relations = _cast_relations(kb)
    if person is None or not works or not relations:
        return None
    return Company(person, works[:1], relations)


def _listed_company(it: Interpretation, env: Env) -> Company | None:
    """ "with whom?" after "he directed the Transporter movies, the fourth Die Hard film and Underworld":
    the casts of the works the last answer listed, besides the one it was about. None when it listed
    none, or no one was talked about."""
    kb, ctx = env.kb, env.context
    works = tuple(i for i in ctx.last_named if i in kb.entities and kb.entities[i].kind == kb.default_subject.kind)
    person = ctx.last_by_kind.get("person")
    relations = _cast_relations(kb)
    if len(works) < 2 or person not in kb.entities or person not in ctx.last_named or not relations:
        return None
    return Company(person, works, relations)


@step
def co_stars(it: Interpretation, env: Env) -> Interpretation:
    """ "who did Ana de Armas work alongside in No Time To Die?", "who was her co-star in the Bond
    movie?", "which Transporter stars did he work with?": a wh-question with a word of company
    (``COMPANY_WORDS``) about someone (named, or a pronoun the chat resolves) and a film (named, pointed
    at with "it"/"that", else the one talked about) asks for the film's other cast, read from the
    relations that cast people in films with a part. Nothing else names a relation for it: the
    classifier's nearest intent was the person's filmography or the whole cast."""
    toks = it.parse.tokens
    if it.kind not in ("wh", "list") or not toks or toks[0] not in ("who", "whom", "which", "name", "list"):
        return it
    words = set(toks)
    costar = bool(words & COSTAR_NOUNS) or "co" in words and bool(words & {"star", "stars", "starred", "starring"})
    kb = env.kb
    part_named = any(kb.entities[i].kind == "character" for m in it.parse.mentions for i in m.entity_ids[:1])
    stranded = toks[-1] in COMPANY_WORDS  # "who did Wiseman make Underworld *with*?": whom, whatever the verb
    if not costar and not stranded and not (words & COMPANY_WORDS and (words & ACTING_WORDS or {"in", "with"} <= words
                                                                      or part_named)):
        return it  # "who directed Speed with Keanu?" asks its director; "which actor was *Bond* opposite her?"
    if set(unknown_words(_scene(it, env))) - set(POINTED_PEOPLE):
        return it  # "in *Speed* with him" is unknown ("that *woman*" is someone talked about)
    relations = _cast_relations(kb)
    if not relations:
        return it
    named = [i for m in it.parse.mentions for i in m.entity_ids[:1]]
    people = [i for i in named if kb.entities[i].kind == "person"]
    # a part before "film"/"movie" names the film it is in: "in that *Bond* film"
    titled = {m.entity_ids[0] for m in it.parse.mentions if m.entity_ids and m.end < len(toks)
              and toks[m.end] in FILM_WORDS and kb.entities[m.entity_ids[0]].kind == "character"}
    parts = [i for i in named if kb.entities[i].kind == "character" and i not in titled]
    films = [i for i in named if kb.entities[i].kind in ("film", "series")]
    films += [f for part in titled for f in _films_of_part(kb, part, relations)]
    if not people:
        person = _person_meant(it, env, pointed=True)
        people = [person] if person is not None else []
    if not people and len(set(parts)) == 1:
        # "who was *Paloma* working with in the Bond film?": the company of the one who plays her
        people = _players(kb, parts[0], relations, films)
        films = films or _films_of_part(kb, parts[0], relations)  # "who did Paloma work with?": in her film
        parts = []
    if len(set(people)) != 1 or len(set(films)) > 1:
        return it
    own = {f.role for f in kb.facts if f.object == people[0] and f.relation in relations and f.role}
    parts = [p for p in dict.fromkeys(parts) if p not in own]  # "which actor was *Bond* opposite her?"
    if parts and not films:
        # the film where the part plays beside the person: "who played 007 alongside Ana de Armas?"
        shared = [f.subject for f in kb.facts if f.relation in relations and f.role in parts
                  and any(g.subject == f.subject and g.object == people[0] for g in kb.facts_about(f.subject, f.relation))]
        films = list(dict.fromkeys(shared))[:1]
    film = films[0] if films else env.context.last_by_kind.get(kb.default_subject.kind) or kb.default_subject.id
    if film not in kb.entities:
        return it
    return _mark(it, "co_stars", company=Company(people[0], (film,), relations, tuple(parts)), intent=None)


POINTED_PEOPLE = {"guy": "he", "man": "he", "dude": "he", "fella": "he", "bloke": "he", "actor": "he",
                  "woman": "she", "lady": "she", "actress": "she", "girl": "she"}


def _person_meant(it: Interpretation, env: Env, pointed: bool = False) -> str | None:
    """The person the message's "he"/"she" stands for in the chat (with ``pointed``, also "that guy",
    "this actress": ``_pointed_person``), or None."""
    toks = it.parse.tokens
    pronoun = next((PRONOUNS[t] for t in toks if PRONOUNS.get(t) in ("he", "she")), None) \
        or (_pointed_person(toks) if pointed else None)
    person = env.context.last_by_pronoun.get(pronoun or "")
    return person if person in env.kb.entities and env.kb.entities[person].kind == "person" else None


def _pointed_person(toks: list[str]) -> str | None:
    """ "*that guy*", "*this actress*": the pronoun a pointed-at person stands for, or None."""
    return next((POINTED_PEOPLE[toks[i + 1]] for i in range(len(toks) - 1)
                 if toks[i] in ("that", "this") and toks[i + 1] in POINTED_PEOPLE), None)


def _films_of_part(kb: KnowledgeBase, part: str, relations: tuple[str, ...]) -> list[str]:
    """The one film the facts cast ``part`` in ("the Bond film"), or none when they name several."""
    films = list(dict.fromkeys(f.subject for f in kb.facts if f.relation in relations and f.role == part))
    return films if len(films) == 1 else []


def _players(kb: KnowledgeBase, part: str, relations: tuple[str, ...], films: list[str]) -> list[str]:
    """Who plays ``part`` (in the named film, if one is): one person, or none when the facts differ."""
    actors = {f.object for f in kb.facts if f.relation in relations and f.role == part
              and (not films or f.subject in films)}
    return list(actors) if len(actors) == 1 else []


@step
def false_premise(it: Interpretation, env: Env) -> Interpretation:
    """A question that takes as given a fact the knowledge states otherwise gets the correction from the
    facts, for any relation its words cue (intents/questions.yml) that has facts:
    - an entity on the wrong side of a fact: "why did *Keanu* direct Ballerina?", "why does Ian McShane
      play *Charon*?", "why is it centred on *John Wick*?" (someone or something else holds it);
    - an entity credited where the film has no such fact: "how did Len Wiseman direct *Parabellum*?" (his
      own facts of that relation say where he did);
    - a stated value presumed otherwise, in a why / since question or a yes/no: "why is it out in *2022*?",
      "since it's set *after* Chapter 4...", "is it out in 2023?" (a number, a name or an order word the
      stated text lacks).
    It runs before the question map, so "what did Jason Statham say about starring in it?" is corrected
    rather than read as a quote. A yes/no about an entity asks rather than presumes: its handler answers
    yes or no (a why-question is one, whatever intent the classifier finds nearest)."""
    if it.follow_up:
        return it
    kb, parse = env.kb, it.parse
    # a character named for a relation's word ("the Director") cues that relation here, unless a word of
    # casting says it is the part ("why is Kate Beckinsale *playing the Director*?")
    names = frozenset(i for m in parse.mentions
                      if any(kb.entities[e].kind != "character" for e in m.entity_ids)
                      or m.start > 0 and parse.tokens[m.start - 1] in CASTING_WORDS
                      for i in range(m.start, m.end))
    asked = env.questions.asked(parse.tokens, names)  # none: a character named may still be a part ("as Charon")
    relations = [kb.relations[a.question.relation] for a in asked if a.question.relation in kb.relations
                 and kb.facts_of_relation(a.question.relation)]
    if it.kind != "yesno":
        qualified = _qualified_work(it, env, relations)
        if qualified is not None:
            return qualified
        premise = _absence_premise(it, env) or _role_premise(it, env, asked) or _entity_premise(it, env, relations)
        if premise is not None:
            return _mark(it, "false_premise", premise=premise)
    if it.kind == "yesno" or _presuming(parse.tokens):
        premise = _value_premise(it, env, [r for r in relations if r.literal])
        if premise is not None:
            return _mark(it, "false_premise", premise=premise)
    elif it.kind == "wh" and not parse.unknown_words and any(
            YEAR_TOKEN.fullmatch(t) and i and parse.tokens[i - 1] in YEAR_PREPOSITIONS for i, t in enumerate(parse.tokens)):
        # "when did it come out in *2022*?": a year the question states is presumed, like a why's clause
        premise = _value_premise(it, env, [r for r in relations if r.literal], years_only=True)
        if premise is not None:
            return _mark(it, "false_premise", premise=premise)
    return it


YEAR_TOKEN = re.compile(r"(?:19|20)\d\d")  # "in 2022"
YEAR_PREPOSITIONS = frozenset("in during by until till before after".split())  # "come out *in* 2022" (not "the 2016 film")

# "why is it...", "how come it's...": a question that takes its own clause as given
WHY_OPENERS = (("why",), ("how", "come"))


@step
def why_presupposition(it: Interpretation, env: Env) -> Interpretation:
    """ "Why is Chad Stahelski directing Ballerina?", "how come Universal moved it to Christmas?": a
    why-question takes its own clause as given, so the clause is the yes/no question it states
    (``presumes``: "is Chad Stahelski directing Ballerina"), checked first as ``presupposition``'s is:
    when the facts say no, the correction is the reply (the article's reasons never explain what is not
    so); when they say yes, or decide nothing, the why-question is answered as it was asked. A negated
    clause ("why isn't Keanu in it?") is ``false_premise``'s absence, and a premise that step found is
    corrected by it (it knows which fact the words cue: "why does Ian McShane play *Charon*?" -> he plays
    Winston; Lance Reddick plays Charon), so this step runs after it, for what no cue reaches."""
    toks = it.parse.tokens
    opener = next((o for o in WHY_OPENERS if tuple(toks[:len(o)]) == o), None)
    if opener is None or len(toks) < len(opener) + 2 or set(toks) & NEGATIONS or it.presumes is not None:
        return it
    words = it.text.split()
    if len(words) < len(opener) + 2 or words[0].lower().strip(",") != opener[0]:
        return it  # a message whose words the parse did not keep one for one ("why, ...")
    clause = " ".join(words[len(opener):]).rstrip(" ?!.")
    named = frozenset(toks[i] for i in it.parse.mentioned_tokens)
    if toks[len(opener)] in YES_NO_OPENERS and opener == ("why",):
        claim: str | None = clause  # "why *is* it ...": already the yes/no's word order
    else:
        claim = as_question(clause + ", right?", named)  # "how come it *is* ...", "how come Keanu directs it"
    if claim is None or not tokens(claim) or tokens(claim)[0] not in YES_NO_OPENERS:
        return it
    return _mark(it, "why_presupposition", presumes=claim, presumed_in=it.text)


def _absence_premise(it: Interpretation, env: Env) -> Premise | None:
    """ "why did Keanu refuse to be in Ballerina?", "why isn't Ian McShane in it?": a why-question that
    takes someone's absence as given (a negation, or a verb of refusing: ``REFUSING``) about one person and
    the film (named, else the one talked about), when the facts put them in it."""
    toks = it.parse.tokens
    words = set(toks)
    if not _presuming(toks) or not (words & REFUSING or words & NEGATIONS and words & BEING_IN):
        return None  # "why didn't Keanu *direct* it?" takes no absence as given
    kb = env.kb
    people = {i for m in it.parse.mentions for i in m.entity_ids[:1] if kb.entities[i].kind == "person"}
    if len(people) != 1:
        return None
    person = next(iter(people))
    taken = {n for n, m in enumerate(it.parse.mentions) if person in m.entity_ids}
    film = _film_of(it, env, {kb.default_subject.kind}, taken)
    if film is None:
        return None
    held = [f for f in kb.all_facts_of(film) if f.subject == film and f.object == person]
    # held or not, the question is answered from the facts: "he is in it", or "nothing puts him in it, and
    # the article doesn't say why" (never "why not Daniel Craig in Ballerina is" said back)
    return Premise(held[0].relation if held else "", film, person, absent=True)


def _presuming(toks: list[str]) -> bool:
    """The question takes its clause as given: "*why* is it...", "*how come*...", "*since* it's set..."."""
    return bool(toks) and toks[0] in PRESUMING_FIRST and any(tuple(toks[:len(o)]) == o for o in PRESUMING)


def _film_of(it: Interpretation, env: Env, kinds: set[str], taken: set[int], implied: bool = True) -> str | None:
    """The one entity of ``kinds`` the message names outside ``taken`` (mention indices), else the film
    talked about when it names none and ``implied`` ("why did Keanu direct *it*?"); None when it names
    several."""
    kb = env.kb
    named = {i for n, m in enumerate(it.parse.mentions) if n not in taken
             for i in m.entity_ids[:1] if kb.entities[i].kind in kinds}
    if len(named) > 1:
        return None
    if named:
        return named.pop()
    if not implied or _unknown_title(it, env):
        return None  # a name it does not know is the film meant ("who directed the original *Speed*?")
    film_kind = kb.default_subject.kind
    if film_kind not in kinds:
        return None
    film = env.context.last_by_kind.get(film_kind)
    return film if film in kb.entities else kb.default_subject.id


def _points_at_film(toks: list[str]) -> bool:
    """ "*it*", "*this*", "*the film*": the question points at the film talked about."""
    return any(t in FILM_POINTERS or (t in FILM_WORDS and i and toks[i - 1] in DEMONSTRATIVES | {"the"})
               for i, t in enumerate(toks))


def _unknown_title(it: Interpretation, env: Env) -> bool:
    """Words the bot does not know that read as a title: a name set aside ("Ballerina 2"), or unknown words
    after an article or "in" / "of" ("the *original Speed*"); a stray verb ("prepare") is no title."""
    toks = it.parse.tokens
    strangers = {w for w in it.parse.unknown_words if w not in env.known_words and w not in env.questions.words}
    if any(" " in w for w in strangers):
        return True
    return any(t in strangers and i and toks[i - 1] in TITLE_OPENERS for i, t in enumerate(toks))


def _role_premise(it: Interpretation, env: Env, asked: list[Asked]) -> Premise | None:
    """ "why does Ian McShane play Charon?": the character is another's part (Lance Reddick's)."""
    kb = env.kb
    people = {i for m in it.parse.mentions for i in m.entity_ids if kb.entities[i].kind == "person"}
    if len(people) != 1:
        return None
    person = next(iter(people))
    for relation, character in _premise_roles(it, env, asked):
        taken = {n for n, m in enumerate(it.parse.mentions) if person in m.entity_ids or character in m.entity_ids}
        film = _film_of(it, env, set(kb.relations[relation].subject or []), taken)
        if film is None:
            continue
        facts = [f for f in kb.facts_about(film, relation) if f.role == character]
        if facts and not any(f.object == person for f in facts):
            return Premise(relation, film, person, role=character)
    return None


def _qualified_work(it: Interpretation, env: Env, relations: list[Relation]) -> Interpretation | None:
    """ "who starred in the Underworld movie Len Wiseman made?", "who was in Wiseman's Die Hard film?": a
    wh-question of a relation cued, naming a work and someone tied to it by another fact (he directed
    it) and not by this one: the person says which work, so it is that work's relation that is asked,
    by the route reading it from the work (its cast), whatever the classifier made of the person's name."""
    if it.kind != "wh" or len(it.parse.mentions) < 2 or not relations or _presuming(it.parse.tokens):
        return None
    kb = env.kb
    named = [i for m in it.parse.mentions for i in m.entity_ids[:1]]
    works = [i for i in named if kb.entities[i].kind == kb.default_subject.kind]
    people = [i for i in named if kb.entities[i].kind == "person"]
    if len(set(works)) != 1 or len(set(people)) != 1:
        return None
    work, person = works[0], people[0]
    for relation in relations:
        if relation.literal or kb.default_subject.kind not in (relation.subject or []):
            continue
        facts = kb.facts_about(work, relation.id)
        ties = [f for f in kb.all_facts_of(work) if f.subject == work and f.object == person and f.relation != relation.id]
        if not facts or not ties or any(f.object == person for f in facts):
            continue
        route = next((name for name, r in env.routes.items() if r.handler == "facts" and r.given == "subject"
                      and relation.id in r.relations and kb.default_subject.kind in r.about), None)
        if route is not None:
            return _mark(it, "false_premise", intent=route, confidence=max(it.confidence, env.follow_up_confidence))
    return None


def _entity_premise(it: Interpretation, env: Env, relations: list[Relation]) -> Premise | None:
    """The one entity the message names of a cued relation's object kinds, on none of the subject's facts
    of it; or, when the subject has no such fact, on other subjects' facts of it and not this one's."""
    kb, parse = env.kb, it.parse
    for relation in relations:
        if relation.literal or relation.role and _premise_roles(it, env, []):
            continue
        objects = set(relation.object or [])
        held = [(n, m) for n, m in enumerate(parse.mentions)
                if any(kb.entities[i].kind in objects for i in m.entity_ids)]
        presumed = {next(i for i in m.entity_ids if kb.entities[i].kind in objects) for _, m in held}
        subject_kinds = set(relation.subject or []) - objects
        if len(presumed) != 1 or not subject_kinds:
            continue
        entity = next(iter(presumed))
        if kb.entities[entity].kind != "person" and not _presuming(parse.tokens):
            continue  # "who is *John Wick* up against?" asks; "why is it centred on *John Wick*?" presumes
        # the film talked about only when the question points at it: "what part does Keanu play?" presumes
        # nothing about the last film named
        film = _film_of(it, env, subject_kinds, {n for n, _ in held}, _points_at_film(parse.tokens))
        if film is None or film == entity:
            continue
        readings = {i for _, m in held for i in m.entity_ids}  # "John Wick": the character or the series
        facts = kb.facts_about(film, relation.id)
        if facts:
            if readings & {f.object for f in facts}:
                continue
            if not _presuming(parse.tokens) and any(
                    f.subject == film and f.object in readings for f in kb.all_facts_of(film)):
                continue  # "who starred in the Underworld movie *Len Wiseman made*?" (qualified_work)
            return Premise(relation.id, film, entity)
        if kb.entities[entity].kind == "person" and kb.facts_with_object(entity, relation.id) \
                and kb.appearance_through_role(entity, relation.id, film) is None:
            # credited elsewhere, and not in the film through a part they play ("what part did Angelica
            # Huston play in Parabellum?": her character appeared there, so nothing is presumed wrongly)
            return Premise(relation.id, film, entity, credits=True)
    return None


def _value_premise(it: Interpretation, env: Env, relations: list[Relation], years_only: bool = False) -> Premise | None:
    """The values a question presumes of a stated text (a number, a name after an order word, the order
    word itself: "out in *2022*", "set *after* *Chapter 4*") that the subject's fact of the relation lacks.
    ``years_only``: a wh-question presumes only the years it states (its order words ask: "what happens
    *after* Chapter 4?")."""
    kb, parse = env.kb, it.parse
    toks = parse.tokens
    ordered = set() if years_only else {n for n, m in enumerate(parse.mentions)
                                        if _order_word_before(toks, m.start) is not None}
    numbers = [t for i, t in enumerate(toks) if (YEAR_TOKEN.fullmatch(t) if years_only else t.isdigit())
               and i not in parse.mentioned_tokens]
    for relation in relations:
        film = _film_of(it, env, set(relation.subject or []), ordered,
                        _points_at_film(toks) or len(ordered) == len(parse.mentions))
        if film is None:
            continue
        facts = kb.facts_about(film, relation.id)
        if not facts:
            continue
        # the fact as said ("Ballerina is set *between* ..."), so the relation's own words count
        stated = " " + " ".join(w for f in facts for w in tokens(kb.sentence(f))) + " "
        missing = [n for n in numbers if f" {n} " not in stated]
        for n in ordered:
            mention = parse.mentions[n]
            word = _order_word_before(toks, mention.start)
            if word is not None and f" {word} " not in stated:
                missing.append(word)
            if not any(_named_in(kb, i, stated) for i in mention.entity_ids):
                missing.append(" ".join(toks[mention.start:mention.end]))
        if missing:
            return Premise(relation.id, film, values=tuple(dict.fromkeys(missing)))
    return None


def _order_word_before(toks: list[str], at: int) -> str | None:
    """ "*after* (the) Chapter 4": the order word a name follows, if any."""
    at -= 1
    while at >= 0 and toks[at] in ("the", "a", "an"):
        at -= 1
    return toks[at] if at >= 0 and toks[at] in ORDER_WORDS else None


def _named_in(kb: KnowledgeBase, entity: str, stated: str) -> bool:
    """Whether a stated text names the entity, by its name or any alias."""
    e = kb.entities[entity]
    return any(f" {' '.join(tokens(n))} " in stated for n in (e.name, *e.aliases) if tokens(n))



def _premise_roles(it: Interpretation, env: Env, asked: list[Asked]) -> list[tuple[str, str]]:
    """(relation, character) pairs the question casts its person in: a character it names ("play
    *Charon*"), or the character a cued relation names in the film ("the *lead*": the main character),
    for the relations whose facts carry a role of that kind (a cast)."""
    kb, parse = env.kb, it.parse
    role_relations = [r for r in kb.relations.values() if r.role and "person" in (r.object or [])]
    if not role_relations:
        return []
    # a character named for a relation's word ("the Director") is that relation's cue here, not a role;
    # a named character is a part presumed only where the words cast someone ("why does X *play* Charon?"),
    # and a name before a film word is the film's ("the Ana de Armas *John Wick movie*")
    toks = parse.tokens
    casting = any(t in CASTING_WORDS for t in toks)
    characters = [i for m in parse.mentions for i in m.entity_ids
                  if casting and any(kb.entities[i].kind in (r.role or []) for r in role_relations)
                  and (not env.questions.asked(toks[m.start:m.end])
                       or m.start > 0 and toks[m.start - 1] in CASTING_WORDS)  # "*playing* the Director"
                  and not (m.end < len(toks) and toks[m.end] in FILM_WORDS) and toks[m.end - 1] not in FILM_WORDS]
    if not characters:
        film = env.context.last_by_kind.get(kb.default_subject.kind) or kb.default_subject.id
        for a in asked:
            relation = kb.relations.get(a.question.relation)
            if relation is not None and relation.object != "text" and not {"person"} & set(relation.object or []):
                characters += [f.object for f in kb.facts_about(film, relation.id)
                               if f.object in kb.entities and any(kb.entities[f.object].kind in (r.role or [])
                                                                  for r in role_relations)]
    return [(r.id, c) for c in dict.fromkeys(characters) for r in role_relations
            if kb.entities[c].kind in (r.role or [])]


@step
def question_map(it: Interpretation, env: Env) -> Interpretation:
    """A question whose words ask for a relation no intent reads (intents/questions.yml: the writer, the
    runtime, a person's age) is about that relation, whatever the classifier's nearest intent. It stays
    with the classifier when its intent reads one of the relations the words ask for, or when a relation
    an intent reads is cued as strongly ("how long until it's out?" is the release)."""
    if it.follow_up and it.intent in env.routes:
        return it
    asked = env.questions.asked(it.parse.tokens, _cue_skip(it, env))
    if not asked:
        return it
    subject = _map_subject(it, env, asked)
    if subject is None:
        return _map_inverse(it, env, asked)
    kind = env.kb.entities[subject].kind
    fitting = [a for a in asked if kind in a.question.about]
    stronger = [a for a in asked if a.strength > max((f.strength for f in fitting), default=0)]
    inverse = _map_inverse(it, env, stronger) if stronger else it
    if inverse is not it or not fitting:  # "what word did Keanu come up with for Chapter 4's fights?"
        return inverse
    # "which outlet reported the story?", "where did the plot details come from?": the story's facts,
    # which name their source; "who said that?" alone is the last question's (source_request)
    sourced = any(a.question.sourced for a in fitting)
    fitting = [a for a in fitting if not a.question.sourced]
    if not fitting:
        return it
    if it.parse.tokens[:1] == ["who"]:
        # "who choreographed the fight scenes?" asks for someone: the stunts, not the kinds of action
        fitting = [a for a in fitting if _object_kinds(env, a.question) & ANSWER_KINDS["who"]] or fitting
    # every name must be what the question is about, or a film qualifying it: "which Bond film was Ana
    # de Armas in?" asks about her, not about Bond's appearances
    film_kind = env.kb.default_subject.kind
    allowed = set(fitting[0].question.about) | {film_kind, "publication"}  # "what did he tell Collider?"
    # ...or the other side of the fact asked: "did *Keanu Reeves* coin car-fu?", "does she work for *the CIA*?"
    # ("did *Chad Stahelski* write it?" for a relation the knowledge does not define: the map's own kinds)
    relation = env.kb.relations.get(fitting[0].question.relation)
    allowed |= set(relation.object) if relation is not None and relation.object != "text" else set()
    allowed |= set(fitting[0].question.object)
    # ...or a series the subject belongs to: "who's returning from *the John Wick films*?"
    linked = _works_of(env.kb, subject)
    if any(not {env.kb.entities[i].kind for i in m.entity_ids} & allowed and not set(m.entity_ids) & linked
           for m in it.parse.mentions):
        return it
    read = {r for route in env.routes.values() if route.handler in FACT_HANDLERS for r in route.relations}
    route = env.routes.get(it.intent or "")
    mine = set(route.relations) if route is not None and route.handler in FACT_HANDLERS else set()
    # the classifier's own relation cued inside the name of someone keeps its intent too: in "name *the
    # director* of the spin-off" the character's name is the relation's word (a film's title asks nothing)
    # ...but not the name of what is asked about: "what do fans call the John Wick *universe*?" asks the
    # series' nickname, whatever its name says
    # (a part's or a person's name: a work's title asks nothing, a series' neither: "the John Wick *series*")
    in_names = {i for m in it.parse.mentions if any(env.kb.entities[e].kind in ("person", "character")
                                                    for e in m.entity_ids)
                and subject not in m.entity_ids for i in range(m.start, m.end)}
    outside = frozenset(range(len(it.parse.tokens))) - in_names
    named = env.questions.asked(it.parse.tokens, outside) if in_names else []
    subject_cued = _cued_in_subject(it, env, fitting)
    if subject_cued and not mine & {a.question.relation for a in subject_cued}:
        # "has a *teaser* come out?": the yes/no asks of its subject, whatever its verb cues ("come out")
        fitting, named = subject_cued, []
    mine_cued = mine & {a.question.relation for a in fitting + named}
    # ...unless another relation's cue is longer: "what *kinds of action* are *in it*?" asks the action
    # ...when the facts hold an answer to it (a longer cue of what the article never says is weaker
    # evidence than the classifier's intent: "where is it *set* in the *timeline*?")
    outcued = fitting[0].question.relation not in mine and fitting[0].strength > max(
        (a.strength for a in fitting + named if a.question.relation in mine_cued), default=0) \
        and fitting[0].strength > MULTI_WORD_CUE and bool(env.kb.facts_about(subject, fitting[0].question.relation))
    typed = next((a for a in fitting if a.question.relation not in mine and _typed_cue(it, env, a)), None) \
        if mine_cued and not outcued and any(t in ("which", "what") for t in it.parse.tokens) else None
    if typed is not None and typed.strength >= max(
            (a.strength for a in fitting + named if a.question.relation in mine_cued), default=0):
        # "what city does it take place in?": the kind of answer asked decides between equal cues
        fitting, outcued = [typed, *(a for a in fitting if a is not typed)], True
    if mine_cued and not outcued and not _inside_longer_cue(it, env, fitting, mine_cued):
        # the classifier's relation, cued by several words ("who was in"): its doubt between near intents
        # is no reason for the search fallback
        strength = max((a.strength for a in fitting if a.question.relation in mine_cued), default=0)
        if sourced:  # its words ask for a source, which no intent was trained with: the facts answer it
            return _mark(it, "question_map", verdict=Verdict(True, "", (), "source"),
                         confidence=max(it.confidence, env.follow_up_confidence))
        if strength >= MULTI_WORD_CUE and it.confidence < env.follow_up_confidence:
            return _mark(it, "question_map", confidence=env.follow_up_confidence)
        return it
    best = fitting[0]
    routed = max((a.strength for a in fitting if a.question.relation in read), default=0)
    if best.question.relation in read:
        rerouted = _reroute(it, env, [a for a in fitting if a.question.relation in read], subject)
        if sourced and rerouted is not it:
            return _mark(rerouted, "question_map", verdict=Verdict(True, "", (), "source"),
                         confidence=max(rerouted.confidence, env.follow_up_confidence))
        return rerouted
    if routed >= best.strength and best is not typed:
        rerouted = _reroute(it, env, [a for a in fitting if a.question.relation in read], subject)
        # a tie the classifier did not take up for a fact intent ("is there a *trailer* *out*?" read as
        # off-topic) is the relation no intent reads: the honest answer, not "that's outside what I know"
        if rerouted is not it or env.handler(it.intent) in FACT_HANDLERS:
            return rerouted
    subject = _fact_in_words(it, env, best.question.relation, subject)
    taken = frozenset(n for n, m in enumerate(it.parse.mentions) if subject in m.entity_ids)
    scene = _scene(it, env)
    # a yes/no's strange words may be someone the facts do not name ("does *Halle Berry* come back?"), for
    # a relation whose facts name people, when they could name anyone ("did he pass *away*?" names no one)
    relation = env.kb.relations.get(best.question.relation)
    people = relation is not None and relation.object != "text" and "person" in relation.object
    strangers = tuple(w for w in unknown_words(scene) if all(can_name(x) for x in w.split())) \
        if it.kind == "yesno" and people else ()
    slots = slots_of(scene, Resolution(env.kb.entities[subject], used=taken), strangers)
    return _mark(it, "question_map", asked=best.question, subject=subject, slots=slots,
                 nearby=_nearby(env, best.question),
                 relations=(best.question.relation,), intent=f"ask_{best.question.relation}",
                 confidence=max(it.confidence, env.follow_up_confidence))


@step
def verb_relation(it: Interpretation, env: Env) -> Interpretation:
    """ "did Kate Beckinsale *direct* Underworld?": a yes/no for a route reading several relations (a
    person's work: directed, starred in) whose words cue some of them asks of those alone, so a film on
    the person's other facts is no yes (handlers/base.confirmed reads ``relations``)."""
    if it.kind != "yesno" or it.relations or settled(it):
        return it
    route = env.routes.get(it.intent or "")
    if route is None or route.handler not in FACT_HANDLERS or len(route.relations) < 2:
        return it
    cued = {a.question.relation for a in env.questions.asked(it.parse.tokens, _cue_skip(it, env))}
    asked = tuple(r for r in route.relations if r in cued)
    if not asked or len(asked) == len(route.relations):
        return it
    return _mark(it, "verb_relation", relations=asked)


def _typed_cue(it: Interpretation, env: Env, asked: Asked) -> bool:
    """The relation is cued by "which"/"what" and a noun ("*which city* is it set in?"): the kind of
    answer wanted, which another relation's fact (the timeline) cannot be, known or not."""
    toks = it.parse.tokens
    span = sorted(env.questions.span(toks, asked.question.relation, _cue_skip(it, env)))
    return len(span) >= 2 and toks[span[0]] in ("which", "what") and span == list(range(span[0], span[0] + len(span)))


def _cued_in_subject(it: Interpretation, env: Env, fitting: list[Asked]) -> list[Asked]:
    """In a yes/no, the relations cued before its first verb ("has *a teaser* come out?", "is *the
    trailer* out?"), earliest first: what the question asks of. [] for another kind of question, or when
    one relation alone is cued."""
    if it.kind != "yesno" or len({a.question.relation for a in fitting}) < 2:
        return []
    toks = it.parse.tokens
    verb = next((i for i in range(1, len(toks)) if i not in it.parse.mentioned_tokens
                 and (finite_verb(toks[i]) or is_verb_form(toks[i]))), len(toks))
    skip = _cue_skip(it, env)
    spans = [(min(span), a) for a in fitting if (span := env.questions.span(toks, a.question.relation, skip))
             and max(span) < verb]
    return [a for _, a in sorted(spans, key=lambda pair: pair[0])][:1] if spans and len(spans) < len(fitting) else []


def _fact_in_words(it: Interpretation, env: Env, relation: str, subject: str) -> str:
    """Nothing named or pointed at, but the words are another subject's fact of the relation asked:
    "kung-fu and gun-fu mix" is the fourth film's action, not the film talked about's. The subject whose
    stated text holds the most of the message's words (two at least, more than the fallen-back subject's)."""
    toks = it.parse.tokens
    if it.parse.mentions or any(t in PRONOUNS for t in toks) or relation not in env.kb.relations \
            or not env.kb.relations[relation].literal:
        return subject
    words = {stem(t) for t in toks if t not in STOPWORDS}
    scores: dict[str, int] = {}
    for fact in env.kb.facts_of_relation(relation):
        said = _stems(fact.object)
        scores[fact.subject] = max(scores.get(fact.subject, 0), len(words & said))
    best = max(scores, key=lambda s: scores[s], default=subject)
    return best if scores[best] >= MIN_FACT_WORDS and scores[best] > scores.get(subject, 0) else subject


@functools.lru_cache(maxsize=4096)
def _stems(text: str) -> frozenset[str]:
    return frozenset(stem(t) for t in tokens(text))


def _nearby(env: Env, question: Question) -> tuple[Question, ...]:
    """The map's questions whose facts are offered when this one's are unknown, in the map's order."""
    return tuple(env.questions.by_relation[r] for r in question.near if r in env.questions.by_relation)


def _inside_longer_cue(it: Interpretation, env: Env, fitting: list[Asked], mine: set[str]) -> bool:
    """The classifier's relation is cued only inside a longer cue of another: "*director* of
    photography" asks for the cinematographer, not the director."""
    best = fitting[0]
    if best.question.relation in mine:
        return False
    toks = it.parse.tokens
    skip = it.parse.name_tokens
    longer = env.questions.span(toks, best.question.relation, skip)
    # the classifier's cue may sit inside a name ("the *Director*"): only the longer cue's words are left out
    return bool(longer) and not any(env.questions.span(toks, r, longer) for r in mine)


def _cue_skip(it: Interpretation, env: Env) -> frozenset[int]:
    """Words that cue no relation: names ("Die Hard" asks nothing about dying), a follow-up opener."""
    return it.parse.name_tokens | _opener(it.parse.tokens)


def _opener(toks: list[str]) -> frozenset[int]:
    """The follow-up opener's words ("what *about* the music?"): they ask for nothing themselves."""
    longest = max((len(s) for s in FOLLOW_UP_STARTS if tuple(toks[:len(s)]) == s), default=0)
    return frozenset(range(longest))


LONG_CUE = 4  # words: a cue this long asks its relation whatever the classifier thought


def _reroute(it: Interpretation, env: Env, cued: list[Asked], subject: str) -> Interpretation:
    """The words ask for a relation another intent reads than the one the classifier picked ("whos the
    *lead*" is no cast question, "which year does it hit *cinemas*" no franchise one): that intent
    answers, so a reply never gives a different relation from the one asked. Only between fact intents
    asked of their subject, where a relation maps to one route."""
    top = cued[0].strength if cued else 0
    # ...or from no intent at all, when a long cue asks it plainly ("how much money did it make?"), or from
    # "says who?" when its words ask a relation of their own (source_request left it: "who starred in that?")
    unsure = (it.intent in (None, "out_of_scope") or it.confidence < env.threshold) and (
        top >= LONG_CUE or _both_sides(it, env, cued[:1])
                                                      or _named_with_facts(it, env, cued[:1], subject)) \
        or it.intent == SOURCE_INTENT
    if not cued or not unsure and (env.handler(it.intent) != "facts" or env.routes[it.intent or ""].given != "subject"):
        return it
    kind = env.kb.entities[subject].kind
    for asked in (a for a in cued if a.strength == top):
        names = [name for name, r in env.routes.items() if r.handler == "facts" and r.given == "subject"
                 and asked.question.relation in r.relations and kind in r.about]
        if len(names) == 1:
            # a cue of several words ("who was in", "who made") is as plain as a follow-up: the
            # classifier's doubt between near intents no longer sends it to the search fallback
            sure = max(it.confidence, env.follow_up_confidence) if top >= MULTI_WORD_CUE else it.confidence
            return _mark(it, "question_map", intent=names[0], relations=(asked.question.relation,),
                         confidence=sure)
    return it


def _named_with_facts(it: Interpretation, env: Env, cued: list[Asked], subject: str) -> bool:
    """ "how did Harbour Lights do at the *box office*?": the subject named, a cue of several words, and
    facts of that relation for it: the classifier, which never saw the name, has no better reading than
    its "no intent fits"."""
    if not cued or cued[0].strength < MULTI_WORD_CUE or not env.kb.facts_about(subject, cued[0].question.relation):
        return False
    return any(subject in m.entity_ids for m in it.parse.mentions)


def _both_sides(it: Interpretation, env: Env, cued: list[Asked]) -> bool:
    """A yes/no naming both sides of the relation its verb cues ("did *Tomas Vey* direct *Harbour
    Lights*?": a person and a film for "direct"): it asks that relation plainly, however short the cue."""
    if it.kind != "yesno" or not cued:
        return False
    relation = env.kb.relations.get(cued[0].question.relation)
    if relation is None or relation.literal:
        return False
    kinds = [{env.kb.entities[i].kind for i in m.entity_ids[:1]} for m in it.parse.mentions]
    return any(k & set(relation.subject) for k in kinds) and any(k & set(relation.object) for k in kinds)


def _map_inverse(it: Interpretation, env: Env, asked: list[Asked]) -> Interpretation:
    """ "what word did Keanu coin?": the one name is the other side of the relation cued (a person, where
    it is asked of a term), so the question asks for the facts that name them there (handlers/mapped:
    a subject of a kind the relation is not about is read from that side)."""
    film_kind = env.kb.default_subject.kind  # a film beside the name qualifies it ("...in Chapter 4")
    names = {i for m in it.parse.mentions for i in m.entity_ids[:1] if env.kb.entities[i].kind != film_kind}
    if not names:  # "what did *he* call the car action?": the one the pronoun stands for
        person = _person_meant(it, env)
        names = {person} if person is not None else set()
    if len(names) != 1:
        return it
    (name,) = names
    kind = env.kb.entities[name].kind
    route = env.routes.get(it.intent or "")
    mine = set(route.relations) if route is not None and route.handler in FACT_HANDLERS else set()
    for a in asked:
        relation = a.question.relation
        if relation in mine:
            return it  # "who is the Lionsgate chair?": the classifier's route reads it from that side
        if relation in env.kb.relations and kind in _object_kinds(env, a.question) \
                and env.kb.facts_with_object(name, relation):
            return _mark(it, "question_map", asked=a.question, subject=name, relations=(relation,),
                         intent=f"ask_{relation}", confidence=max(it.confidence, env.follow_up_confidence),
                         verdict=Verdict(True, "", (), "inverse"))
    return it


def _map_subject(it: Interpretation, env: Env, asked: list[Asked]) -> str | None:
    """Whom the map's question is about, for the strongest cue first: a name, a pronoun from context,
    else the film talked about. None when the message names something unknown or talks about the user
    or the bot ("how old are you?", "what's my budget?"): then it is not a question about the film."""
    parse = it.parse
    # "how old are you?" talks of the user or the bot; "where can I see *it*?" of the film talked about
    of_film = it.topic is not None and any(t in FILM_POINTERS for t in parse.tokens)
    talk = [i for i, t in enumerate(parse.tokens) if t in PEOPLE_TALK]
    if talk and not parse.mentions and not of_film:
        # ...unless the word is one of a cue's ("is he still *with us*?")
        skip = _cue_skip(it, env)
        cued = {i for a in asked for i in env.questions.span(parse.tokens, a.question.relation, skip)}
        if not set(talk) <= cued:
            return None
    strangers = [w for w in parse.unknown_words if " " in w or (w not in env.known_words
                                                                  and w not in env.questions.words)]
    if strangers and not parse.mentions and _pronoun_subject(it, env):
        # "is *she* an Oscar *winner*?": someone talked about is asked of, so a dictionary word is one of
        # the question's words, not the name of something unknown
        strangers = [w for w in strangers if " " in w or not is_english(w)]
    if strangers and not parse.mentions:
        return None
    for a in asked:
        subject = _subject_of_kinds(it, env, set(a.question.about), _object_kinds(env, a.question))
        if subject is not None:
            return subject
    return None


def _pronoun_subject(it: Interpretation, env: Env) -> bool:
    """A personal pronoun of the message names someone the chat talked about."""
    return any(env.context.last_by_pronoun.get(PRONOUNS[t]) in env.kb.entities
               for t in it.parse.tokens if t in PRONOUNS and t not in FILM_POINTERS)


def _object_kinds(env: Env, question: Question) -> frozenset[str]:
    """The kinds the answer of a map question names: the knowledge's relation's, else the map's own."""
    relation = env.kb.relations.get(question.relation)
    kinds = set(relation.object) if relation is not None and relation.object != "text" else set()
    return frozenset(kinds | set(question.object))


def _works_of(kb: KnowledgeBase, entity: str) -> set[str]:
    """The collections of works a film is in by its facts (its series), never a person or part."""
    film_kind = kb.default_subject.kind
    return {f.object for f in kb.all_facts_of(entity) if f.subject == entity and f.object in kb.entities
            and kb.entities[f.object].kind != film_kind and kb.entities[f.object].pronoun in (None, "it")
            and kb.entities[f.object].kind not in ("person", "character")}


def _subject_of_kinds(it: Interpretation, env: Env, kinds: set[str],
                      objects: frozenset[str] = frozenset()) -> str | None:
    """Whom a map question of ``kinds`` is about: a name (not one qualifying a film word: "which *Wick*
    movie was she in" asks about her), "that character" / "this film" (the context's last of that kind),
    a pronoun, else the film talked about. A name of the answer's kinds (``objects``: "did *Chad
    Stahelski* do the stunts?") is the other side of the fact, not someone else asked about."""
    kb, parse, ctx = env.kb, it.parse, env.context
    toks = parse.tokens
    # ...nor one compared with ("is it more brutal *than No Time To Die*?")
    # (a work's own name before "one"/"film" is that work: "who was in *the Underworld one*?")
    names = [m for m in parse.mentions if not (m.end < len(toks) and toks[m.end] in FILM_WORDS
                                               and not any(kb.entities[e].kind == kb.default_subject.kind
                                                           for e in m.entity_ids))
             and not (m.start and toks[m.start - 1] == "than")]
    for mention in reversed(names):
        ids = [i for i in mention.entity_ids if kb.entities[i].kind in kinds]
        if ids:
            return ids[0]
    film_kind = kb.default_subject.kind
    in_context = ctx.last_by_kind.get(film_kind) if ctx.last_by_kind.get(film_kind) in kb.entities else kb.default_subject.id
    # a name the film talked about is linked to ("who's returning from *the John Wick films*?") is the film's
    linked = _works_of(kb, in_context) if film_kind in kinds else set()
    if any(kb.entities[i].kind != film_kind and kb.entities[i].kind not in objects and i not in linked
           for m in names for i in m.entity_ids):
        return None  # named, but nothing a question of this kind is about
    for at, tok in enumerate(toks[:-1]):
        kind = KIND_WORDS.get(toks[at + 1]) if tok in DEMONSTRATIVES else None
        if kind in kinds and ctx.last_by_kind.get(kind) in kb.entities:
            return ctx.last_by_kind[kind]
    # only films named, and the question is of someone: "what did he say about Ballerina?"
    for tok in parse.tokens:
        pronoun = PRONOUNS.get(tok)
        if pronoun and ctx.last_by_pronoun.get(pronoun) in kb.entities:
            entity = ctx.last_by_pronoun[pronoun]
            if kb.entities[entity].kind in kinds:
                return entity  # "what does car-fu mean?" "who came up with it?": it is the term
            if pronoun in ("it", "they"):
                continue  # "it" that is no subject of this question is the film talked about, below
            # "who plays Charon?" "when was he born?": he is the last person of that pronoun, not the character
            person = next((ctx.last_by_kind.get(k) for k in sorted(kinds) if ctx.last_by_kind.get(k) in kb.entities
                           and kb.entities[ctx.last_by_kind[k]].pronoun == pronoun), None)
            return person
    if film_kind not in kinds:
        return None
    film = ctx.last_by_kind.get(film_kind)
    return film if film in kb.entities else kb.default_subject.id


@step
def appears_shape(it: Interpretation, env: Env) -> Interpretation:
    """ "is he in Chapter 4 as well?", "was she in an earlier Wick film?": a yes/no question that names (or
    points at) someone and a film, and says nothing else but "in", asks whether they appear in it, however
    unsure the classifier is of its few words. The route is the yes/no route of a cast relation (found from
    the routes, so another film's files need no change)."""
    if it.kind != "yesno" or settled(it) or (it.confidence >= env.threshold and env.handler(it.intent) == "yesno"):
        return it
    toks = it.parse.tokens
    named = it.parse.mentioned_tokens
    if "in" not in toks[1:]:
        return it
    kinds = {env.kb.entities[i].kind for m in it.parse.mentions for i in m.entity_ids[:1]}
    someone = bool(kinds & {"person", "character"}) or any(t in ELLIPSIS_PRONOUNS for t in toks[1:3])
    work = bool(kinds & {"film", "series"}) or any(t in FILM_POINTERS or t in FILM_WORDS for t in toks)
    describing = _describing(it)  # "is *that chap* Tomas Vey in it?"
    rest = [t for i, t in enumerate(toks[1:], 1) if i not in named and t not in APPEARS_WORDS and i not in describing
            and t not in ELLIPSIS_PRONOUNS and t not in FILM_POINTERS and t not in FILM_WORDS]
    if not someone or not work or rest:
        return it
    route = next((name for name, r in env.routes.items() if r.handler == "yesno"
                  and set(getattr(r, "check", ())) >= {"object"}), None)
    if route is None:
        return it
    return _mark(it, "appears_shape", intent=route, confidence=max(it.confidence, env.threshold))


WHICH_ONE_WORDS = FILM_WORDS | frozenset("one ones exactly is it was that the".split())


@step
def which_one(it: Interpretation, env: Env) -> Interpretation:
    """ "which Underworld one?", "which Die Hard film?": a "which" with nothing but one work's name and a
    film word asks which of that name's works is meant: the knowledge's one, told about (its name says
    "the first Underworld movie", its facts the rest)."""
    toks = it.parse.tokens
    if not toks or toks[0] != "which" or len(it.parse.mentions) != 1:
        return it
    mention = it.parse.mentions[0]
    rest = [t for i, t in enumerate(toks[1:], 1) if not mention.start <= i < mention.end]
    kb = env.kb
    works = [i for i in mention.entity_ids if kb.entities[i].kind == kb.default_subject.kind]
    if len(works) != 1:
        return it
    if any(t not in WHICH_ONE_WORDS for t in rest):
        # "which Wick spin-off is coming in 2024?" asks which film, whatever else it says of it: the film,
        # named, with what it is, when nothing surer is read from the rest (no intent fits it)
        sure = it.intent not in (None, "out_of_scope") and it.confidence >= env.threshold
        if sure or kb.entities[works[0]].name.lower() in mention.text or unknown_words(_scene(it, env)):
            return it
    route = next((name for name, r in env.routes.items() if r.handler == "about"), None)
    if route is None:
        return it
    return _mark(it, "which_one", intent=route, confidence=max(it.confidence, env.follow_up_confidence),
                 verdict=Verdict(True, "", (), "which_one"))  # its words are the name's: no scope rule applies


@step
def described_yes_no(it: Interpretation, env: Env) -> Interpretation:
    """ "is Ana de Armas the lead?", "is Len Wiseman the helmer?": a yes/no naming one person or part and
    a relation's descriptor (the knowledge's ``descriptors``: "the lead" for the main character) asks
    whether they hold it in the film talked about: the relation's route answers, and says yes or no
    (handlers/base.confirmed: a part's player holds it too). The classifier, which never saw the name
    beside the descriptor, is rarely sure of it."""
    if it.kind != "yesno" or it.follow_up or not 1 <= len(it.parse.mentions) <= 2:
        return it
    kb = env.kb
    parse = it.parse
    if len(parse.mentions) == 2:
        # "is Len Wiseman the director?": a part named like a relation's descriptor, beside someone who
        # holds that relation and does not play the part, is the descriptor; beside who plays it, the part
        reading = _descriptor_or_part(it, env)
        if reading is None:
            return it
        if reading is True:  # the yes/no route of a relation with parts: yes, or who does, and theirs
            route = next((name for name, r in env.routes.items() if r.handler == "yesno"
                          and any(kb.relations[x].role for x in r.relations if x in kb.relations)), None)
            return it if route is None else _mark(it, "described_yes_no", intent=route,
                                                  confidence=max(it.confidence, env.follow_up_confidence))
        parse = reading
    named = parse.mentions[0]
    kinds = {kb.entities[i].kind for i in named.entity_ids}
    text = f" {' '.join(t for i, t in enumerate(parse.tokens) if i not in parse.mentioned_tokens)} "
    for relation in kb.relations.values():
        if relation.literal or not any(f" {' '.join(tokens(d))} " in text for d in relation.descriptors):
            continue
        holders = set(relation.object) | set(relation.role or ())
        cast = {k for r in kb.relations.values() if r.role and set(r.role) & set(relation.object) for k in r.object}
        if not kinds & (holders | cast):
            continue
        route = next((name for name, r in env.routes.items() if r.handler == "facts" and r.relations[:1] == [relation.id]
                      and r.given == "subject"), None)
        if route is not None:
            return _mark(it, "described_yes_no", intent=route, parse=parse,
                         confidence=max(it.confidence, env.follow_up_confidence))
    return it


def _descriptor_or_part(it: Interpretation, env: Env) -> Parse | bool | None:
    """Of a part's name beside someone: True when the message speaks of playing it ("is she playing the
    Director?") or they play it; when it is also a relation's descriptor ("the director") and they hold
    that relation instead, the parse without it ("is Len Wiseman the director?"); else None."""
    kb = env.kb
    outside = {t for i, t in enumerate(it.parse.tokens) if i not in it.parse.mentioned_tokens}
    for part, other in (it.parse.mentions, reversed(it.parse.mentions)):
        if not part.entity_ids or kb.entities[part.entity_ids[0]].kind not in _role_kinds(kb):
            continue
        words = " ".join(it.parse.tokens[part.start:part.end])
        person = other.entity_ids[0] if other.entity_ids else None
        if person is None or kb.entities[person].kind not in _player_kinds(kb):
            continue
        if outside & CASTING_WORDS:
            return True  # "is Ana de Armas playing the Director?": whoever the facts cast in it answers
        for relation in kb.relations.values():
            said = {" ".join(tokens(d)) for d in relation.descriptors}
            if relation.literal or not ({words, words.removeprefix("the ")} & said):
                continue
            holds = any(kb.facts_with_object(person, relation.id))
            plays = any(f.role == part.entity_ids[0] for r in kb.relations.values() if r.role
                        for f in kb.facts_with_object(person, r.id))
            if plays:
                return True
            if holds:
                return replace(it.parse, mentions=[other])
    return None


def _role_kinds(kb: KnowledgeBase) -> frozenset[str]:
    return frozenset(k for r in kb.relations.values() for k in (r.role or ()))


def _player_kinds(kb: KnowledgeBase) -> frozenset[str]:
    """The kinds of entity that play parts (a relation with roles names them as its objects)."""
    return frozenset(k for r in kb.relations.values() if r.role and not r.literal for k in r.object)


@step
def confidence(it: Interpretation, env: Env) -> Interpretation:
    """Below the threshold the classifier's guess is no answer: the search fallback decides. Not for a
    question a step settled without a route (a question-map relation read from its other side: "what
    did Keanu call the car action?"), whose verdict says how it was read."""
    if it.confidence >= env.threshold and (it.intent in env.routes or it.asked is not None):
        return it
    return _mark(it, "confidence", verdict=Verdict(False, "low_confidence"))


def _scope_checks(it: Interpretation, env: Env) -> bool:
    """Whether the scope steps still have a say: an intent they check, not yet decided by one of them.
    A follow-up is exempt: its question was checked when it was first asked."""
    return not (it.follow_up or env.scope is None or it.intent is None or it.verdict.rule
                or env.scope.applies(it.intent) is None)


def _scope_rule(it: Interpretation, env: Env, name: str) -> Interpretation:
    """Run one of nlu/scope.py's rules: the first that speaks decides, fitting ([]) or not (its words)."""
    if not _scope_checks(it, env) or (name != "opening" and not it.foreign):
        return it
    assert env.scope is not None and it.intent is not None
    words = env.scope.rule(name, it.parse, it.intent, list(it.foreign or ()))
    if words is None:
        return it
    if not words:
        return _mark(it, "scope_" + name, verdict=Verdict(True, "", (), name))
    return _mark(it, "scope_" + name, verdict=Verdict(False, "off_topic", tuple(words), name))


@step
def scope_opening(it: Interpretation, env: Env) -> Interpretation:
    """The words besides the names must fit the intent picked; the scope rules (nlu/scope.py) are these
    steps, in its RULES order, and the first that speaks decides. First the opening: a question opening
    as none of the intent's examples do asks something else ("*why* so late?" is no goodbye, "*where* is
    Ana de Armas from?" no filmography)."""
    return _scope_rule(it, env, "opening")


NOT_DESCRIBING = frozenset("there for of in with to about by from on at as than".split())


def _describing(it: Interpretation) -> frozenset[int]:
    """A yes/no's words between its opener and its first name, which describe whom it asks of ("is *that
    fellow* Keanu Reeves in it?", "is *his co-star* Lance Reddick in it?"): the claim comes after the
    name, so they claim nothing. Dictionary words, or words the bot knows, only: an unknown word there
    may be the start of a name."""
    if it.kind != "yesno" or not it.parse.mentions:
        return frozenset()
    toks, unknown = it.parse.tokens, it.parse.unknown_words
    before = range(1, it.parse.mentions[0].start)
    if any(toks[i] in NOT_DESCRIBING for i in before):
        return frozenset()  # "is *there a mentor figure for* Rooney?": the claim comes before the name
    return frozenset(i for i in before if is_english(toks[i]) or toks[i] not in unknown or len(toks[i]) <= 2)


@step
def scope_words(it: Interpretation, env: Env) -> Interpretation:
    """The words (names aside) that neither the intent nor its relation family was trained with, found
    once for the rules after it; none means the message fits and no rule needs to run."""
    if not _scope_checks(it, env):
        return it
    assert env.scope is not None and it.intent is not None
    foreign = tuple(env.scope.foreign(it.parse, it.intent))
    if foreign:
        # a word of a cue of the intent's own relation (intents/questions.yml) fits it, trained or not:
        # "who does the story *revolve* around?" asks the main character in the map's words
        route = env.routes.get(it.intent)
        toks, skip = it.parse.tokens, _cue_skip(it, env)
        cued = {toks[i] for r in (route.relations if route is not None else ()) for i in env.questions.span(toks, r, skip)}
        cued |= {toks[i] for i in _describing(it)}
        foreign = tuple(w for w in foreign if w not in cued)
    if not foreign:
        return _mark(it, "scope_words", foreign=(), verdict=Verdict(True, "", (), "words"))
    return _mark(it, "scope_words", foreign=foreign)


@step
def scope_yes_no(it: Interpretation, env: Env) -> Interpretation:
    """A yes/no asserts the whole sentence: a word no intent of its relation was trained with makes it
    another question ("does Wick *die* in it"), unless nobody is named or pointed at and the strange
    words are the name asked about ("is Carrie-Anne Moss in it?": the handler's honest "not that I know")."""
    return _scope_rule(it, env, "yes_no")


SURE_CHAT = 0.85  # a chit-chat intent this sure of a message about the bot keeps it
ABOUT_THE_BOT = frozenset("you your youre yourself u ur bot".split())


@step
def scope_chit_chat(it: Interpretation, env: Env) -> Interpretation:
    """Chit-chat with a topic is not chit-chat: "did you see the match last night" is no goodbye. Unless
    the classifier is sure and the message speaks of the bot itself ("are you a real *person* or a bot?",
    "what *sort* of things can you do?"): its other words are about the bot, no topic of their own."""
    if it.confidence >= SURE_CHAT and set(it.parse.tokens) & ABOUT_THE_BOT and not it.parse.mentions:
        return it
    return _scope_rule(it, env, "chit_chat")


@step
def scope_unnamed(it: Interpretation, env: Env) -> Interpretation:
    """Nothing named, nothing pointed at: a word no answerable question uses names something else
    ("when is *Oppenheimer* out?" is not "when is it out?"). Only a word that may name something counts:
    the question's verb names nothing ("who *gave* the window?")."""
    out = _scope_rule(it, env, "unnamed")
    if out.verdict.in_scope or out is it:
        return out
    words = tuple(w for w in out.verdict.words if can_name(w) or not is_verb_form(w, gerund=False) and not finite_verb(w))
    return replace(out, verdict=replace(out.verdict, words=words)) if words else it


@step
def scope_elsewhere(it: Interpretation, env: Env) -> Interpretation:
    """A word only off-topic questions use ("imax"), or one naming a relative or part of someone named
    ("Rooney's *father*"): the question is about something the knowledge does not hold."""
    return _scope_rule(it, env, "elsewhere")


@step
def resolve_subject(it: Interpretation, env: Env) -> Interpretation:
    """Whom a fact or "tell me about" question is about, resolved once (bot/understanding/resolution.py:
    a name, a pronoun, a description such as "the lead", the chat's context, the film by default), so
    that the checks after it and the handler read one answer. A yes/no question resolves both sides: who
    is asked about and the work asked of (their unknown names are the handler's: "not in the cast").
    The slots around the subject come with it: the film named as a qualifier or left out, the film in
    context, the other names and the unknown words, so a handler reads neither the parse nor the chat."""
    handler = env.handler(it.intent)
    if it.resolution is not None or handler not in (*SUBJECT_HANDLERS, "yesno"):
        return it
    route = env.routes[it.intent or ""]
    scene = _scene(it, env)
    if handler == "yesno":
        who, work = resolve_yes_no(scene, route.relations[0], list(getattr(route, "check", [])),
                                   list(route.about))
        strangers = who.unknown_words or unknown_words(scene)
        return _mark(it, "resolve_subject", resolution=who, work=work, slots=slots_of(scene, who, strangers))
    kinds = list(route.about) if handler == "facts" else list(env.kb.kinds)
    again = it.source_request or it.ellipsis is not None or "detail_of_last" in it.steps
    res = resolve(scene, kinds, strangers=not again)  # "according to which *paper*?" names no one new
    return _mark(it, "resolve_subject", resolution=res, slots=slots_of(scene, res))


@step
def unknown_name(it: Interpretation, env: Env) -> Interpretation:
    """The question names something the bot does not know ("who played *Rocky*?", "the lead in
    *Barbie*", "who directed *Underworld 2*?"): it says it does not know that name, never gives a fact
    about something else. A name it knows with strange words around it is unknown_subject's."""
    res = it.resolution
    if res is None or res.options or env.handler(it.intent) not in SUBJECT_HANDLERS:
        return it
    words = res.unknown_words
    if not words and res.entity is None and env.handler(it.intent) == "facts":
        words = tuple(it.parse.unknown_words)
    if it.ellipsis is not None:  # "anybody else?": the fragment's own words were read by the ellipsis step
        words = tuple(w for w in words if w not in ELLIPSIS_WORDS and w not in ELLIPSIS_WH)
    if it.source_request or "detail_of_last" in it.steps:
        words = ()  # "according to which paper?": the last question again; its words name no one new
    if not words:
        return it
    return _mark(it, "unknown_name", verdict=Verdict(False, UNKNOWN_SUBJECT, tuple(words), "unknown_name"))


@step
def unknown_subject(it: Interpretation, env: Env) -> Interpretation:
    """A known name, but unknown words that make the question one the bot cannot answer: a word
    extending the name ("Underworld *Awakening*"), a work named after "in" or "of" ("Ana's role in
    *Knives* Out"), or unknown words making most of a short question ("what *band* does Keanu play *bass*
    in?"). A long, chatty message's unknown words are its chatter: not enough."""
    res = it.resolution
    if res is None or res.entity is None or env.handler(it.intent) not in SUBJECT_HANDLERS:
        return it
    scene = _scene(it, env)
    aged = age_variant(scene, res.used)
    if aged:  # "who plays Rooney as a child?": the part's other self, which the facts do not cast
        return _mark(it, "unknown_subject", verdict=Verdict(False, UNKNOWN_SUBJECT, aged, "age_variant"))
    words = strangers_in_question(scene, res.used)
    if not words:
        return it
    return _mark(it, "unknown_subject", verdict=Verdict(False, UNKNOWN_SUBJECT, words, "unknown_subject"))


@step
def stray_number(it: Interpretation, env: Env) -> Interpretation:
    """A number outside any name, with nothing named or pointed at ("what is 17 * 23", "is 1883 a
    spin-off?"): not about the film in context, so the search fallback decides. Fact questions allow
    an instalment's number ("why wasn't 5 shot at once"); "tell me about" allows none."""
    res = it.resolution
    if res is None or res.entity is None or env.handler(it.intent) not in SUBJECT_HANDLERS:
        return it
    above = MAX_INSTALMENT if env.handler(it.intent) == "facts" else 0
    if not stray_numbers(it.parse, above):
        return it
    numbers = tuple(t for t in it.parse.tokens if t.isdigit())
    return _mark(it, "stray_number", verdict=Verdict(False, STRAY_NUMBER, numbers, "stray_number"))


def _scene(it: Interpretation, env: Env) -> Scene:
    return Scene(env.kb, it.parse, env.context, env.known_words)


class Interpreter:
    """Runs the registered steps in order over one message."""

    def __init__(self, steps: list[Step] | None = None) -> None:
        self.steps = list(STEPS if steps is None else steps)

    def interpret(self, env: Env, text: str, parse: Parse | None = None) -> Interpretation:
        it = _fresh(text, parse if parse is not None else env.parse(text))
        film = env.context.last_by_kind.get(env.kb.default_subject.kind)
        if film in env.kb.entities:
            it = _mark(it, "topic", topic=film)
        done = settled(it)
        for fn in self.steps:
            if done:
                break
            changed = fn(it, env)
            if changed is not it:  # most steps pass the message on as it is: nothing new to settle
                it, done = changed, settled(changed)
        return it


def _asks_its_own(toks: list[str], named: frozenset[int] | set[int]) -> bool:
    """After "and": a question word or an auxiliary, then a word of its own besides the names ("and *who
    made* Underworld?", "and *is* John Wick *in* it?"), not only filler ("and who else?", "and Charon?")."""
    start = next((len(s) for s in sorted(FOLLOW_UP_STARTS, key=len, reverse=True) if tuple(toks[:len(s)]) == s), 0)
    if start >= len(toks) or toks[start] not in QUESTION_OPENERS:
        return False
    rest = [t for i, t in enumerate(toks[start + 1:], start + 1) if i not in named]
    # "who's" is "who is": its "s" is the verb of a question of its own ("and who's the director?")
    return any(t == "s" or t not in FOLLOW_UP_FILLER and t not in ELLIPSIS_FILLER and t not in LIGHT_FOLLOW_UP
               for t in rest)


def follow_up_intent(env: Env, parse: Parse, ctx: ChatContext, bare: bool = False) -> str | None:
    """The last turn's intent when the message only names a new entity of a kind it can be asked of
    ("and Charon?" after "who plays Winston?"), or the same relation asked the other way round ("who
    plays Charon?" then "and Keanu?"). ``bare``: a correction's remainder, which needs no "and"."""
    if not ctx.last_intent or not parse.mentions:
        return None
    kb = env.kb
    route = env.routes.get(ctx.last_intent)
    if route is None or route.handler not in FACT_HANDLERS:
        return None
    toks = parse.tokens
    starts = any(tuple(toks[: len(s)]) == s for s in FOLLOW_UP_STARTS)
    # a correction may describe the name it brings: "I meant the *main* John Wick movies"
    modifiers = {m.start - 1 for m in parse.mentions} if bare else set()
    others = [t for i, t in enumerate(toks) if i not in parse.mentioned_tokens and i not in modifiers]
    # Only filler around the name ("and Charon?", "what about Keanu"): question words such as
    # "when" or "out" make it a question of its own.
    light = bool(set(others) & {"too", "also", "either"}) and all(
        t in LIGHT_FOLLOW_UP or t in FOLLOW_UP_FILLER or t in YES_NO_OPENERS for t in others)
    if not starts and not light and any(t not in FOLLOW_UP_FILLER and not (bare and t in STOPWORDS) for t in others):
        return None
    if starts and len([t for t in others if t not in FOLLOW_UP_FILLER and t not in STOPWORDS]) > 1:
        return None
    if starts and _asks_its_own(toks, parse.mentioned_tokens):
        return None  # "and who made the first Underworld?": a question of its own after the "and"
    kinds = set(route.about)
    if route.handler == "yesno":
        relation = kb.relations[route.relations[0]]
        kinds |= set(relation.role or []) | (set(relation.object) if relation.object != "text" else set())
    if route.handler == "about":
        kinds = {e.kind for e in kb.entities.values()}
    film_kind = kb.default_subject.kind
    # "the Bond one", "the 007 film": a character's name before a film word names that character's film
    mentioned = {film_kind if m.end < len(toks) and toks[m.end] in FILM_WORDS else kb.entities[i].kind
                 for m in parse.mentions for i in m.entity_ids}
    if mentioned == {film_kind} and route.handler == "facts" and route.given != "subject" \
            and film_kind not in kinds and any(ctx.last_by_kind.get(k) in kb.entities for k in route.about):
        # "and in No Time To Die?" after "who is Ana de Armas playing?": the same person, in that film
        return ctx.last_intent
    if mentioned & kinds:
        return ctx.last_intent
    for name, other in env.routes.items():
        if (other.handler == "facts" and other.relations == route.relations and other.given != route.given
                and mentioned & set(other.about)):
            return name
    return None
