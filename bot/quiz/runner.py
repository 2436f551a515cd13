"""Drives quiz games for a front: takes the engine's steps and shows them (questions, hints, reveals, the end).

The front supplies a ``QuizIO`` (how to send and edit messages); the rules and the game's state stay in the
engine and the database, so any number of runners (one per worker) can drive the same games: whichever
gets an answer judges it, whichever poller claims a due timer fires it (bot/quiz/poller.py). The engine is
synchronous and every call touches the database, so each runs in a worker thread, never on the loop.

What a step shows is sent after its change is committed, at most once. A timer's steps are not lost when
its worker dies between the commit and the send: the firing transaction also writes a row due a little
later (store.Shown), and the steps' first message is recorded in the outbox in the transaction that deletes
it (``showing()`` hands it to the front's sends). If the worker dies before that record, the row falls due
and any worker shows the steps again, derived from the game as it is then (engine._steps_again); if it
recorded it, the outbox sends it. Either one or the other, never both. Sending before committing could
repeat a question whenever a commit failed.

Within one runner, a chat's steps are shown in order under that chat's lock, so a reveal is never edited
after the next question is out. A timer's steps are computed before the lock is taken, so a /stop can
commit and show "Quiz stopped" in between: a question is therefore sent only if its round is still the
game's when its turn comes (one read). Across workers, and for a question that waits long for its place in
Telegram's limits, the outbox asks the same just before each try's bytes go out (telegram_outbox._OnItsWay):
a question whose game moved on meanwhile is never posted.
"""
from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from ..locks import KeyedLocks
from . import render
from .bank import Question
from .engine import Asked, Finished, Hinted, Outcome, QuizEngine, Revealed, RoundResult, Step
from .matching import Verdict
from .poller import TimerPoller
from .state import Game, Round
from .store import Shown

log = logging.getLogger(__name__)


_SHOWING: ContextVar[Shown | None] = ContextVar("quiz_showing", default=None)


def showing() -> Shown | None:
    """The fired timer whose steps are being shown, while its row is not settled: the front's next
    recorded message settles it (telegram_outbox.SendTag.settles)."""
    shown = _SHOWING.get()
    return shown if shown is not None and not shown.taken else None


@dataclass(frozen=True)
class Posted:
    message_id: int | None
    poll_id: str | None = None


class QuizIO(Protocol):
    async def send_question(self, game: Game, rnd: Round, question: Question) -> Posted: ...
    async def edit_question(self, game: Game, message_id: int, text: str) -> None: ...
    async def close_poll(self, game: Game, message_id: int) -> None: ...
    async def send_text(self, chat: str, text: str, reply_to: int | None = None) -> None: ...


