"""A PTB rate limiter whose budget is shared by every worker of the bot (bot/cluster/limits.py).

``FrontRateLimiter`` (an AIORateLimiter) counts in one process's memory, so N workers would send N times
Telegram's limits; this one claims each message's place in the database first. It keeps the rest of
FrontRateLimiter's behaviour: a chat action ("typing…") is no message and goes straight out (a 429 on it
drops it), requests without a chat are not counted, and a RetryAfter is waited out as Telegram says and
the request sent again, up to ``max_retries`` times; the wait holds back every worker, not just this one.

Sends that must wait queue in the worker, not in the database: a chat's sends take turns behind one
asker, and while the bot's own window is full only one send of the worker asks again, when the window
has room. A claim the worker could not act on at once (it was held up for longer than ``STALE``) is taken
again. Without the queue every waiting send asked again at the same moment and all but one were
told to wait again: with a few hundred answers queued behind Telegram's 30/s, claims outnumbered sends
four to one, and were most of a worker's database work (bench/bench_cluster.py).

A claim counts one request. The request layer below (RetryMixin in channels/telegram.py) resends a 5xx or
a request that never left, seconds later: each resend claims a place of its own through ``RECLAIM``, the
claim of the send it belongs to, which this limiter sets for the duration of the send. Before, a resend
went out on its first attempt's claim, long after that claim's window: 73 sends reached the emulator in
one second of bench_cluster's --faults run.
"""
from __future__ import annotations

import asyncio
import datetime as dtm
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from ..cluster.limits import SendBudget

log = logging.getLogger(__name__)

UNLIMITED = frozenset({"sendChatAction"})
# set while a counted request is being sent (same task): what a resend of it awaits first
RECLAIM: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar("RECLAIM", default=None)
SWEEP_EVERY = 1000  # claims
# s: a granted claim older than this when the send is about to go is claimed again. The limiter's margin
# (bot/cluster/limits.py, 0.25 s) covers the spread between a claim and Telegram's receipt; a worker held up
# longer than that after claiming (seen here: 0.8 s on a loaded 2-core machine) would send into a window
# its claim no longer matches.
STALE = 0.1


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
        self.stale = 0  # claims taken again because the worker was held up after the first
        self._claims = 0
        self._asking = asyncio.Lock()  # one claim of this worker at a time; held through a bot-wide wait
        self._chats: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # chat -> its queue, and how many are in it

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        if endpoint in UNLIMITED:
            return await callback(*args, **kwargs)
        chat_id = data.get("chat_id")
        retries = rate_limit_args if isinstance(rate_limit_args, int) else self.max_retries
        chat = None if chat_id is None else (str(chat_id), is_group(chat_id))
        for attempt in range(retries + 1):
            token = None
            if chat is not None:
                await self._claim(*chat)
                token = RECLAIM.set(functools.partial(self._claim, *chat))
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
            finally:
                if token is not None:
                    RECLAIM.reset(token)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _claim(self, chat: str, group: bool) -> None:
        self._claims += 1
        if self._claims % SWEEP_EVERY == 0:  # each claim trims only its own keys: groups that went quiet
            try:
                await asyncio.to_thread(self.budget.sweep)
            except Exception:  # noqa: BLE001 - a later sweep tries again
                log.exception("could not sweep the send log")
        lock, users = self._chats.setdefault(chat, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:  # FIFO: the chat's sends ask in the order they came
                await self._claim_in_turn(chat, group)
        finally:
            users[0] -= 1
            if not users[0]:
                del self._chats[chat]

    async def _claim_in_turn(self, chat: str, group: bool) -> None:
        while True:
            async with self._asking:
                answer = await self.budget.atry_claim(chat, group)
                if answer.wait <= 0:
                    if self.budget.clock() - answer.at <= STALE:
                        return
                    # the worker was held up between the claim and now (a busy loop, a starved core): the
                    # place was counted long before the send would go, so the send takes a new one
                    self.stale += 1
                    continue
                self.waits += 1
                if answer.bot_wide:  # every send of this worker would be told the same: they wait behind it
                    await asyncio.sleep(answer.wait + _jitter())
                    continue
            await asyncio.sleep(answer.wait + _jitter())  # only this group is full: the others go on


def _jitter() -> float:
    """The workers that waited for the same slot do not all ask at the same instant."""
    return random.uniform(0.0, 0.02)
