"""Telegram front benchmark: updates/s end to end through the Bot API emulator, and the latency the
front adds over the Brain.

    python bench/bench_telegram.py [--updates 3000] [--chats 300] [--emulator process|thread]
        [--concurrency N] [--pool N] [--no-typing | --typing-delay S] [--request httpx|lean]   # what-ifs

The bot is the production one: `build_application()` with its defaults (retrying requests on aiohttp,
bot/channels/telegram_http.py, with a 32-connection pool, the per-chat update processor with 16
concurrent updates, FrontRateLimiter, "typing…" for any answer not out within 0.5 s, the garbage
collector tuned as `serve` tunes it), long polling over real HTTP. What-ifs: `--request httpx` builds it
with FrontOptions(http="httpx") (PTB's own client); `--request lean` swaps in the stdlib experiment
bench/lean_request.py (no retries); `--typing-delay 0` sends "typing…" alongside every answer (twice
the calls: the cost of the old always-typing front). One change: the rate limiter's flood limits are
off (`overall_max_rate=0, group_max_rate=0`). Telegram allows a bot about 30 messages/s, so with them
on the bench would measure the limiter, not the front. The limiter is still in the request path
(RetryAfter handling and all).

The emulator runs in a child process by default (`tests/support/emulator_process.py`), like
Telegram's servers run on other machines; `--emulator thread` runs it in this process, where it shares
the GIL with the bot (how the tests run it).

Figures:
- throughput: N updates (private messages from `--chats` users) are queued at once; the bot drains
  them. updates/s = N / (last reply's server timestamp - first push).
- lost / duplicated / wrong: each chat's updates are answered in order (the per-chat processor), so
  the k-th reply in a chat answers the k-th update in it. lost = updates without a reply, duplicated =
  replies beyond the updates, wrong = a reply that does not fit its question (pairing or ordering
  broken; follow-ups like "and Charon?" need the previous question answered first).
- front overhead, per update: the time from the start of its handling (PTB hands it to the update
  processor) to the moment the bot gets the server's answer to sendMessage, minus the time spent in
  Brain.reply. That is PTB's dispatch, rendering and the sendMessage round trip, with a typing action
  if one was due (including the emulator's own time to answer, printed separately). Measured one message at a time
  (nothing else running: the latency a user sees) and under the flood (queueing included).
- failed calls by cause: error answers the server recorded, requests the bot abandoned before they
  were complete (a cancelled task), and what the bot logged (retries, errors).
- CPU per update: the bot process's CPU time during the flood / N; a machine shared with other work
  slows the wall clock, this much less.
"""
from __future__ import annotations

import argparse
import asyncio
import contextvars
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.telegram import (  # noqa: E402
    APOLOGY,
    FrontOptions,
    FrontRateLimiter,
    PerChatUpdateProcessor,
    build_application,
    running,
)
from bot.config import load_settings  # noqa: E402
from bot.dialogue import Brain, build_mind  # noqa: E402
from bot.runtime import tune_gc  # noqa: E402
from bot.storage import Storage, open_storage# noqa: E402
from tests.support.botapi_emulator import BotAPIEmulator, Call  # noqa: E402
from tests.support.emulator_process import EmulatorProcess  # noqa: E402

TOKEN = "123:BENCH"
# (question, a word its answer must contain, or None). In a chat they come in this order, so the
# follow-up "and Charon?" is only answered right if "who plays Winston?" was answered before it.
QUESTIONS: list[tuple[str, str | None]] = [
    ("who directs ballerina?", "Wiseman"),
    ("who plays Winston?", "McShane"),
    ("and Charon?", "Reddick"),
    ("when is ballerina out?", None),
    ("what is the weather on mars", None),
    ("tell me about Len Wiseman", "Wiseman"),
    ("is keanu reeves in it?", "Keanu"),
]

_timing: contextvars.ContextVar[dict[str, float]] = contextvars.ContextVar("timing")


