"""Two workers on one PostgreSQL are one bot to Telegram's flood limits: together they stay within them.

Each worker is a real PTB Application with its own connection pool, sending through its production
limiter (bot/channels/telegram_limits.py); the Bot API emulator's record of received sends is what is
counted, in sliding windows, as Telegram counts: at arrival. Every claim is copied too (a trigger on
``send_slots``, whose places the budget uses again), to tell the bot's own count from what arrived. A worker
held up between its claim and its bytes (a starved core: 0.63 s was seen in bench_cluster) is played by a
step of the request layer that sleeps there.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from telegram.ext import Application

from bot.channels.telegram_limits import SharedRateLimiter
from bot.channels.telegram_outbox import OutboxLimiter
from bot.channels.telegram_presend import ON_ITS_WAY, before_send
from bot.cluster.limits import Limit, SendBudget
from bot.config import Settings
from bot.dialogue import Brain, Mind
from bot.storage import Storage, open_storage
from tests.support.botapi_emulator import DEFAULT_GROUP_ID, BotAPIEmulator
from tests.support.postgres import PgSchema, copy_claims
from tests.support.telegram import make_app


@pytest.fixture
def workers_db(pg: PgSchema) -> Iterator[list[Storage]]:
    """Two workers' storages on one upgraded PostgreSQL schema, every claimed send copied to ``claimed``."""
    upgrader = open_storage(pg.url, check_schema=False)
    upgrader.upgrade()
    upgrader.close()
    copy_claims(pg.execute)
    stores = [open_storage(pg.url), open_storage(pg.url)]
    yield stores
    for s in stores:
        s.close()


def claims(pg: PgSchema, key: str) -> list[float]:
    return [float(at) for (at,) in pg.execute("SELECT at FROM claimed WHERE key = %s", key)]  # type: ignore[arg-type]


def most_in_any_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_two_workers_send_at_most_30_a_second_together(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, workers_db: list[Storage], pg: PgSchema) -> None:
    apps = [make_app(emu, Brain(mind, settings, s), settings) for s in workers_db]
    for app in apps:
        limiter = app.bot.rate_limiter
        assert isinstance(limiter, OutboxLimiter) and isinstance(limiter.inner, SharedRateLimiter)
    async with apps[0], apps[1]:
        await asyncio.wait_for(asyncio.gather(*(
            app.bot.send_message(7000 + 100 * n + i, f"message {i}") for n, app in enumerate(apps)
            for i in range(45))), timeout=30)
    times = [c.time for c in emu.calls_to("sendMessage")]
    assert len(times) == 90
    assert len(claims(pg, "bot")) == 90  # one claim a message
    assert most_in_any_window(times, 1.0) <= 30  # each alone would have sent 30 a second: 60 together
    assert max(times) - min(times) >= 2.0  # 90 at 30 a second take more than two seconds


async def test_two_workers_share_one_groups_budget(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, workers_db: list[Storage], pg: PgSchema) -> None:
    """Telegram's 20 a minute per group, scaled to 3 a second so that the test takes seconds, not minutes."""
    apps = [make_app(emu, Brain(mind, settings, s), settings,
                     rate_limiter=SharedRateLimiter(SendBudget(s, group=Limit(3, 1.0))))
            for s in workers_db]
    async with apps[0], apps[1]:
        private = [app.bot.send_message(9000 + n, "not held back") for n, app in enumerate(apps)]
        await asyncio.wait_for(asyncio.gather(*private, *(
            app.bot.send_message(DEFAULT_GROUP_ID, f"worker {n}: {i}") for n, app in enumerate(apps)
            for i in range(6))), timeout=30)
    group = [c.time for c in emu.calls_to("sendMessage") if c.params["chat_id"] == DEFAULT_GROUP_ID]
    assert len(group) == 12
    assert most_in_any_window(group, 1.0) <= 3
    assert max(group) - min(group) >= 3.0  # 12 at 3 a second
    private = [c.time for c in emu.calls_to("sendMessage") if c.params["chat_id"] != DEFAULT_GROUP_ID]
    assert len(private) == 2
    assert max(private) < sorted(group)[3]  # the private chats did not wait for the group's full window