class QuizRunner:
    def __init__(self, engine: QuizEngine, io: QuizIO, *, poll_every: float = 1.0, batch: int = 50) -> None:
        self.engine = engine
        self.io = io
        self._locks = KeyedLocks()  # one per chat with a step being shown
        self._tasks: set[asyncio.Task[None]] = set()
        self.timers = TimerPoller(engine, self._deliver, idle=poll_every, batch=batch)

    # life ------------------------------------------------------------------------------------------
    async def start_timers(self) -> None:
        """Start firing due timers (this worker's and any other's). Games saved before timers lived in the
        database get theirs first; nothing is re-armed per start-up, so no timer fires twice."""
        repaired = await asyncio.to_thread(self.engine.repair)
        if repaired:
            log.info("gave timers to %d quiz game(s) saved without them", repaired)
        self.timers.start()

    async def stop_timers(self, timeout: float = 5.0) -> None:
        """Stop claiming timers and let the steps being shown finish, within ``timeout`` seconds: what is
        not yet claimed stays in the database for the next worker or start."""
        await self.timers.stop(timeout)
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                task.cancel()

    async def fire_now(self, chat: str, kind: str) -> bool:
        """Make the chat's ``kind`` timer ("hint", "deadline", "next") due now, as a clock reaching it would."""
        return await asyncio.to_thread(self.engine.hurry, chat, kind)

    # commands --------------------------------------------------------------------------------------
    async def start(self, chat: str, user: str, name: str, count: int | None = None,
                    mode: str | None = None) -> Game:
        async with self._locks.hold(chat):
            game, steps = await asyncio.to_thread(self.engine.begin, chat, user, count, mode)
            await self._show(steps)
            return game

    async def skip(self, chat: str) -> None:
        async with self._locks.hold(chat):
            await self._show(await asyncio.to_thread(self.engine.skip, chat))

    async def stop(self, chat: str) -> None:
        async with self._locks.hold(chat):
            await self._show(await asyncio.to_thread(self.engine.stop, chat))

    # answers ---------------------------------------------------------------------------------------
    async def on_text(self, chat: str, user: str, name: str, text: str, message_id: int | None = None,
                      at: float | None = None) -> Outcome:
        """Judge a typed answer; a Verdict of None means it was not an answer (let the chat bot reply).
        ``at``: when it came (None: now)."""
        outcome = await asyncio.to_thread(self.engine.answer_text, chat, user, name, text, at)
        if outcome.steps or outcome.nudge:
            async with self._locks.hold(chat):
                await self._show(list(outcome.steps))
                if outcome.nudge and outcome.verdict is Verdict.CLOSE:
                    await self._say(chat, f"🤏 Close, {name}! Not quite.", reply_to=message_id)
        return outcome

    async def on_poll_answer(self, poll_id: str, user: str, name: str, option_ids: list[int],
                             at: float | None = None) -> Outcome | None:
        """Judge a poll vote that came ``at`` (None: now). One that came before its poll's id was recorded (a
        quick voter can beat sendPoll's answer) waits in the database and is judged when the poll is, by
        whichever worker records it (engine.answer_poll): nothing here waits for it."""
        return await asyncio.to_thread(self.engine.answer_poll, poll_id, user, name, option_ids, at)

    # questions the outbox delivered late -------------------------------------------------------------
    async def still_asking(self, chat: str, game_id: str, number: int) -> bool:
        """Whether round ``number`` of game ``game_id`` is the chat's round still (open, or in the pause
        after it): a question resent later than that is not worth posting."""
        game = await asyncio.to_thread(self.engine.running, chat)
        return bool(game and game.id == game_id and game.round and game.round.number == number)

    async def delivered_late(self, chat: str, game_id: str, number: int, message_id: int,
                             poll_id: str | None = None) -> None:
        """A question whose first send failed went out later (from any worker's outbox): record its message,
        and show what it missed meanwhile (its reveal, if the round closed; its hint)."""
        async with self._locks.hold(chat):
            steps = await asyncio.to_thread(self.engine.attach, chat, number, message_id, poll_id, game_id)
            await self._show(steps)

    # showing steps ---------------------------------------------------------------------------------
    def _deliver(self, chat: str, steps: list[Step], shown: Shown | None = None) -> None:
        """Show a fired timer's steps (called on the loop by the poller), concurrently with other chats'."""
        if not steps:
            return
        task = asyncio.get_running_loop().create_task(self._show_in_order(chat, steps, shown))
        self._tasks.add(task)  # keep a reference until done, or the task may be collected
        task.add_done_callback(self._tasks.discard)

    async def _show_in_order(self, chat: str, steps: list[Step], shown: Shown | None = None) -> None:
        async with self._locks.hold(chat):
            token = _SHOWING.set(shown)
            try:
                await self._show(steps)
            finally:
                _SHOWING.reset(token)
        if shown is not None and not shown.taken:  # nothing recorded (a front without an outbox, a poll's reveal)
            try:
                await asyncio.to_thread(self.engine.store.settle, shown)
            except Exception:  # noqa: BLE001 - the row falls due: the steps are shown again (an edit twice)
                log.exception("could not settle quiz steps shown in chat %s", chat)

    async def _show(self, steps: list[Step]) -> None:
        for step in steps:
            if isinstance(step, Asked):
                await self._ask(step)
            elif isinstance(step, Revealed):
                await self._reveal(step.result, step.late)
            elif isinstance(step, Hinted) and step.game.round and step.message_id is not None:
                # (without a message id, the worker that records the message shows the hint: engine.attach)
                await self._edit(step.game, step.message_id,
                                 render.question_text(step.game, step.game.round, step.question, step.hint))
            elif isinstance(step, Finished):
                await self._say(step.game.chat, render.final_text(step.game, step.standings, step.stopped))

    async def _ask(self, step: Asked) -> None:
        game, rnd = step.game, step.round
        if not await self.still_asking(game.chat, game.id, rnd.number):
            # a /stop or /skip took the chat's lock between this timer's commit and now, and its message
            # is out: the question would arrive after "Quiz stopped" (or after the next one)
            log.info("quiz question %s in chat %s not sent: the game moved on first", rnd.number, game.chat)
            return
        posted = Posted(None)
        failed = False
        late: list[Step] = []
        try:
            posted = await self.io.send_question(game, rnd, step.question)
        except Exception:  # noqa: BLE001 - a lost message must not kill the game: it goes on without it
            failed = True
            log.exception("could not send quiz question %s in chat %s", rnd.number, game.chat)
        finally:
            shown_at = self.engine.clock()  # its time starts now that it is out (engine.attach)
            try:
                if posted.message_id is not None:
                    late = await asyncio.to_thread(self.engine.attach, game.chat, rnd.number, posted.message_id,
                                                   posted.poll_id, shown_at=shown_at)
                elif failed:  # never shown, and never will be: the next question need not wait the show limit
                    await asyncio.to_thread(self.engine.close_round, game.chat, rnd.number, "unshown")
            except Exception:  # noqa: BLE001 - unrecorded, the reveal cannot edit it; the game goes on
                log.exception("could not record quiz question %s in chat %s", rnd.number, game.chat)
        await self._show(late)  # a reveal or hint that came before the message was recorded

    async def _reveal(self, result: RoundResult, late: bool = False) -> None:
        game, rnd = result.game, result.round
        names = {u: p.name for u, p in game.players.items()}
        # without a message id (closed before its message was recorded), the worker that records the
        # message shows the reveal (engine.attach): each reveal is shown once, by one of them. A question
        # never delivered has no reveal: nobody saw it, and the game moves on at its timer all the same
        if rnd.poll_id:
            # a poll closes itself at its deadline (open_period), unless it was posted late
            if rnd.message_id is not None and (result.reason != "timeout" or late):
                try:
                    await self.io.close_poll(game, rnd.message_id)
                except Exception:  # noqa: BLE001 - already closed by its open_period
                    log.debug("poll already closed", exc_info=True)
            return  # Telegram shows a quiz poll's answer and explanation itself; scores come at the end
        if rnd.message_id is not None:
            await self._edit(game, rnd.message_id, render.reveal_text(result, names))

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
