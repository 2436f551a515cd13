"""rasa-sdk custom actions that answer with the same Brain as every other front.

Serve them with ``python -m bot actions`` (or ``python -m rasa_sdk --actions bot.channels.rasa_actions``).
Each action maps the tracker to a core call and the Reply back to ``utter_message``; there is no trivia
logic here:

    tracker.sender_id                         -> chat id
    latest_message.text / intent / entities   -> text, forced intent (if we have a route for it), mentions
    slots last_person/last_film/...           -> the chat's follow-up context
    Reply                                     -> text, suggestion buttons, custom payload (kind, sources)
    changed context                           -> SlotSet events (for the slots the domain declares)

With no usable intent in the tracker (none, empty, or one we have no route for) the bot's own NLU reads the
text. Rasa's ``nlu_fallback`` goes to the search fallback. Any failure inside the core becomes an apology,
never a crashed action server.
"""
from __future__ import annotations

import logging
import threading
from abc import ABCMeta, abstractmethod
from dataclasses import asdict
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from ..core_api import CONTEXT_SLOTS, MAX_TEXT, answer_with_intent
from ..dialogue import Brain
from ..rasa_export import ACTION_FOR_HANDLER, SEARCH_ACTION
from ..reply import Reply

log = logging.getLogger(__name__)
APOLOGY = "Sorry, something went wrong on my side. Try asking another way."
MAX_BUTTONS = 5

_brain: Brain | None = None
_lock = threading.Lock()


def configure(brain: Brain | None) -> None:
    """Use this Brain (the CLI's, a test's); None means build one from the config on first use."""
    global _brain
    _brain = brain


def get_brain() -> Brain:
    global _brain
    if _brain is None:
        with _lock:
            if _brain is None:
                from ..config import load_settings
                from ..storage import Storage, open_storage

                settings = load_settings()
                _brain = Brain.from_settings(settings, open_storage(settings.database))
    return _brain


def render(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    buttons = [{"title": s, "payload": s} for s in reply.suggestions[:MAX_BUTTONS]]
    custom = {
        "kind": reply.kind,
        "intent": reply.intent,
        "confidence": round(reply.confidence, 4),
        "sources": [asdict(s) for s in reply.sources],
        "spoilers": list(reply.spoilers),
    }
    dispatcher.utter_message(text=reply.text, buttons=buttons, json_message=custom)


def read_tracker(tracker: Tracker, domain: dict[str, Any] | None) -> dict[str, Any]:
    """The parts of a tracker the core needs, tolerating missing or odd-typed fields."""
    message = tracker.latest_message if isinstance(tracker.latest_message, dict) else {}
    text = message.get("text")
    text = text[:MAX_TEXT] if isinstance(text, str) else ""
    intent_info = message.get("intent") if isinstance(message.get("intent"), dict) else {}
    intent = intent_info.get("name") if isinstance(intent_info.get("name"), str) else None
    confidence = intent_info.get("confidence")
    if not isinstance(confidence, (int, float)) or isinstance(confidence, bool):
        confidence = None
    entities = [e for e in message.get("entities") or [] if isinstance(e, dict)] \
        if isinstance(message.get("entities"), list) else []
    slots = tracker.slots if isinstance(tracker.slots, dict) else {}
    declared = set(slots)
    domain_slots = (domain or {}).get("slots") if isinstance(domain, dict) else None
    if isinstance(domain_slots, dict):
        declared |= set(domain_slots)
    context = {k: slots.get(k) for k in CONTEXT_SLOTS if k in declared}
    return {
        "chat": str(tracker.sender_id) if tracker.sender_id is not None else None,
        "user": str(tracker.user_id or tracker.sender_id or ""),
        "text": text,
        "intent": intent or None,
        "confidence": confidence,
        "entities": entities,
        "context": context or None,  # None: the domain has none of our slots; the Brain keeps context
        "declared": declared,
    }


class BrainAction(Action, metaclass=ABCMeta):
    """Answer the latest message with the Brain. Subclasses name the family of handlers they stand for;
    whichever action Rasa picks, the core still answers the intent it is given with its own handler."""

    handlers: tuple[str, ...] = ()

    @abstractmethod
    def name(self) -> str: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            call = read_tracker(tracker, domain)
            reply, changed = answer_with_intent(
                get_brain(), call["chat"], call["user"], call["text"], intent=call["intent"],
                confidence=call["confidence"], entities=call["entities"], context_slots=call["context"])
        except Exception:  # one bad message must not take the action server down
            log.exception("action %s failed on sender %r", self.name(), getattr(tracker, "sender_id", None))
            dispatcher.utter_message(text=APOLOGY, json_message={"kind": "unknown", "error": True})
            return []
        render(dispatcher, reply)
        return [SlotSet(k, v) for k, v in changed.items() if k in call["declared"]]


def _family(handler_names: list[str]) -> tuple[str, ...]:
    return tuple(h for h, a in ACTION_FOR_HANDLER.items() if a in handler_names)


class ActionTriviaFacts(BrainAction):
    """Fact questions: director, cast, who plays whom, plot, release, box office, filmography..."""

    handlers = _family(["action_trivia_facts"])

    def name(self) -> str:
        return "action_trivia_facts"


class ActionTriviaYesNo(BrainAction):
    """Yes/no questions: "is Keanu Reeves in it?"."""

    handlers = _family(["action_trivia_yesno"])

    def name(self) -> str:
        return "action_trivia_yesno"


class ActionTriviaAbout(BrainAction):
    """ "Who is Winston?", "what is the High Table?"."""

    handlers = _family(["action_trivia_about"])

    def name(self) -> str:
        return "action_trivia_about"


class ActionTriviaSmalltalk(BrainAction):
    """Greetings, thanks, goodbyes, "are you a bot?", help."""

    handlers = _family(["action_trivia_smalltalk"])

    def name(self) -> str:
        return "action_trivia_smalltalk"


class ActionTriviaSearch(BrainAction):
    """The fallback: Rasa's nlu_fallback (and out_of_scope) searches the facts and the source articles."""

    handlers = _family([SEARCH_ACTION])

    def name(self) -> str:
        return SEARCH_ACTION
