"""Several webhook workers on one PostgreSQL, behind a round-robin proxy: is it one bot?

    python bench/bench_cluster.py [--workers 2] [--updates 20000] [--chats 1000] [--quizzes 50]
        [--kill] [--faults] [--latency 0.03 0.08] [--sqlite] [--explain] [--count-statements]

What runs, all real: the Bot API emulator in its own process (tests/support/emulator_process.py) adding
``--latency`` seconds to every call, N ``python -m bot serve --webhook-url ... --port P --secret-token S``
processes sharing one fresh PostgreSQL schema (``db upgrade`` first), and a round-robin proxy in this
process that spreads Telegram's POSTs over the workers and, like nginx's ``proxy_next_upstream``, tries
the next worker when one refuses the connection. The bench plays Telegram: it delivers each chat's updates
in order (the next one after the previous got its 200), ``--concurrency`` chats at a time.

The chats are groups, so every answer quotes its question (``reply_to_message_id``) and can be paired with
it exactly: a question without an answer is lost, a second answer is duplicated, an answer that arrives
before the answer to an earlier question of the same chat is out of order. A second answer is a true
duplicate unless the bot could not know the first had arrived: the first copy's connection dropped or
timed out after the request went out (answers are at least once then, by design: README, "No reply is
lost"), or the worker that sent it was killed before it recorded it (the inbox's at-least-once); those are
counted apart. The copies are paired in the order they reached the emulator: a copy held up past the
sender's time-out (a "slow" fault) is carried out after the resend that followed it. ``--explain`` prints
each duplicate's and each out-of-order answer's copies (arrival, answer, fault, text).
``--quizzes`` of the groups also play a 3-question quiz (``/quiz 3``): each must show
exactly 3 questions and one final message, and two players vote in each question as soon as its poll
arrives, one right and one wrong: the scores table must count each right vote once (points lost or
doubled), and hold the points the final message showed. A vote on a poll whose sender was killed after
sendPoll went out and before it recorded the poll (only sendPoll's answer names the poll, and a post is
sent at most once) waits for a record that never comes: counted apart, as at most once by design. ``--faults`` injects 429s, 502s, dropped
connections (carried out, no answer) and slow answers (a time-out after the request went out) into the
emulator while it runs; ``--kill`` kill -9s the first worker halfway. ``--sqlite`` runs one worker on an
SQLite file instead (the CPU-per-update baseline).

It prints: updates lost, duplicated (true, and at least once by design), out of order; quiz questions
asked more or fewer times than 3, final messages, votes not scored or scored twice; sends per second (max
over 1 s windows) and per group per minute (max over 60 s windows) against Telegram's 30/s and 20/min, as
the emulator saw them and as the bot's budget counted them; the outbox's outcomes; updates/s; CPU per
update per worker and of the PostgreSQL backends. ``--count-statements`` also prints the SQL the workers
sent per update, by kind, and the round trips it took (bench/statement_count/sitecustomize.py, loaded by
each worker: it costs them a little CPU, so CPU figures are best read from a run without it).

The bench watches the emulator through ``calls_from`` (only the calls new since its last look): copying
every call each second stalled the emulator while it was pickled, and requests held up by the stall
arrived together (62 "in one second" against 30 claims).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import bisect
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.emulator_process import EmulatorProcess  # noqa: E402
from tests.conftest import copy_project  # noqa: E402
from tests.support.postgres import copy_claims  # noqa: E402

TOKEN = "4242:CLUSTERBENCH"
SECRET = "bench-secret-token"
USERNAME = "ballerina_trivia_bot"


def questions() -> list[str]:
    """First turns of the evaluation conversations: questions as users ask them, from the data."""
    data = yaml.safe_load((ROOT / "tests" / "eval" / "conversations.yml").read_text(encoding="utf-8"))
    found = []
    for conv in data.get("conversations", data) if isinstance(data, dict) else data:
        turns = conv.get("turns", []) if isinstance(conv, dict) else []
        if turns and isinstance(turns[0], dict) and turns[0].get("text"):
            found.append(str(turns[0]["text"]))
    return found or ["who directs it?"]


class ServerCpu:
    """CPU of the PostgreSQL backends serving this bench's workers (found by ``application_name``), sampled
    while they live: a backend's CPU is lost with it once its connection closes, so the bench reads each
    one's latest figure every ``every`` seconds and sums the last ones seen. Only readable when the server
    runs on this host (its /proc); ``nan`` otherwise. Background processes (WAL writer, checkpointer) are
    not counted: they serve every database on the server."""

    def __init__(self, database: str, tag: str, every: float = 0.5) -> None:
        self.database, self.tag, self.every = database, tag, every
        self.seen: dict[int, float] = {}
        self.readable = True

    def sample(self) -> None:
        import psycopg

        with psycopg.connect(self.database, autocommit=True) as conn:
            pids = [int(r[0]) for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.tag,)).fetchall()]
        for pid in pids:
            used = cpu_seconds(pid)
            if used != used:
                self.readable = False
            else:
                self.seen[pid] = max(self.seen.get(pid, 0.0), used)

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(self.every)

    def total(self) -> float:
        return sum(self.seen.values()) if self.readable and self.seen else float("nan")


def most_in_window(times: list[float], seconds: float) -> int:
    """The most of the sorted ``times`` that fall in any window of ``seconds`` (a sliding window)."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def record_claims(database: str, schema: str) -> None:
    """Every claim the shared limiter logs is copied to ``claimed``: the bot's own view of its sends."""
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        copy_claims(conn.execute, schema)


