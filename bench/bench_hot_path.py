"""The database's share of a webhook worker's CPU: the hot path's statements, and what an idle worker costs.

    python bench/bench_hot_path.py [--n 2000] [--idle 10] [--sqlite]

Part 1, per statement, on one fresh PostgreSQL schema (or an SQLite file): a send's claim
(``SendBudget``), an update stored in the inbox and taken up again (``Inbox.store``, ``advance``), an
outgoing message recorded and then marked delivered (``Outbox.record``, ``delivered``); each run ``--n``
times one after the other, two ways: the synchronous call in a worker thread (``asyncio.to_thread``, what
the fronts did), and the async primitive (``Storage.aquery`` and the rest: on PostgreSQL on the event loop
itself, with no thread hop). It prints this process's CPU per call (every thread counted) and, on
PostgreSQL, the CPU of the server's backends serving it, both in ms.

Part 2, idle: one real ``python -m bot serve --webhook-url ...`` worker on its own schema (or an SQLite
file) against the Bot API emulator, no update sent: its CPU per second over ``--idle`` seconds, once it has
settled (its pollers: the inbox, quiz timers, the outbox, knowledge). bench/bench_cluster.py prints the
same figure before its load, for every worker.

Figures only, no thresholds: a 2-core machine shared with other work moves them by 10-20%.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_cluster import SECRET, TOKEN, USERNAME, ServerCpu, cpu_seconds, wait_listening  # noqa: E402

from bot.cluster.inbox import Inbox, StoredUpdate  # noqa: E402
from bot.cluster.limits import SendBudget  # noqa: E402
from bot.cluster.outbox import Outbox  # noqa: E402
from bot.storage import Storage, open_storage  # noqa: E402


def fresh_schema(base: str) -> tuple[str, str]:
    """A new schema (its name, and the URL whose connections use it, tagged with it for ServerCpu)."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    return schema, f"{base}{sep}options={quote(f'-csearch_path={schema}')}&application_name={schema}"


def drop_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def per_call(n: int, step: Callable[[int], Awaitable[object]], server: ServerCpu | None) -> tuple[float, float]:
    """ms of this process's CPU and of the backends' per ``step``, over ``n`` steps."""
    if server:
        await asyncio.to_thread(server.sample)
    before_server = server.total() if server else float("nan")
    before = time.process_time()
    for i in range(n):
        await step(i)
    used = time.process_time() - before
    if server:
        await asyncio.to_thread(server.sample)
    backends = (server.total() - before_server) if server else float("nan")
    return 1000 * used / n, 1000 * backends / n


