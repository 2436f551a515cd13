"""The held-out conversations (written apart from the training data) as a floor in CI."""
from __future__ import annotations

import random

from bot.dialogue import Brain
from bot.evaluation import load_conversations, run_conversations
from bot.storage import Storage, open_storage

from .conftest import ROOT

# Floors sit a little under the figures measured when they were set; raise them as the bot improves.
MIN_INTENT_ACCURACY = 0.95
MIN_ANSWER_ACCURACY = 0.95
MAX_OFF_TOPIC_ANSWERED = 0


def test_eval_set_meets_its_floors(settings) -> None:  # type: ignore[no-untyped-def]
    conversations = load_conversations(ROOT / "tests" / "eval" / "conversations.yml")
    assert sum(len(c) for c in conversations) >= 200
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(0))
    results = run_conversations(brain, conversations)
    intent = sum(r.intent_ok for r in results) / len(results)
    answers = sum(r.content_ok for r in results) / len(results)
    off_topic = [r.text for r in results if r.off_topic_answered]
    assert intent >= MIN_INTENT_ACCURACY, f"intent accuracy {intent:.1%}"
    assert answers >= MIN_ANSWER_ACCURACY, f"answer accuracy {answers:.1%}"
    assert len(off_topic) <= MAX_OFF_TOPIC_ANSWERED, off_topic
