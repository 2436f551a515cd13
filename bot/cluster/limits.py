"""Telegram's flood limits for the whole bot, however many workers send: the budget lives in the database.

Telegram allows a bot about 30 messages a second overall and 20 a minute in one group. A limiter in each
worker's memory lets N workers send N times that, so every send first claims its place here:

    budget = SendBudget(storage)
    wait = budget.claim("-1001", group=True)   # 0.0: counted, send now; else seconds to wait, then ask again

A claim is one transaction. Its first statement upserts the bot's row in ``send_budget``, which in
PostgreSQL locks that row until commit (in SQLite ``BEGIN IMMEDIATE`` already serialises writers), so
claims from every worker are taken one at a time. On PostgreSQL the transaction is one call of the
server-side function ``bot_send_claim`` (migration 7): one round trip where BEGIN, four statements and
COMMIT took six, at a quarter of the worker's CPU per claim; there the clock is the server's, one clock
for every host (an injected clock, in tests, is passed in instead). Inside it, the sends of the last window are counted
in ``send_log`` (a sliding window, exact: never more than ``count`` in any ``seconds``, not the double
burst that fixed per-second buckets allow at their edges) and, if there is room, this send is logged.
The clock is read after the lock is held, so the log's times are in claim order. Workers on other hosts
need synchronised clocks (NTP); ``margin`` widens each window a little, so that skew and the spread of
network latency between a claim and Telegram's receipt cannot add up to a breach.

A 429 seen by any worker holds every worker back: ``hold(seconds)`` writes ``blocked_until`` on the same row.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..storage import Storage

BOT_KEY = "bot"


@dataclass(frozen=True)
class Limit:
    """At most ``count`` sends in any ``seconds``."""

    count: int
    seconds: float


BOT_LIMIT = Limit(30, 1.0)  # telegram.constants.FloodLimit.MESSAGES_PER_SECOND
GROUP_LIMIT = Limit(20, 60.0)  # FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP
# s added to each window (see the module's docstring). The spread between a claim and Telegram's receipt
# (a thread hop, the HTTP send) reached 0.15 s with 4 workers on a loaded 2-core machine
# (bench/bench_outbox.py: 31 sends in one second with 0.1); 0.25 costs 30/s -> 24/s at the most.
MARGIN = 0.25


@dataclass(frozen=True)
class Claim:
    """A claim's answer: ``wait`` 0.0 means counted, send now; else the seconds until there may be room."""

    wait: float
    bot_wide: bool  # the bot's own window (or a 429's hold) is the one full, not only the group's
    at: float = 0.0  # when a granted claim was logged (the clock's time)


class SendBudget:
    """The shared send budget: one claim per message, counted for the bot and, in groups, for the group."""

    def __init__(self, storage: Storage, *, bot: Limit = BOT_LIMIT, group: Limit = GROUP_LIMIT,
                 margin: float = MARGIN, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.bot = bot
        self.group = group
        self.margin = margin
        self.clock = clock

    def claim(self, chat: str, group: bool) -> float:
        """0.0 if a message to ``chat`` may go now (it is counted); otherwise the seconds until there may
        be room, having counted nothing."""
        return self.try_claim(chat, group).wait

    def try_claim(self, chat: str, group: bool) -> Claim:
        """``claim``, saying also whether a wait is the whole bot's (its window is full, or a 429 holds it):
        then every other send of this worker would wait as long, and need not ask meanwhile. Each key's
        window is counted, trimmed and logged with one statement for all the keys (2 in a group)."""
        keys = self._keys(chat, group)
        if self.storage.kind == "postgresql":  # the same steps as one server-side call (migration 7)
            return self._claimed(self.storage.query(*self._server_claim(keys)))
        with self.storage.transaction() as tx:
            rows = tx.query("INSERT INTO send_budget(key, blocked_until, touched) VALUES (?, 0, ?) "
                            "ON CONFLICT(key) DO UPDATE SET touched = excluded.touched RETURNING blocked_until",
                            (BOT_KEY, self.clock()))
            now = self.clock()  # read under the lock: the log's times are in claim order
            blocked = float(rows[0][0])  # type: ignore[arg-type]
            if blocked > now:
                return Claim(blocked - now, bot_wide=True)
            starts = [(key, now - limit.seconds - self.margin) for key, limit in keys]
            counted = {str(k): (int(n), float(oldest)) for k, n, oldest in tx.query(  # type: ignore[call-overload, arg-type]
                "SELECT key, COUNT(*), MIN(at) FROM send_log WHERE "
                + " OR ".join(["(key = ? AND at > ?)"] * len(starts)) + " GROUP BY key",
                [v for pair in starts for v in pair])}
            waits = {}
            for key, limit in keys:
                count, oldest = counted.get(key, (0, now))
                if count >= limit.count:
                    waits[key] = oldest + limit.seconds + self.margin - now
            if waits:
                wait = max(waits.values())
                return Claim(wait, bot_wide=waits.get(BOT_KEY, 0.0) >= wait)
            tx.query("DELETE FROM send_log WHERE " + " OR ".join(["(key = ? AND at <= ?)"] * len(starts)),
                     [v for pair in starts for v in pair])
            tx.query("INSERT INTO send_log(key, at) VALUES " + ", ".join(["(?, ?)"] * len(keys)),
                     [v for key, _ in keys for v in (key, now)])
        return Claim(0.0, bot_wide=False, at=now)

    async def atry_claim(self, chat: str, group: bool) -> Claim:
        """``try_claim``, awaited: on PostgreSQL the one call runs on the event loop (Storage.aquery); the
        steps of the other backends, in a worker thread."""
        if self.storage.kind == "postgresql":
            return self._claimed(await self.storage.aquery(*self._server_claim(self._keys(chat, group))))
        return await asyncio.to_thread(self.try_claim, chat, group)

    def _keys(self, chat: str, group: bool) -> list[tuple[str, Limit]]:
        return [(BOT_KEY, self.bot)] + ([(f"chat:{chat}", self.group)] if group else [])

    def _server_claim(self, keys: list[tuple[str, Limit]]) -> tuple[str, tuple[object, ...]]:
        return ("SELECT wait, bot_wide FROM bot_send_claim(?, ?, ?, ?, ?)",
                ([k for k, _ in keys], [limit.count for _, limit in keys], [limit.seconds for _, limit in keys],
                 self.margin, None if self.clock is time.time else self.clock()))

    def _claimed(self, rows: list[tuple[object, ...]]) -> Claim:
        # logged at the server's time; ``at`` is this worker's time once the answer is back (a round trip
        # later), what a held-up worker's send is measured against (SharedRateLimiter's STALE)
        return Claim(float(rows[0][0]), bot_wide=bool(rows[0][1]), at=self.clock())  # type: ignore[arg-type]

    def hold(self, seconds: float) -> None:
        """Telegram said 429: no worker sends anything for ``seconds``."""
        until = self.clock() + seconds
        self.storage.query("INSERT INTO send_budget(key, blocked_until, touched) VALUES (?, ?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET blocked_until = excluded.blocked_until "
                           "WHERE send_budget.blocked_until < excluded.blocked_until", (BOT_KEY, until, until))

    def sweep(self) -> int:
        """Forget the log of groups that went quiet (each claim trims only its own keys); rows removed."""
        horizon = self.clock() - max(self.bot.seconds, self.group.seconds) - self.margin
        return len(self.storage.query("DELETE FROM send_log WHERE at <= ? RETURNING 1", (horizon,)))
