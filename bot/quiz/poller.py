"""Fires due quiz timers: every worker runs one poller over the one table of timers.

Each poller sleeps until the earliest timer of any worker is due (one ``MIN(due_at)`` per wake-up), or until
this process sets an earlier one, and at most ``idle`` seconds, so a timer whose worker died is picked up
by another within that time. Claiming (bot/quiz/store.py) skips timers another worker holds, so several
pollers waking for the same moment fire it once between them.

Not PTB's JobQueue, nor one ``call_later`` per timer: those live in one process's memory, which is what
made two workers fire a game's timers twice and a dead worker's never.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable

from .engine import Fired, QuizEngine, Step
from .store import Shown

log = logging.getLogger(__name__)
BUSY_RETRY = 0.05  # s: a due timer another worker holds is looked at again this soon


class TimerPoller:
    def __init__(self, engine: QuizEngine, deliver: Callable[[str, list[Step], Shown | None], None], *,
                 idle: float = 1.0, batch: int = 50) -> None:
        self.engine = engine
        self.deliver = deliver      # called on the loop with each fired timer's chat, steps and row to settle
        self.idle = idle
        self.batch = batch
        self.lateness: list[float] | None = None  # set to a list to record how late each timer fired (bench)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._asleep_until = math.inf  # while awake, any new timer means "look again"
        self._stopping = False
        engine.on_timer(self._wake_for)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = self._loop.create_task(self._run(), name="quiz-timers")

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop after the claim under way (its transaction commits or rolls back whole); bounded."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except asyncio.TimeoutError:
            log.warning("the quiz timer poller did not stop within %.0f s; cancelled", timeout)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 1.0)

    def _wake_for(self, due_at: float) -> None:
        """A change saved in this process set a timer due at ``due_at`` (any thread may call this)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._maybe_wake, due_at)

    def _maybe_wake(self, due_at: float) -> None:
        if self._wake is not None and due_at < self._asleep_until:
            self._wake.set()

    def _fire(self) -> tuple[list[Fired], float | None, float]:
        """Fire what is due; the next due time and now. The earliest timer is read first (one look at the
        index): the claiming transaction runs only once one is due, so a worker with nothing due pays a
        SELECT per look, not a transaction (most of an idle PostgreSQL worker's CPU, bench/bench_hot_path.py)."""
        now = self.engine.clock()
        due = self.engine.next_due()
        if due is None or due > now:
            return [], due, now
        fired = self.engine.fire_due(self.batch)
        now = self.engine.clock()
        return fired, (None if len(fired) == self.batch else self.engine.next_due()), now

    async def _run(self) -> None:
        assert self._wake is not None
        failures = 0
        while not self._stopping:
            self._asleep_until = math.inf
            self._wake.clear()
            try:
                fired, next_due, now = await asyncio.to_thread(self._fire)
                failures = 0
            except Exception:  # noqa: BLE001 - a database hiccup must not end the quiz: look again soon
                failures += 1
                log.exception("could not fire quiz timers")
                fired, next_due, now = [], None, self.engine.clock()
            for event in fired:
                if self.lateness is not None:
                    self.lateness.append(now - event.due_at)
                try:
                    self.deliver(event.chat, list(event.steps), event.shown)
                except Exception:  # noqa: BLE001
                    log.exception("could not show a quiz timer's steps in chat %s", event.chat)
            if len(fired) == self.batch:
                await asyncio.sleep(0)  # more are due: let the steps start, then claim the next batch
                continue
            if failures:
                delay = min(self.idle, 0.1 * 2 ** failures)
            elif next_due is None:
                delay = self.idle
            elif next_due <= now:
                delay = BUSY_RETRY  # due, but held by another worker (or committed just now)
            else:
                delay = min(self.idle, next_due - now)
            self._asleep_until = now + delay
            if self._wake.is_set() or self._stopping:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
