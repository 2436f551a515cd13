"""Held out means held out: no evaluation sentence is also a training example, and every evaluation turn
checks what its answer says (a turn with no content check always passes, whatever the bot replies).
A turn marked ``setup`` is played for the context later turns need and never scored."""
from __future__ import annotations

import json
import re

from bot.evaluation import load_classified
from bot.nlu.data import load_training_data

from .conftest import ROOT

EVAL = ROOT / "tests" / "eval"
CONVERSATION_FILES = ("conversations.yml", "heldout.yml", "heldout_fresh.yml", "heldout_session5.yml",
                      "heldout_session6.yml", "heldout_session7.yml", "heldout_session7_sealed.yml",
                      "heldout_session8.yml", "heldout_session8_sealed.yml", "heldout_session9_facts.yml",
                      "heldout_session10_sealed.yml", "heldout_session10_dev.yml", "heldout_session11_sealed.yml",
                      "heldout_session11_dev.yml", "heldout_session12_sealed.yml", "heldout_session12_dev.yml",
                      "heldout_session13_sealed.yml", "heldout_session13_dev.yml", "heldout_session13_dev_b.yml")
CONTENT_KEYS = ("contains", "contains_any", "not_contains")


def folded(text: str) -> str:
    """Case, punctuation and spacing folded: "Who plays Winston?" and "who plays winston" are one."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def training_sentences() -> dict[str, str]:
    data = load_training_data(ROOT / "intents")
    return {folded(text): intent for text, intent in data.examples}


def evaluation_sentences() -> list[tuple[str, str]]:
    out = []
    for name in CONVERSATION_FILES:
        for _, turns in load_classified(EVAL / name):
            out.extend((name, str(t["text"])) for t in turns if not t.get("setup"))
    for line in (EVAL / "off_topic.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(("off_topic.jsonl", json.loads(line)["text"]))
    return out


def test_no_evaluation_sentence_is_a_training_example() -> None:
    training = training_sentences()
    overlaps = [(name, text, training[folded(text)]) for name, text in evaluation_sentences()
                if folded(text) in training]
    assert not overlaps, f"{len(overlaps)} evaluation sentences are training examples: {overlaps[:10]}"


def test_every_evaluation_turn_checks_its_answer() -> None:
    unchecked = [(name, str(t["text"])) for name in CONVERSATION_FILES for _, turns in load_classified(EVAL / name)
                 for t in turns if not t.get("setup") and not any(t.get(k) for k in CONTENT_KEYS)]
    assert not unchecked, f"{len(unchecked)} turns check no content: {unchecked[:10]}"
