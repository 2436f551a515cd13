"""The Brain: one message in, one Reply out, for every front.

    brain = Brain.from_settings(settings)
    brain.reply(chat="42", user="7", text="who directs ballerina?")

Routing order: empty input -> follow-up ellipsis ("and Charon?") -> intent route (if confident and the
question's words fit the intent, see nlu/scope.py) -> search fallback -> "I don't know". Unanswered
questions are logged for admins.
"""
from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from .answers import Answers
from .config import Settings
from .context import ChatContext
from .handlers import HANDLERS, Turn
from .handlers.base import entity_ref
from .incoming import incoming_text
from .knowledge import KnowledgeBase
from .nlu import NLU, Parse
from .nlu.scope import Scope
from .nlu.text import STOPWORDS, tokens
from .reply import Reply, SourceRef
from .search import SearchIndex
from .storage import Storage

log = logging.getLogger(__name__)
FOLLOW_UP_STARTS = (("and",), ("what", "about"), ("how", "about"), ("what", "of"), ("and", "what", "about"),
                    ("ok", "and"), ("also",), ("then",))
SOURCE_INTENT = "ask_source"  # "says who?", "source?": answered by the last question's answer and its source
FOLLOW_UP_FILLER = frozenset("and what about how of ok okay also then the so too please hmm well".split())


@dataclass(frozen=True)
class Mind:
    """Everything derived from the data files; replaced whole when the knowledge changes."""

    kb: KnowledgeBase
    nlu: NLU
    answers: Answers
    search: SearchIndex
    scope: Scope | None = None  # does the question fit the intent picked? (None: built from the rest)

    def __post_init__(self) -> None:
        if self.scope is None:
            personal = frozenset(e.id for e in self.kb.entities.values() if e.pronoun in ("he", "she", "they"))
            described = frozenset(w for r in self.kb.relations.values() for d in r.descriptors for w in tokens(d))
            object.__setattr__(self, "scope", Scope(self.nlu.vocab, self.answers.routes, personal,
                                                    described - STOPWORDS))


