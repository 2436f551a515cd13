"""How soon a knowledge edit on one host is answered on another, on one PostgreSQL (bot/cluster/knowledge.py).

    python bench/bench_kb_follow.py [--edits 20] [--database postgresql://postgres@127.0.0.1:5432/test]

Two hosts, each its own copy of the config folder, share a fresh schema. Host A sets a new release date
through the Admin (as /kb, the admin app or `kb` do); host B runs the follower every worker runs (woken by
LISTEN/NOTIFY, looking every 5 s besides) and is asked until it answers with the new date. Prints the edit's own time on A (validation,
audited write, A's own reload), the time until B answers, from the edit's start and from its return
(median / max), and what a look that finds nothing new costs (the safety net's, every 5 s). Asserts nothing.
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def host(folder: Path, url: str, cache: Path):  # type: ignore[no-untyped-def]
    from bot.admin import Admin
    from bot.cluster.knowledge import follow
    from bot.config import load_settings
    from bot.dialogue import Brain
    from bot.live import Reloader
    from bot.storage import open_storage

    for name in ("knowledge", "intents"):
        shutil.copytree(ROOT / name, folder / name)
    text = (ROOT / "config.yml").read_text(encoding="utf-8").replace("cache_dir: .cache", f"cache_dir: {cache}")
    (folder / "config.yml").write_text(text, encoding="utf-8")
    settings = load_settings(folder / "config.yml", env={"BOT_DATABASE": url})
    storage = open_storage(url)
    brain = Brain.from_settings(settings, storage, random.Random(0))
    reloader = Reloader(brain, settings)
    return brain, Admin(settings, storage, reloader=reloader), follow(storage, settings, reloader), storage


def main() -> None:
    from bot.admin import Actor
    from bot.storage import open_storage

    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    import logging

    import psycopg

    logging.getLogger("bot.validation").setLevel(logging.ERROR)  # the quiz's "left out" notes, once per edit

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin_conn = psycopg.connect(args.database, autocommit=True)
    admin_conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{args.database}{'&' if '?' in args.database else '?'}options={quote(f'-csearch_path={schema}')}"
    work = Path(tempfile.mkdtemp(prefix="bench-kb-follow-"))
    try:
        open_storage(url, check_schema=False).upgrade()
        cache = ROOT / ".cache"
        _, admin_a, follower_a, _ = host(work / "a", url, cache)
        brain_b, _, follower_b, _ = host(work / "b", url, cache)
        me = Actor.local_operator()
        edit_s, seen_s, after_s = [], [], []
        for n in range(args.edits):
            year = str(2031 + n)
            start = time.perf_counter()
            admin_a.set_fact(me, "Ballerina", "release", f"12 March {year}", source="Variety")
            edit_s.append(time.perf_counter() - start)
            while year not in brain_b.reply(f"bench-{n}", "bench", "when does ballerina come out?").text:
                if time.perf_counter() - start > 30:
                    raise SystemExit(f"host B never answered edit {n}")
                time.sleep(0.005)
            seen_s.append(time.perf_counter() - start)
            after_s.append(seen_s[-1] - edit_s[-1])
        idle = []
        for _ in range(200):
            start = time.perf_counter()
            follower_b.shared.pull()  # type: ignore[union-attr]
            idle.append((time.perf_counter() - start) * 1000)
        print(f"{args.edits} edits on host A: edit {statistics.median(edit_s) * 1000:.0f} ms (median); "
              f"answered on host B {statistics.median(seen_s) * 1000:.0f} ms after it began (median), "
              f"{max(seen_s) * 1000:.0f} ms max; {statistics.median(after_s) * 1000:.0f} ms after it returned "
              f"(median), {max(after_s) * 1000:.0f} ms max; an idle look {statistics.median(idle):.2f} ms")
        for follower in (follower_a, follower_b):
            if follower is not None:
                follower.stop()
    finally:
        admin_conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin_conn.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