async def statements(storage: Storage, n: int, server: ServerCpu | None) -> None:
    # Telegram's limits on a clock of 25 claims a second over 200 groups (one a group every 8 s): every claim
    # granted and logged, over windows as full as a busy bot's, however fast the bench runs
    ticks = iter(range(10**9))
    start = time.time()
    budget = SendBudget(storage, clock=lambda: start + next(ticks) / 25)
    inbox = Inbox(storage)
    outbox = Outbox(storage)
    ids = iter(range(10**6, 10**9))
    params = {"chat_id": "-1001", "text": '"who directs it?"'}

    async def claim_thread(i: int) -> None:
        await asyncio.to_thread(budget.try_claim, f"-{i % 200}", True)

    async def claim_async(i: int) -> None:
        await budget.atry_claim(f"-{i % 200}", True)

    def update() -> StoredUpdate:
        u = next(ids)
        return StoredUpdate(u, f"chat:-{u % 200}", '{"update_id": %d, "message": {"text": "who?"}}' % u)

    async def inbox_thread(i: int) -> None:
        item = update()
        await asyncio.to_thread(inbox.store, item)
        await asyncio.to_thread(inbox.advance, item.chat)
        await asyncio.to_thread(inbox.done, item.update_id)

    async def inbox_async(i: int) -> None:
        item = update()
        await inbox.astore(item)
        await inbox.aadvance(item.chat)
        await inbox.adone(item.update_id)

    async def outbox_thread(i: int) -> None:
        item = await asyncio.to_thread(outbox.record, "-1001", "answer", "sendMessage", params, time.time())
        await asyncio.to_thread(outbox.delivered, item)

    async def outbox_async(i: int) -> None:
        item = await outbox.arecord("-1001", "answer", "sendMessage", params, time.time())
        await outbox.adelivered(item)

    await asyncio.to_thread(inbox.store, update())  # the schema's name, looked up once, as a worker does
    print(f"{'per call, ms CPU':<52} {'thread':>15} {'async':>15}   (worker + backend)")
    for label, threaded, direct in (
            ("send claim (SendBudget.try_claim)", claim_thread, claim_async),
            ("inbox: store, advance, done (3 statements)", inbox_thread, inbox_async),
            ("outbox: record, delivered (2 statements)", outbox_thread, outbox_async)):
        await per_call(max(50, n // 10), direct, server)  # warm: pools full, statements prepared
        await per_call(max(50, n // 10), threaded, server)
        t_worker, t_backend = await per_call(n, threaded, server)
        a_worker, a_backend = await per_call(n, direct, server)
        print(f"{label:<52} {t_worker:6.3f} + {t_backend:6.3f} {a_worker:6.3f} + {a_backend:6.3f}")
    await storage.aclose()


def idle_worker(database: str, seconds: float, settle: float) -> float:
    """ms CPU per second of one serve worker that receives nothing."""
    import random
    import subprocess

    from tests.conftest import copy_project
    from tests.support.emulator_process import EmulatorProcess

    tmp = Path(tempfile.mkdtemp(prefix="bench-hot-"))
    copy_project(tmp, ROOT / ".cache")  # the tests' own copy of the film's files, sharing the trained model
    emu = EmulatorProcess(token=TOKEN, bot_username=USERNAME).start()
    env = dict(os.environ, BOT_CONFIG=str(tmp / "config.yml"), BOT_DATABASE=database, BOT_TOKEN=TOKEN,
               PYTHONPATH=str(ROOT), BOT_API_URL=emu.base_url)
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    port = 18400 + random.randrange(0, 150)
    log = tmp / "worker.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--webhook-url", f"http://127.0.0.1:{port}/telegram/hook",
         "--listen", "127.0.0.1", "--port", str(port), "--secret-token", SECRET],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        wait_listening(port, proc, log)
        time.sleep(settle)  # start-up's own work (the webhook, the first knowledge look) is over
        before = cpu_seconds(proc.pid)
        time.sleep(seconds)
        return 1000 * (cpu_seconds(proc.pid) - before) / seconds
    finally:
        proc.terminate()
        proc.wait(30)
        emu.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="calls per figure (0: the idle worker only)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of an idle worker measured")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after start-up before measuring")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--database", default=os.environ.get("BOT_TEST_DATABASE",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-hot-db-"))
    schemas = []
    try:
        if args.sqlite:
            target, server = str(tmp / "bench.sqlite3"), None
        else:
            schema, target = fresh_schema(args.database)
            schemas.append(schema)
            open_storage(target, check_schema=False).upgrade()
            server = ServerCpu(args.database, schema)
        if args.n > 0:
            storage = open_storage(target)
            print(f"{storage.kind}, {args.n} calls each")
            asyncio.run(statements(storage, args.n, server))
            storage.close()
        if args.idle > 0:
            if args.sqlite:
                idle_target = str(tmp / "idle.sqlite3")
            else:
                schema, idle_target = fresh_schema(args.database)
                schemas.append(schema)
            print(f"idle worker: {idle_worker(idle_target, args.idle, args.settle):.1f} ms CPU per second "
                  f"(over {args.idle:g} s)")
    finally:
        for schema in schemas:
            drop_schema(args.database, schema)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