async def test_a_resend_after_a_bad_gateway_claims_a_place_of_its_own(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, workers_db: list[Storage], pg: PgSchema) -> None:
    """The request layer resends a 502 seconds later: that resend is a request to Telegram too, and goes out
    only with a place in the budget, never on the first attempt's (it would land in a later window whose
    places other sends already took)."""
    app = make_app(emu, Brain(mind, settings, workers_db[0]), settings)
    emu.inject_fault("sendMessage", "502", times=4)
    async with app:
        await asyncio.wait_for(asyncio.gather(*(app.bot.send_message(8000 + i, f"message {i}")
                                                for i in range(6))), timeout=30)
    attempts = emu.calls_to("sendMessage", include_failed=True)
    assert len(emu.calls_to("sendMessage")) == 6 and len(attempts) == 10  # every message out, 4 resent
    assert len(claims(pg, "bot")) == len(attempts)


class Stall:
    """A step of the request layer after the claim: the tries numbered in ``which`` (in the order their
    claims were granted) are held up there for ``seconds``, as a worker on a starved core is."""

    def __init__(self, which: range, seconds: float) -> None:
        self.which = which
        self.seconds = seconds
        self.tries = 0

    async def __call__(self) -> None:
        n, self.tries = self.tries, self.tries + 1
        if n in self.which:
            await asyncio.sleep(self.seconds)


@pytest.mark.parametrize(("limit", "chats", "stalled"), [
    pytest.param("bot", [7000 + i for i in range(60)], range(20, 30), id="30 a second for the bot"),
    # Telegram's 20 a minute per group, scaled to 5 in 2 s so that the test takes seconds, not minutes
    pytest.param("group", [DEFAULT_GROUP_ID] * 10, range(3, 5), id="20 a minute in a group"),
])
async def test_sends_held_up_after_their_claim_never_crowd_a_window_at_arrival(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str, limit: str, chats: list[int],
        stalled: range) -> None:
    """Telegram counts a message when it arrives. A claim counted at its own moment let the sends claimed
    after one that stalled land in the same window as it: the stalled ones arrive late, the next window's
    claims go out on time (40 arrivals in one second here; bench_cluster saw 35)."""
    stores = [open_storage(database), open_storage(database)]
    window = 1.0 if limit == "bot" else 2.0
    count = 30 if limit == "bot" else 5
    apps = [make_app(emu, Brain(mind, settings, s), settings, rate_limiter=SharedRateLimiter(
        SendBudget(s, group=Limit(count, window)))) for s in stores]
    stall = Stall(stalled, seconds=0.9 * window)
    try:
        async with apps[0], apps[1]:
            with before_send(ON_ITS_WAY + 1, stall):
                await asyncio.wait_for(asyncio.gather(*(
                    apps[i % 2].bot.send_message(chat, f"message {i}") for i, chat in enumerate(chats))), timeout=60)
    finally:
        for s in stores:
            s.close()
    arrivals = [c.time for c in emu.calls_to("sendMessage")]
    assert len(arrivals) == len(chats) and stall.tries == len(chats)
    assert most_in_any_window(arrivals, window) <= count


async def test_a_quiz_question_takes_the_next_turn_before_the_bots_backlog(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    """Under a backlog of answers (Telegram's 30 a second for the whole bot, scaled to 4 here) a quiz question
    must not wait its turn behind all of them: its game waits for it (it is given up after a minute), and its
    votes count only once it is out. It takes the next turn; the limit itself holds for it too."""
    from bot.channels.telegram_outbox import SendTag

    storage = open_storage(database)
    bot_limit = Limit(4, 1.0)
    app = make_app(emu, Brain(mind, settings, storage), settings,
                   rate_limiter=SharedRateLimiter(SendBudget(storage, bot=bot_limit)))
    async with app:
        backlog = [asyncio.ensure_future(app.bot.send_message(7000 + i, f"answer {i}")) for i in range(16)]
        await emu.wait_for_async("sendMessage", count=bot_limit.count, timeout=30)  # the first window is used
        await asyncio.wait_for(app.bot.send_message(DEFAULT_GROUP_ID, "Question 2/3", rate_limit_args=SendTag(
            kind="post", urgent=True)), timeout=30)
        await asyncio.wait_for(asyncio.gather(*backlog), timeout=60)
    texts = [c.text for c in emu.calls_to("sendMessage")]
    assert texts.index("Question 2/3") <= 2 * bot_limit.count  # in the next window, not after the 16 answers
    times = [c.time for c in emu.calls_to("sendMessage")]
    assert max(times) - min(times) >= 16 / bot_limit.count - 1.0  # the limit held all the while
    storage.close()