class Brain:
    def __init__(self, mind: Mind, settings: Settings, storage: Storage | None = None,
                 rng: random.Random | None = None) -> None:
        self.mind = mind
        self.settings = settings
        self.storage = storage
        self.rng = rng or random.Random(settings.seed)
        self._contexts: dict[str, ChatContext] = {}
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings, storage: Storage | None = None,
                      rng: random.Random | None = None) -> "Brain":
        return cls(build_mind(settings), settings, storage, rng)

    def swap(self, mind: Mind) -> None:
        """Answer with new knowledge from the next message on (messages in flight finish on the old)."""
        self.mind = mind

    # context -------------------------------------------------------------------------------------
    def context(self, chat: str | None) -> ChatContext:
        if chat is None:
            return ChatContext()
        with self._lock:
            ctx = self._contexts.get(chat)
            if ctx is None:
                saved = self.storage.load_context(chat) if self.storage else None
                ctx = ChatContext.from_json(saved) if saved else ChatContext()
                self._contexts[chat] = ctx
            return ctx

    def _save(self, chat: str | None, ctx: ChatContext) -> None:
        if chat is not None and self.storage is not None:
            self.storage.save_context(chat, ctx.to_json())

    def forget(self, chat: str) -> None:
        """/cancel: the chat starts afresh, in memory and in storage."""
        with self._lock:
            self._contexts[chat] = ctx = ChatContext()
        self._save(chat, ctx)

    # the entry points --------------------------------------------------------------------------------
    def reply(self, chat: str | None, user: str | None, text: str) -> Reply:
        mind = self.mind  # one consistent version for the whole message
        text = incoming_text(text)
        return self.reply_parsed(mind, chat, user, text, mind.nlu.parse(text))

    def reply_parsed(self, mind: Mind, chat: str | None, user: str | None, text: str, parse: Parse, *,
                     ctx: ChatContext | None = None, fallback: bool = False, fallback_intent: str | None = None,
                     fallback_confidence: float = 0.0) -> Reply:
        """The core once a message is understood: answer, log what went unanswered, remember the topic.

        For fronts whose own NLU understood the message (Rasa): ``parse`` may carry their intent, ``ctx``
        a context rebuilt from their slots (then it is not saved here), and ``fallback`` their "no intent
        fits" verdict, which still lets a follow-up ("and Charon?") through before searching."""
        persist = ctx is None
        ctx = self.context(chat) if ctx is None else ctx
        if fallback and parse.tokens and self._follow_up_intent(mind, parse, ctx) is None:
            reply = self._fallback(mind, parse, ctx, chat, fallback_intent or "out_of_scope", fallback_confidence)
        else:
            reply = self._answer(mind, parse, ctx, chat)
        if reply.kind == "unknown" and self.storage is not None and parse.tokens:
            try:
                self.storage.log_unanswered(chat, user, text, " ".join(parse.tokens), reply.intent,
                                            reply.confidence)
            except Exception:  # logging a question must never cost the answer
                log.exception("could not log an unanswered question")
        # A fact question answered "not as far as I know" is still the question in play: "is Daniel Craig in
        # it?" -> "no" -> "what about Ian McShane?" asks the same.
        answered = reply.kind in ("answer", "clarify") or (
            reply.kind == "unknown" and reply.intent in mind.answers.routes
            and mind.answers.routes[reply.intent].handler in ("facts", "yesno"))
        ctx.remember(reply.intent if answered else None,
                     [entity_ref(mind.kb.entities[i]) for i in reply.entities if i in mind.kb.entities])
        if persist:
            self._save(chat, ctx)
        return reply

    def _answer(self, mind: Mind, parse: Parse, ctx: ChatContext, chat: str | None) -> Reply:
        if not parse.tokens:
            return self._turn(mind, parse, ctx, "out_of_scope", 1.0, chat).reply(
                "utter_empty", kind="unknown", suggestions=mind.answers.suggestions[:3])
        intent, confidence = parse.intent, parse.confidence
        follow_up = self._follow_up_intent(mind, parse, ctx)
        if intent == SOURCE_INTENT and confidence >= self.settings.nlu.threshold:
            # "says who?": the last question again, whose answer names its source.
            if not ctx.last_intent or ctx.last_intent not in mind.answers.routes:
                return self._turn(mind, parse, ctx, intent, confidence, chat).reply(
                    "utter_source_of_what", kind="unknown", suggestions=mind.answers.suggestions[:3])
            follow_up = intent = ctx.last_intent
        if not follow_up and confidence < self.settings.nlu.threshold:
            follow_up = self._bare_mention_intent(mind, parse)
        if follow_up:
            intent, confidence = follow_up, max(confidence, self.settings.nlu.follow_up_confidence)
        route = mind.answers.routes.get(intent)
        if route is not None and confidence >= self.settings.nlu.threshold:
            if not follow_up and mind.scope is not None and mind.scope.off_topic(parse, intent):
                # The classifier's best guess asks something else than this message: say so, never guess.
                reply = self._turn(mind, parse, ctx, "out_of_scope", confidence, chat).reply(
                    "utter_unknown_predicate", kind="unknown", suggestions=mind.answers.suggestions[:3])
                return replace(reply, intent="out_of_scope")
            turn = self._turn(mind, parse, ctx, intent, confidence, chat)
            reply = HANDLERS[route.handler](turn)
            if reply is not None:
                return reply
        return self._fallback(mind, parse, ctx, chat, intent, confidence)

    def _turn(self, mind: Mind, parse: Parse, ctx: ChatContext, intent: str, confidence: float,
              chat: str | None) -> Turn:
        route = mind.answers.routes.get(intent) or mind.answers.routes["out_of_scope"]
        return Turn(mind.kb, mind.answers, self.rng, parse, ctx, intent, confidence, route,
                    known_words=mind.nlu.known_words, chat=chat)

    def _follow_up_intent(self, mind: Mind, parse: Parse, ctx: ChatContext) -> str | None:
        """ "and Charon?" after "who plays Winston?": same question, new entity."""
        if not ctx.last_intent or not parse.mentions:
            return None
        route = mind.answers.routes.get(ctx.last_intent)
        if route is None or route.handler not in ("facts", "yesno", "about"):
            return None
        toks = parse.tokens
        starts = any(tuple(toks[: len(s)]) == s for s in FOLLOW_UP_STARTS)
        others = [t for i, t in enumerate(toks) if i not in parse.mentioned_tokens]
        # Only filler around the name ("and Charon?", "what about Keanu"): question words such as
        # "when" or "out" make it a question of its own.
        if not starts and any(t not in FOLLOW_UP_FILLER for t in others):
            return None
        if starts and len([t for t in others if t not in FOLLOW_UP_FILLER and t not in STOPWORDS]) > 1:
            return None
        kinds = set(route.about)
        if route.handler == "yesno":
            relation = mind.kb.relations[route.relations[0]]
            kinds |= set(relation.role or []) | (set(relation.object) if relation.object != "text" else set())
        if route.handler == "about":
            kinds = {e.kind for e in mind.kb.entities.values()}
        mentioned = {mind.kb.entities[i].kind for m in parse.mentions for i in m.entity_ids}
        if mentioned & kinds:
            return ctx.last_intent
        # "who plays Charon?" then "and Keanu?": the same relation asked the other way round.
        for name, other in mind.answers.routes.items():
            if (other.handler == "facts" and other.relations == route.relations and other.given != route.given
                    and mentioned & set(other.about)):
                return name
        return None

    @staticmethod
    def _bare_mention_intent(mind: Mind, parse: Parse) -> str | None:
        """ "and Keanu?" with nothing asked before: a name and filler only means "tell me about Keanu"."""
        if not parse.mentions:
            return None
        others = [t for i, t in enumerate(parse.tokens) if i not in parse.mentioned_tokens]
        if any(t not in FOLLOW_UP_FILLER for t in others):
            return None
        return next((name for name, route in mind.answers.routes.items() if route.handler == "about"), None)

    def _fallback(self, mind: Mind, parse: Parse, ctx: ChatContext, chat: str | None, intent: str,
                  confidence: float) -> Reply:
        turn = self._turn(mind, parse, ctx, "out_of_scope", confidence, chat)
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
        reply = turn.reply("utter_unknown", kind="unknown", suggestions=mind.answers.suggestions[:3])
        return replace(reply, intent="out_of_scope" if intent == "out_of_scope" else None, confidence=confidence)


def build_mind(settings: Settings, kb: KnowledgeBase | None = None, nlu: NLU | None = None) -> Mind:
    kb = kb or KnowledgeBase.load(Path(settings.knowledge))
    nlu = nlu.with_knowledge(kb) if nlu else NLU.build(kb, Path(settings.intents), Path(settings.cache_dir))
    return Mind(kb, nlu, Answers.load(settings.answers_path), SearchIndex(kb))
