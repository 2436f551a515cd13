"""Quizzes in a Telegram group of three, end to end: real PTB Application, real HTTP, the Bot API emulator.

Time is not faked: a question's deadline is made to fire now by moving its timer (a due event in the
database) forward, the way a clock would reach it.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from telegram.ext import Application

from bot.channels.telegram import running
from bot.channels.telegram_quiz import TelegramQuiz
from bot.config import Settings, load_settings
from bot.dialogue import Brain, Mind
from bot.quiz import QuizEngine
from bot.storage import Storage, open_storage
from tests.support.botapi_emulator import DEFAULT_GROUP_ID, BotAPIEmulator, Call
from tests.support.telegram import make_app as shared_make_app
from tests.support.telegram import until

GROUP = DEFAULT_GROUP_ID
ANN, BOB, CY = 11, 12, 13
NAMES = {ANN: "Ann", BOB: "Bob", CY: "Cy"}


@pytest.fixture(scope="module")
def settings() -> Settings:
    base = load_settings(env={})
    return base.model_copy(update={"quiz": base.quiz.model_copy(update={"pause": 0.1, "seconds": 20})})


def make_app(emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path) -> Application:
    return shared_make_app(emu, Brain(mind, settings, open_storage(db)), settings)


@pytest_asyncio.fixture
async def app(emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path) -> AsyncIterator[Application]:
    application = make_app(emu, mind, settings, db)
    async with running(application, poll_timeout=1):
        yield application


def quiz_of(app: Application) -> TelegramQuiz:
    return app.bot_data["quiz"]  # type: ignore[no-any-return]


def say(emu: BotAPIEmulator, user: int, text: str) -> dict:  # type: ignore[type-arg]
    return emu.push_message(text, chat_id=GROUP, chat_type="group", user_id=user, first_name=NAMES[user])


async def next_call(emu: BotAPIEmulator, method: str, after: int, timeout: float = 5.0) -> Call:
    """The first ``method`` call recorded after ``after`` calls (wait for it)."""
    def wanted(call: Call) -> bool:
        return call.method == method and emu.calls.index(call) >= after
    return (await emu.wait_for_async(wanted, timeout=timeout))[0]


async def reply_to(emu: BotAPIEmulator, user: int, text: str) -> Call:
    mark = len(emu.calls)
    say(emu, user, text)
    return await next_call(emu, "sendMessage", mark)


async def forward(app: Application, timer: str, chat: int = GROUP) -> None:
    """Make the chat's ``timer`` (deadline, hint) fire now; it is armed just after the question is sent."""
    for _ in range(100):
        if await quiz_of(app).runner.fire_now(str(chat), timer):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {timer} timer in chat {chat}")


async def expire(app: Application, chat: int = GROUP) -> None:
    """The question's time runs out now."""
    await forward(app, "deadline", chat)


def engine(app: Application) -> QuizEngine:
    return quiz_of(app).engine


def right_answer(app: Application, typed: bool) -> str | int:
    """What a player who knows the answer types (a letter, or the name) or votes (an option index)."""
    game = engine(app).running(str(GROUP))
    assert game and game.round
    if game.round.options:
        return "ABCD"[game.round.correct[0]] if typed else game.round.correct[0]
    question = engine(app).question(game)
    assert question
    return question.answer


def wrong_option(app: Application) -> int:
    game = engine(app).running(str(GROUP))
    assert game and game.round
    return next(i for i in range(len(game.round.options)) if i not in game.round.correct)


async def settle(emu: BotAPIEmulator) -> None:
    for _ in range(200):
        if not emu.pending_updates:
            await asyncio.sleep(0.2)
            return
        await asyncio.sleep(0.02)
    raise AssertionError("updates stuck")


# --------------------------------------------------------------------------- poll mode


