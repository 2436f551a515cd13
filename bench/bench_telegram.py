"""Telegram front benchmark: updates/s end-to-end through the Bot API emulator, and the latency the
front adds over the Brain.

    python bench/bench_telegram.py [--updates 3000] [--chats 300] [--emulator-process]

One bot process (a real PTB Application, long polling over real HTTP) answers a flood of private
messages; every reply is counted per chat (none lost, none duplicated). "Front adds" is, per update, the
time from the start of its handling to the reply being accepted by the server, minus the time spent
in Brain.reply: rendering, the typing action, the HTTP round trips and PTB's own work.

Telegram's flood limits (30 messages/s per bot) would cap the flood at 30/s, so the rate limiter runs
with its limits off here (it is still in the request path: RetryAfter handling and all).
"""
from __future__ import annotations

import argparse
import asyncio
import contextvars
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram.ext import AIORateLimiter  # noqa: E402

from bot.channels.telegram import FrontOptions, PerChatUpdateProcessor, build_application, running  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue import Brain, build_mind  # noqa: E402
from bot.storage import Storage  # noqa: E402
from tests.support.botapi_emulator import BotAPIEmulator  # noqa: E402

TOKEN = "123:BENCH"
QUESTIONS = ["who directs ballerina?", "who plays Winston?", "and Charon?", "when is ballerina out?",
             "what is the weather on mars", "tell me about Len Wiseman", "is keanu reeves in it?"]

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
    def __init__(self) -> None:
        super().__init__(64)
        self.samples: list[tuple[float, float]] = []  # (handling seconds, brain seconds)

    async def do_process_update(self, update: object, coroutine: Any) -> None:
        async def timed() -> None:
            holder: dict[str, float] = {}
            _timing.set(holder)  # same task as the handler: the brain writes into this holder
            started = time.perf_counter()
            await coroutine
            self.samples.append((time.perf_counter() - started, holder.get("brain", 0.0)))

        await super().do_process_update(update, timed())


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main(updates: int, chats: int) -> int:
    settings = load_settings(env={})
    mind = build_mind(settings)
    with tempfile.TemporaryDirectory() as tmp, BotAPIEmulator(token=TOKEN) as emu:
        brain = TimedBrain(mind, settings, Storage(Path(tmp) / "bench.sqlite3"))
        limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
        app = build_application(brain, settings, token=TOKEN, base_url=emu.base_url, rate_limiter=limiter,
                                options=FrontOptions(retry_backoff=0.05))
        processor = TimedProcessor()
        app._update_processor = processor  # the bench's timed variant of the same processor
        async with running(app, poll_timeout=1):
            # warm-up and low-load latency: one message at a time
            e2e: list[float] = []
            for i in range(200):
                pushed = time.time()
                emu.push_message(QUESTIONS[i % len(QUESTIONS)], user_id=10_000 + i % 5)
                call = (await emu.wait_for_async("sendMessage", count=i + 1))[-1]
                e2e.append(call.time - pushed)
            quiet = list(processor.samples)
            processor.samples.clear()
            emu.clear()

            per_chat: Counter[int] = Counter()
            started = time.perf_counter()
            for i in range(updates):
                chat = 20_000 + i % chats
                emu.push_message(QUESTIONS[(i // chats) % len(QUESTIONS)], user_id=chat)
                per_chat[chat] += 1
            deadline = time.monotonic() + 120
            # poll, rather than emu.wait_for: its scan of every call on every notify would starve the server
            while len(emu.calls_to("sendMessage")) < updates and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            await asyncio.sleep(0.5)  # anything late or duplicated would arrive now
            got = Counter(int(c.params["chat_id"]) for c in emu.sent_messages())
            failed = [c for c in emu.calls if not c.ok]
        loaded = processor.samples

    lost = sum(max(0, n - got.get(chat, 0)) for chat, n in per_chat.items())
    duplicated = sum(max(0, got.get(chat, 0) - n) for chat, n in per_chat.items())

    def front_ms(samples: list[tuple[float, float]]) -> list[float]:
        return [(total - brain) * 1000 for total, brain in samples]

    brain_ms = [b * 1000 for _, b in quiet + loaded]
    quiet_front, loaded_front = front_ms(quiet), front_ms(loaded)
    print(f"throughput: {updates} updates from {chats} chats in {elapsed:.2f}s = {updates / elapsed:.0f} updates/s "
          f"(one process; emulator in-process)")
    print(f"replies: lost {lost}, duplicated {duplicated}, failed API calls {len(failed)}")
    print(f"brain per message: median {statistics.median(brain_ms):.2f} ms, p99 {pct(brain_ms, 99):.2f} ms")
    print(f"front adds, one message at a time: median {statistics.median(quiet_front):.2f} ms, "
          f"p99 {pct(quiet_front, 99):.2f} ms (render + typing + sendMessage round trips)")
    print(f"front adds, under the flood: median {statistics.median(loaded_front):.2f} ms, "
          f"p99 {pct(loaded_front, 99):.2f} ms")
    e2e_ms = [x * 1000 for x in e2e]
    print(f"end to end (update queued -> reply accepted), one at a time: median {statistics.median(e2e_ms):.2f} ms, "
          f"p99 {pct(e2e_ms, 99):.2f} ms")
    ok = lost == 0 and duplicated == 0 and updates / elapsed >= 500 and pct(quiet_front, 99) < 5
    print("targets (>=500 updates/s, no lost/duplicated replies, front p99 < 5 ms):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=300)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.updates, args.chats)))
