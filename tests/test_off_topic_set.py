"""2,600 messages the bot must not answer with a fact (tests/eval/off_topic.jsonl): other films and people,
namesakes, other meanings of the film's words, facts the article lacks, general chatter, junk, other
languages. Written by two testers apart from the training data (a generated stress set and a held-out
hand-written one); a few turned out answerable from the article, hence a ceiling rather than zero.
Each message is asked in a fresh chat."""
from __future__ import annotations

import json
import random

from bot.dialogue import Brain
from bot.storage import Storage, open_storage

from .conftest import ROOT

# Sits a little above the count measured when it was set (85 of 2,602 on 2026-11-25, about 15 of them
# answerable after all); lower it as the bot improves.
MAX_ANSWERED = 95


def test_off_topic_messages_are_not_answered_with_facts(settings) -> None:  # type: ignore[no-untyped-def]
    rows = [json.loads(line) for line in (ROOT / "tests" / "eval" / "off_topic.jsonl").read_text().splitlines()]
    assert len(rows) >= 2400  # 2,468 once the copies of training examples were taken out
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(0))
    answered = [r["text"] for r in rows if brain.reply(None, "tester", r["text"]).kind in ("answer", "search")]
    assert len(answered) <= MAX_ANSWERED, f"{len(answered)} answered, e.g. {answered[:10]}"
