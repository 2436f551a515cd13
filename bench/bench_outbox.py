"""Shared flood limits and the outbox, measured: W workers on one PostgreSQL send a burst through a Bot API
emulator that fails some calls, and every message is accounted for.

    python bench/bench_outbox.py [--workers 2] [--private 300] [--group-messages 25] [--groups 2]
        [--faults 30] [--database postgresql://...] [--group-window 60]

Each worker is the production Application (`build_application()`: OutboxLimiter around the shared
SharedRateLimiter, retrying aiohttp requests) with its own connection pool, all in this process, with the
emulator (this bench measures limits and outcomes, not CPU). Half the private messages are answers (tagged as
telegram_send tags them: resent when unsure), the rest and the group messages are posts (not resent
when unsure). Faults, on messages spread over the run: 502 six times (past the request class's
5 tries: the outbox resends), 429 five times (retry_after 1 s, past the limiter's 3 retries), and a
connection dropped after the send was carried out.

Figures:
- sends per second: the most sendMessage calls the emulator received in any 1-s window (limit 30), and
  per group the most in any `--group-window` seconds (limit 20; the window can be shortened, with the
  group limit scaled as 20 per that window, for a quicker run);
- messages: asked, delivered (distinct texts seen by the emulator), lost (never delivered),
  duplicated (delivered twice), and the outbox's counted outcomes, which must account for each of them:
  a loss is a post given up after its minute (quiz messages go stale) or an undeliverable message, a
  duplicate an answer resent after a dropped connection; "otherwise" must be 0;
- the time the burst took, and claims that had to wait for the budget.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.telegram import FrontOptions, build_application  # noqa: E402
from bot.channels.telegram_limits import SharedRateLimiter  # noqa: E402
from bot.channels.telegram_outbox import SendTag  # noqa: E402
from bot.cluster.limits import Limit, SendBudget  # noqa: E402
from bot.cluster.outbox import Outbox  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue import Brain, build_mind  # noqa: E402
from bot.storage import open_storage  # noqa: E402
from tests.support.botapi_emulator import BotAPIEmulator  # noqa: E402

TOKEN = "123:ABC"
DEFAULT_DB = os.environ.get("BOT_TEST_DATABASE", "postgresql://postgres@127.0.0.1:5432/test")


def most_in_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def schema_url(base: str) -> tuple[str, str]:
    from urllib.parse import quote

    name = f"bench_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in base else "?"
    return name, f"{base}{sep}options={quote(f'-csearch_path={name}')}"


async def run(args: argparse.Namespace) -> None:
    import psycopg

    settings = load_settings(env={})
    mind = build_mind(settings)
    admin = psycopg.connect(args.database, autocommit=True)
    schema, url = schema_url(args.database)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        upgrader = open_storage(url, check_schema=False)
        upgrader.upgrade()
        upgrader.close()
        with BotAPIEmulator(token=TOKEN) as emu:
            await burst(args, settings, mind, url, emu)
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


async def burst(args: argparse.Namespace, settings, mind, url: str, emu: BotAPIEmulator) -> None:  # type: ignore[no-untyped-def]
    group_limit = Limit(20, args.group_window)
    options = FrontOptions(outbox_backoff=0.5, outbox_poll=0.2)
    stores = [open_storage(url) for _ in range(args.workers)]
    limiters = [SharedRateLimiter(SendBudget(s, group=group_limit), max_retries=options.rate_limit_retries)
                for s in stores]
    apps = [build_application(Brain(mind, settings, s), settings, token=TOKEN, base_url=emu.base_url,
                              rate_limiter=lim, options=options) for s, lim in zip(stores, limiters)]
    jobs: list[tuple[int, int, str, bool]] = []  # (worker, chat, text, answer?)
    for i in range(args.private):
        jobs.append((i % args.workers, 50_000 + i % 100, f"private {i}", i % 2 == 0))
    for g in range(args.groups):
        for i in range(args.group_messages):
            jobs.append((i % args.workers, -1_000_900 - g, f"group {g} message {i}", False))
    step = max(1, len(jobs) // max(1, args.faults))
    for n, (_, _, text, _) in enumerate(jobs[::step][:args.faults]):
        kind = ("502", "429", "drop")[n % 3]
        emu.inject_fault("sendMessage", kind, times={"502": 6, "429": 5, "drop": 1}[kind], retry_after=1,
                         when=lambda params, text=text: params.get("text") == text)

    async def send(worker: int, chat: int, text: str, answer: bool) -> None:
        tag = SendTag("answer", asked=time.time()) if answer else None
        try:
            await apps[worker].bot.send_message(chat, text, rate_limit_args=tag)
        except Exception:  # noqa: BLE001 - the outbox has it, or it was dropped by its kind's rule
            pass

    for app in apps:
        await app.initialize()
        app.bot.rate_limiter.start(app.bot)  # the resend loop, as post_init starts it in serve
    started = time.time()
    await asyncio.gather(*(send(*job) for job in jobs))
    outboxes = [Outbox(s) for s in stores]
    deadline = time.monotonic() + 600
    while outboxes[0].waiting().get("pending", 0) + outboxes[0].waiting().get("sending", 0) > 0:
        if time.monotonic() > deadline:
            raise SystemExit("the outbox did not drain within 600 s")
        await asyncio.sleep(0.2)
    took = time.time() - started
    for app in apps:
        await app.shutdown()
    calls = list(emu.calls)
    ok = [c for c in calls if c.method == "sendMessage" and c.ok]
    texts = collections.Counter(c.params["text"] for c in ok)
    asked = {text for _, _, text, _ in jobs}
    delivered = {t for t in texts if t in asked}
    lost = asked - delivered
    duplicated = sum(n - 1 for n in texts.values() if n > 1)
    per_group = {chat: most_in_window([c.time for c in ok if c.params["chat_id"] == chat], args.group_window)
                 for chat in {c.params["chat_id"] for c in ok} if int(chat) < 0}
    outcomes = {k: v for k, v in outboxes[0].outcomes().items() if v}
    failed = sorted(collections.Counter(c.fault for c in calls if c.method == "sendMessage" and not c.ok).items())
    print(f"workers {args.workers} on PostgreSQL, {len(jobs)} messages ({args.private} private to 100 chats, "
          f"{args.groups} groups x {args.group_messages}), faults injected: {args.faults}")
    print(f"burst took {took:.1f} s; sendMessage calls received: {len(ok)} ok, failed {failed}, "
          f"dropped after delivery {sum(1 for c in calls if c.method == 'sendMessage' and c.fault == 'drop')}")
    print(f"most sends in any 1 s: {most_in_window([c.time for c in ok], 1.0)} (limit 30)")
    print(f"most sends per group in any {args.group_window:g} s: {sorted(per_group.values(), reverse=True)} "
          f"(limit 20)")
    print(f"messages: asked {len(asked)}, delivered {len(delivered)}, lost {len(lost)}, duplicated {duplicated}")
    print(f"outbox outcomes: {outcomes}")
    unexplained_lost = len(lost) - outcomes.get("expired", 0) - outcomes.get("undeliverable", 0) \
        - outcomes.get("rejected", 0)
    unexplained_dup = duplicated - outcomes.get("unsure_resent", 0)
    print(f"  lost by a kind's rule (expired posts, undeliverable, rejected): {len(lost) - unexplained_lost}, "
          f"otherwise: {unexplained_lost}; duplicated by the at-least-once rule (answers resent after a dropped "
          f"connection): {duplicated - unexplained_dup}, otherwise: {unexplained_dup}")
    print(f"claims that waited for the budget: {sum(lim.waits for lim in limiters)}")
    for s in stores:
        s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--private", type=int, default=300)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--group-messages", type=int, default=25)
    parser.add_argument("--faults", type=int, default=30)
    parser.add_argument("--group-window", type=float, default=60.0)
    parser.add_argument("--database", default=DEFAULT_DB)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
