"""Drives quiz games for a front: asks questions, keeps the timers, reveals answers, ends games.

The front supplies a ``QuizIO`` (how to send and edit messages) and a ``Timers`` (AsyncioTimers, on
the running event loop, in every front); the rules stay in the engine. Every step for one chat
runs under that chat's lock, so a timer firing while an answer is being judged cannot double-close a round.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from dataclasses import dataclass
from functools import partial
from typing import Awaitable, Callable, Protocol

from ..locks import KeyedLocks
from . import render
from .bank import Question
from .engine import Outcome, QuizEngine, QuizError, RoundResult
from .matching import Verdict
from .state import Game, Round

log = logging.getLogger(__name__)
SEND_WAIT = 10.0  # s: how long a poll answer waits for its poll's sendPoll to come back
_TIMER_CONTEXT = contextvars.Context()  # timers start tasks, which copy the context they need themselves
FLUSH_DELAY = 0.2  # s: changes that score nothing are batched this long before they are written...
FLUSH_BATCH = 250  # ...this many games per transaction, so a write never holds the loop for long


@dataclass(frozen=True)
class Posted:
    message_id: int | None
    poll_id: str | None = None


class QuizIO(Protocol):
    async def send_question(self, game: Game, rnd: Round, question: Question) -> Posted: ...
    async def edit_question(self, game: Game, message_id: int, text: str) -> None: ...
    async def close_poll(self, game: Game, message_id: int) -> None: ...
    async def send_text(self, chat: str, text: str, reply_to: int | None = None) -> None: ...


class Timers(Protocol):
    def schedule(self, key: str, delay: float, callback: Callable[[], Awaitable[None]]) -> None: ...
    def cancel(self, key: str) -> None: ...


class AsyncioTimers:
    """Timers as plain ``loop.call_later`` handles on the running loop (the bot's, in Telegram).

    Not PTB's JobQueue: APScheduler spends about 0.5 ms adding each job, and with 10,000 games running
    that made deadlines fire seconds late; call_later costs microseconds (bench/bench_quiz.py)."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[asyncio.TimerHandle, Callable[[], Awaitable[None]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, key: str, delay: float, callback: Callable[[], Awaitable[None]]) -> None:
        self.cancel(key)
        # a bound method and a shared context rather than a closure and a context copy per timer: with
        # 10,000 games that is tens of thousands fewer objects for the garbage collector to scan
        handle = asyncio.get_running_loop().call_later(max(0.0, delay), self._fire, key, callback,
                                                       context=_TIMER_CONTEXT)
        self._pending[key] = (handle, callback)

    def _fire(self, key: str, callback: Callable[[], Awaitable[None]]) -> None:
        self._pending.pop(key, None)
        task = asyncio.get_running_loop().create_task(callback())  # type: ignore[arg-type]
        self._tasks.add(task)  # keep a reference until done, or the task may be collected
        task.add_done_callback(self._tasks.discard)

    def cancel(self, key: str) -> None:
        pending = self._pending.pop(key, None)
        if pending:
            pending[0].cancel()

    def fast_forward(self, key: str) -> bool:
        """Fire a pending timer now (tests; time itself is not faked)."""
        pending = self._pending.get(key)
        if pending is None:
            return False
        pending[0].cancel()
        self._fire(key, pending[1])
        return True

    def cancel_all(self) -> None:
        for key in list(self._pending):
            self.cancel(key)


class QuizRunner:
    def __init__(self, engine: QuizEngine, io: QuizIO, timers: Timers, pause: float = 3.0) -> None:
        self.engine = engine
        self.io = io
        self.timers = timers
        self.pause = pause                       # between a reveal and the next question
        self._locks = KeyedLocks()  # one per chat with a game in play
        self._sending = 0                        # questions being sent right now
        self._sent = asyncio.Event()             # set whenever no question is being sent
        self._sent.set()
        self._flush_pending = False

    # commands --------------------------------------------------------------------------------------
    async def start(self, chat: str, user: str, name: str, count: int | None = None,
                    mode: str | None = None) -> Game:
        async with self._locks.hold(chat):
            game = self.engine.start(chat, user, count, mode)
            await self._ask_next(chat)
            return game

    async def skip(self, chat: str) -> None:
        async with self._locks.hold(chat):
            game = self.engine.running(chat)
            if not game:
                raise QuizError("No quiz is running here. Start one with /quiz!")
            if game.round and not game.round.closed:
                await self._close(chat, game.round.number, "skipped", advance_after=0.5)
            else:  # between questions: no need to wait for the next one
                self.timers.cancel(f"quiz:{chat}:next")
                await self._ask_next(chat)

    async def stop(self, chat: str) -> None:
        async with self._locks.hold(chat):
            game = self.engine.running(chat)
            if not game:
                raise QuizError("No quiz is running here. Start one with /quiz!")
            if game.round and not game.round.closed:
                await self._close(chat, game.round.number, "stopped", advance_after=None)
            await self._finish(chat, stopped=True)

    # answers ---------------------------------------------------------------------------------------
    async def on_text(self, chat: str, user: str, name: str, text: str, message_id: int | None = None) -> Outcome:
        """Judge a typed answer; a Verdict of None means it was not an answer (let the chat bot reply)."""
        if chat not in self.engine.games:
            return Outcome(None)
        async with self._locks.hold(chat):
            game = self.engine.running(chat)
            outcome = self.engine.answer_text(chat, user, name, text)
            if game and outcome.verdict is Verdict.CORRECT and game.round:
                await self._close(chat, game.round.number, "answered")
            elif outcome.verdict is Verdict.CLOSE and self.engine.note_nudge(chat):
                await self._say(chat, f"🤏 Close, {name}! Not quite.", reply_to=message_id)
            self._flush_soon()
            return outcome

    async def on_poll_answer(self, poll_id: str, user: str, name: str, option_ids: list[int]) -> Outcome | None:
        chat = self.engine.chat_of_poll(poll_id)
        if chat is None and self._sending:
            # a quick voter can beat sendPoll's response, which tells us the poll's id: wait for it
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._sent.wait(), timeout=SEND_WAIT)
            chat = self.engine.chat_of_poll(poll_id)
        if chat is None:
            return None
        async with self._locks.hold(chat):
            outcome = self.engine.answer_poll(poll_id, user, name, option_ids)
            self._flush_soon()
            return outcome

    # restart ---------------------------------------------------------------------------------------
    async def resume(self) -> int:
        """Carry on the games a restart interrupted: reschedule open questions, close expired ones."""
        chats = list(self.engine.games)
        for chat in chats:
            async with self._locks.hold(chat):
                game = self.engine.games.get(chat)
                if not game:
                    continue
                rnd = game.round
                if rnd and not rnd.closed:
                    left = rnd.deadline - self.engine.clock()
                    if left > 0:
                        self._arm(game, rnd, left)
                        continue
                    await self._close(chat, rnd.number, "restart")
                else:
                    self.timers.schedule(f"quiz:{chat}:next", self.pause, partial(self._advance, chat))
        return len(chats)

    # internals -------------------------------------------------------------------------------------
    async def _advance(self, chat: str) -> None:
        async with self._locks.hold(chat):
            if chat in self.engine.games:
                await self._ask_next(chat)

    async def _ask_next(self, chat: str) -> None:
        nxt = self.engine.next_round(chat, save=False)
        if nxt is None:
            await self._finish(chat, stopped=False)
            return
        rnd, question = nxt
        game = self.engine.games[chat]
        self._sending += 1
        self._sent.clear()
        posted = Posted(None)
        try:
            posted = await self.io.send_question(game, rnd, question)
        except Exception:  # noqa: BLE001 - a lost message must not kill the game: the timer moves it on
            log.exception("could not send quiz question %s in chat %s", rnd.number, chat)
        finally:
            self.engine.attach(chat, rnd.number, posted.message_id, posted.poll_id)  # saves the round
            self._sending -= 1
            if not self._sending:
                self._sent.set()
        self._arm(game, rnd, game.seconds)
        self._flush_soon()

    def _arm(self, game: Game, rnd: Round, left: float) -> None:
        chat, number = game.chat, rnd.number
        if game.mode == "text" and not rnd.hinted and left > game.seconds / 2:
            self.timers.schedule(f"quiz:{chat}:hint", left - game.seconds / 2, partial(self._hint, chat, number))
        self.timers.schedule(f"quiz:{chat}:deadline", left, partial(self._deadline, chat, number))

    async def _hint(self, chat: str, number: int) -> None:
        async with self._locks.hold(chat):
            hint = self.engine.hint(chat, number)
            game = self.engine.running(chat)
            if hint and game and game.round and game.round.message_id is not None:
                question = self.engine.question(game)
                if question:
                    await self._edit(game, game.round.message_id, render.question_text(game, game.round, question, hint))

    async def _deadline(self, chat: str, number: int) -> None:
        async with self._locks.hold(chat):
            await self._close(chat, number, "timeout")

    async def _close(self, chat: str, number: int, reason: str, advance_after: float | None = -1) -> None:
        self.timers.cancel(f"quiz:{chat}:hint")
        self.timers.cancel(f"quiz:{chat}:deadline")
        result = self.engine.close_round(chat, number, reason)
        self._flush_soon()
        if result is None:
            return
        await self._reveal(result)
        if advance_after is not None:
            delay = self.pause if advance_after < 0 else advance_after
            self.timers.schedule(f"quiz:{chat}:next", delay, partial(self._advance, chat))

    async def _reveal(self, result: RoundResult) -> None:
        game, rnd = result.game, result.round
        names = {u: p.name for u, p in game.players.items()}
        if rnd.poll_id:
            if rnd.message_id is not None and result.reason != "timeout":
                try:
                    await self.io.close_poll(game, rnd.message_id)
                except Exception:  # noqa: BLE001 - already closed by its open_period
                    log.debug("poll already closed", exc_info=True)
            return  # Telegram shows a quiz poll's answer and explanation itself; scores come at the end
        if rnd.message_id is not None:
            await self._edit(game, rnd.message_id, render.reveal_text(result, names))

    async def _finish(self, chat: str, stopped: bool) -> None:
        self.timers.cancel(f"quiz:{chat}:next")
        game, standings = self.engine.finish(chat, stopped)
        await self._say(chat, render.final_text(game, standings, stopped))

    def _flush_soon(self) -> None:
        if self.engine.dirty and not self._flush_pending:
            self._flush_pending = True
            self.timers.schedule("quiz:flush", FLUSH_DELAY, self._flush)

    async def _flush(self) -> None:
        self._flush_pending = False
        try:
            self.engine.flush(FLUSH_BATCH)
        except Exception:  # noqa: BLE001 - the next change tries again; the game itself goes on
            log.exception("could not save quiz games")
        if self.engine.dirty and not self._flush_pending:
            self._flush_pending = True
            self.timers.schedule("quiz:flush", 0.01, self._flush)

    async def _edit(self, game: Game, message_id: int, text: str) -> None:
        try:
            await self.io.edit_question(game, message_id, text)
        except Exception:  # noqa: BLE001 - a failed edit loses a hint or reveal, never the game
            log.warning("could not edit quiz message %s in chat %s", message_id, game.chat, exc_info=True)

    async def _say(self, chat: str, text: str, reply_to: int | None = None) -> None:
        try:
            await self.io.send_text(chat, text, reply_to)
        except Exception:  # noqa: BLE001
            log.warning("could not send quiz message in chat %s", chat, exc_info=True)