class TimedBrain(Brain):
    def reply(self, chat: str | None, user: str | None, text: str) -> Any:
        started = time.perf_counter()
        try:
            return super().reply(chat, user, text)
        finally:
            holder = _timing.get(None)
            if holder is not None:
                holder["brain"] = holder.get("brain", 0.0) + time.perf_counter() - started


class TimedProcessor(PerChatUpdateProcessor):
    """The production processor, timing each update's handling and the Brain's share of it."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self.samples: list[tuple[float, float]] = []  # (handling seconds, brain seconds)

    async def do_process_update(self, update: object, coroutine: Any) -> None:
        async def timed() -> None:
            holder: dict[str, float] = {}
            _timing.set(holder)  # same task as the handler: the brain writes into this holder
            started = time.perf_counter()
            await coroutine
            self.samples.append((time.perf_counter() - started, holder.get("brain", 0.0)))

        await super().do_process_update(update, timed())


class LogCounter(logging.Handler):
    """Counts WARNING+ records by logger and message shape (numbers, ids and delays blanked)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = re.sub(r"\d+(\.\d+)?", "N", record.getMessage().splitlines()[0])[:110]
        self.counts[f"{record.levelname.lower()} {record.name}: {message}"] += 1


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.2f} ms, p99 {pct(values, 99):.2f} ms, max {max(values):.2f} ms"


