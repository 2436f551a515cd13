"""2,600 messages the bot must not answer with a fact (tests/eval/off_topic.jsonl): other films and people,
namesakes, other meanings of the film's words, facts the article lacks, general chatter, junk, other
languages. Written by two testers apart from the training data (a generated stress set and a held-out
hand-written one); a few turned out answerable from the article, hence a ceiling rather than zero.
Each message is asked in a fresh chat.

A second, outside set: the 1,000 out-of-scope test queries of CLINC150 (tests/eval/clinc150_oos_test.jsonl,
key oos_test of data/data_full.json in https://github.com/clinc/oos-eval; Larson et al. 2019, "An Evaluation
Dataset for Intent Classification and Out-of-Scope Prediction", EMNLP-IJCNLP; CC BY 3.0), written by people
who never saw this bot: assistant requests (banking, travel, cooking, ...) that a trivia bot must not answer."""
from __future__ import annotations

import json
import random

from bot.dialogue import Brain
from bot.storage import Storage, open_storage

from .conftest import ROOT
from .test_eval_held_out import folded, training_sentences

# Sits a little above the count measured when it was set (85 of 2,602 on 2026-11-25, about 15 of them
# answerable after all); lower it as the bot improves.
MAX_ANSWERED = 95


def test_off_topic_messages_are_not_answered_with_facts(settings) -> None:  # type: ignore[no-untyped-def]
    rows = [json.loads(line) for line in (ROOT / "tests" / "eval" / "off_topic.jsonl").read_text().splitlines()]
    assert len(rows) >= 2400  # 2,468 once the copies of training examples were taken out
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(0))
    answered = [r["text"] for r in rows if brain.reply(None, "tester", r["text"]).kind in ("answer", "search")]
    assert len(answered) <= MAX_ANSWERED, f"{len(answered)} answered, e.g. {answered[:10]}"


# CLINC150's out-of-scope test queries: at least 99.5% of them not answered with a fact (999 of 1,000 on
# 2026-12-02, the one answered "what's out at the theaters right now" -> Ballerina's release).
CLINC_MIN_NOT_ANSWERED = 0.995


def test_clinc150_out_of_scope_queries_are_not_answered_with_facts(settings) -> None:  # type: ignore[no-untyped-def]
    rows = [json.loads(line) for line in (ROOT / "tests" / "eval" / "clinc150_oos_test.jsonl").read_text().splitlines()]
    assert len(rows) == 1000
    training = training_sentences()
    held_out = [r["text"] for r in rows if folded(r["text"]) not in training]  # a copy in intents/ is not held out
    assert len(held_out) >= 990, f"{1000 - len(held_out)} CLINC150 queries are training examples"
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(0))
    answered = [t for t in held_out if brain.reply(None, "tester", t).kind in ("answer", "search")]
    share = 1 - len(answered) / len(held_out)
    assert share >= CLINC_MIN_NOT_ANSWERED, f"{share:.1%} not answered; answered: {answered[:10]}"
