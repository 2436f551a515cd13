"""A PTB rate limiter whose budget is shared by every worker of the bot (bot/cluster/limits.py).

``FrontRateLimiter`` (an AIORateLimiter) counts in one process's memory, so N workers would send N times
Telegram's limits; this one claims each message's place in the database first. It keeps the rest of
FrontRateLimiter's behaviour: a chat action ("typing…") is no message and goes straight out (a 429 on it
drops it), requests without a chat are not counted, and a RetryAfter is waited out as Telegram says and
the request sent again, up to ``max_retries`` times; the wait holds back every worker, not just this one.

Sends that must wait queue in the worker, not in the database: a chat's sends take turns behind one
asker, and while the bot's own window is full each send is given the place that frees first and sleeps
until then (in its chat's turn, so the chat's next send cannot overtake it), where before each asked
again when the window had room and all but one worker's were refused. Turns go by arrival, except that a send marked ``URGENT`` (the quiz's) takes the next one.
Without the queue every waiting send asked again at the same moment and all but one were told to wait
again: with a few hundred answers queued behind Telegram's 30/s, claims outnumbered sends four to one,
and were most of a worker's database work (bench/bench_cluster.py).

A claim counts one request, and is taken just before the request's bytes go out: the limiter registers it
as a step of the request layer (bot/channels/telegram_presend.py), which RetryMixin (channels/telegram.py)
runs before each try. So a resend of a 5xx or of a request that never left, seconds later, claims a place
of its own (before, a resend went out on its first attempt's claim: 73 sends reached the emulator in one
second of bench_cluster's --faults run). Once the try is over, its place is dated at that moment
(``SendBudget.answered``, in the background: a late date only counts the place longer): Telegram counted
the message at its arrival, somewhere in between, so however long a worker stalls between its claim and
its bytes, no window of arrivals holds more than the limit.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import heapq
import itertools
import logging
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from ..cluster.limits import Claim, SendBudget
from .telegram_presend import LIMITS, before_send, ride

log = logging.getLogger(__name__)

UNLIMITED = frozenset({"sendChatAction"})
SWEEP_EVERY = 1000  # claims


@dataclass(frozen=True)
class Urgent:
    """``rate_limit_args`` of a send that must not wait behind the bot's backlog: a quiz question, whose game
    waits for it (its time starts when it is shown, and it is given up after a minute: engine.SHOW_LIMIT),
    and the quiz's edits and messages that follow it. It takes the next turn, in its chat and for the bot:
    under a backlog of answers (20,000 updates at Telegram's 30 a second are eleven minutes of sends)
    the questions of a game went out minutes late. The limits themselves are the same for it."""


URGENT = Urgent()


class Turns:
    """A lock whose waiters take their turn by rank, then in the order they came (asyncio.Lock: by arrival
    only). An urgent send (rank 0) takes the next turn, before a backlog of others (rank 1)."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # a heap: (rank, arrival, waiter)
        self._arrivals = itertools.count()
        self.users = 0  # holding or waiting (the limiter drops a chat's Turns when none is left)

    @contextlib.asynccontextmanager
    async def hold(self, rank: int = 1) -> AsyncIterator[None]:
        self.users += 1
        try:
            if self._held:
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                entry = (rank, next(self._arrivals), waiter)
                heapq.heappush(self._waiting, entry)
                try:
                    await waiter
                except BaseException:
                    if waiter.done() and not waiter.cancelled():
                        self._release()  # handed the turn, then cancelled: the next one takes it
                    else:
                        self._waiting.remove(entry)
                        heapq.heapify(self._waiting)
                    raise
            self._held = True
            try:
                yield
            finally:
                self._release()
        finally:
            self.users -= 1

    def _release(self) -> None:
        while self._waiting:
            _rank, _arrival, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)  # handed over: it stays held
                return
        self._held = False


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter's wait in seconds. Read as AIORateLimiter reads it: the public ``retry_after`` is an int or
    a timedelta by PTB's PTB_TIMEDELTA setting, and warns that this will change."""
    value = getattr(exc, "_retry_after", None)
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(exc.retry_after)  # type: ignore[arg-type]


def is_group(chat_id: object) -> bool:
    """Negative ids are groups and channels; a string id is a public @channel or supergroup (as PTB's)."""
    if isinstance(chat_id, str):
        try:
            chat_id = int(chat_id)
        except ValueError:
            return True
    return isinstance(chat_id, int) and chat_id < 0


