"""A quiz question the outbox delivers late: real PTB Application, the Bot API emulator's injected faults,
both backends.

When a question's first send fails for good (the library's retries ran out), the outbox sends it again
later, maybe from another worker: the game must still learn the message's id, or its hint and reveal
have nothing to edit. A question that could not go out before its game moved on is not posted at all.
"""
from __future__ import annotations

import asyncio
import dataclasses
import threading

import pytest
from telegram.ext import Application

from bot.channels.telegram import running
from bot.channels.telegram_quiz import TelegramQuiz
from bot.cluster.outbox import Outbox
from bot.config import Settings, load_settings
from bot.dialogue import Brain, Mind
from bot.storage import Storage, open_storage
from tests.support.botapi_emulator import DEFAULT_GROUP_ID, BotAPIEmulator, Call
from tests.support.telegram import FAST, make_app, until

GROUP = DEFAULT_GROUP_ID
ANN = 11
QUICK = dataclasses.replace(FAST, outbox_backoff=0.05, outbox_poll=0.05)


@pytest.fixture(scope="module")
def settings() -> Settings:
    base = load_settings(env={})
    # a long pause after each reveal: the game stays on a closed round until the test moves it on
    return base.model_copy(update={"quiz": base.quiz.model_copy(update={"pause": 600, "seconds": 20,
                                                                        "mode": "text"})})