async def test_quiz_polls_score_each_player_and_end_with_a_ranking(emu: BotAPIEmulator, app: Application) -> None:
    mark = len(emu.calls)
    say(emu, ANN, "/quiz 2")
    poll = await next_call(emu, "sendPoll", mark)
    params = poll.params
    assert params["type"] == "quiz" and params["is_anonymous"] in (False, "false")
    assert int(params["open_period"]) == 20
    assert "according to" in params["explanation"] and params.get("correct_option_ids") is not None
    poll_id = poll.result["poll"]["id"]

    emu.push_poll_answer(poll_id, ANN, [right_answer(app, typed=False)], first_name="Ann")  # type: ignore[list-item]
    await settle(emu)
    emu.push_poll_answer(poll_id, BOB, [right_answer(app, typed=False)], first_name="Bob")  # type: ignore[list-item]
    emu.push_poll_answer(poll_id, CY, [wrong_option(app)], first_name="Cy")
    emu.push_poll_answer(poll_id, CY, [right_answer(app, typed=False)], first_name="Cy")  # a second vote: ignored
    emu.push_poll_answer("someone-elses-poll", BOB, [0], first_name="Bob")  # not ours: ignored
    await settle(emu)

    mark = len(emu.calls)
    await expire(app)
    second = await next_call(emu, "sendPoll", mark)
    emu.push_poll_answer(second.result["poll"]["id"], CY, [right_answer(app, typed=False)], first_name="Cy")
    await settle(emu)
    mark = len(emu.calls)
    await expire(app)
    final = await next_call(emu, "sendMessage", mark)
    assert "Quiz over" in final.text
    lines = final.text.splitlines()
    ann = next(line for line in lines if "Ann" in line)
    bob = next(line for line in lines if "Bob" in line)
    assert "1 right" in ann and "1 right" in bob and "1 right" in next(line for line in lines if "Cy" in line)
    assert lines.index(ann) < lines.index(bob)  # same question, Ann was faster
    board = await reply_to(emu, BOB, "/leaderboard")
    assert "Ann" in board.text and "Bob" in board.text and "Cy" in board.text
    assert len(emu.calls_to("sendMessage")) <= 3  # one poll per question, one ranking: no flood


async def test_second_quiz_in_the_same_chat_is_refused(emu: BotAPIEmulator, app: Application) -> None:
    mark = len(emu.calls)
    say(emu, ANN, "/quiz 3")
    say(emu, BOB, "/quiz 5")
    refusal = await next_call(emu, "sendMessage", mark)
    assert "already running" in refusal.text
    assert len(emu.calls_to("sendPoll")) == 1


# --------------------------------------------------------------------------- text mode


async def test_two_players_race_on_a_typed_answer(emu: BotAPIEmulator, app: Application) -> None:
    mark = len(emu.calls)
    say(emu, ANN, "/quiz 1 text")
    question = await next_call(emu, "sendMessage", mark)
    assert "Question 1/1" in question.text
    answer = str(right_answer(app, typed=True))
    mark = len(emu.calls)
    say(emu, BOB, answer)
    say(emu, CY, answer)
    reveal = await next_call(emu, "editMessageText", mark)
    assert "Bob got it" in reveal.text and "according to" in reveal.text
    final = await next_call(emu, "sendMessage", mark)
    assert "Winner: Bob" in final.text and "Cy" not in final.text
    assert not [c for c in emu.calls_to("sendMessage") if c.text and "Len Wiseman" in c.text and "Question" not in c.text
                and "Quiz" not in c.text]  # the answers were not also answered as chat questions


async def test_time_out_hints_then_reveals_with_the_source(emu: BotAPIEmulator, app: Application) -> None:
    await engine_settings(app, "mode", "text")
    mark = len(emu.calls)
    say(emu, ANN, "/quiz 1")
    question = await next_call(emu, "sendMessage", mark)
    message_id = question.result["message_id"]
    mark = len(emu.calls)
    game = engine(app).running(str(GROUP))
    assert game is not None and game.round is not None
    await forward(app, "hint")
    if len(game.round.options) != 2:  # true/false has no useful hint
        hint = await next_call(emu, "editMessageText", mark)
        assert "Hint" in hint.text and hint.params["message_id"] == message_id
        assert ("it's not" in hint.text) == bool(game.round.options)
    answer = str(right_answer(app, typed=True))
    mark = len(emu.calls)
    await expire(app)
    reveal = await next_call(emu, "editMessageText", mark)
    assert "Time's up" in reveal.text and "according to" in reveal.text
    final = await next_call(emu, "sendMessage", mark)
    assert "Nobody scored" in final.text
    late = len(emu.calls)
    say(emu, BOB, answer)  # the right answer, after time-out: not scored
    await settle(emu)
    assert not [c for c in emu.calls[late:] if "Bob got it" in (c.text or "")]
    board = await reply_to(emu, ANN, "/leaderboard")
    assert "Bob" not in board.text


async def engine_settings(app: Application, key: str, value: str) -> None:
    engine(app).change_setting(str(GROUP), key, value)


