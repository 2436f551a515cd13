"""Per-key asyncio locks that exist only while in use.

Both the Telegram update processor (one lock per chat, so a chat's messages are answered in order) and
the quiz runner (one per chat, so a timer and an answer never both close a round) need a lock per chat.
A plain ``defaultdict(asyncio.Lock)`` keeps one lock for every chat ever seen; this drops each lock
when nobody holds or waits for it.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}  # key -> (lock, holders + waiters)

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
