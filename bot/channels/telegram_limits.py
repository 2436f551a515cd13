"""A PTB rate limiter whose budget is shared by every worker of the bot (bot/cluster/limits.py).

``FrontRateLimiter`` (an AIORateLimiter) counts in one process's memory, so N workers would send N times
Telegram's limits; this one claims each message's place in the database first. It keeps the rest of
FrontRateLimiter's behaviour: a chat action ("typing…") is no message and goes straight out (a 429 on it
drops it), requests without a chat are not counted, and a RetryAfter is waited out as Telegram says and
the request sent again, up to ``max_retries`` times; the wait holds back every worker, not just this one.
"""
from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from ..cluster.limits import SendBudget

log = logging.getLogger(__name__)

UNLIMITED = frozenset({"sendChatAction"})


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
        for attempt in range(retries + 1):
            if chat_id is not None:
                await self._claim(str(chat_id), is_group(chat_id))
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

    async def _claim(self, chat: str, group: bool) -> None:
        while True:
            wait = await asyncio.to_thread(self.budget.claim, chat, group)
            if wait <= 0:
                return
            self.waits += 1
            # a little jitter: the workers that waited for the same slot do not all ask at the same instant
            await asyncio.sleep(wait + random.uniform(0.0, 0.02))
