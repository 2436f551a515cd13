"""Greetings, thanks, help and out-of-scope: no facts, just manners and pointers."""
from __future__ import annotations

from dataclasses import replace

from ..reply import Reply
from .base import Turn


def smalltalk(turn: Turn) -> Reply | None:
    return turn.reply(f"utter_{turn.intent}", kind="smalltalk")


def help_(turn: Turn) -> Reply | None:
    examples = turn.answers.suggestions
    reply = turn.reply("utter_help", kind="smalltalk", suggestions=examples[:4])
    return replace(reply, text=reply.text + "\n" + "\n".join(f"• {e}" for e in examples))


def out_of_scope(turn: Turn) -> Reply | None:
    return turn.reply("utter_unknown", kind="unknown", suggestions=turn.answers.suggestions[:3])