async def test_close_answers_get_one_nudge_and_junk_is_harmless(emu: BotAPIEmulator, app: Application) -> None:
    await engine_settings(app, "mode", "text")
    await engine_settings(app, "difficulty", "easy")
    mark = len(emu.calls)
    say(emu, ANN, "/quiz 1")
    await next_call(emu, "sendMessage", mark)
    game = engine(app).running(str(GROUP))
    assert game is not None
    say(emu, BOB, "💃🔫 **_[x](y)_** <b>" * 250)  # 4,000+ characters of emoji and markup
    say(emu, CY, "/score")
    await settle(emu)
    score = [c for c in emu.calls[mark:] if c.method == "sendMessage" and "Scores after question 1" in (c.text or "")]
    assert score, "a command mid-game still works"
    question = engine(app).question(game)
    assert question is not None
    if not game.round.options:  # type: ignore[union-attr]
        near = question.answer[:-2] if len(question.answer) > 6 else question.answer + "xyz"
        before = len(emu.calls)
        say(emu, BOB, near)
        say(emu, CY, near)
        await settle(emu)
        nudges = [c for c in emu.calls[before:] if c.method == "sendMessage" and "Close" in (c.text or "")]
        assert len(nudges) <= 1


# --------------------------------------------------------------------------- control and permissions


async def test_stop_mid_game_is_for_the_starter_or_admins_and_keeps_points(emu: BotAPIEmulator,
                                                                         app: Application) -> None:
    emu.set_chat_admins(GROUP, [CY])
    await engine_settings(app, "mode", "text")
    mark = len(emu.calls)
    say(emu, ANN, "/quiz 5")
    await next_call(emu, "sendMessage", mark)
    mark = len(emu.calls)
    say(emu, BOB, str(right_answer(app, typed=True)))
    await next_call(emu, "editMessageText", mark)
    refused = await reply_to(emu, BOB, "/stop")
    assert "Only this chat's admins" in refused.text
    mark = len(emu.calls)
    say(emu, CY, "/stop")  # a chat admin
    final = await next_call(emu, "sendMessage", mark)
    assert "Quiz stopped" in final.text and "Bob" in final.text
    assert engine(app).running(str(GROUP)) is None
    board = await reply_to(emu, ANN, "/leaderboard")
    assert "Bob" in board.text
    again = await reply_to(emu, ANN, "/stop")
    assert "No quiz is running" in again.text


async def test_settings_are_changed_by_chat_admins_only(emu: BotAPIEmulator, app: Application) -> None:
    emu.set_chat_admins(GROUP, [ANN])
    refused = await reply_to(emu, BOB, "/quizsettings seconds 30")
    assert "Only this chat's admins" in refused.text
    assert engine(app).settings(str(GROUP)).seconds == 20
    shown = await reply_to(emu, BOB, "/quizsettings")  # anyone may look
    assert "seconds 20" in shown.text
    saved = await reply_to(emu, ANN, "/quizsettings seconds 30")
    assert "Saved" in saved.text and engine(app).settings(str(GROUP)).seconds == 30
    bad = await reply_to(emu, ANN, "/quizsettings seconds 1")
    assert "between 5 and 300" in bad.text


async def test_skip_moves_on_and_reveals(emu: BotAPIEmulator, app: Application) -> None:
    await engine_settings(app, "mode", "text")
    mark = len(emu.calls)
    say(emu, ANN, "/quiz 2")
    await next_call(emu, "sendMessage", mark)
    mark = len(emu.calls)
    say(emu, ANN, "/skip")
    reveal = await next_call(emu, "editMessageText", mark)
    assert "Skipped" in reveal.text
    second = await next_call(emu, "sendMessage", mark)
    assert "Question 2/2" in second.text


async def test_a_restart_mid_game_resumes_with_every_point(emu: BotAPIEmulator, mind: Mind, settings: Settings,
                                                          db: Path) -> None:
    first = make_app(emu, mind, settings, db)
    async with running(first, poll_timeout=1):
        mark = len(emu.calls)
        say(emu, ANN, "/quiz 3")
        poll = await next_call(emu, "sendPoll", mark)
        emu.push_poll_answer(poll.result["poll"]["id"], ANN, [right_answer(first, typed=False)], first_name="Ann")
        await settle(emu)
        points = engine(first).running(str(GROUP)).players[str(ANN)].points  # type: ignore[union-attr]
        assert points > 0
        poll_id = poll.result["poll"]["id"]
    # the process is gone; a new one starts on the same database
    second = make_app(emu, mind, settings, db)
    async with running(second, poll_timeout=1):
        game = engine(second).running(str(GROUP))
        assert game is not None and game.players[str(ANN)].points == points
        emu.push_poll_answer(poll_id, BOB, [right_answer(second, typed=False)], first_name="Bob")
        await settle(emu)
        assert str(BOB) in engine(second).running(str(GROUP)).players  # type: ignore[union-attr]
        mark = len(emu.calls)
        await expire(second)
        await next_call(emu, "sendPoll", mark)  # and the game goes on
        score = await reply_to(emu, CY, "/score")
        assert "Ann" in score.text and str(points) in score.text