def read_claims(database: str, schema: str) -> list[tuple[str, float]]:
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        return [(str(k), float(at)) for k, at in conn.execute(f'SELECT key, at FROM "{schema}".claimed ORDER BY at')]


def read_statements(tmp: Path, workers: int) -> Counter[str]:
    """The SQL the workers sent so far, by kind (--count-statements)."""
    total: Counter[str] = Counter()
    for i in range(workers):
        with contextlib.suppress(OSError, ValueError):
            total.update(json.loads((tmp / f"statements{i}.json").read_text()))
    return total


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class Proxy:
    """Round robin over the workers; a refused connection goes to the next one (as nginx does)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.next = 0
        self.routed: Counter[int] = Counter()
        self.port = 0

    async def start(self) -> None:
        from aiohttp import ClientSession, ClientTimeout, web

        self._session = ClientSession(timeout=ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def forward(self, request: Any) -> Any:
        from aiohttp import ClientError, web

        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith(("x-telegram", "content-type"))}
        for _ in range(len(self.ports)):
            port = self.ports[self.next % len(self.ports)]
            self.next += 1
            try:
                async with self._session.post(f"http://127.0.0.1:{port}{request.path}", data=body,
                                              headers=headers) as resp:
                    self.routed[port] += 1
                    return web.Response(status=resp.status, body=await resp.read())
            except (ClientError, OSError, asyncio.TimeoutError):
                continue
        return web.Response(status=502, text="no worker answered")

    async def stop(self) -> None:
        await self._session.close()
        await self._runner.cleanup()


def start_worker(env: dict[str, str], port: int, proxy_port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--webhook-url", f"http://127.0.0.1:{proxy_port}/telegram/hook",
         "--listen", "127.0.0.1", "--port", str(port), "--secret-token", SECRET],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker on {port} exited: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"worker on {port} not listening after {timeout}s: {log.read_text()[-2000:]}")


async def deliver(session: Any, url: str, update: dict[str, Any], attempts: int = 60) -> bool:
    """POST like Telegram: retried until a 2xx (Telegram retries for hours; the bench for a minute)."""
    from aiohttp import ClientError

    for attempt in range(attempts):
        try:
            async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                if 200 <= r.status < 300:
                    return True
        except (ClientError, OSError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(min(1.0, 0.05 * 2 ** attempt))
    return False


READ_TIMEOUT = 5.0  # s: the bot's read time-out (bot/channels/telegram_http.py): a longer answer was given up on
VOTERS = 2  # players voting in each quiz question: the first right, the second wrong


class Watch:
    """The emulator's calls, fetched as they come (``calls_from``), and the bench's side of the quizzes:
    each new poll in a quiz group is voted on at once by two players of that group, one right, one wrong."""

    def __init__(self, emu: Any, quiz_chats: dict[int, int]) -> None:
        self.emu = emu
        self.calls: list[Any] = []
        self.quiz_chats = quiz_chats  # chat -> the first voter's user id
        self.votes: list[dict[str, Any]] = []  # poll answers to deliver
        self.right: Counter[tuple[int, int]] = Counter()  # (chat, user) -> right votes sent
        self.voted_late = 0  # votes delivered after their question's open time (not expected to score)
        self._seen_polls: set[str] = set()
        self._poll_of: dict[tuple[int, int], str] = {}  # (chat, message id) -> poll id
        self.stopped: dict[str, float] = {}  # poll id -> when the bot closed it (stopPoll): no vote after
        self.sent: list[dict[str, Any]] = []  # votes delivered, with when their poll arrived, was seen, accepted

    def refresh(self) -> list[Any]:
        new = self.emu.calls_from(len(self.calls))
        self.calls.extend(new)
        for call in new:
            chat = int(call.params.get("chat_id", 0) or 0)
            if call.method == "stopPoll" and call.ok:
                stopped = self._poll_of.get((chat, int(call.params.get("message_id", 0) or 0)))
                if stopped:
                    self.stopped.setdefault(stopped, call.time)
            if call.method != "sendPoll" or not call.ok or chat not in self.quiz_chats:
                continue
            poll = (call.result or {}).get("poll") or {}
            poll_id = str(poll.get("id", ""))
            if not poll_id or poll_id in self._seen_polls:
                continue
            self._seen_polls.add(poll_id)
            self._poll_of[(chat, int((call.result or {}).get("message_id", 0)))] = poll_id
            right = poll.get("correct_option_ids") or [poll.get("correct_option_id", 0)]
            wrong = next(i for i in range(len(poll.get("options", [])) or 2) if i not in right)
            first = self.quiz_chats[chat]
            for user, option in ((first, right[0]), (first + 1, wrong)):
                self.votes.append({"update": self.emu.push_poll_answer(poll_id, user_id=user, option_ids=[option],
                                                                        first_name=f"P{user}"),
                                   "chat": chat, "user": user, "right": option == right[0], "poll": poll_id,
                                   "closes": call.time + float(call.params.get("open_period") or poll.get("open_period") or 20)
                                             - 2.0, "arrived": call.time, "poll_arrived": arrived_at(call),
                                   "seen": time.time()})
        return new

    def of(self, method: str) -> list[Any]:
        return [c for c in self.calls if c.method == method and c.ok]


def arrived_at(call: Any) -> float:
    """When a request reached the emulator (its record is made at the answer, ``served_in`` later)."""
    return float(call.time - (call.served_in or 0.0))


def reply_target(call: Any) -> int | None:
    params = call.params
    if params.get("reply_to_message_id") is not None:
        return int(params["reply_to_message_id"])
    rp = params.get("reply_parameters")
    if isinstance(rp, str):
        rp = json.loads(rp)
    if isinstance(rp, dict) and rp.get("message_id") is not None:
        return int(rp["message_id"])
    return None


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    copy_project(tmp, ROOT / ".cache")  # the tests' own copy of the film's files, sharing the trained model
    schema = None
    if args.sqlite:
        database = str(tmp / "bench.sqlite3")
        args.workers = 1
    else:
        import psycopg
        from urllib.parse import quote

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.database, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        database = f"{args.database}?options={quote(f'-csearch_path={schema}')}&application_name={schema}"
    env = dict(os.environ, BOT_CONFIG=str(tmp / "config.yml"), BOT_DATABASE=database, BOT_TOKEN=TOKEN,
               PYTHONPATH=str(ROOT))
    worker_env = dict(env)
    if args.workers > 2:  # four pools per worker: within the server's max_connections, beside others' tests
        worker_env.setdefault("BOT_DATABASE_POOL", "2")
    if args.count_statements and schema:  # each worker counts its SQL (bench/statement_count/sitecustomize.py)
        worker_env["PYTHONPATH"] = f"{ROOT / 'bench' / 'statement_count'}{os.pathsep}{ROOT}"
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    if schema:
        record_claims(args.database, schema)
    emu = EmulatorProcess(token=TOKEN, bot_username=USERNAME, latency=tuple(args.latency)).start()
    env["BOT_API_URL"] = worker_env["BOT_API_URL"] = emu.base_url
    ports = [18600 + i + random.randrange(0, 200) * 10 for i in range(args.workers)]
    proxy = Proxy(ports)
    await proxy.start()
    workers = []
    for i, port in enumerate(ports):
        log = tmp / f"worker{i}.log"
        workers.append((start_worker(dict(worker_env, BENCH_STATEMENTS=str(tmp / f"statements{i}.json")), port,
                                     proxy.port, log), port, log))
    for proc, port, log in workers:
        wait_listening(port, proc, log)
    # what an idle worker costs (its pollers: inbox, timers, outbox, knowledge), before any update
    idle_from = {port: cpu_seconds(proc.pid) for proc, port, _ in workers}
    await asyncio.sleep(args.idle)
    idle = {port: (cpu_seconds(proc.pid) - idle_from[port]) / args.idle for proc, port, _ in workers}
    print(f"  idle: {', '.join(f'{1000 * v:.0f}' for v in idle.values())} ms CPU per second per worker "
          f"(over {args.idle:g} s before the load)")
    cpu_before = {port: cpu_seconds(proc.pid) for proc, port, _ in workers}
    statements_before = read_statements(tmp, len(workers)) if args.count_statements else Counter()
    server = ServerCpu(args.database, schema) if schema else None
    if server:
        server.sample()
        server_before = server.total()
        server_task = asyncio.create_task(server.run())

    rng = random.Random(1)
    texts = questions()
    chats = [-(1_000_000 + i) for i in range(args.chats)]
    quiz_chats = set(chats[: args.quizzes])
    watch = Watch(emu, {chat: 900_000 + VOTERS * n for n, chat in enumerate(chats[: args.quizzes])})
    per_chat = max(1, args.updates // args.chats)
    plan: dict[int, list[dict[str, Any]]] = {}
    for n, chat in enumerate(chats):
        items = []
        for k in range(per_chat):
            if chat in quiz_chats and k == 0:
                items.append({"text": "/quiz 3", "quiz": True})
            else:
                items.append({"text": f"/ask {rng.choice(texts)}"})
        plan[chat] = items
    pushed: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)  # chat -> [(message_id, update)]
    for chat, items in plan.items():
        batch = [{"text": it["text"], "chat_id": chat, "user_id": 500 + (chat % 97), "chat_type": "supergroup",
                  "chat_title": f"group {chat}"} for it in items]
        for it, update in zip(items, emu.batch("push_message", batch)):
            pushed[chat].append((update["message"]["message_id"], update, it))  # type: ignore[arg-type]
    total = sum(len(v) for v in pushed.values())
    print(f"{args.workers} worker(s) on {'SQLite' if args.sqlite else 'PostgreSQL'}; {total} updates from "
          f"{len(pushed)} groups ({len(quiz_chats)} with a quiz); latency {args.latency[0]*1000:.0f}-"
          f"{args.latency[1]*1000:.0f} ms; faults {'on' if args.faults else 'off'}; kill -9 {'on' if args.kill else 'off'}")

    from aiohttp import ClientSession, ClientTimeout

    url = f"http://127.0.0.1:{proxy.port}/telegram/hook"
    delivered = 0
    killed = False
    killed_at = float("inf")
    started = time.monotonic()
    started_wall = time.time()
    sem = asyncio.Semaphore(args.concurrency)

    async with ClientSession(timeout=ClientTimeout(total=30)) as session:
        async def play(chat: int) -> None:
            nonlocal delivered, killed, killed_at
            async with sem:
                for _mid, update, _it in pushed[chat]:
                    if not await deliver(session, url, update):
                        print(f"  update {update['update_id']} never accepted")
                    delivered += 1
                    if args.kill and not killed and delivered >= total // 2:
                        killed = True
                        killed_at = time.time()
                        os.kill(workers[0][0].pid, signal.SIGKILL)
                        print(f"  kill -9 worker on port {workers[0][1]} after {delivered} updates")

        async def faults() -> None:
            kinds = ["429", "502", "drop", "slow"]
            while True:
                await asyncio.sleep(2.0)
                kind = rng.choice(kinds)  # "drop": carried out, then the connection closed unanswered
                emu.inject_fault("sendMessage", kind, times=1, retry_after=1, delay=12.0)

        async def vote(item: dict[str, Any]) -> None:
            if not await deliver(session, url, item["update"]):
                print(f"  vote {item['update']['update_id']} never accepted")
            item["accepted"] = time.time()
            watch.sent.append(item)
            if time.time() > item["closes"] or item["poll"] in watch.stopped:
                watch.voted_late += 1  # the poll's open time ran out, or the bot closed it: Telegram says no
            elif item["right"]:
                watch.right[(item["chat"], item["user"])] += 1
                item["counted"] = True

        async def watching() -> None:
            voting: set[asyncio.Task[None]] = set()
            while True:
                await asyncio.to_thread(watch.refresh)
                while watch.votes:
                    task = asyncio.create_task(vote(watch.votes.pop(0)))
                    voting.add(task)
                    task.add_done_callback(voting.discard)
                await asyncio.sleep(0.5)

        fault_task = asyncio.create_task(faults()) if args.faults else None
        watch_task = asyncio.create_task(watching())
        await asyncio.gather(*(play(c) for c in chats))
        delivered_at = time.monotonic()
        if fault_task:
            fault_task.cancel()
        # wait for the answers: every question's, and every quiz's final message, or quiet for 60 s
        expected = sum(1 for v in pushed.values() for _, _, it in v if not it.get("quiz"))
        last_count, quiet_since = -1, time.monotonic()
        while True:
            sends = watch.of("sendMessage")
            # distinct questions answered: a duplicate answer must not stand in for one still on its way
            answered = len({(c.params["chat_id"], reply_target(c)) for c in sends if reply_target(c) is not None})
            finals = len({c.params["chat_id"] for c in sends if "Quiz over" in (c.text or c.params.get("text", ""))})
            if answered >= expected and finals >= len(quiz_chats):
                break
            activity = len(watch.calls)  # polls, edits and retries too: a quiz is quiet between questions
            if activity != last_count:
                last_count, quiet_since = activity, time.monotonic()
            elif time.monotonic() - quiet_since > 60:
                break
            await asyncio.sleep(1.0)
        finished = time.monotonic()
        watch_task.cancel()
        await asyncio.sleep(2.0)  # the last votes' deliveries
        watch.refresh()
    cpu_after = {port: cpu_seconds(proc.pid) for proc, port, _ in workers}
    if server:
        server_task.cancel()
        server.sample()

    # pairing ----------------------------------------------------------------------------------------
    sends = watch.of("sendMessage")
    answers: dict[int, list[int]] = defaultdict(list)  # chat -> replied-to message ids, in send order
    copies: dict[tuple[int, int], list[Any]] = defaultdict(list)  # (chat, question) -> its answers' calls
    for c in sorted(sends, key=lambda c: c.time):
        target = reply_target(c)
        if target is not None:
            answers[int(c.params["chat_id"])].append(target)
            copies[(int(c.params["chat_id"]), target)].append(c)
    lost = duplicated = out_of_order = 0
    unsure_resends = killed_resends = 0
    for chat, items in pushed.items():
        asked = [mid for mid, _u, it in items if not it.get("quiz")]
        got = answers.get(chat, [])
        count = Counter(got)
        lost += sum(1 for mid in asked if count[mid] == 0)
        for mid, n in count.items():
            if n < 2 or mid not in set(asked):
                continue
            # by arrival: a copy held up past the sender's time-out (a "slow" fault) is carried out after the
            # resend that followed it, so it is the later by the time Telegram showed it, yet the first sent
            sent = sorted(copies[(chat, mid)], key=arrived_at)
            for first, again in zip(sent, sent[1:]):
                if first.fault in ("slow", "drop") or (first.served_in or 0.0) >= READ_TIMEOUT:
                    unsure_resends += 1  # the sender never heard it arrived: at least once, by design
                elif arrived_at(first) < killed_at <= arrived_at(again):
                    killed_resends += 1  # sent by the killed worker, which died before recording it
                else:
                    duplicated += 1
                    if args.explain:
                        explain_copies("duplicated", chat, mid, copies[(chat, mid)], started_wall, killed_at)
        order = [mid for mid in dict.fromkeys(got) if mid in set(asked)]
        for a, b in zip(order, order[1:]):
            if b < a:
                out_of_order += 1
                if args.explain:
                    explain_copies("out of order: earlier", chat, b, copies[(chat, b)], started_wall, killed_at)
                    explain_copies("out of order: later", chat, a, copies[(chat, a)], started_wall, killed_at)
    polls = Counter(int(c.params["chat_id"]) for c in watch.of("sendPoll"))
    finals = Counter(int(c.params["chat_id"]) for c in sends if "Quiz over" in (c.text or c.params.get("text", "")))
    wrong_questions = sum(1 for chat in quiz_chats if polls[chat] != 3)
    wrong_finals = sum(1 for chat in quiz_chats if finals[chat] != 1)

    # limits -------------------------------------------------------------------------------------------
    # counted when each request reached the emulator (Telegram's view), not when the emulator answered it:
    # its answer comes after the injected latency, and later still when the emulator is short of CPU
    visible = [c for c in watch.calls if c.method in ("sendMessage", "sendPoll") and c.ok]
    arrived = sorted(c.time - (c.served_in or 0.0) for c in visible)
    per_group: dict[int, list[float]] = defaultdict(list)
    for c in visible:
        per_group[int(c.params["chat_id"])].append(c.time - (c.served_in or 0.0))
    worst_second = most_in_window(arrived, 1.0)
    worst_group = max((most_in_window(sorted(times), 60.0) for times in per_group.values()), default=0)

    scored, outcomes, unrecorded = read_database(database, schema, args.database)
    shown = final_points(sends)
    right_voters = set(watch.quiz_chats.items())
    # a poll whose sender was killed between sendPoll going out and recording the poll's id (which only
    # sendPoll's answer tells) is one the bot cannot know: its votes wait for a record that never comes
    # (quiz_votes_waiting), at most once by design, as a post is (README, "No reply is lost")
    orphaned: Counter[tuple[int, int]] = Counter(
        (v["chat"], v["user"]) for v in watch.sent if v.get("counted") and v["poll"] in unrecorded
        and v["poll_arrived"] <= killed_at <= v["arrived"] + 1.0)
    votes_lost = sum(max(0, n - orphaned[key] - scored.get(key, (0, 0))[1]) for key, n in watch.right.items())
    votes_twice = sum(max(0, c - watch.right.get(key, 0)) for key, (_p, c) in scored.items() if key in right_voters)
    scored_wrong = sum(c for key, (_p, c) in scored.items() if key not in right_voters)
    mismatched = sum(1 for key, points in shown.items() if scored.get(key, (0, 0))[0] != points)

    print(f"  lost {lost}, duplicated {duplicated}, out of order {out_of_order} (of {expected} questions); "
          f"at least once by design: {unsure_resends} resent after a send that may have arrived, "
          f"{killed_resends} sent again after kill -9")
    print(f"  quizzes: {wrong_questions} of {len(quiz_chats)} asked other than 3 questions; "
          f"{wrong_finals} without exactly one final message")
    print(f"  points: {sum(watch.right.values())} right votes in time ({watch.voted_late} votes late; "
          f"{sum(orphaned.values())} on a poll its sender was killed before recording, at most once by design): "
          f"{votes_lost} not scored, {votes_twice} scored twice, {scored_wrong} wrong votes scored; "
          f"{mismatched} of {len(shown)} players' final points differ from the scores table")
    if watch.sent:
        # the bench's own side of a vote: from its poll's arrival at the emulator to the bench seeing it
        # (Watch.refresh), and on to the bot accepting the vote's update; for the right votes not scored,
        # how long before their poll closed the bot had them (negative: after)
        seen = sorted(v["seen"] - v["arrived"] for v in watch.sent)
        took = sorted(v["accepted"] - v["arrived"] for v in watch.sent)
        print(f"  votes: seen by the bench p50 {seen[len(seen) // 2]:.2f} s, max {seen[-1]:.2f} s after their poll "
              f"arrived; accepted by the bot p50 {took[len(took) // 2]:.2f} s, max {took[-1]:.2f} s after")
        short = {key for key, n in watch.right.items() if n - orphaned[key] > scored.get(key, (0, 0))[1]}
        margins = sorted(v["closes"] - v["accepted"] for v in watch.sent
                         if v["right"] and (v["chat"], v["user"]) in short)
        if args.explain:
            for v in watch.sent:
                if v["right"] and (v["chat"], v["user"]) in short:
                    print(f"  right vote of a player short of points: chat {v['chat']}, user {v['user']}, poll "
                          f"{v['poll']} (sent {v['poll_arrived'] - started_wall:.2f} s, recorded: "
                          f"{v['poll'] not in unrecorded}), update {v['update']['update_id']} accepted "
                          f"{v['accepted'] - started_wall:.2f} s (kill -9 at {killed_at - started_wall:.1f} s)")
        if margins:
            print(f"  right votes of players short of points: accepted {margins[0]:.1f} .. {margins[-1]:.1f} s "
                  f"before their poll closed ({len(margins)} votes)")
    print(f"  sends: max {worst_second} in any 1 s (limit 30), max {worst_group} to one group in any 60 s "
          f"(limit 20), counted at arrival")
    if schema:
        claims = read_claims(args.database, schema)
        bot_claims = sorted(at for key, at in claims if key == "bot")
        group_claims: dict[str, list[float]] = defaultdict(list)
        for key, at in claims:
            if key != "bot":
                group_claims[key].append(at)
        # a chat's sends take turns, so a send's claim is its group's latest claim before it arrived: how
        # long after it each send reached the emulator (the limiter counts a place until its answer)
        lags = []
        for chat, times in per_group.items():
            taken = sorted(group_claims.get(f"chat:{chat}", []))
            for arrival in times:
                k = bisect.bisect_right(taken, arrival)
                if k:
                    lags.append(arrival - taken[k - 1])
        lags.sort()
        print(f"  claims: max {most_in_window(bot_claims, 1.0)} in any 1 s, max "
              f"{max((most_in_window(sorted(t), 60.0) for t in group_claims.values()), default=0)} for one group "
              f"in any 60 s, counted when the limiter logged them ({len(bot_claims)} claims, "
              f"{len(visible)} sends; {len(bot_claims) - len(visible)} more claims than sends: for requests "
              f"that failed)")
        if lags:
            print(f"  claim to arrival: p50 {1000 * lags[len(lags) // 2]:.0f} ms, p99 "
                  f"{1000 * lags[int(len(lags) * 0.99)]:.0f} ms, max {1000 * lags[-1]:.0f} ms")
    print("  outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "nothing counted"))
    print(f"  {total / max(delivered_at - started, 1e-9):.0f} updates/s accepted; all answered after "
          f"{finished - started:.0f} s")
    for proc, port, _log in workers:
        routed = proxy.routed[port]
        used = cpu_after[port] - cpu_before[port]
        alive = "killed" if proc.poll() is not None else "alive"
        print(f"  worker :{port} ({alive}): {routed} updates routed, CPU {used:.1f} s"
              + (f", {1000 * used / routed:.1f} ms per update" if routed and used == used else ""))

    # CPU of the worker processes (user + sys, from /proc; a killed worker's up to its last reading)
    workers_cpu = sum(cpu_after[p] - cpu_before[p] for _proc, p, _l in workers if cpu_after[p] == cpu_after[p])
    line = f"  CPU per update, all workers: {1000 * workers_cpu / total:.1f} ms ({workers_cpu:.1f} s user+sys"
    if server:
        used = server.total() - server_before
        line += (f"); PostgreSQL backends: {1000 * used / total:.1f} ms ({used:.1f} s); together "
                 f"{1000 * (workers_cpu + used) / total:.1f} ms" if used == used else "); PostgreSQL backends: n/a")
    else:
        line += "); no database server (SQLite runs inside the worker)"
    print(line)

    if args.count_statements and schema:
        time.sleep(1.0)  # the workers' counts are written every half second
        counted = read_statements(tmp, len(workers))
        counted.subtract(statements_before)
        print(f"  SQL per update (all workers, from start of load to the end): "
              f"{counted['(statements)'] / total:.2f} statements in {counted['(round trips)'] / total:.2f} round trips")
        for name, n in sorted(counted.items(), key=lambda kv: -kv[1]):
            if not name.startswith("(") and n / total >= 0.005:
                print(f"    {n / total:5.2f}  {name}")

    for proc, _port, _log in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, _port, _log in workers:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    await proxy.stop()
    emu.stop()
    if schema:
        import psycopg

        with psycopg.connect(args.database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    if args.keep:
        print(f"  kept: {tmp} (the workers' logs, the SQLite file)")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def read_database(database: str, schema: str | None, server: str) -> tuple[
        dict[tuple[int, int], tuple[int, int]], dict[str, int], set[str]]:
    """The scores table ((chat, player) -> (points, right answers)), the outbox's counted outcomes, and the
    polls whose votes still wait for their poll's record, read from the bot's database after the run."""
    queries = ("SELECT chat, player, points, correct FROM quiz_scores", "SELECT outcome, n FROM outbox_outcomes",
               "SELECT DISTINCT poll_id FROM quiz_votes_waiting")
    if schema is None:
        import sqlite3

        with contextlib.closing(sqlite3.connect(database)) as conn:
            results = [conn.execute(q).fetchall() for q in queries]
    else:
        import psycopg

        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            results = [conn.execute(q).fetchall() for q in queries]
    scores, outcomes, waiting = results
    return ({(int(c), int(p)): (int(pts), int(n)) for c, p, pts, n in scores}, {str(k): int(v) for k, v in outcomes},
            {str(p) for p, in waiting})


def explain_copies(what: str, chat: int, mid: int, calls: list[Any], started: float, killed_at: float) -> None:
    """One answer's copies as the emulator saw them: arrival and answer (s into the run), fault, text."""
    print(f"  {what}: chat {chat}, question {mid} (kill -9 at {killed_at - started:.1f} s)")
    for c in calls:
        arrived = c.time - (c.served_in or 0.0)
        print(f"    arrived {arrived - started:.2f} s, answered {c.time - started:.2f} s, fault {c.fault}, "
              f"message {(c.result or {}).get('message_id')}: {(c.text or c.params.get('text', ''))[:60]!r}")


def final_points(sends: list[Any]) -> dict[tuple[int, int], int]:
    """(chat, player) -> the points a quiz's final message showed (``P<user id>: N pts``)."""
    import re

    shown = {}
    for c in sends:
        text = c.text or c.params.get("text", "")
        if "Quiz over" in text:
            for user, points in re.findall(r"P(\d+): (\d+) pts", text):
                shown[(int(c.params["chat_id"]), int(user))] = int(points)
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--chats", type=int, default=1_000)
    parser.add_argument("--quizzes", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=40, help="chats delivered at once (Telegram: 40)")
    parser.add_argument("--latency", type=float, nargs=2, default=[0.03, 0.08])
    parser.add_argument("--kill", action="store_true")
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--explain", action="store_true",
                        help="print each duplicate's and out-of-order answer's copies")
    parser.add_argument("--count-statements", action="store_true",
                        help="count the SQL each worker sends, by kind (PostgreSQL; costs the workers some CPU)")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (the workers' logs)")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measured before the load")
    parser.add_argument("--database", default=os.environ.get("BOT_TEST_DATABASE",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
