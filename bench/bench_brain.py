"""Benchmark the core as production runs it: latency per message, cold start to first answer, peak memory.

    python bench/bench_brain.py [--messages 10000] [--runs 5]

Messages are thousands of distinct texts (every evaluation turn, in its conversation, and every
off-topic row), not a short list cycled: the fuzzy-match caches would answer a repeated list almost
entirely. The Brain keeps its context in a SQLite file, as `serve` does. Prints figures; asserts
nothing (targets live in the issue, figures in the notes). ``--runs N`` repeats the pass over the
messages in N - 1 more fresh processes and prints each figure's min, median and max over the N: on a
shared machine one run's p99 moves by a fifth with the others' load.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import json
import subprocess
import sys
import tempfile
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


def distinct_messages() -> list[tuple[str, str]]:
    """(conversation key, text) for every evaluation turn in order, then every off-topic row (one each)."""
    from bot.evaluation import expand_paste, load_classified

    out: list[tuple[str, str]] = []
    for name in ("conversations.yml", "heldout.yml"):
        if not (ROOT / "tests" / "eval" / name).exists():
            continue
        for n, (_, turns) in enumerate(load_classified(ROOT / "tests" / "eval" / name)):
            out.extend((f"{name}-{n}", expand_paste(str(t["text"]))) for t in turns)
    for n, line in enumerate((ROOT / "tests" / "eval" / "off_topic.jsonl").read_text(encoding="utf-8").splitlines()):
        if line.strip():
            out.append((f"off-{n}", json.loads(line)["text"]))
    out.extend(("short", m) for m in MESSAGES)
    return out


def lexicon_answers() -> int:
    """How many words the grammar has answered (bot/understanding/grammar.py keeps each answer): a message
    that raises it is one whose rewording asked the verb lexicon about a word for the first time."""
    from bot.understanding import grammar

    return sum(f.cache_info().currsize for f in (grammar.is_verb_form, grammar.is_base_verb, grammar.inflect,
                                                  grammar.lemma, grammar.tense, grammar.can_name))


def first_lexicon_reply(text: str) -> tuple[float, float]:
    """(ms, MB): a fresh process's Brain answers one plain question, then ``text``, the first message of the run
    that asked the verb lexicon: what that message costs a process that has not asked it before."""
    probe = ("import json, random, sys, time; from bot.config import load_settings; from bot.dialogue import Brain; "
             "from bot.storage import open_storage; b = Brain.from_settings(load_settings('config.yml'), "
             "open_storage(':memory:'), random.Random(0)); b.reply(None, None, 'hi'); "
             "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20; r0 = rss(); "
             "t = time.perf_counter(); b.reply(None, None, sys.argv[1]); "
             "print(json.dumps([(time.perf_counter() - t) * 1000, rss() - r0]))")
    out = subprocess.run([sys.executable, "-c", probe, text], cwd=ROOT, capture_output=True, text=True, check=True)
    ms, mb = json.loads(out.stdout)
    return ms, mb


def one_pass(count: int) -> tuple[list[float], list[float], tuple[int, str, float] | None]:
    """Wall and CPU ms per message of one Brain answering ``count`` messages (0: each distinct one once), and
    the first message that asked the verb lexicon: (index, text, ms)."""
    from bot.config import load_settings
    from bot.dialogue import Brain
    from bot.runtime import tune_gc
    from bot.storage import open_storage

    settings = load_settings(ROOT / "config.yml")
    messages = distinct_messages()
    count = count or len(messages)
    with tempfile.TemporaryDirectory() as tmp:
        brain = Brain.from_settings(settings, open_storage(Path(tmp) / "bench.sqlite3"), random.Random(0))
        tune_gc()  # as the serving fronts do once loaded (bot/runtime.py): collections sized for a server
        latencies, cpu = [], []
        first_lexicon: tuple[int, str, float] | None = None  # (index, text, ms) of the first message asking it
        for i in range(count):
            key, text = messages[i % len(messages)]
            round_ = i // len(messages)  # a second pass is new chats, same texts (caches warm, as in life)
            asked = lexicon_answers() if first_lexicon is None else 0
            start, used = time.perf_counter(), time.thread_time()
            brain.reply(f"{key}-{round_}", "bench", text)
            latencies.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - used) * 1000)
            if first_lexicon is None and lexicon_answers() > asked:
                first_lexicon = (i, text, latencies[-1])
    return latencies, cpu, first_lexicon


def figures(values: list[float]) -> list[float]:
    """p50, p99 and max."""
    return [statistics.median(values), percentile(values, 0.99), max(values)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=0, help="default: each distinct message once")
    parser.add_argument("--runs", type=int, default=1, help="passes over the messages, each in a fresh process")
    parser.add_argument("--pass-only", action="store_true", help=argparse.SUPPRESS)  # one pass, figures as JSON
    args = parser.parse_args()
    if args.pass_only:
        latencies, cpu, _ = one_pass(args.messages)
        print(json.dumps({"wall": figures(latencies), "cpu": figures(cpu)}))
        return

    subprocess.run([sys.executable, "-m", "bot", "train"], cwd=ROOT, check=True, capture_output=True)
    # as an installed package starts: its modules compiled once (PYTHONDONTWRITEBYTECODE, set on some
    # machines, would otherwise compile every module on every start, about a third of the cold start)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "bot")], check=True, capture_output=True)
    cold = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "who directs ballerina?"], cwd=ROOT,
                       check=True, capture_output=True)
        cold.append(time.perf_counter() - start)

    messages = distinct_messages()
    distinct = len({t for _, t in messages})
    args.messages = args.messages or len(messages)
    latencies, cpu, first_lexicon = one_pass(args.messages)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    runs = [{"wall": figures(latencies), "cpu": figures(cpu)}]
    for _ in range(args.runs - 1):
        out = subprocess.run([sys.executable, __file__, "--pass-only", "--messages", str(args.messages)], cwd=ROOT,
                             check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout))

    print(f"messages: {args.messages} ({distinct} distinct texts: evaluation conversations in order, off-topic rows, "
          f"long pastes, other languages), context in a SQLite file")
    print(f"latency per message: p50 {statistics.median(latencies):.3f} ms, p99 {percentile(latencies, 0.99):.3f} ms, "
          f"max {max(latencies):.3f} ms")
    # CPU time of the answering thread: what the message costs, without the time a shared machine's other
    # processes held the core (wall-clock p99 there measures the machine's load, not the bot)
    print(f"CPU time per message: p50 {statistics.median(cpu):.3f} ms, p99 {percentile(cpu, 0.99):.3f} ms, "
          f"max {max(cpu):.3f} ms (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if len(runs) > 1:
        for name, what in (("cpu", "CPU time"), ("wall", "latency")):
            spread = ", ".join(f"{label} " + "/".join(f"{v:.3f}" for v in (min(r[name][k] for r in runs),
                                                                               statistics.median(r[name][k] for r in runs),
                                                                               max(r[name][k] for r in runs)))
                               for k, label in enumerate(("p50", "p99", "max")))
            print(f"{what} per message over {len(runs)} fresh processes, min/median/max ms: {spread}")
    if first_lexicon is not None:
        n, text, ms = first_lexicon
        cold_ms, cold_mb = first_lexicon_reply(text)
        print(f"first message that asks the verb lexicon (grammar.py; message {n + 1}, {text[:40]!r}): "
              f"{ms:.1f} ms in the run; in a fresh process after one question: {cold_ms:.1f} ms, RSS {cold_mb:+.1f} MB")
    print(f"throughput: {args.messages / (sum(latencies) / 1000):.0f} messages/s in-process")
    print(f"cold start of `python -m bot ask` (process start to answer): median {statistics.median(cold):.3f} s, "
          f"best {min(cold):.3f} s")
    print(f"peak RSS of this benchmark process (Brain + 10k messages): {rss_mb:.1f} MB")
    probe = ("import resource, random; from bot.config import load_settings; from bot.dialogue import Brain; "
             "from bot.storage import Storage, open_storage; b = Brain.from_settings(load_settings('config.yml'), open_storage(':memory:'));"
             "b.reply(None, None, 'who directs ballerina'); "
             "print(int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    print(f"peak RSS of a process answering one question: {float(out.stdout):.1f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "batch.jsonl"
        picked = messages[:: max(1, len(messages) // 1000)][:1000]
        batch.write_text("".join(json.dumps({"chat": key, "text": text}) + "\n" for key, text in picked),
                         encoding="utf-8")
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "--batch", str(batch)], cwd=ROOT,
                              check=True, capture_output=True, text=True)
        took = time.perf_counter() - start
    print(f"`ask --json --batch` of {len(picked)} mixed messages ({len(done.stdout.splitlines())} replies): "
          f"{took:.2f} s including start-up")


if __name__ == "__main__":
    main()
