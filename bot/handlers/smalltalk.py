"""Greetings, thanks, help and out-of-scope: no facts, just manners and pointers."""
from __future__ import annotations

from ..reply import Reply
from .base import Turn


def smalltalk(turn: Turn) -> Reply | None:
    return turn.reply(f"utter_{turn.intent}", kind="smalltalk")


def help_(turn: Turn) -> Reply | None:
    examples = turn.answers.suggestions
    text = turn.answers.render("utter_help", turn.rng, title=turn.kb.title)
    reply = turn.reply("utter_help", kind="smalltalk", suggestions=examples[:4])
    from dataclasses import replace

    return replace(reply, text=text + "\n" + "\n".join(f"• {e}" for e in examples))


def out_of_scope(turn: Turn) -> Reply | None:
    return turn.reply("utter_unknown", kind="unknown", suggestions=turn.answers.suggestions[:3])
