"""Telegram's flood limits for the whole bot, however many workers send: the budget lives in the database.

Telegram allows a bot about 30 messages a second overall and 20 a minute in one group. A limiter in each
worker's memory lets N workers send N times that, so every send first claims its place here, and says
when its answer came back:

    budget = SendBudget(storage)
    claim = budget.try_claim("-1001", group=True)  # wait 0.0: counted, send now; else seconds to wait
    ...                                            # the request: its bytes go out, its answer comes back
    budget.answered(claim)                         # its place is dated at the answer

Telegram counts a message when it arrives, which is some time between its claim and its answer: a moment
the bot cannot see. So a send is counted in every window from its claim until one window after its answer:
a claimed row is dated ``UNANSWERED`` seconds ahead (every window counts it) until ``answered`` dates it at
the answer's time. Then no window of arrivals can hold more than ``count``: of any ``count + 1`` sends that
arrived within ``seconds``, the last one claimed was claimed no later than its arrival, and each of the
others was either still on its way then or answered after its own arrival, so within ``seconds`` of that
claim: all were counted, and the claim was refused. A margin for the spread between claim and arrival
(0.25 s, before) is not needed, and held nothing when a worker stalled longer than that after claiming
(bench_cluster: 35 arrivals in one second with claims at 30, 0.63 s from a claim to its arrival).

A claim is one transaction. Its first statement upserts the bot's row in ``send_budget``, which in
PostgreSQL locks that row until commit (in SQLite ``BEGIN IMMEDIATE`` already serialises writers), so
claims from every worker are taken one at a time. On PostgreSQL the transaction is one call of the
server-side function ``bot_send_claim`` (migrations 7, 10, 12): one round trip where BEGIN, four statements and
COMMIT took six, at a quarter of the worker's CPU per claim; there the clock is the server's, one clock
for every host, for claims and answers alike (an injected clock, in tests, is passed in instead). Inside it,
the sends of the last window are counted in ``send_log`` (a sliding window, exact: never more than ``count``
in any ``seconds``, not the double burst that fixed per-second buckets allow at their edges) and, if there
is room, this send is logged. The clock is read after the lock is held, so the log's times are in claim
order. On SQLite several processes on one host share its clock. On PostgreSQL the window is looked at first
without the lock (migration 12): a claim refused for a full window, half the claims under a backlog, then
writes nothing and waits for no other worker's claim; only one that saw room takes the lock and decides
again under it.

A 429 seen by any worker holds every worker back: ``hold(seconds)`` writes ``blocked_until`` on the same row.
"""
from __future__ import annotations

import asyncio
import random
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
# s: a claimed send whose answer is never recorded (its worker died mid-send, the database was away) counts
# as if answered this long after its claim: longer than a try may take (connect 5 s, a pooled connection 30,
# write and read 10 each: build_application). The price of a lost answer is its place held for a minute.
UNANSWERED = 60.0
# s: when every send counted in a full window is still on its way, ask again this soon: its answer is due
RETRY_ON_THE_WAY = 0.05


@dataclass(frozen=True)
class Claim:
    """A claim's answer: ``wait`` 0.0 means counted, send now; else the seconds until there may be room."""

    wait: float
    bot_wide: bool  # the bot's own window (or a 429's hold) is the one full, not only the group's
    token: int = 0  # a granted claim's rows in the log, for ``answered``
    keys: tuple[str, ...] = ()