async def test_poll_send_failure_does_not_kill_the_game(emu: BotAPIEmulator, app: Application) -> None:
    emu.inject_fault("sendPoll", "bad_request", times=1, description="Bad Request: poll can't be sent")
    mark = len(emu.calls)
    say(emu, ANN, "/quiz 2")
    await settle(emu)
    assert engine(app).running(str(GROUP)) is not None
    await expire(app)
    poll = await next_call(emu, "sendPoll", mark)  # the second question goes out
    assert poll.ok


async def test_a_vote_is_scored_while_every_chat_slot_waits_behind_a_backlog(emu: BotAPIEmulator,
                                                                             app: Application) -> None:
    """One process (SQLite, polling): a busy bot's chats wait for their turn to send (Telegram's limits), and
    a quiz vote, which has no chat, must not wait behind them: it counts only while its question is open."""
    from bot.channels.telegram import MAX_CONCURRENT_UPDATES
    from telegram.ext import MessageHandler, filters

    release = asyncio.Event()
    held: list[int] = []
    # more chats than there are chat slots, and more than twice as many (PTB's own semaphore, 32 wide when
    # it was sized by the slots, let the vote in only after the chats that held it)
    backlog = [5000 + n for n in range(3 * MAX_CONCURRENT_UPDATES + 4)]

    async def waiting_to_send(update: object, _context: object) -> None:
        held.append(1)
        await release.wait()  # a chat whose answer waits for its place in the limits

    app.add_handler(MessageHandler(filters.Chat(backlog), waiting_to_send), group=-5)
    mark = len(emu.calls)
    say(emu, ANN, "/quiz 1")
    poll = await next_call(emu, "sendPoll", mark)
    try:
        for chat in backlog:
            emu.push_message("who directed it?", chat_id=chat, user_id=chat)
        await until(lambda: len(held) >= MAX_CONCURRENT_UPDATES, "every chat slot busy")
        emu.push_poll_answer(poll.result["poll"]["id"], BOB, [right_answer(app, typed=False)],  # type: ignore[list-item]
                             first_name="Bob")

        def scored() -> bool:
            game = engine(app).running(str(GROUP))
            return game is not None and game.players.get(str(BOB)) is not None

        await until(scored, "the vote scored while the chats wait")
        game = engine(app).running(str(GROUP))
        assert game is not None and game.players[str(BOB)].points > 0
        assert len(held) == MAX_CONCURRENT_UPDATES  # the chats are still waiting: the vote did not take a chat's slot
    finally:
        release.set()
    await until(lambda: len(held) == len(backlog), "every chat handled after all")


async def test_a_poll_held_up_by_the_group_limit_is_open_for_its_whole_period(emu: BotAPIEmulator,
                                                                              app: Application) -> None:
    """A busy group has used its 20 messages of the last minute: the quiz poll waits in the limiter for the
    window to free, then Telegram keeps it open for ``open_period`` from its arrival. The round's time runs
    from then too, or the game closes it early and the votes of its last seconds score nothing."""
    import time as clock

    from bot.cluster.limits import GROUP_LIMIT

    storage = engine(app).storage
    full_until = clock.time() + 1.0  # the group's window frees in about a second
    for slot in range(1, GROUP_LIMIT.count + 1):  # every place of the group taken by a send answered a minute ago
        storage.query("INSERT INTO send_slots(key, slot, at) VALUES (?, ?, ?)",
                      (f"chat:{GROUP}", slot, full_until - GROUP_LIMIT.seconds))
    mark = len(emu.calls)
    say(emu, ANN, "/quiz 1")
    poll = await next_call(emu, "sendPoll", mark)
    asked = engine(app).running(str(GROUP)).round.asked_at  # type: ignore[union-attr]
    assert poll.time - asked >= 0.9  # it did wait for the window

    def recorded() -> int | None:
        game = engine(app).running(str(GROUP))
        return game.round.message_id if game and game.round else None

    await until(recorded, "the poll recorded")
    game = engine(app).running(str(GROUP))
    assert game is not None and game.round is not None
    assert game.round.deadline >= poll.time + int(poll.params["open_period"])  # votes count all the while
    due = storage.query("SELECT due_at FROM quiz_timers WHERE kind = 'deadline'")
    assert [float(d) for (d,) in due] == [game.round.deadline]