class Emulator:
    """The same few operations on an in-thread BotAPIEmulator or an EmulatorProcess."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.emu: Any = BotAPIEmulator(token=TOKEN) if mode == "thread" else EmulatorProcess(token=TOKEN)

    def __enter__(self) -> Emulator:
        self.emu.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.emu.stop()

    @property
    def base_url(self) -> str:
        return str(self.emu.base_url)

    def push_many(self, messages: list[dict[str, Any]]) -> None:
        if self.mode == "thread":
            for message in messages:
                self.emu.push_message(**message)
        else:
            self.emu.batch("push_message", messages)

    async def wait_for(self, method: str, count: int, timeout: float) -> None:
        await asyncio.to_thread(self.emu.wait_for_count, method, count, timeout)

    def calls(self) -> list[Call]:
        return list(self.emu.calls) if self.mode == "thread" else self.emu.get("calls")

    def aborted(self) -> list[tuple[float, str, str]]:
        return list(self.emu.aborted_requests) if self.mode == "thread" else self.emu.get("aborted_requests")

    def clear(self) -> None:
        self.emu.clear()

    def cpu_seconds(self) -> float | None:
        """The emulator process's CPU time (None in thread mode: it is part of ours)."""
        if self.mode == "thread":
            return None
        try:
            with open(f"/proc/{self.emu.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None


def check_replies(per_chat_questions: dict[int, list[int]], calls: list[Call]) -> dict[str, int]:
    replies: dict[int, list[str]] = {}
    for call in calls:
        if call.method == "sendMessage" and call.ok:
            replies.setdefault(int(call.params["chat_id"]), []).append(call.text or "")
    lost = duplicated = wrong = apologies = 0
    for chat, questions in per_chat_questions.items():
        got = replies.get(chat, [])
        lost += max(0, len(questions) - len(got))
        duplicated += max(0, len(got) - len(questions))
        for question, text in zip(questions, got):
            expected = QUESTIONS[question][1]
            apologies += text == APOLOGY
            wrong += text == APOLOGY or (expected is not None and expected not in text)
    strangers = sum(len(texts) for chat, texts in replies.items() if chat not in per_chat_questions)
    return {"lost": lost, "duplicated": duplicated + strangers, "wrong": wrong, "apologies": apologies}


def failure_report(calls: list[Call], aborted: list[tuple[float, str, str]], logs: LogCounter) -> list[str]:
    lines = []
    server = Counter(f"{c.method}: {c.error}" + (f" (injected {c.fault})" if c.fault else "")
                     for c in calls if not c.ok)
    for what, n in server.most_common():
        lines.append(f"  {n:5d}  error answer from the server: {what}")
    for what, n in Counter(f"{method}: {reason}" for _, method, reason in aborted).most_common():
        lines.append(f"  {n:5d}  abandoned by the bot before it was sent whole: {what}")
    for what, n in logs.counts.most_common(8):
        lines.append(f"  {n:5d}  bot log: {what}")
    return lines or ["  none"]


def apply_what_ifs(app: Any, args: argparse.Namespace) -> list[str]:
    """Swap parts of the production Application for the command line's what-ifs; describe them."""
    changed = []
    request = app.bot._request[1]
    if args.request == "httpx":
        changed.append("httpx request backend (FrontOptions(http='httpx'))")
    if args.request == "lean":
        from bench.lean_request import LeanRequest

        app.bot._request = (LeanRequest(2, read_timeout=40.0), LeanRequest(args.pool or 128))
        changed.append(f"LeanRequest (stdlib asyncio HTTP client) instead of httpx, pool {args.pool or 128}")
    elif args.pool:
        app.bot._request = (app.bot._request[0], type(request)(
            attempts=request.attempts, backoff=request.backoff, connection_pool_size=args.pool,
            read_timeout=10.0, write_timeout=10.0, connect_timeout=5.0, pool_timeout=30.0))
        changed.append(f"connection pool {args.pool}")
    if args.default_gc:
        changed.append("Python's default garbage collector thresholds")
    if args.concurrency:
        changed.append(f"{args.concurrency} concurrent updates")
    if args.no_typing:
        changed.append("no typing action")
    elif args.typing_delay is not None:
        changed.append(f"typing action for answers not out within {args.typing_delay:g} s")
    return changed


async def main(args: argparse.Namespace) -> int:
    updates, chats, mode, quiet_count = args.updates, args.chats, args.emulator, args.quiet
    settings = load_settings(env={})
    mind = build_mind(settings)
    logs = LogCounter()
    logging.getLogger().addHandler(logs)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, Emulator(mode) as emu:
        brain = TimedBrain(mind, settings, open_storage(Path(tmp) / "bench.sqlite3"))
        limiter = FrontRateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
        options = FrontOptions(typing=not args.no_typing, http="httpx" if args.request == "httpx" else "aiohttp")
        if args.typing_delay is not None:
            options.typing_delay = args.typing_delay
        app = build_application(brain, settings, token=TOKEN, base_url=emu.base_url, rate_limiter=limiter,
                                options=options)
        what_ifs = apply_what_ifs(app, args)
        if not args.default_gc:
            tune_gc()  # as `python -m bot serve` does once the Application is built (bot/runtime.py)
        processor = TimedProcessor(args.concurrency or app.update_processor.max_concurrent_updates)
        app._update_processor = processor  # the bench's timed variant of the same processor
        async with running(app, poll_timeout=10):
            # one message at a time: the latency a user sees when the bot is not busy
            e2e: list[float] = []
            for i in range(quiet_count):
                question = QUESTIONS[i % len(QUESTIONS)][0]
                pushed = time.time()
                emu.push_many([{"text": question, "user_id": 10_000 + i % 5}])
                await emu.wait_for("sendMessage", i + 1, 30)
                e2e.append(time.time() - pushed)
            quiet = list(processor.samples)
            quiet_calls = emu.calls()
            processor.samples.clear()
            emu.clear()
            logs.counts.clear()

            # the flood: every update queued at once, the bot drains the backlog
            per_chat: dict[int, list[int]] = {}
            messages = []
            for i in range(updates):
                chat = 20_000 + i % chats
                question = (i // chats) % len(QUESTIONS)
                per_chat.setdefault(chat, []).append(question)
                messages.append({"text": QUESTIONS[question][0], "user_id": chat})
            cpu0, emu_cpu0 = time.process_time(), emu.cpu_seconds()
            started = time.time()
            emu.push_many(messages)
            try:
                await emu.wait_for("sendMessage", updates, 300)
            except AssertionError:
                pass  # counted as lost below
            cpu, emu_cpu1 = time.process_time() - cpu0, emu.cpu_seconds()
            await asyncio.sleep(1.0)  # anything late or duplicated would arrive now
            calls = emu.calls()
            aborted = emu.aborted()
        loaded = processor.samples

    sent = [c for c in calls if c.method == "sendMessage" and c.ok]
    elapsed = (max(c.time for c in sent) - started) if sent else float("inf")
    verdict = check_replies(per_chat, calls)
    gets = [c for c in calls if c.method == "getUpdates" and c.ok and c.result]
    server_ms = [c.served_in * 1000 for c in quiet_calls
                 if c.method in ("sendMessage", "sendChatAction") and c.served_in is not None]

    def front_ms(samples: list[tuple[float, float]]) -> list[float]:
        return [(total - brain) * 1000 for total, brain in samples]

    brain_ms = [b * 1000 for _, b in quiet + loaded]
    quiet_front, loaded_front = front_ms(quiet), front_ms(loaded)
    rate = updates / elapsed
    where = "emulator in a child process" if mode == "process" else "emulator in this process (shared GIL)"
    setup = "production build_application() defaults, flood limits off" if not what_ifs else \
        "NOT the production defaults: " + ", ".join(what_ifs) + "; flood limits off"
    print(f"setup: {setup}; {where}; {os.cpu_count()} CPUs, load average {load:.1f} at start")
    print(f"throughput: {updates} updates from {chats} chats in {elapsed:.2f} s = {rate:.0f} updates/s "
          f"({len(gets)} getUpdates answers, {updates / max(1, len(gets)):.0f} updates each)")
    emu_cpu = f", emulator {(emu_cpu1 - emu_cpu0) / updates * 1000:.2f} ms" if emu_cpu0 is not None \
        and emu_cpu1 is not None else " (emulator included)"
    print(f"CPU per update: bot process {cpu / updates * 1000:.2f} ms{emu_cpu} "
          f"(the bot alone could do ~{updates / cpu:.0f} updates/s on one free core)")
    print(f"replies: lost {verdict['lost']}, duplicated {verdict['duplicated']}, "
          f"wrong for their update {verdict['wrong']} (apologies {verdict['apologies']}); "
          f"typing actions: {sum(c.method == 'sendChatAction' for c in calls)} in the flood, "
          f"{sum(c.method == 'sendChatAction' for c in quiet_calls)} one at a time")
    print("failed calls, by cause (flood):")
    print("\n".join(failure_report(calls, aborted, logs)))
    print(f"brain per message: {ms(brain_ms)}")
    print(f"front overhead, one message at a time: {ms(quiet_front)}")
    print(f"  the emulator's own time per call in it (request read -> answer ready), 2 calls each: {ms(server_ms)}")
    print(f"front overhead, under the flood (queueing included): {ms(loaded_front)}")
    print(f"end to end (pushed -> reply recorded), one at a time: {ms([x * 1000 for x in e2e])}")
    met = {
        ">=500 updates/s": rate >= 500,
        "no lost/duplicated/wrong replies": not (verdict["lost"] or verdict["duplicated"] or verdict["wrong"]),
        "front p99 < 5 ms (one at a time)": pct(quiet_front, 99) < 5,
    }
    print("targets:", ", ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in met.items()))
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=300)
    parser.add_argument("--quiet", type=int, default=300, help="messages sent one at a time (latency)")
    parser.add_argument("--emulator", choices=["process", "thread"], default="process")
    what_if = parser.add_argument_group("what-ifs (each departs from the production defaults)")
    what_if.add_argument("--concurrency", type=int, help="concurrent updates (default: the front's)")
    what_if.add_argument("--pool", type=int, help="HTTP connection pool size (default: the front's)")
    what_if.add_argument("--default-gc", action="store_true", help="skip serve's tune_gc() (bot/runtime.py)")
    what_if.add_argument("--no-typing", action="store_true", help="no typing action, however slow the answer")
    what_if.add_argument("--typing-delay", type=float, help="typing action for answers not out within S seconds "
                                                            "(default: the front's; 0: before every answer)")
    what_if.add_argument("--request", choices=["aiohttp", "httpx", "lean"], default="aiohttp",
                         help="aiohttp: the default; httpx: FrontOptions(http='httpx'); "
                              "lean: bench/lean_request.py (an experiment)")
    sys.exit(asyncio.run(main(parser.parse_args())))
