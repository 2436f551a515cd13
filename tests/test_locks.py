"""KeyedLocks: one chat at a time per key, keys in parallel, and nothing kept for chats gone quiet."""
from __future__ import annotations

import asyncio

from bot.locks import KeyedLocks


async def test_one_key_is_serialised_other_keys_run_alongside_and_idle_keys_are_dropped() -> None:
    locks = KeyedLocks()
    events: list[str] = []

    async def work(key: str, name: str) -> None:
        async with locks.hold(key):
            events.append(f"start {name}")
            await asyncio.sleep(0.01)
            events.append(f"end {name}")

    await asyncio.gather(work("chat-1", "a"), work("chat-1", "b"), work("chat-2", "c"))
    assert events.index("end a") < events.index("start b")  # same chat: in turn
    assert events.index("start c") < events.index("end a")  # another chat: at the same time
    assert len(locks) == 0  # 10,000 chats that played once leave nothing behind


async def test_a_failing_holder_releases_the_key() -> None:
    locks = KeyedLocks()
    try:
        async with locks.hold("chat"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with locks.hold("chat"):
        pass
    assert len(locks) == 0
