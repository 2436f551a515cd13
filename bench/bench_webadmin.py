"""The admin app's latency, in process against a copy of the project: what an admin waits for per page.

    python bench/bench_webadmin.py [--rounds 20] [--unanswered 300]

Prints p50/p95/max milliseconds for each page and for a preview and a save (+ undo), measured from an
HTTP client on the same machine (the app on its own thread and loop, as `serve` runs it). Never asserts.
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.dialogue import Brain  # noqa: E402
from bot.storage import Storage, open_storage# noqa: E402
from bot.webadmin import LoginLinks, WebServer, build_admin_web  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--unanswered", type=int, default=300, help="distinct unanswered questions in the inbox")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("knowledge", "intents"):
            shutil.copytree(ROOT / name, Path(tmp) / name)
        text = (ROOT / "config.yml").read_text(encoding="utf-8").replace("cache_dir: .cache",
                                                                          f"cache_dir: {ROOT / '.cache'}")
        (Path(tmp) / "config.yml").write_text(text, encoding="utf-8")
        settings = load_settings(Path(tmp) / "config.yml", env={})
        storage = open_storage(settings.database)
        brain = Brain.from_settings(settings, storage, random.Random(1))
        rng = random.Random(2)
        words = ["who", "sang", "wrote", "music", "score", "trailer", "budget", "runtime", "rating", "sequel",
                 "stunt", "costume", "location", "premiere", "festival", "poster", "ballerina", "wick"]
        for i in range(args.unanswered):
            question = " ".join(rng.choice(words) for _ in range(5)) + f" {i}"
            for _ in range(rng.randint(1, 3)):
                storage.log_unanswered("c", "u", question, question, None, 0.1)
        links = LoginLinks()
        server = WebServer(build_admin_web(settings, brain, storage, logins=links), "127.0.0.1", 0).start()
        session = links.redeem(links.new_link(), "local:bench")
        auth = {"Authorization": f"Session {session.token}"}

        def call(method: str, path: str, form: dict[str, str] | None = None) -> float:
            body = urlencode(form).encode() if form is not None else None
            headers = {**auth, "Content-Type": "application/x-www-form-urlencoded"}
            request = urllib.request.Request(server.url.rstrip("/") + path, data=body, method=method,
                                             headers=headers)
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
            return (time.perf_counter() - started) * 1000

        release = {"entity": "ballerina", "relation": "release", "source": "Variety"}
        cases = {
            "knowledge page": lambda n: call("GET", "/"),
            "search": lambda n: call("GET", "/?q=wiseman"),
            "edit form": lambda n: call("GET", "/edit?entity=ballerina&relation=release"),
            "preview": lambda n: call("POST", "/edit", {**release, "value": f"June {2030 + n}", "op": "preview"}),
            "save + undo": lambda n: call("POST", "/edit", {**release, "value": f"May {2030 + n}", "op": "set"})
            + call("POST", "/undo", {"expect": str(max(e.id for e in storage.last_undoable()))}),
            "history page": lambda n: call("GET", "/history"),
            f"inbox page ({args.unanswered} questions)": lambda n: call("GET", "/inbox"),
            "quiz page": lambda n: call("GET", "/quiz"),
        }
        print(f"admin app latency, {args.rounds} rounds each (ms)")
        print(f"{'':34} {'p50':>8} {'p95':>8} {'max':>8}")
        for name, run in cases.items():
            run(-1)  # warm
            times = sorted(run(n) for n in range(args.rounds))
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            print(f"{name:34} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}")
        server.stop()
        storage.close()


if __name__ == "__main__":
    main()
