"""Benchmark the core: latency per message, cold start to first answer, peak memory.

    python bench/bench_brain.py [--messages 10000]

Prints figures; asserts nothing (targets live in the issue, figures in the notes).
"""
from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MESSAGES = [
    "who directs ballerina?", "and what else has he directed?", "who plays winston", "and charon?",
    "when is it out", "is keanu in it", "who does he play?", "what's the story", "balerina cast",
    "who plays the director", "tell me about john wick", "why weren't 4 and 5 shot back to back",
    "what's the weather tomorrow", "transfer $100 to savings", "who directed titanic?", "hi", "thanks",
    "how long is ballerina", "is halle berry in ballerina", "what else has ana de armas been in",
    "mcshain character?", "🩰🩰🩰", "", "what is the box office of john wick 4",
    "tell me a joke", "ok and the release date?", "qwertyuiop asdf", "who is rooney",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()

    subprocess.run([sys.executable, "-m", "bot", "train"], cwd=ROOT, check=True, capture_output=True)
    cold = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "who directs ballerina?"], cwd=ROOT,
                       check=True, capture_output=True)
        cold.append(time.perf_counter() - start)

    from bot.config import load_settings
    from bot.dialogue import Brain
    from bot.storage import Storage

    settings = load_settings(ROOT / "config.yml")
    brain = Brain.from_settings(settings, Storage(":memory:"), random.Random(0))
    rng = random.Random(1)
    latencies = []
    for i in range(args.messages):
        text = rng.choice(MESSAGES)
        start = time.perf_counter()
        brain.reply(f"chat-{i % 200}", "bench", text)
        latencies.append((time.perf_counter() - start) * 1000)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"messages: {args.messages} mixed (questions, follow-ups, off-topic, empty, emoji), 200 chats")
    print(f"latency per message: p50 {statistics.median(latencies):.3f} ms, p99 {percentile(latencies, 0.99):.3f} ms, "
          f"max {max(latencies):.3f} ms")
    print(f"throughput: {args.messages / (sum(latencies) / 1000):.0f} messages/s in-process")
    print(f"cold start of `python -m bot ask` (process start to answer): median {statistics.median(cold):.3f} s, "
          f"best {min(cold):.3f} s")
    print(f"peak RSS of this benchmark process (Brain + 10k messages): {rss_mb:.1f} MB")
    probe = ("import resource, random; from bot.config import load_settings; from bot.dialogue import Brain; "
             "from bot.storage import Storage; b = Brain.from_settings(load_settings('config.yml'), Storage(':memory:'));"
             "b.reply(None, None, 'who directs ballerina'); "
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    print(f"peak RSS of a process answering one question: {float(out.stdout):.1f} MB")


if __name__ == "__main__":
    main()
