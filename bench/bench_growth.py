"""How cost grows with the knowledge: 1x, 10x and 100x the article's knowledge (generated, same schema).

    python bench/bench_growth.py [--sizes 1,10,100] [--messages 2000] [--search-facts 100000]
                                 [--chats 20000] [--database URL]   (--sizes none: chats only)

For each size, a film folder is generated (the shipped entities and facts, plus N-1 copies under new ids
and invented names, the same shape) and measured:
- cold start: `python -m bot ask --json` as a fresh process, from start to printed answer, model cached;
- load: reading and validating the knowledge file, parsed (new or edited) and from the parsed-file cache
  (unchanged since last start); mind: everything a start-up builds (knowledge, cross-checks, gazetteer,
  search index, model from cache);
- train: fitting the intent model with this knowledge's names (what `bot train` does);
- per message: p50/p99 of Brain.reply over mixed questions (about the film and about generated
  entities, follow-ups, off-topic), in-process;
- RSS: peak resident memory of a process that builds the bot and answers 200 messages;
- retrain after an edit: whether renaming one entity changes the model's cache key.
Then the search fallback alone over 100,000 facts: index build, query p50/p99.
Then chats: resident memory of one process as many distinct chats each send a message and a follow-up
(a file database, as production runs; ``--database URL`` for PostgreSQL), and the per-message cost.

Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYLLABLES = "ka ro mi len dar vo sel tin bra quo fen ril mos tha gre vin dol par sha kel nor wex ul ze".split()
QUESTIONS = [
    "who directs ballerina?", "who plays winston?", "and charon?", "when is it out?", "is keanu in it?",
    "what's the story?", "what else has len wiseman directed?", "tell me about john wick", "hi", "thanks",
    "what's the weather tomorrow?", "who directed titanic?", "balerina cast", "who does ana de armas play?",
]


def invented(rng: random.Random, words: int) -> str:
    return " ".join("".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() for _ in range(words))


def generate(size: int, folder: Path, cache: Path) -> tuple[Path, list[str]]:
    """A film folder with ``size`` times the shipped knowledge; returns its config and some questions
    about generated entities."""
    for name in ("knowledge", "intents"):
        shutil.copytree(ROOT / name, folder / name)
    path = folder / "knowledge" / "ballerina.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rng = random.Random(size)
    base_entities, base_facts = list(data["entities"]), list(data["facts"])
    literal = {r["id"] for r in data["relations"] if r["object"] == "text"}
    questions: list[str] = []
    taken = {e["name"].lower() for e in base_entities}
    for copy in range(1, size):
        ids = {e["id"]: f"g{copy}_{e['id']}" for e in base_entities}
        for entity in base_entities:
            words = 2 if entity["kind"] in ("person", "film", "series") else 1
            name = invented(rng, words)
            while name.lower() in taken:
                name = invented(rng, words)
            taken.add(name.lower())
            data["entities"].append({**{k: v for k, v in entity.items() if k != "aliases"}, "id": ids[entity["id"]],
                                     "name": name, "aliases": [name.lower()]})
        for fact in base_facts:
            new = dict(fact, subject=ids[fact["subject"]])
            if fact["relation"] not in literal:
                new["object"] = ids[fact["object"]]
            if fact.get("role"):
                new["role"] = ids[fact["role"]]
            data["facts"].append(new)
        names = {e["id"]: e["name"] for e in data["entities"][-len(base_entities):]}
        questions += [f"who directs {names[ids['ballerina']]}?", f"who plays {names[ids['winston']]}?",
                      f"tell me about {names[ids['keanu_reeves']]}"]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200), encoding="utf-8")
    text = (ROOT / "config.yml").read_text(encoding="utf-8").replace("cache_dir: .cache", f"cache_dir: {cache}")
    (folder / "config.yml").write_text(text, encoding="utf-8")
    return folder / "config.yml", questions


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


RSS_PROBE = """
import random, sys
from bot.config import load_settings; from bot.dialogue import Brain; from bot.storage import Storage, open_storage
brain = Brain.from_settings(load_settings(sys.argv[1]), open_storage(':memory:'), random.Random(0))
questions = {questions!r}
for i in range(200):
    brain.reply(str(i % 20), 'bench', questions[i % len(questions)])
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) parent across fork and exec
hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))
print(int(hwm.split()[1]) / 1024)
"""


CHATS_PROBE = """
import random, sys, time
from bot.config import load_settings; from bot.dialogue import Brain; from bot.storage import open_storage
def rss():
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS:')).split()[1]) / 1024
brain = Brain.from_settings(load_settings(sys.argv[1]), open_storage(sys.argv[2]), random.Random(0))
chats, marks, spent = int(sys.argv[3]), {}, 0.0
for i in range(chats):
    start = time.perf_counter()
    brain.reply(f"chat-{i}", "bench", "who plays winston?")
    brain.reply(f"chat-{i}", "bench", "and charon?")
    spent += time.perf_counter() - start
    if i + 1 in (1000, chats):
        marks[i + 1] = rss()
