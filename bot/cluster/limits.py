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
its place is dated ``UNANSWERED`` seconds ahead (every window counts it) until ``answered`` dates it at the
answer's time. A margin for the spread between claim and arrival (0.25 s, before) is not needed, and held
nothing when a worker stalled longer than that after claiming (bench_cluster: 35 arrivals in one second
with claims at 30, 0.63 s from a claim to its arrival).

A key has at most ``count`` places (rows of ``send_slots``, made as it first needs them), each holding the
date of the last send that took it; a place is free once that date is a window behind. A claim takes a free
place for each of its keys (2 in a group) or, if any key has none, nothing; but when only the bot's own
window is full, the claim is given the bot's place that frees first, from the moment it does: granted, and
told to send that many seconds from now (``Claim.wait``). Exact, as a sliding window: of any ``count + 1``
sends that arrived within ``seconds``, two took the same place, and the later one took it from a moment
no sooner than a window after the earlier one's answer, and went out no sooner than that moment: the two
arrived a window apart. A refused claim is told when the key's oldest place frees (its date plus a
window), or to ask again soon when that place is still on its way (its answer is due any moment). Under
a backlog the bot's window is full all the time: each worker's sends asked again as the oldest place
freed, and all but one were refused (2.4 claims per send with two workers, bench_cluster --count-
statements); a place given ahead is one claim per send however many workers ask. Places are used again
in place where a row per send was logged and trimmed: the bot's key saw thousands of rows come and go,
and every count and every answer's date walked their dead index entries (the top of the server's profile
in bench_cluster).

A claim is one transaction. On PostgreSQL it is one call of the server-side function ``bot_send_place``
(migration 14): one round trip, the server's clock (one clock for every host, for claims and answers
alike; an injected clock, in tests, is passed in instead), and each place it takes locked with ``FOR UPDATE
SKIP LOCKED``: claims from every worker take different places at once, and none waits for another (a
place another claim holds is passed over; a claim that finds only those is told to ask again soon).
Before, every claim took one row's lock, the bot's, and every worker's claims queued on it. In SQLite
``BEGIN IMMEDIATE`` serialises writers; several processes on one host share its clock.

A 429 seen by any worker holds every worker back: ``hold(seconds)`` writes ``blocked_until`` on the bot's row
of ``send_budget``, which every claim reads first.
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
    """A claim's answer. Granted (``keys``): counted, and sent ``wait`` seconds from now (0.0: at once; more
    when the bot's window was full and the place that frees first was given to it). Refused: ``wait`` is
    the seconds until there may be room."""

    wait: float
    bot_wide: bool  # refused for the bot's own window (or a 429's hold), not only the group's
    token: int = 0  # a granted claim's places, for ``answered``
    keys: tuple[str, ...] = ()

    @property
    def granted(self) -> bool:
        return bool(self.keys)


