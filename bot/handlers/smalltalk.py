"""Greetings, thanks, help and out-of-scope: no facts, just manners and pointers."""
from __future__ import annotations

from dataclasses import replace

from ..knowledge import KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation
from . import unknown


def smalltalk(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    return out.say(it, f"utter_{it.intent}", kind="smalltalk")


def help_(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    examples = out.suggestions
    reply = out.say(it, "utter_help", kind="smalltalk", suggestions=examples[:4])
    return replace(reply, text=reply.text + "\n" + "\n".join(f"• {e}" for e in examples))


def out_of_scope(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply | None:
    """Nothing answers it: what is not known, said specifically where it can be (unknown.py)."""
    return unknown.handle(it, kb, out) or out.say(it, "utter_unknown", kind="unknown",
                                                   suggestions=out.suggestions[:3])