print(marks[1000], marks[chats], spent / (2 * chats) * 1000)
"""


def chats_at(chats: int, database: str | None, work: Path) -> dict[str, float]:
    """RSS after 1,000 chats and after ``chats``, and the mean cost of a message, in a fresh process."""
    target = database or str(work / "chats.sqlite3")
    if database:
        from bot.storage import open_storage
        open_storage(database, check_schema=False).upgrade()
    out = subprocess.run([sys.executable, "-c", CHATS_PROBE, str(ROOT / "config.yml"), target, str(max(chats, 1000))],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    warm, end, per_message = map(float, out)
    return {"chats": max(chats, 1000), "warm": warm, "end": end, "per_message": per_message,
            "backend": "postgresql" if database else "sqlite file"}


def measure(size: int, messages: int, cache: Path, work: Path) -> dict[str, object]:
    from bot.config import load_settings
    from bot.dialogue import Brain, build_mind
    from bot.knowledge import KnowledgeBase
    from bot.nlu import fit_model, model_key
    from bot.nlu.data import load_training_data
    from bot.storage import Storage, open_storage

    config, generated = generate(size, work / f"x{size}", cache)
    settings = load_settings(config, env={})
    kb, load_s = timed(lambda: KnowledgeBase.load(settings.knowledge))  # parsed: a new or edited file
    KnowledgeBase.load(settings.knowledge, settings.cache_dir)
    _, cached_s = timed(lambda: KnowledgeBase.load(settings.knowledge, settings.cache_dir))  # unchanged file
    build_mind(settings)  # make sure the model is cached before timing start-ups
    _, mind_s = timed(lambda: build_mind(settings))
    data = load_training_data(settings.intents)
    _, train_s = timed(lambda: fit_model(kb, data))
    cold = []
    for _ in range(3):
        _, seconds = timed(lambda: subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "ask", "--json", "who directs ballerina?"],
            cwd=ROOT, check=True, capture_output=True))
        cold.append(seconds)
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(0))
    rng = random.Random(1)
    pool = QUESTIONS + generated[:300]
    latencies = []
    for i in range(messages):
        text = rng.choice(pool)
        start = time.perf_counter()
        brain.reply(f"chat-{i % 50}", "bench", text)
        latencies.append((time.perf_counter() - start) * 1000)
    probe = RSS_PROBE.format(questions=pool[:40])
    rss = float(subprocess.run([sys.executable, "-c", probe, str(config)], cwd=ROOT, check=True,
                               capture_output=True, text=True).stdout)
    # an admin renames one entity: same model key, so no retraining
    renamed = kb.data.model_copy(update={"entities": [kb.data.entities[0].model_copy(update={"name": "Renamed"}),
                                                      *kb.data.entities[1:]]})
    retrains = model_key(data, KnowledgeBase(renamed, kb.root, kb.path)) != model_key(data, kb)
    return {"size": size, "entities": len(kb.entities), "facts": len(kb.facts), "load": load_s, "cached": cached_s, "mind": mind_s,
            "train": train_s, "cold": statistics.median(cold), "p50": statistics.median(latencies),
            "p99": percentile(latencies, 0.99), "rss": rss, "retrains": retrains}


def search_at(facts: int, queries: int) -> dict[str, float]:
    from bot.knowledge import KnowledgeBase
    from bot.knowledge.schema import KnowledgeFile
    from bot.search import SearchIndex

    rng = random.Random(7)
    base = yaml.safe_load((ROOT / "knowledge" / "ballerina.yml").read_text(encoding="utf-8"))
    people = [{"id": f"p{i}", "kind": "person", "name": invented(rng, 2)} for i in range(facts // 10)]
    films = [{"id": f"f{i}", "kind": "film", "name": invented(rng, 2)} for i in range(facts // 10)]
    rows = []
    for i in range(facts):
        film = films[i % len(films)]["id"]
        if i % 2:
            rows.append({"subject": film, "relation": "directed_by", "object": people[i % len(people)]["id"],
                         "source": "article", "known": "2023-03"})
        else:
            rows.append({"subject": film, "relation": "production", "object": f"was shot in {invented(rng, 1)} "
                         f"over {rng.randint(20, 90)} days with a crew of {rng.randint(50, 400)}",
                         "source": "article", "known": "2023-03"})
    data = {**base, "documents": [], "entities": base["entities"] + people + films, "facts": base["facts"] + rows}
    kb = KnowledgeBase(KnowledgeFile.model_validate(data), ROOT / "knowledge")
    index, build_s = timed(lambda: SearchIndex(kb))
    words = [invented(rng, 1).lower() for _ in range(50)] + ["shot", "crew", "days", "director", "film"]
    latencies = []
    for _ in range(queries):
        text = f"was it {rng.choice(words)} {rng.choice(words)} with a {rng.choice(words)}?"
        start = time.perf_counter()
        index.search(text)
        latencies.append((time.perf_counter() - start) * 1000)
    return {"facts": len(kb.facts), "build": build_s, "p50": statistics.median(latencies),
            "p99": percentile(latencies, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,100")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--search-facts", type=int, default=100_000)
    parser.add_argument("--chats", type=int, default=20_000)
    parser.add_argument("--database", default=None, help="a postgresql:// URL for the chats figure")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-growth-"))
    cache = work / "cache"
    try:
        if args.sizes == "none":
            c = chats_at(args.chats, args.database, work)
            print(f"chats ({c['backend']}): RSS {c['warm']:.0f} MB after 1,000 chats, {c['end']:.0f} MB after "
                  f"{c['chats']:,} (+{c['end'] - c['warm']:.1f} MB); {c['per_message']:.2f} ms a message")
            return
        results = [measure(int(s), args.messages, cache, work) for s in args.sizes.split(",")]
        print("size | entities | facts | cold start `ask` | load (edited file / unchanged) | start-up (mind) | "
              "train | per message p50 / p99 | RSS | name edit retrains")
        for r in results:
            print(f"{r['size']:>3}x | {r['entities']:>6} | {r['facts']:>6} | {r['cold']:.2f} s | {r['load']:.3f} / {r['cached']:.3f} s | "
                  f"{r['mind']:.3f} s | {r['train']:.1f} s | {r['p50']:.2f} / {r['p99']:.2f} ms | "
                  f"{r['rss']:.0f} MB | {'yes' if r['retrains'] else 'no'}")
        s = search_at(args.search_facts, 2000)
        print(f"search over {s['facts']:,} facts: index built in {s['build']:.2f} s; "
              f"query p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms")
        c = chats_at(args.chats, args.database, work)
        print(f"chats ({c['backend']}): RSS {c['warm']:.0f} MB after 1,000 chats, {c['end']:.0f} MB after "
              f"{c['chats']:,} (+{c['end'] - c['warm']:.1f} MB); {c['per_message']:.2f} ms a message")
        print(json.dumps({"growth": results, "search": s, "chats": c}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