def start(emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> tuple[Application, Storage]:
    storage = open_storage(database)
    return make_app(emu, Brain(mind, settings, storage), settings, options=QUICK), storage


def quiz_of(app: Application) -> TelegramQuiz:
    return app.bot_data["quiz"]  # type: ignore[no-any-return]


class Blocked:
    """Telegram unreachable for question 1's message while set (every try of it answers 502)."""

    def __init__(self, emu: BotAPIEmulator, method: str = "sendMessage") -> None:
        self.on = threading.Event()
        self.on.set()
        field = "question" if method == "sendPoll" else "text"
        marker = "1/" if method == "sendPoll" else "Question 1/"
        emu.inject_fault(method, "502", times=10_000,
                         when=lambda p: self.on.is_set() and marker in str(p.get(field, "")))


def delivered(emu: BotAPIEmulator, method: str, marker: str) -> list[Call]:
    field = "question" if method == "sendPoll" else "text"
    return [c for c in emu.calls_to(method) if marker in str(c.params.get(field, ""))]


def failed_tries(emu: BotAPIEmulator, method: str = "sendMessage") -> int:
    return len([c for c in emu.calls_to(method, include_failed=True) if c.fault])


def waiting(storage: Storage) -> dict[str, int]:
    return Outbox(storage).waiting()


async def begin(emu: BotAPIEmulator, app: Application, count: int = 2, mode: str = "text") -> None:
    emu.push_message(f"/quiz {count} {mode}", chat_id=GROUP, chat_type="group", user_id=ANN, first_name="Ann")
    await until(lambda: quiz_of(app).engine.running(str(GROUP)), "the game to start")


async def expire(app: Application) -> None:
    await until(lambda: quiz_of(app).engine.hurry(str(GROUP), "deadline"), "a deadline timer")


def current_round(app: Application):  # type: ignore[no-untyped-def]
    game = quiz_of(app).engine.running(str(GROUP))
    assert game is not None and game.round is not None
    return game.round


async def test_a_question_delivered_by_the_outbox_is_edited_by_its_reveal(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    blocked = Blocked(emu)
    app, storage = start(emu, mind, settings, database)
    async with running(app, poll_timeout=1):
        await begin(emu, app)
        # the library's four tries failed, and the outbox's first resends: the question waits in the outbox
        await until(lambda: failed_tries(emu) > QUICK.retry_attempts, "a resend that failed too")
        assert not delivered(emu, "sendMessage", "Question 1/")
        blocked.on.clear()  # Telegram is back
        (question,) = await until(lambda: delivered(emu, "sendMessage", "Question 1/"), "the late question")
        await until(lambda: current_round(app).message_id == question.result["message_id"],
                    "the message recorded on the game")
        mark = len(emu.calls)
        await expire(app)
        (reveal,) = await until(lambda: [c for c in emu.calls[mark:] if c.method == "editMessageText"], "the reveal")
    assert reveal.params["message_id"] == question.result["message_id"]
    assert "Time's up" in (reveal.text or "")
    assert len(delivered(emu, "sendMessage", "Question 1/")) == 1  # posted once
    storage.close()


async def test_a_question_delivered_after_its_round_closed_still_gets_its_reveal(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    blocked = Blocked(emu)
    app, storage = start(emu, mind, settings, database)
    async with running(app, poll_timeout=1):
        await begin(emu, app)
        await until(lambda: failed_tries(emu) > QUICK.retry_attempts, "the question deferred")
        await expire(app)  # time runs out while the question is still waiting
        await until(lambda: current_round(app).closed, "the round closed")
        assert not emu.calls_to("editMessageText")  # nothing to edit yet
        blocked.on.clear()
        (question,) = await until(lambda: delivered(emu, "sendMessage", "Question 1/"), "the late question")
        (reveal,) = await until(lambda: emu.calls_to("editMessageText"), "the reveal of the late question")
        await until(lambda: not waiting(storage), "the outbox emptied")
    assert reveal.params["message_id"] == question.result["message_id"]
    # its time ran out before anyone could see it: the reveal says so, with the answer and its source
    assert "could not be shown in time" in (reveal.text or "") and "📚" in (reveal.text or "")
    assert len(emu.calls_to("editMessageText")) == 1  # revealed once
    storage.close()


async def test_a_question_never_delivered_is_dropped_and_the_game_goes_on(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    Blocked(emu)  # question 1 never gets through
    app, storage = start(emu, mind, settings, database)
    async with running(app, poll_timeout=1):
        await begin(emu, app)
        await until(lambda: failed_tries(emu) > QUICK.retry_attempts, "the question deferred")
        await expire(app)
        await until(lambda: current_round(app).closed, "the round closed")
        await until(lambda: quiz_of(app).engine.hurry(str(GROUP), "next"), "the next question")
        (second,) = await until(lambda: delivered(emu, "sendMessage", "Question 2/"), "question 2")
        # once the game has moved on, question 1 is no longer resent: given up as expired
        await until(lambda: Outbox(storage).outcomes()["expired"] == 1, "question 1 given up")
        mark = len(emu.calls)
        await expire(app)
        (reveal,) = await until(lambda: [c for c in emu.calls[mark:] if c.method == "editMessageText"], "reveal 2")
        await until(lambda: quiz_of(app).engine.hurry(str(GROUP), "next"), "the end")
        (final,) = await until(lambda: delivered(emu, "sendMessage", "Quiz over"), "the end of the game")
    assert reveal.params["message_id"] == second.result["message_id"]  # the reveal edits what people saw
    assert not delivered(emu, "sendMessage", "Question 1/")
    assert Outbox(storage).waiting().get("pending", 0) == 0 and Outbox(storage).waiting().get("sending", 0) == 0
    storage.close()


async def test_a_late_quiz_poll_is_closed_at_its_reveal(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    blocked = Blocked(emu, "sendPoll")
    app, storage = start(emu, mind, settings, database)
    async with running(app, poll_timeout=1):
        await begin(emu, app, mode="poll")
        await until(lambda: failed_tries(emu, "sendPoll") > QUICK.retry_attempts, "the poll deferred")
        await expire(app)
        await until(lambda: current_round(app).closed, "the round closed")
        blocked.on.clear()
        (poll,) = await until(lambda: delivered(emu, "sendPoll", "1/"), "the late poll")
        (stop,) = await until(lambda: emu.calls_to("stopPoll"), "the late poll closed")
    assert stop.params["message_id"] == poll.result["message_id"]
    storage.close()


async def test_a_question_that_waited_for_the_groups_window_is_not_posted_once_its_game_moved_on(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    """A busy group's question may wait up to a minute for its place (20 messages a minute per group, scaled
    to 1 in 3 s here). If its game ends meanwhile (stopped on another worker: here the engine's own /stop,
    as any worker's), the question must not arrive after the game is over."""
    from bot.channels.telegram_limits import SharedRateLimiter
    from bot.cluster.limits import Limit, SendBudget

    storage = open_storage(database)
    app = make_app(emu, Brain(mind, settings, storage), settings, options=QUICK,
                   rate_limiter=SharedRateLimiter(SendBudget(storage, group=Limit(1, 3.0))))
    async with running(app, poll_timeout=1):
        await app.bot.send_message(GROUP, "the group's window is taken")
        await begin(emu, app)
        await until(lambda: waiting(storage).get("queued"), "question 1 waiting for its place")
        await asyncio.to_thread(quiz_of(app).engine.stop, str(GROUP))  # as another worker's /stop would
        await until(lambda: Outbox(storage).outcomes()["expired"] == 1, "question 1 given up")
    assert not delivered(emu, "sendMessage", "Question 1/")
    assert not waiting(storage).get("queued") and not waiting(storage).get("sending")
    storage.close()


def shows_pending(storage: Storage) -> list[str]:
    return [str(k) for (k,) in storage.query("SELECT kind FROM quiz_timers WHERE kind LIKE 'show-%'")]


async def test_a_question_whose_worker_died_right_after_asking_it_is_shown_by_another_once(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    """A timer fires in one transaction (here: the pause is over, question 2 is asked) and its worker dies
    before the question is recorded in the outbox (played by a second engine that fires the timer and shows
    nothing). The question is not lost: a little later (the test makes it due), the live worker's poller
    shows it, once; and a step whose message was recorded leaves nothing to show again."""
    import time

    from bot.quiz import build_engine

    app, storage = start(emu, mind, settings, database)
    other = open_storage(database)
    dead = build_engine(settings, other, lambda: mind.kb)
    async with running(app, poll_timeout=1):
        await begin(emu, app)
        await until(lambda: delivered(emu, "sendMessage", "Question 1/"), "question 1")
        await expire(app)
        await until(lambda: current_round(app).closed and not shows_pending(storage), "question 1 revealed")
        # the dead worker's clock is past the 600 s pause: it alone takes the "next" timer, and dies
        fired = await asyncio.to_thread(dead.fire_due, 50, time.time() + 601)
        assert [f.kind for f in fired] == ["next"] and current_round(app).number == 2
        await until(lambda: quiz_of(app).engine.hurry(str(GROUP), "show-next"), "its steps left to show")
        (question,) = await until(lambda: delivered(emu, "sendMessage", "Question 2/"), "question 2, shown again")
        await until(lambda: current_round(app).message_id == question.result["message_id"], "question 2 recorded")
        await until(lambda: not shows_pending(storage), "nothing left to show")
    assert len(delivered(emu, "sendMessage", "Question 2/")) == 1
    other.close()
    storage.close()