class SharedRateLimiter(BaseRateLimiter[int]):
    """Telegram's limits for the whole bot. ``rate_limit_args`` (an int), like AIORateLimiter's, overrides
    ``max_retries`` for one call."""

    def __init__(self, budget: SendBudget, *, max_retries: int = 0) -> None:
        self.budget = budget
        self.max_retries = max_retries
        self.waits = 0  # claims that had to wait (for the bench)
        self._claims = 0
        self._answering: set[asyncio.Task[None]] = set()  # places being dated at their answer
        self._asking = Turns()  # one claim of this worker at a time; held through a bot-wide wait
        self._chats: dict[str, Turns] = {}  # chat -> its queue

    @property
    def rides(self) -> bool:
        """Whether a claim carries the write the request's step offers (telegram_presend.Ride): on
        PostgreSQL, in the claim's own statement (SendBudget.atry_claim)."""
        return self.budget.storage.kind == "postgresql"

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        if self._answering:  # bounded: an undated place only counts until its claim's UNANSWERED runs out
            await asyncio.wait(set(self._answering), timeout=5.0)

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | Urgent | None) -> Any:
        if endpoint in UNLIMITED:
            return await callback(*args, **kwargs)
        chat_id = data.get("chat_id")
        retries = rate_limit_args if isinstance(rate_limit_args, int) else self.max_retries
        rank = 0 if isinstance(rate_limit_args, Urgent) else 1
        place = _Place(self, str(chat_id), is_group(chat_id), rank)
        claim = contextlib.nullcontext() if chat_id is None else before_send(LIMITS, place.take, after=place.over)
        with claim:  # taken by the request layer, just before each try's bytes go out
            for attempt in range(retries + 1):
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as exc:
                    if attempt == retries:
                        log.warning("%s: rate limit hit after %d retries", endpoint, retries)
                        raise
                    wait = retry_seconds(exc) + 0.1
                    log.info("%s: rate limit hit; every worker waits %.1fs", endpoint, wait)
                    await asyncio.to_thread(self.budget.hold, wait)
                    await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _claim(self, chat: str, group: bool, rank: int = 1,
                     got: Callable[[Claim], None] | None = None) -> Claim:
        """A place for one send of ``chat``, waited for in the chat's turn: granted, and its time come (a
        place given from a moment ahead is slept until in the chat's turn, so the chat's next send cannot
        take a place that frees sooner and overtake it). ``got`` is told the claim once it is granted."""
        self._claims += 1
        if self._claims % SWEEP_EVERY == 0:  # each claim trims only its own keys: groups that went quiet
            try:
                await asyncio.to_thread(self.budget.sweep)
            except Exception:  # noqa: BLE001 - a later sweep tries again
                log.exception("could not sweep the send log")
        turns = self._chats.setdefault(chat, Turns())
        try:
            async with turns.hold(rank):  # the chat's sends ask in the order they came, urgent ones first
                claim = await self._claim_in_turn(chat, group, rank)
                if got is not None:
                    got(claim)  # its place is counted from now: dated at the try's end, however it ends
                if claim.wait > 0:
                    await asyncio.sleep(claim.wait)
                return claim
        finally:
            if not turns.users:
                del self._chats[chat]

    async def _claim_in_turn(self, chat: str, group: bool, rank: int) -> Claim:
        while True:
            async with self._asking.hold(rank):
                rider = ride()  # the outbox's "sending", written with the claim if it is granted
                statement = rider.statement() if rider is not None else None
                answer, applied = await self.budget.atry_claim(chat, group, statement,
                                                               durable=rider is None or rider.durable)
                if answer.granted:  # at once, or from the moment the place that frees first is free
                    if rider is not None and applied is not None:
                        rider.carried(applied)
                    return answer
                self.waits += 1
                if answer.bot_wide:  # every send of this worker would be told the same: they wait behind it
                    await asyncio.sleep(answer.wait + _jitter())
                    continue
            await asyncio.sleep(answer.wait + _jitter())  # only this group is full: the others go on


    def _answered(self, claim: Claim) -> None:
        task = asyncio.get_running_loop().create_task(self._date(claim))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _date(self, claim: Claim) -> None:
        try:
            await self.budget.aanswered(claim)
        except Exception:  # noqa: BLE001 - its place stays counted as on its way: the safe side
            log.exception("could not date a send's place at its answer")


class _Place:
    """One request's place in the limits: claimed before each try (it may wait for room), dated once the
    try is over."""

    def __init__(self, limiter: SharedRateLimiter, chat: str, group: bool, rank: int) -> None:
        self.limiter = limiter
        self.chat = chat
        self.group = group
        self.rank = rank
        self.claim: Claim | None = None

    async def take(self) -> None:
        await self.limiter._claim(self.chat, self.group, self.rank, got=self._got)

    def _got(self, claim: Claim) -> None:
        self.claim = claim

    async def over(self, _status: int | None) -> None:
        claim, self.claim = self.claim, None
        if claim is not None:
            self.limiter._answered(claim)


def _jitter() -> float:
    """The workers that waited for the same slot do not all ask at the same instant."""
    return random.uniform(0.0, 0.02)
