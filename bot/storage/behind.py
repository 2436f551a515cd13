"""Writes nobody waits for, sent together: the statements of every such write queued while one round trip
is on its way go out as the next one (``Storage.abehind``).

After each send a worker writes two things that no one waits for: the outbox row is delivered (deleted,
its outcome counted) and the send's place in the limits is dated at its answer. They were two round
trips per message, each its own transaction, a third of a worker's SQL (bench_cluster
--count-statements). Under load many sends end within one round trip, so what they write is queued and
sent as one batch (one query string, one transaction: Storage.abatch) when the round trip before it comes
back: a group commit. Idle, a write goes at once, as before; busy, one round trip carries all that piled
up meanwhile, never more than ``MAX_STATEMENTS``.

One transaction for all: if it fails (the database is away), every write in it fails, and each caller
logs and lives with it as it did with its own round trip (each is bookkeeping whose loss is safe: see
the callers). The queue belongs to the event loop that started it; a call from another loop gets a queue
of its own.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

Args = Sequence[object]
Statements = Sequence[tuple[str, Args]]
MAX_STATEMENTS = 200  # in one round trip: past that, the rest wait for the next one


class WriteBehind:
    """One queue of writes and the one round trip in flight for it, on one event loop."""

    def __init__(self, run: Callable[[list[tuple[str, Args]]], Awaitable[object]]) -> None:
        self._run = run
        self._queue: list[tuple[list[tuple[str, Args]], asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(self, statements: Statements) -> None:
        """Queue ``statements`` (one transaction with the others sent with them); returns once committed,
        raises what the round trip raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((list(statements), future))
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
        await future  # a caller cancelled (shutting down): its write still goes out with the others

    async def _flush(self) -> None:
        try:
            while self._queue:
                taken, size = 0, 0
                while taken < len(self._queue) and (taken == 0 or size + len(self._queue[taken][0]) <= MAX_STATEMENTS):
                    size += len(self._queue[taken][0])
                    taken += 1
                batch, self._queue = self._queue[:taken], self._queue[taken:]
                try:
                    await self._run([s for statements, _ in batch for s in statements])
                except Exception as exc:  # noqa: BLE001 - handed to each writer, which logs it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for _, future in batch:
                        if not future.done():
                            future.set_result(None)
        finally:
            self._flushing = None
