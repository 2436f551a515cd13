"""Two workers on one PostgreSQL are one bot to Telegram's flood limits: together they stay within them.

Each worker is a real PTB Application with its own connection pool, sending through its production
limiter (bot/channels/telegram_limits.py); the Bot API emulator's record of received sends is what is
counted, in sliding windows, as Telegram would.

What the bot controls is when it claims a send: every claim is copied (a trigger on ``send_log``, which the
budget trims as it goes) and counted exactly. Arrival times at the emulator add the scheduling delay
between a claim and its request on a loaded machine (a burst of 31 in one second was seen at load 20),
which is what the budget's margin is for; they are checked for what jitter cannot fake: that two workers
together took as long as one budget allows, and that private chats did not wait for a full group.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from telegram.ext import Application

from bot.channels.telegram_limits import STALE, SharedRateLimiter
from bot.channels.telegram_outbox import OutboxLimiter
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


def stale_claims(app: Application) -> int:
    """Claims a worker took again because it was held up after taking them (a loaded machine)."""
    limiter = app.bot.rate_limiter
    inner = getattr(limiter, "inner", limiter)
    assert isinstance(inner, SharedRateLimiter)
    return inner.stale


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
    claimed = claims(pg, "bot")
    # one claim a message, and one more for each that a held-up worker claimed again (STALE)
    assert len(claimed) == 90 + sum(stale_claims(app) for app in apps)
    assert most_in_any_window(claimed, 1.0) <= 30  # each alone would have sent 30 a second: 60 together
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
    assert most_in_any_window(claims(pg, f"chat:{DEFAULT_GROUP_ID}"), 1.0) <= 3
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
    assert len(claims(pg, "bot")) == len(attempts) + stale_claims(app)


class HeldUpOnce(SendBudget):
    """A budget whose first granted claim comes back late, as when the worker is held up between taking a
    place and sending (a busy loop, a starved core)."""

    held = False

    async def atry_claim(self, chat: str, group: bool):  # type: ignore[no-untyped-def]
        answer = await super().atry_claim(chat, group)
        if answer.wait <= 0 and not self.held:
            self.held = True
            await asyncio.sleep(0.3)  # longer than STALE: the place taken is no longer the one the send will use
        return answer


async def test_a_worker_held_up_after_claiming_claims_again_before_sending(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, workers_db: list[Storage], pg: PgSchema) -> None:
    """A place is a moment in the window: a send that goes out long after its claim would land in a window
    whose places other sends have taken since. So it takes a new place, and the old one stays counted (the
    safe side: the budget is never overdrawn)."""
    limiter = SharedRateLimiter(HeldUpOnce(workers_db[0]))
    app = make_app(emu, Brain(mind, settings, workers_db[0]), settings, rate_limiter=limiter)
    async with app:
        await asyncio.wait_for(app.bot.send_message(8100, "late, but in a place of its own"), timeout=30)
    claimed = sorted(claims(pg, "bot"))
    sent = emu.calls_to("sendMessage", include_failed=True)
    assert len(sent) == 1 and limiter.stale == 1
    assert len(claimed) == 2 and claimed[1] - claimed[0] >= STALE  # a fresh place, taken after the hold-up


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
