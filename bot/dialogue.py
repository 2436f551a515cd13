"""The Brain: one message in, one Reply out, for every front.

    brain = Brain.from_settings(settings)
    brain.reply(chat="42", user="7", text="who directs ballerina?")

The Brain decides nothing about meaning: the understanding stage (bot/understanding/interpreter.py) turns
the message and the chat's context into one Interpretation, and the Brain routes it: another language
or an empty message -> their replies; a multi-part message -> each part, one reply; a question-map
relation or a false premise -> its reply; an intent in scope -> its handler; else the search fallback ->
"I don't know". Unanswered questions are logged for admins.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import random
from collections.abc import Callable
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

from .answers import Answers
from .config import Settings
from .context import MAX_ELSEWHERE, ChatContext
from .conversation import answers_its_part, entity_ref, follow_up_context, joined
from .handlers import HANDLERS
from .handlers.base import unknown_reply
from .handlers.unknown import credited
from .incoming import incoming_text
from .knowledge import KnowledgeBase
from .nlu import NLU, Parse
from .nlu.scope import Scope
from .nlu.text import STOPWORDS, tokens
from .rendering import Renderer
from .reply import Reply, SourceRef
from .search import SearchIndex
from .storage import Storage
from .validation import require_consistent
from .understanding.grammar import is_english
from .understanding.resolution import FILM_WORDS
from .understanding.interpretation import Interpretation, named_subject
from .understanding.interpreter import (STEPS, STRAY_NUMBER, UNKNOWN_SUBJECT, Env, Interpreter, english_words, opening_cut,
                                        presupposition, select_among, split_parts,
                                        why_presupposition)
from .understanding.language import EnglishWords, LanguageNotes, notes_for
from .understanding.questions import QuestionMap
from .understanding.replies import other_language_reply

log = logging.getLogger(__name__)
MEMORY_CONTEXTS = 10_000  # chats a Brain without storage remembers
SOURCE_INTENT = "ask_source"  # "says who?", "source?": answered by the last question's answer and its source
INTERPRETER = Interpreter()
EMPTY_STATE = ChatContext().state()
WHOLE = Interpreter([s for s in STEPS if s not in (split_parts, select_among)])  # a multi-part message read as one
# a clause taken as given that the facts decided nothing of: the message read whole, without those steps
PRESUPPOSING = (presupposition, why_presupposition)
PLAIN = Interpreter([s for s in STEPS if s not in PRESUPPOSING])
PLAIN_WHOLE = Interpreter([s for s in STEPS if s not in (split_parts, select_among, *PRESUPPOSING)])


@dataclass(frozen=True)
class Mind:
    """Everything derived from the data files; replaced whole when the knowledge changes."""

    kb: KnowledgeBase
    nlu: NLU
    answers: Answers
    search: SearchIndex
    scope: Scope | None = None  # does the question fit the intent picked? (None: built from the rest)
    questions: QuestionMap = QuestionMap.load(Path("/nonexistent"))  # the question map (intents/questions.yml)
    languages: LanguageNotes = LanguageNotes({})  # notes for messages in other languages

    def __post_init__(self) -> None:
        if self.scope is None:
            personal = frozenset(e.id for e in self.kb.entities.values() if e.pronoun in ("he", "she", "they"))
            described = frozenset(w for r in self.kb.relations.values() for d in r.descriptors for w in tokens(d))
            object.__setattr__(self, "scope", Scope(self.nlu.vocab, self.answers.routes, personal,
                                                    described - STOPWORDS))

    @functools.cached_property
    def english(self) -> EnglishWords:
        """The words that say a message is English, once per Mind (language detection keys on it)."""
        return english_words(self.questions, self.nlu.known_words, self.nlu.gazetteer)


@dataclass
class _Held:
    """The context of a chat held by this process (``Brain.hold``), as storage has it; None until read."""

    data: str | None = None


class Brain:
    def __init__(self, mind: Mind, settings: Settings, storage: Storage | None = None,
                 rng: random.Random | None = None, today: Callable[[], dt.date] = dt.date.today) -> None:
        self.mind = mind
        self.today = today  # dated facts ("is due for release in...") are read against it
        self.settings = settings
        self.storage = storage
        self.rng = rng or random.Random(settings.seed)
        # Without storage (a test's Brain), contexts live here, the least recent dropped past a bound.
        self._contexts: OrderedDict[str, ChatContext] = OrderedDict()
        # Chats this process serves alone for now (``hold``), each with the context text storage holds for
        # it once read or written. At most the chats in hand, so memory stays flat.
        self._held: dict[str, _Held] = {}
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings, storage: Storage | None = None,
                      rng: random.Random | None = None, today: Callable[[], dt.date] = dt.date.today) -> "Brain":
        return cls(build_mind(settings), settings, storage, rng, today)

    def swap(self, mind: Mind) -> None:
        """Answer with new knowledge from the next message on (messages in flight finish on the old)."""
        self.mind = mind

    # context -------------------------------------------------------------------------------------
    def hold(self, chat: str) -> None:
        """From now until ``release(chat)``, only this process answers ``chat`` and writes its context (the
        webhook workers' inbox holds the chat's lock meanwhile): its context is read from storage once and
        then kept as last written, where each message read it again (a round trip to PostgreSQL per message;
        a worker serves a chat's waiting messages one after the other under one hold)."""
        with self._lock:
            self._held[chat] = _Held()

    def release(self, chat: str) -> None:
        """``chat`` may be answered elsewhere from now on: its next message reads its context from storage."""
        with self._lock:
            self._held.pop(chat, None)

    def context(self, chat: str | None) -> ChatContext:
        """The chat's context as storage has it now, read for each message: the previous message may have
        been answered by another worker, and a process keeps no copy, so its memory stays flat however
        many chats there are. A chat this process holds (``hold``) is read once per hold."""
        if chat is None:
            return ChatContext()
        if self.storage is None:
            with self._lock:
                ctx = self._contexts.get(chat)
                if ctx is None:
                    ctx = ChatContext()
                self._contexts[chat] = ctx
                self._contexts.move_to_end(chat)
                while len(self._contexts) > MEMORY_CONTEXTS:
                    self._contexts.popitem(last=False)
                return ctx
        with self._lock:
            held = self._held.get(chat)  # this hold's own copy: a later hold of the chat starts afresh
        saved = held.data if held is not None else None
        if saved is None:
            saved = self.storage.load_context(chat) or ""
            if held is not None:
                held.data = saved
        return ChatContext.from_json(saved) if saved else ChatContext()

    def _save(self, chat: str | None, ctx: ChatContext, force: bool = False,
              read: tuple[object, ...] = EMPTY_STATE) -> None:
        """Store the chat's context when the message changed what the next one reads (``read``: its
        ``state()`` as loaded for this message): an off-topic message, or a chat that never got past
        one, writes nothing (a write per message was a fifth of the time per message with a file database,
        and its WAL checkpoints most of the slow tail). Compared with what this message read, never with a
        copy kept per process, which another worker may have made stale."""
        if chat is None or self.storage is None:
            return
        if not force and ctx.state() == read:
            return
        data = ctx.to_json()
        with self._lock:
            held = self._held.get(chat)
        self.storage.save_context(chat, data)
        if held is not None:
            held.data = data

    def forget(self, chat: str) -> None:
        """/cancel: the chat starts afresh."""
        with self._lock:
            self._contexts.pop(chat, None)
        self._save(chat, ChatContext(), force=True)

    # the entry points --------------------------------------------------------------------------------
    def reply(self, chat: str | None, user: str | None, text: str) -> Reply:
        mind = self.mind  # one consistent version for the whole message
        text = incoming_text(text)
        # a long paste that opens with a question is understood from that question (opening_question):
        # parsing the paste's first 500 characters too would be thrown away
        return self.reply_parsed(mind, chat, user, text, mind.nlu.parse(opening_cut(text) or text))

    def reply_parsed(self, mind: Mind, chat: str | None, user: str | None, text: str, parse: Parse, *,
                     ctx: ChatContext | None = None, fallback: bool = False, fallback_intent: str | None = None,
                     fallback_confidence: float = 0.0, persist: bool | None = None) -> Reply:
        """The core once a message is understood: answer, log what went unanswered, remember the topic.

        For fronts whose own NLU understood the message (Rasa): ``parse`` may carry their intent, ``ctx``
        a context rebuilt from their slots (then it is not saved here, unless ``persist``), and ``fallback``
        their "no intent fits" verdict, which still lets a follow-up ("and Charon?") through before searching."""
        persist = ctx is None if persist is None else persist
        ctx = self.context(chat) if ctx is None else ctx
        read = ctx.state()  # what storage holds now: unchanged after the message, nothing to write
        if fallback and not self._settles_alone(mind, text, parse, ctx):
            reply = self._fallback(mind, parse, fallback_intent or "out_of_scope", fallback_confidence)
        else:
            reply = self._answer(mind, text, parse, ctx, chat)
        if reply.kind == "unknown" and self.storage is not None and parse.tokens:
            try:
                self.storage.log_unanswered(chat, user, text, " ".join(parse.tokens), reply.intent,
                                            reply.confidence)
            except Exception:  # logging a question must never cost the answer
                log.exception("could not log an unanswered question")
        follow_up_context(ctx, reply, mind.answers.routes, mind.questions, self._refs(mind, reply))
        ctx.elsewhere = elsewhere_of(parse, reply, ctx.elsewhere)
        if persist:
            self._save(chat, ctx, read=read)
        return reply

    def env(self, mind: Mind, ctx: ChatContext) -> Env:
        return Env(mind.kb, mind.answers.routes, mind.nlu.parse, mind.questions, mind.languages, mind.scope,
                   mind.nlu.known_words, ctx, self.settings.nlu.threshold, self.settings.nlu.follow_up_confidence,
                   mind.nlu.gazetteer, mind.english)

    def _settles_alone(self, mind: Mind, text: str, parse: Parse, ctx: ChatContext) -> bool:
        """Another NLU's "no intent fits" still lets through what understanding settles without an intent:
        a follow-up ("and Charon?"), another language, a question-map relation, a false premise."""
        if not parse.tokens and not text.strip():
            return False
        it = WHOLE.interpret(self.env(mind, ctx), text or "", parse)
        return it.follow_up or it.kind == "other_language" or it.asked is not None or it.premise is not None

    def _answer(self, mind: Mind, text: str, parse: Parse, ctx: ChatContext, chat: str | None, *,
                split: bool = True, presuppose: bool = True) -> Reply:
        """Understand (one Interpretation), then route: the Brain decides nothing about meaning itself."""
        interpreter = (INTERPRETER if split else WHOLE) if presuppose else (PLAIN if split else PLAIN_WHOLE)
        it = interpreter.interpret(self.env(mind, ctx), text or "", parse)
        if it.alternatives:
            return self._alternatives(mind, it, ctx, chat)
        if it.presumes is not None:
            return self._presumed(mind, it, ctx, chat)
        if it.parts:
            every = self._parts(mind, it, ctx, chat)
            if every is not None:
                return every
            trial = ChatContext.from_json(ctx.to_json())
            whole = self._answer(mind, text, parse, trial, chat, split=False, presuppose=presuppose)
            if whole.verdict == "no" and not it.selection:
                # the message read as one contradicts what it never claimed ("is Keanu in it? and Ian
                # McShane? who do they play?" read as one yes/no: "Not so"): the parts that answer do
                some = self._parts(mind, it, ctx, chat, every=False)
                if some is not None:
                    return some
            return _adopt(ctx, trial, whole)
        return self._route(mind, it, ctx, chat)

    def _route(self, mind: Mind, it: Interpretation, ctx: ChatContext, chat: str | None) -> Reply:
        out = self.renderer(mind)
        suggest = mind.answers.suggestions[:3]
        if it.kind == "empty":
            return out.reply("utter_empty", "out_of_scope", 1.0, kind="unknown", suggestions=suggest)
        if it.kind == "other_language":
            return other_language_reply(it, out, mind.languages)
        if it.source_request and not it.follow_up:
            return out.reply("utter_source_of_what", SOURCE_INTENT, it.confidence, kind="unknown",
                             suggestions=suggest)
        if it.says is not None:
            return HANDLERS["says"](it, mind.kb, out)  # type: ignore[return-value]
        if it.company is not None:
            return HANDLERS["costars"](it, mind.kb, out)  # type: ignore[return-value]
        if it.premise is not None or it.asked is not None:  # the stage named what is asked: no route needed
            reply = HANDLERS["premise" if it.premise is not None else "map"](it, mind.kb, out)
            if reply is not None and reply.kind == "unknown" and it.premise is None and not named_subject(it):
                # unknown of the film it fell back to, while the source has a passage with every word the
                # message says ("jaw-dropping action sequences"): the passage is the better reply
                found = self._fallback(mind, it.parse, reply.intent or "out_of_scope", 0.0, out)
                reply = found if found.kind == "search" else reply
            if reply is not None:
                return reply
        intent, confidence = it.intent or "out_of_scope", it.confidence
        if it.verdict.reason == UNKNOWN_SUBJECT and it.verdict.rule == "age_variant":
            # "who plays Rooney as a child?": said back as what the article does not say
            said = HANDLERS["unknown"](it, mind.kb, out)
            if said is not None:
                return said
        if it.verdict.reason == UNKNOWN_SUBJECT:
            # a name it does not know, or strange words around one it does: say so, never another's fact
            # ("did he tell *Empire*?": and whom the facts say he told)
            return credited(it, mind.kb, out) or unknown_reply(it, out, it.verdict.words)
        if it.verdict.reason == STRAY_NUMBER:
            return self._fallback(mind, it.parse, intent, confidence, out, it)
        if it.verdict.reason == "off_topic":
            # The classifier's best guess asks something else than this message: say so, never guess.
            if it.verdict.rule == "unnamed" and it.verdict.words:
                # nothing it knows is named, so the strange words name what was asked about ("who plays
                # *Eve*?", "when is *Oppenheimer* out?"): say which, as for a name it does not know
                return out.reply("utter_unknown_subject", "out_of_scope", confidence, kind="unknown",
                                 words=" ".join(it.verdict.words), suggestions=suggest)
            said = HANDLERS["unknown"](it, mind.kb, out)
            return said or out.reply("utter_unknown_predicate", "out_of_scope", confidence, kind="unknown",
                                     suggestions=suggest)
        route = mind.answers.routes.get(intent)
        if route is not None and it.verdict.in_scope:
            reply = HANDLERS[route.handler](it, mind.kb, out)
            if reply is not None:
                return reply
        return self._fallback(mind, it.parse, intent, confidence, out, it)

    def _presumed(self, mind: Mind, it: Interpretation, ctx: ChatContext, chat: str | None) -> Reply:
        """The clause taken as given is checked first: when the facts say no, the correction is the reply
        (an answer would build on what is not so); else the question is answered in the context the
        clause set ("since Keanu is in it, who does *he* play?")."""
        trial = ChatContext.from_json(ctx.to_json())
        assert it.presumes is not None
        checked = self._answer(mind, it.presumes, mind.nlu.parse(it.presumes), trial, chat, split=False)
        if checked.verdict == "no":  # "not so", or "nothing I know puts him in it": either way, no ground
            return _adopt(ctx, trial, checked)
        why = it.text == it.presumed_in  # a why-question's clause is the question itself
        if checked.verdict != "yes" and why and checked.kind == "answer" and checked.verdict is None:
            # the facts of what the clause asks, which neither confirm nor deny it ("why did Universal go
            # for a Christmas release?": the release as stated): they answer better than "the article
            # doesn't say why", which takes the clause as so
            out = self.renderer(mind)
            if out.has("utter_why_unconfirmed"):
                return _adopt(ctx, trial, replace(checked, text=out.render("utter_why_unconfirmed", answer=checked.text)))
        if checked.verdict != "yes":  # the facts decide nothing of the clause: the message is read whole
            return self._answer(mind, it.presumed_in, mind.nlu.parse(it.presumed_in), ctx, chat, presuppose=False)
        follow_up_context(trial, checked, mind.answers.routes, mind.questions, self._refs(mind, checked))
        # a why-question asked again is not checked again
        return _adopt(ctx, trial, self._answer(mind, it.text, it.parse, trial, chat, presuppose=not why))

    def _alternatives(self, mind: Mind, it: Interpretation, ctx: ChatContext, chat: str | None) -> Reply:
        """A long message's question sentences, each answered in turn as a multi-part message's parts are
        (the context flows from one to the next: "who directs it? ... what else has he done?"): one reply
        joins every one answered with a fact or an honest "the article doesn't say ...", in order; a
        question nothing answers ("can you believe that?") is left out. Failing any fact, the first
        honest reply, else what the first question gets."""
        kept, trial, first = self._in_turn(mind, it.alternatives, ctx, chat, split=True, every=False)
        whole = joined(kept)
        if whole is not None:
            return _adopt(ctx, trial, whole)
        if kept:
            return _adopt(ctx, trial, kept[0])
        reply, state = first or (self._route(mind, it, ctx, chat), ctx)
        return _adopt(ctx, state, reply)

    def _parts(self, mind: Mind, it: Interpretation, ctx: ChatContext, chat: str | None,
               every: bool = True) -> Reply | None:
        """Each part of a multi-part message answered in turn (the context flows from one to the next);
        one reply joins them. None, with the context untouched, unless every part is answered (a fact,
        or the question map's "the article doesn't say") and one at least with a fact; with ``every``
        false, the parts that answer."""
        # a selection ("which of those had Kate Beckinsale in it?") keeps the parts that answer: the others
        # are the ones not chosen
        answered = self._in_turn(mind, it.parts, ctx, chat, split=False, every=every and not it.selection)
        if answered is None or not answered[0]:
            return None
        replies, trial, _ = answered
        if it.selection and any(r.verdict != "no" for r in replies):
            replies = [r for r in replies if r.verdict != "no"]  # "which of them plays Charon?": who does
        whole = joined(replies)
        if whole is not None:
            ctx.last_by_kind.update(trial.last_by_kind)
            ctx.last_by_pronoun.update(trial.last_by_pronoun)
        return whole

    def _in_turn(self, mind: Mind, texts: tuple[str, ...], ctx: ChatContext, chat: str | None, *, split: bool,
                 every: bool) -> tuple[list[Reply], ChatContext, tuple[Reply, ChatContext] | None] | None:
        """The questions of one message answered one after the other on a copy of the chat's context, each
        answered one recording what it was about for the next ("who directs it? and what else has he
        done?"); one nothing answers leaves the copy as it was, or, with ``every``, ends it all (None).
        Returns the answered replies, the copy, and the first reply with the context it was given."""
        trial = ChatContext.from_json(ctx.to_json())
        kept: list[Reply] = []
        first: tuple[Reply, ChatContext] | None = None
        for text in texts:
            before = ChatContext.from_json(trial.to_json())
            reply = self._answer(mind, text, mind.nlu.parse(text), trial, chat, split=split)
            first = first or (reply, before)
            if answers_its_part(reply, mind.answers.routes, mind.questions):
                follow_up_context(trial, reply, mind.answers.routes, mind.questions, self._refs(mind, reply))
                kept.append(reply)
            elif every:
                return None
            else:
                trial = before  # what nothing answered leaves the context as it was
        return kept, trial, first

    @staticmethod
    def _refs(mind: Mind, reply: Reply) -> list[tuple[str, str, str | None]]:
        return [entity_ref(mind.kb.entities[i]) for i in reply.entities if i in mind.kb.entities]

    def renderer(self, mind: Mind) -> Renderer:
        """What the handlers render with for one message: the templates, the Brain's random source and
        the day by its clock."""
        return Renderer(mind.kb, mind.answers, self.rng, self.today())

    def _fallback(self, mind: Mind, parse: Parse, intent: str, confidence: float,
                  out: Renderer | None = None, it: Interpretation | None = None) -> Reply:
        """Search the sources; failing that, say what is not known (``it``: the question understood)."""
        out = out or self.renderer(mind)
        if intent != "out_of_scope" or confidence < self.settings.nlu.threshold:
            hit = mind.search.search(parse.text, self.settings.search.min_coverage, self.settings.search.min_terms)
            if hit is not None:
                source = mind.kb.sources[hit.source_id]
                return Reply(
                    mind.answers.render("utter_search", self.rng, passage=hit.text.rstrip("."),
                                        according_to=source.attribution),
                    "search", None, round(hit.coverage, 4),
                    sources=(SourceRef(source.attribution, source.known, source.publication, source.title,
                                       source.url),),
                    suggestions=mind.answers.suggestions[:2],
                )
        said = HANDLERS["unknown"](it, mind.kb, out) if it is not None else None
        if said is not None:
            return replace(said, intent="out_of_scope" if intent == "out_of_scope" else None, confidence=confidence)
        return out.reply("utter_unknown", "out_of_scope" if intent == "out_of_scope" else None, confidence,
                         kind="unknown", suggestions=mind.answers.suggestions[:3])


def _adopt(ctx: ChatContext, trial: ChatContext, reply: Reply) -> Reply:
    """Keep what answering ``reply`` on the copy ``trial`` recorded, in the chat's own context."""
    if trial is not ctx:
        ctx.__dict__.update(ChatContext.from_json(trial.to_json()).__dict__)
    return reply


WORK_WORDS = frozenset("remake reboot sequel prequel version adaptation show series cartoon anime documentary".split())


def elsewhere_of(parse: Parse, reply: Reply, before: str | None) -> str | None:
    """The other work a reply said it knows nothing of, for "who directed that one?" next: the unknown
    words of a message about a film ("the Korean Netflix *Ballerina* movie with Jeon Jong-seo") or the name
    it set aside as someone else's ("Die Hard 2"); None once a fact is given; else as it was."""
    if reply.kind == "answer":
        return None
    if reply.kind != "unknown":
        return before
    if parse.aside:
        return " ".join(" ".join(parse.tokens[a:b]) for a, b in parse.aside)[:MAX_ELSEWHERE]
    if parse.unknown_words and any(t in FILM_WORDS or t in WORK_WORDS for t in parse.tokens):
        return " ".join(parse.unknown_words)[:MAX_ELSEWHERE]
    return before


def build_mind(settings: Settings, kb: KnowledgeBase | None = None, nlu: NLU | None = None) -> Mind:
    # knowledge read here is the file's bytes: a verdict on them reached before is reused (validation.py)
    files = [] if kb else [Path(settings.knowledge), Path(settings.answers_path)]
    kb = kb or KnowledgeBase.load(Path(settings.knowledge), Path(settings.cache_dir))
    answers = Answers.load(settings.answers_path)
    require_consistent(settings, kb, answers, files)  # the files agree with each other (bot/validation.py)
    kb = kb.covering(r for route in answers.routes.values() for r in route.relations)  # missing: "I don't know"
    answers = answers.with_knowledge(kb)
    nlu = nlu.with_knowledge(kb) if nlu else NLU.build(kb, Path(settings.intents), Path(settings.cache_dir))
    intents = Path(settings.intents)
    questions = QuestionMap.load(intents / "questions.yml")
    # the map's phrases are words the bot understands, never an unknown name ("the story *revolves around*")
    # ...and a slip of a word it knows is that word, unless it is English itself (understanding/grammar)
    return Mind(kb, nlu.with_phrases(questions.phrases).with_dictionary(is_english), answers, SearchIndex(kb),
                questions=questions,
                languages=notes_for(intents / "languages.yml"))