class SendBudget:
    """The shared send budget: one claim per message, counted for the bot and, in groups, for the group."""

    def __init__(self, storage: Storage, *, bot: Limit = BOT_LIMIT, group: Limit = GROUP_LIMIT,
                 clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.bot = bot
        self.group = group
        self.clock = clock

    def try_claim(self, chat: str, group: bool) -> Claim:
        """Wait 0.0 if a message to ``chat`` may go now (it is counted, as on its way, until ``answered``);
        otherwise the seconds until there may be room, having counted nothing, and whether the wait is the
        whole bot's (its window is full, or a 429 holds it): then every other send of this worker would wait
        as long, and need not ask meanwhile. Each key's window is counted, trimmed and logged with one
        statement for all the keys (2 in a group)."""
        keys = self._keys(chat, group)
        token = random.getrandbits(62)
        if self.storage.kind == "postgresql":  # the same steps as one server-side call (migrations 7, 10, 12)
            return self._claimed(self.storage.query(*self._server_claim(keys, token)), keys, token)
        with self.storage.transaction() as tx:
            rows = tx.query("INSERT INTO send_budget(key, blocked_until, touched) VALUES (?, 0, ?) "
                            "ON CONFLICT(key) DO UPDATE SET touched = excluded.touched RETURNING blocked_until",
                            (BOT_KEY, self.clock()))
            now = self.clock()  # read under the lock: the log's times are in claim order
            blocked = float(rows[0][0])  # type: ignore[arg-type]
            if blocked > now:
                return Claim(blocked - now, bot_wide=True)
            starts = [(key, now - limit.seconds) for key, limit in keys]
            counted = {str(k): (int(n), float(oldest)) for k, n, oldest in tx.query(  # type: ignore[call-overload, arg-type]
                "SELECT key, COUNT(*), MIN(at) FROM send_log WHERE "
                + " OR ".join(["(key = ? AND at > ?)"] * len(starts)) + " GROUP BY key",
                [v for pair in starts for v in pair])}
            waits = {}
            for key, limit in keys:
                count, oldest = counted.get(key, (0, now))
                if count >= limit.count:  # the oldest on its way (dated ahead): its answer is due any moment
                    waits[key] = RETRY_ON_THE_WAY if oldest > now else oldest + limit.seconds - now
            if waits:
                wait = max(waits.values())
                return Claim(wait, bot_wide=waits.get(BOT_KEY, 0.0) >= wait)
            tx.query("DELETE FROM send_log WHERE " + " OR ".join(["(key = ? AND at <= ?)"] * len(starts)),
                     [v for pair in starts for v in pair])
            tx.query("INSERT INTO send_log(key, at, token, claimed) VALUES " + ", ".join(["(?, ?, ?, ?)"] * len(keys)),
                     [v for key, _ in keys for v in (key, now + UNANSWERED, token, now)])
        return Claim(0.0, bot_wide=False, token=token, keys=tuple(key for key, _ in keys))

    async def atry_claim(self, chat: str, group: bool,
                         riding: tuple[str, tuple[object, ...]] | None = None) -> tuple[Claim, bool | None]:
        """``try_claim``, awaited: on PostgreSQL the one call runs on the event loop (Storage.aquery); the
        steps of the other backends, in a worker thread. With it, whether the write ``riding`` applied: an
        UPDATE whose WHERE holds ``{granted}`` and that RETURNs a row when it applied (the outbox's
        "sending", bot/channels/telegram_presend.py ``Ride``), written in the claim's own statement and
        only if the claim is granted; on PostgreSQL, where a second round trip right after the claim cost
        as much as the claim. None: not written (refused, or a backend that does not carry it)."""
        if self.storage.kind == "postgresql":
            keys, token = self._keys(chat, group), random.getrandbits(62)
            sql, args = self._server_claim(keys, token)
            if riding is None:
                return self._claimed(await self.storage.aquery(sql, args), keys, token), None
            write, write_args = riding
            rows = await self.storage.aquery(
                f"WITH c AS MATERIALIZED ({sql}), r AS ({write.format(granted='(SELECT wait FROM c) <= 0')}) "
                "SELECT c.wait, c.bot_wide, (SELECT COUNT(*) FROM r) FROM c", (*args, *write_args))
            claim = self._claimed(rows, keys, token)
            return claim, (bool(rows[0][2]) if claim.wait <= 0 else None)
        return await asyncio.to_thread(self.try_claim, chat, group), None

    def answered(self, claim: Claim) -> None:
        """The send of a granted claim is over (answered, failed, or cut off): Telegram had it by now, if
        ever. Its place is dated now, so it counts for one more window from here."""
        if claim.keys:
            self.storage.query(*self._answer(claim))

    async def aanswered(self, claim: Claim) -> None:
        """``answered``, awaited, written behind (Storage.abehind: with the outbox's "delivered" of the same
        and other sends, one round trip) and not durable: a date lost with the database server leaves the
        place counted as on its way until ``UNANSWERED`` after its claim, the safe side (fewer sends, never
        more). A date written a round trip late only counts the place that much longer."""
        if claim.keys:
            await self.storage.abehind([self._answer(claim)], durable=False)

    def _answer(self, claim: Claim) -> tuple[str, tuple[object, ...]]:
        # the server's clock on PostgreSQL, as for the claim; the rows are found through their key's index
        now = "COALESCE(?, EXTRACT(EPOCH FROM clock_timestamp()))" if self.storage.kind == "postgresql" else "?"
        return (f"UPDATE send_log SET at = {now} WHERE token = ? AND key IN ({', '.join('?' * len(claim.keys))})",
                (self._server_now() if self.storage.kind == "postgresql" else self.clock(), claim.token, *claim.keys))

    def _keys(self, chat: str, group: bool) -> list[tuple[str, Limit]]:
        return [(BOT_KEY, self.bot)] + ([(f"chat:{chat}", self.group)] if group else [])

    def _server_now(self) -> float | None:
        return None if self.clock is time.time else self.clock()

    def _server_claim(self, keys: list[tuple[str, Limit]], token: int) -> tuple[str, tuple[object, ...]]:
        return ("SELECT wait, bot_wide FROM bot_send_claim(?, ?, ?, ?, ?, ?, ?)",
                ([k for k, _ in keys], [limit.count for _, limit in keys], [limit.seconds for _, limit in keys],
                 token, UNANSWERED, RETRY_ON_THE_WAY, self._server_now()))

    @staticmethod
    def _claimed(rows: list[tuple[object, ...]], keys: list[tuple[str, Limit]], token: int) -> Claim:
        wait = float(rows[0][0])  # type: ignore[arg-type]
        if wait > 0:
            return Claim(wait, bot_wide=bool(rows[0][1]))
        return Claim(0.0, bot_wide=False, token=token, keys=tuple(key for key, _ in keys))

    def hold(self, seconds: float) -> None:
        """Telegram said 429: no worker sends anything for ``seconds``."""
        until = self.clock() + seconds
        self.storage.query("INSERT INTO send_budget(key, blocked_until, touched) VALUES (?, ?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET blocked_until = excluded.blocked_until "
                           "WHERE send_budget.blocked_until < excluded.blocked_until", (BOT_KEY, until, until))

    def sweep(self) -> int:
        """Forget the log of groups that went quiet (each claim trims only its own keys); rows removed."""
        horizon = self.clock() - max(self.bot.seconds, self.group.seconds)
        return len(self.storage.query("DELETE FROM send_log WHERE at <= ? RETURNING 1", (horizon,)))
