"""Fuzz the Brain: N messages made from the evaluation sentences (typos, splices, long rambles with several
questions, lead-ins, clauses taken as given, other scripts, control characters, 4,096-character pastes), in
conversations of a few turns, through Brain.reply. Prints how many raised (with the first few), the kinds of
reply, and the time taken: the bot must survive all of them (issue 10: 100,000 messages, 0 crashes).

    python bench/bench_fuzz.py [--messages 100000] [--seed 1]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.dialogue import Brain  # noqa: E402
from bot.evaluation import load_classified  # noqa: E402
from bot.storage import open_storage  # noqa: E402

LEAD_INS = ["so my question is: ", "quick one: ", "since ", "so ", "anyway, ", "ok but ", "why did ", "why isn't ",
            "could you tell me ", "I'd like to know ", "no wait, I meant ", "and ", "what did Collider say about "]
NOISE = ["🤔", "¿", "…", "\u200b", "\x00", "\t", "\n\n", "  ", "!!!", "???", ",", ":", " - ", "'", '"', "ß", "中文",
         "Кто", "\ud7ff", "<b>", "*", "_", "`", "[", "]", "(", ")"]


def sentences() -> list[str]:
    out = []
    for path in sorted((ROOT / "tests" / "eval").glob("*.yml")):
        for _, turns in load_classified(path):
            out.extend(str(t["text"]) for t in turns)
    rows = (ROOT / "tests" / "eval" / "off_topic.jsonl").read_text(encoding="utf-8").splitlines()
    out.extend(json.loads(r)["text"] for r in rows[:2000] if r.strip())
    return [s for s in out if "LONG_PASTE" not in s]


def mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        at = rng.randrange(len(chars) + 1)
        if op < 0.3 and chars:
            del chars[min(at, len(chars) - 1)]
        elif op < 0.6:
            chars.insert(at, rng.choice(NOISE + list("abcdefghijklmnopqrstuvwxyz ")))
        elif chars:
            i = min(at, len(chars) - 1)
            chars[i] = chars[i].upper() if rng.random() < 0.5 else rng.choice("aeiou")
    return "".join(chars)


def message(rng: random.Random, pool: list[str]) -> str:
    kind = rng.random()
    if kind < 0.4:
        return mutate(rng, rng.choice(pool))
    if kind < 0.6:
        return rng.choice(LEAD_INS) + rng.choice(pool)
    if kind < 0.8:  # a ramble: several sentences, questions among them
        parts = [rng.choice(pool) for _ in range(rng.randint(3, 12))]
        return rng.choice([" ", ". ", "? ", "\n", "\n\n", ", "]).join(parts)
    if kind < 0.9:
        return "".join(rng.choice(NOISE) for _ in range(rng.randint(1, 40)))
    body = " ".join(rng.choice(pool) for _ in range(400))
    return (rng.choice(pool) + "\n\n" + body)[:4096]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    settings = load_settings(ROOT / "config.yml")
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(0))
    pool = sentences()
    kinds: Counter[str] = Counter()
    crashes: list[tuple[str, str]] = []
    started = time.perf_counter()
    for n in range(args.messages):
        text = message(rng, pool)
        chat = f"fuzz-{n // rng.randint(1, 4)}"
        try:
            kinds[brain.reply(chat, "fuzz", text).kind] += 1
        except Exception:  # noqa: BLE001 - counting what raises is the point
            crashes.append((text[:200], traceback.format_exc(limit=3)))
    took = time.perf_counter() - started
    print(f"messages: {args.messages} (seed {args.seed}), from {len(pool)} evaluation sentences")
    print(f"raised: {len(crashes)}")
    for text, trace in crashes[:5]:
        print(f"  {text!r}\n{trace}")
    print("replies by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print(f"time: {took:.1f} s ({took / args.messages * 1000:.2f} ms per message)")


if __name__ == "__main__":
    main()
