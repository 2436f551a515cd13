"""Text is made valid UTF-8 where it enters the core: nothing behind Brain.reply meets a lone surrogate."""
from __future__ import annotations

import logging
import random

import pytest

from bot.config import Settings
from bot.core_api import answer_with_intent
from bot.dialogue import Brain
from bot.incoming import incoming_text
from bot.storage import Storage, open_storage


@pytest.mark.parametrize("text", ["zxqv \ud800 blorp wibble", "\udcff\udcfe who composed the music?", "\udfff blorp"])
def test_a_lone_surrogate_is_answered_and_logged_as_unanswered(settings: Settings, caplog: pytest.LogCaptureFixture,
                                                               text: str) -> None:
    storage = open_storage(settings.database)  # a real SQLite file: it refuses what is not UTF-8
    brain = Brain.from_settings(settings, storage, random.Random(7))
    with caplog.at_level(logging.DEBUG):
        reply = brain.reply("c", "u", text)
        reply.text.encode("utf-8")
        via_rasa, _ = answer_with_intent(brain, "r", "u", text)
        via_rasa.text.encode("utf-8")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]
    if reply.kind == "unknown":
        [logged] = [q for q in storage.unanswered() if "\ufffd" in q.text]
        logged.text.encode("utf-8")


def test_surrogate_pairs_are_joined_and_lone_halves_replaced() -> None:
    assert incoming_text("\ud83c\udfac Ballerina") == "🎬 Ballerina"
    assert incoming_text("a\ud800b") == "a\ufffdb"
    assert incoming_text(None) == "" and incoming_text("plain") == "plain"
