"""Stress: kill -9 a process streaming `kb set` and `kb undo` edits, hundreds of times, and check after each
kill that every change on disk can still be undone byte for byte.

    python bench/bench_admin_crash.py [--kills 300] [--seed 1]

Half the kills are real SIGKILLs at a random moment of a stream of edits; half land exactly on one of the
named crash points (bot/crashpoints.py: audit row written, temporary file written, file replaced, row
finished), at a random edit of the stream. After each kill a fresh Admin settles what was pending, and
the bench checks the knowledge file loads and is a state the audit log knows (else: torn), that it is the
latest change's result (else: an audit row is missing), and every few kills undoes everything back to
the original bytes (a refusal, or other bytes at the end: a change that could not be undone). Prints
figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.admin import Actor, Admin  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.errors import BotError, EditError  # noqa: E402
from bot.knowledge import KnowledgeBase  # noqa: E402
from bot.storage import Storage, open_storage# noqa: E402

POINTS = ["audit-written", "temp-written", "file-replaced", "audit-finished"]
WRITER = """
import random, sys
from bot.admin import Actor, Admin
from bot.config import load_settings
from bot.errors import EditError
from bot.storage import Storage, open_storage
settings = load_settings(sys.argv[1], env={})
admin, me, rng = Admin(settings, open_storage(settings.database)), Actor.local_operator(), random.Random(int(sys.argv[2]))
print("ready", flush=True)
for i in range(100_000):
    try:
        if rng.random() < 0.35:
            admin.undo(me)
        else:
            admin.set_fact(me, "Ballerina", "release", f"take {sys.argv[2]}.{i}", source=f"source {i % 4}")
    except EditError:
        pass
"""


def copy_project(dest: Path) -> Path:
    for name in ("knowledge", "intents"):
        shutil.copytree(ROOT / name, dest / name)
    text = (ROOT / "config.yml").read_text(encoding="utf-8").replace("cache_dir: .cache", f"cache_dir: {ROOT / '.cache'}")
    (dest / "config.yml").write_text(text, encoding="utf-8")
    return dest / "config.yml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--undo-every", type=int, default=20, help="undo everything after this many kills")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    me = Actor.local_operator()
    with tempfile.TemporaryDirectory() as tmp:
        config = copy_project(Path(tmp))
        settings = load_settings(config, env={})
        path = Path(settings.knowledge)
        original = path.read_bytes()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        tried = torn = missing = not_undone = pending_left = edits_on_disk = undone_total = 0
        by_point = dict.fromkeys(["random", *POINTS], 0)
        started = time.perf_counter()
        for kill in range(1, args.kills + 1):
            point = rng.choice(["random"] * len(POINTS) + POINTS)
            child_env = dict(env)
            if point != "random":
                child_env["BOT_CRASH_AT"] = f"{point}:{rng.randint(1, 6)}"
            proc = subprocess.Popen([sys.executable, "-c", WRITER, str(config), str(kill)], cwd=ROOT, env=child_env,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            assert proc.stdout is not None
            proc.stdout.readline()  # "ready": imports done, Admin built (and anything pending settled)
            if point == "random":
                time.sleep(rng.uniform(0.0, 0.5))
                proc.send_signal(signal.SIGKILL)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            tried += 1
            by_point[point] += 1

            storage = open_storage(settings.database)
            try:
                admin = Admin(settings, storage)  # settles what the kill left pending
                pending_left += len(storage.pending_audit())
                known = {original}
                for entry in storage.audit_log(10_000, changes_only=True):
                    known.update(x.encode("utf-8") for x in (entry.before, entry.after) if x is not None)
                now = path.read_bytes()
                try:
                    KnowledgeBase.load(path)
                except BotError:
                    torn += 1
                if now not in known:
                    torn += 1
                latest = storage.last_undoable()
                expected = (latest[0].after or "").encode("utf-8") if latest else original
                if now != expected:
                    missing += 1
                if now != original:
                    edits_on_disk += 1
                if kill % args.undo_every == 0 or kill == args.kills:
                    while True:
                        try:
                            admin.undo(me)
                            undone_total += 1
                        except EditError as exc:
                            if "nothing to undo" not in str(exc):
                                not_undone += 1
                            break
                    if path.read_bytes() != original:
                        not_undone += 1
                        path.write_bytes(original)  # start the next round clean
            finally:
                storage.close()
        seconds = time.perf_counter() - started
    print(f"kills tried:                      {tried}  ({', '.join(f'{k} {v}' for k, v in by_point.items())})")
    print(f"kills that left a change on disk: {edits_on_disk}")
    print(f"changes undone afterwards:        {undone_total}")
    print(f"changes that could not be undone: {not_undone}")
    print(f"torn files:                       {torn}")
    print(f"audit rows missing:               {missing}")
    print(f"rows left pending after recovery: {pending_left}")
    print(f"time:                             {seconds:.0f} s ({seconds / max(tried, 1):.2f} s a kill)")


if __name__ == "__main__":
    main()
