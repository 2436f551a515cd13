"""The held-out conversations (written apart from the training data) as a floor in CI."""
from __future__ import annotations

import random

import pytest

from bot.dialogue import Brain
from bot.evaluation import load_classified, load_conversations, per_class, run_conversations
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


# The held-out sets written as users would (each measured once before any change made for it; see the
# file's head). A floor per set, a little under what it measured when set, so a regression in any class
# of question shows; every class of each set must still answer most of its turns.
HELD_OUT_FLOORS = {"heldout.yml": 0.94, "heldout_fresh.yml": 0.9, "heldout_session5.yml": 0.96,
                   "heldout_session6.yml": 0.92, "heldout_session7.yml": 0.9, "heldout_session7_sealed.yml": 0.8,
                   "heldout_session8.yml": 0.86, "heldout_session8_sealed.yml": 0.74,
                   "heldout_session9_facts.yml": 0.88, "heldout_session10_sealed.yml": 0.82,
                   "heldout_session10_dev.yml": 0.76, "heldout_session11_sealed.yml": 0.8,
                   "heldout_session11_dev.yml": 0.79, "heldout_session12_sealed.yml": 0.83,
                   "heldout_session12_dev.yml": 0.82, "heldout_session13_sealed.yml": 0.83,
                   "heldout_session13_dev.yml": 0.88, "heldout_session13_dev_b.yml": 0.82}
MIN_CLASS_SHARE = 0.6
# the sealed set measured what nobody fixed for: its weakest classes stand where they stood (see its head)
CLASS_SHARE_FLOORS = {"heldout_session7_sealed.yml": 0.4, "heldout_session8_sealed.yml": 0.5,
                      "heldout_session10_sealed.yml": 0.4, "heldout_session10_dev.yml": 0.3,
                      "heldout_session11_sealed.yml": 0.4, "heldout_session11_dev.yml": 0.4,
                      "heldout_session12_sealed.yml": 0.4, "heldout_session12_dev.yml": 0.5,
                      "heldout_session13_sealed.yml": 0.6, "heldout_session13_dev.yml": 0.6,
                      "heldout_session13_dev_b.yml": 0.55}


@pytest.mark.parametrize("name", sorted(HELD_OUT_FLOORS))
def test_held_out_sets_meet_their_floors(settings, name: str) -> None:  # type: ignore[no-untyped-def]
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(0))
    results = run_conversations(brain, load_classified(ROOT / "tests" / "eval" / name))
    share = sum(r.ok for r in results) / len(results)
    failures = [(r.category, r.text, r.reply[:80]) for r in results if not r.ok]
    assert share >= HELD_OUT_FLOORS[name], f"{name}: {share:.1%} OK; failures: {failures}"
    least = CLASS_SHARE_FLOORS.get(name, MIN_CLASS_SHARE)
    weak = {c: row for c, row in per_class(results).items() if row["share"] < least}
    assert not weak, f"{name}: classes under {least:.0%}: {weak}"
    assert not [r.text for r in results if r.category in ("off_topic", "other_film") and r.kind == "answer"]