class SendBudget:
    """The shared send budget: one claim per message, counted for the bot and, in groups, for the group."""

    def __init__(self, storage: Storage, *, bot: Limit = BOT_LIMIT, group: Limit = GROUP_LIMIT,
                 clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.bot = bot
        self.group = group
        self.clock = clock

    def try_claim(self, chat: str, group: bool) -> Claim:
        """A granted claim if a message to ``chat`` may go now, or at the moment ``wait`` from now when the
        bot's window is full (it is counted, as on its way, until ``answered``); otherwise the seconds until
        there may be room, having counted nothing, and whether the wait is the whole bot's (a 429 holds it,
        or every place is on its way): then every other send of this worker would wait as long, and need
        not ask meanwhile. The keys' places are read with one statement (2 keys in a group),
        and the ones taken written with one more."""
        keys = self._keys(chat, group)
        token = random.getrandbits(62)
        if self.storage.kind == "postgresql":  # the same steps as one server-side call (migration 14)
            return self._claimed(self.storage.query(*self._server_claim(keys, token)), keys, token)
        with self.storage.transaction() as tx:
            now = self.clock()
            rows = tx.query("SELECT blocked_until FROM send_budget WHERE key = ?", (BOT_KEY,))
            blocked = float(rows[0][0]) if rows else 0.0  # type: ignore[arg-type]
            if blocked > now:
                return Claim(blocked - now, bot_wide=True)
            places: dict[str, list[tuple[int, float]]] = {key: [] for key, _ in keys}
            for key, slot, at in tx.query("SELECT key, slot, at FROM send_slots WHERE key IN "
                                          f"({', '.join('?' * len(keys))})", [key for key, _ in keys]):
                places[str(key)].append((int(slot), float(at)))  # type: ignore[call-overload, arg-type]
            taken, waits, starts = [], {}, now
            for key, limit in keys:
                free = [slot for slot, at in places[key] if at <= now - limit.seconds]
                answered = sorted((at, slot) for slot, at in places[key] if at <= now)
                if free:
                    taken.append((key, min(free)))
                elif len(places[key]) < limit.count:  # a place more
                    taken.append((key, max((slot for slot, _ in places[key]), default=0) + 1))
                elif key == BOT_KEY and answered:  # the place that frees first, from then on
                    taken.append((key, answered[0][1]))
                    starts = answered[0][0] + limit.seconds
                else:  # the oldest frees first, unless it is still on its way: its answer is due any moment
                    oldest = min(at for _, at in places[key])
                    waits[key] = RETRY_ON_THE_WAY if oldest > now else oldest + limit.seconds - now
            if waits:
                wait = max(waits.values())
                return Claim(wait, bot_wide=waits.get(BOT_KEY, 0.0) >= wait)
            tx.query("INSERT INTO send_slots(key, slot, at, token, claimed) VALUES "
                     + ", ".join(["(?, ?, ?, ?, ?)"] * len(taken)) + " ON CONFLICT(key, slot) DO UPDATE SET "
                     "at = excluded.at, token = excluded.token, claimed = excluded.claimed",
                     [v for key, slot in taken for v in (key, slot, starts + UNANSWERED, token, starts)])
        return Claim(starts - now, bot_wide=False, token=token, keys=tuple(key for key, _ in keys))

    async def atry_claim(self, chat: str, group: bool, riding: tuple[str, tuple[object, ...]] | None = None,
                         *, durable: bool = True) -> tuple[Claim, int | None]:
        """``try_claim``, awaited: on PostgreSQL the one call runs on the event loop (Storage.aquery); the
        steps of the other backends, in a worker thread. With it, whether the write ``riding`` applied: an
        UPDATE whose WHERE holds ``{granted}`` and that RETURNs a row when it applied (the outbox's
        "sending", bot/channels/telegram_presend.py ``Ride``), written in the claim's own statement and
        only if the claim is granted; on PostgreSQL, where a second round trip right after the claim cost
        as much as the claim. The write's first returned id (0: it applied to nothing), or None: not written
        (refused, or a backend that does not carry it). A write may be an INSERT .. SELECT .. WHERE
        {granted} too (the outbox's record of an answer, written with its first claim: Outbox.lax).
        ``durable=False``: the claim (and what rides on it) commits without waiting for the disk
        (Storage.query): for an answer's, whose update is handled again if the commit is lost
        (Outbox.lax); a place lost with the database server was counted until then, and only that."""
        if self.storage.kind == "postgresql":
            keys, token = self._keys(chat, group), random.getrandbits(62)
            sql, args = self._server_claim(keys, token)
            if riding is None:
                return self._claimed(await self.storage.aquery(sql, args, durable=durable), keys, token), None
            write, write_args = riding
            rows = await self.storage.aquery(
                f"WITH c AS MATERIALIZED ({sql}), r AS ({write.format(granted='(SELECT granted FROM c)')}) "
                "SELECT c.wait, c.bot_wide, c.granted, (SELECT COALESCE(MIN(id), 0) FROM r) FROM c",
                (*args, *write_args), durable=durable)
            claim = self._claimed(rows, keys, token)
            return claim, (int(rows[0][3]) if claim.granted else None)  # type: ignore[call-overload]
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
        return (f"UPDATE send_slots SET at = {now} WHERE token = ? AND key IN ({', '.join('?' * len(claim.keys))})",
                (self._server_now() if self.storage.kind == "postgresql" else self.clock(), claim.token, *claim.keys))

    def _keys(self, chat: str, group: bool) -> list[tuple[str, Limit]]:
        return [(BOT_KEY, self.bot)] + ([(f"chat:{chat}", self.group)] if group else [])

    def _server_now(self) -> float | None:
        return None if self.clock is time.time else self.clock()

    def _server_claim(self, keys: list[tuple[str, Limit]], token: int) -> tuple[str, tuple[object, ...]]:
        return ("SELECT wait, bot_wide, granted FROM bot_send_place(?, ?, ?, ?, ?, ?, ?)",
                ([k for k, _ in keys], [limit.count for _, limit in keys], [limit.seconds for _, limit in keys],
                 token, UNANSWERED, RETRY_ON_THE_WAY, self._server_now()))

    @staticmethod
    def _claimed(rows: list[tuple[object, ...]], keys: list[tuple[str, Limit]], token: int) -> Claim:
        wait = max(0.0, float(rows[0][0]))  # type: ignore[arg-type]
        if not rows[0][2]:
            return Claim(wait, bot_wide=bool(rows[0][1]))
        return Claim(wait, bot_wide=False, token=token, keys=tuple(key for key, _ in keys))

    def hold(self, seconds: float) -> None:
        """Telegram said 429: no worker sends anything for ``seconds``."""
        until = self.clock() + seconds
        self.storage.query("INSERT INTO send_budget(key, blocked_until, touched) VALUES (?, ?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET blocked_until = excluded.blocked_until "
                           "WHERE send_budget.blocked_until < excluded.blocked_until", (BOT_KEY, until, until))

    def sweep(self) -> int:
        """Forget the places of groups that went quiet (free ones only: a key makes them again as it needs
        them); rows removed."""
        horizon = self.clock() - max(self.bot.seconds, self.group.seconds)
        return len(self.storage.query("DELETE FROM send_slots WHERE at <= ? RETURNING 1", (horizon,)))
