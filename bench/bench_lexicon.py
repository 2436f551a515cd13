"""How often the verb lexicon is asked, and how often it needs lemminflect's model, on every evaluation message.

    python bench/bench_lexicon.py

Sends every turn of tests/eval/*.yml (each conversation in order) and every row of off_topic.jsonl to one
Brain, as a serving process would get them, and counts the messages that asked the grammar about a word
it had not answered yet (bot/understanding/grammar.py keeps each answer), and the messages that needed a
verb form the table does not list, which lemminflect's model guesses (bot/understanding/lexicon.py).
Prints figures; asserts nothing.
"""
from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_brain import lexicon_answers  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue import Brain  # noqa: E402
from bot.evaluation import expand_paste, load_classified  # noqa: E402
from bot.storage import open_storage  # noqa: E402
from bot.understanding import grammar  # noqa: E402


def messages() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in sorted((ROOT / "tests" / "eval").glob("*.yml")):
        for n, (_, turns) in enumerate(load_classified(path)):
            out.extend((f"{path.stem}-{n}", expand_paste(str(t["text"]))) for t in turns)
    for n, line in enumerate((ROOT / "tests" / "eval" / "off_topic.jsonl").read_text(encoding="utf-8").splitlines()):
        if line.strip():
            out.append((f"off-{n}", json.loads(line)["text"]))
    return out


def main() -> None:
    table = grammar.ENGLISH.lexicon
    sent = messages()
    asking, guessed, slowest = 0, [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        brain = Brain.from_settings(load_settings(ROOT / "config.yml"), open_storage(Path(tmp) / "bench.sqlite3"),
                                    random.Random(0))
        for key, text in sent:
            answers, oov = lexicon_answers(), table.oov_calls
            start = time.perf_counter()
            brain.reply(key, "bench", text)
            took = (time.perf_counter() - start) * 1000
            if lexicon_answers() > answers:
                asking += 1
                slowest = max(slowest, took)
            if table.oov_calls > oov:
                guessed.append(text)
    print(f"messages: {len(sent)} (tests/eval/*.yml turns and off_topic.jsonl rows)")
    print(f"asked the grammar about a new word: {asking} messages (slowest {slowest:.1f} ms)")
    print(f"needed lemminflect's model for a verb form its dictionary lacks: {len(guessed)} messages, "
          f"{table.oov_calls} look-ups")
    for text in guessed[:10]:
        print(f"  {text[:70]!r}")


if __name__ == "__main__":
    main()
