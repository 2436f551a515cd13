"""End-to-end tests of the Telegram front: a real PTB Application, real HTTP, the Bot API emulator.

Each test builds its own bot (fresh Brain on a fresh SQLite file) around one shared, read-only Mind.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from telegram.ext import AIORateLimiter, Application

from bot.channels.telegram import APOLOGY, FrontRateLimiter, WebhookConfig, build_application, running
from bot.channels.telegram_limits import SharedRateLimiter
from bot.channels.telegram_outbox import OutboxLimiter
from bot.config import Settings
from bot.dialogue import Brain, Mind
from bot.reply import Reply
from bot.storage import Storage, open_storage
from tests.support.botapi_emulator import DEFAULT_GROUP_ID, DEFAULT_USER_ID, BotAPIEmulator, Call
from tests.support.telegram import FAST, TOKEN, USERNAME
from tests.support.telegram import make_app as shared_make_app

def make_app(emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path,
             brain: Brain | None = None) -> Application:
    return shared_make_app(emu, brain or Brain(mind, settings, open_storage(db)), settings)


@pytest_asyncio.fixture
async def bot(emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path) -> AsyncIterator[Application]:
    app = make_app(emu, mind, settings, db)
    async with running(app, poll_timeout=1):
        yield app


async def ask(emu: BotAPIEmulator, text: str, *, count: int = 1, timeout: float = 5.0, **push: object) -> Call:
    """Push a message and return the bot's next message in that chat."""
    seen = {id(c) for c in emu.calls}  # taken before the push: the answer may come back at once
    update = emu.push_message(text, **push)  # type: ignore[arg-type]
    chat_id = str(update["message"]["chat"]["id"])
    calls = await emu.wait_for_async(
        lambda c: c.method == "sendMessage" and id(c) not in seen and str(c.params.get("chat_id")) == chat_id,
        count=count, timeout=timeout)
    return calls[-1]


def quoted(call: Call) -> bool:
    return bool(call.params.get("reply_to_message_id") or call.params.get("reply_parameters"))


async def settle(emu: BotAPIEmulator) -> None:
    """Wait until every pushed update was fetched and handled (the offset moved past it)."""
    for _ in range(200):
        if not emu.pending_updates:
            await asyncio.sleep(0.15)  # let handlers of the last batch finish
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"updates stuck: {emu.pending_updates}")


# --------------------------------------------------------------------------- private chats


async def test_private_question_gets_an_answer_at_once_without_a_typing_flash(
        emu: BotAPIEmulator, bot: Application) -> None:
    answer = await ask(emu, "who directs ballerina?")
    assert "Len Wiseman" in answer.text
    assert answer.params["parse_mode"] == "HTML"
    assert not quoted(answer)
    await asyncio.sleep(FAST.typing_delay + 0.2)
    assert emu.calls_to("sendChatAction") == []  # out at once: nothing to announce


async def test_typing_is_shown_while_the_group_limit_holds_an_answer(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path) -> None:
    brain = Brain(mind, settings, open_storage(db))
    # one message per 2 s in a group (Telegram's is 20 a minute): the second answer waits its turn
    limiter = FrontRateLimiter(group_max_rate=1, group_time_period=2.0)
    app = shared_make_app(emu, brain, settings, rate_limiter=limiter)
    async with running(app, poll_timeout=1):
        first = await ask(emu, "@ballerina_trivia_bot who directs ballerina?", chat_type="group")
        asked = time.time()
        emu.push_message("@ballerina_trivia_bot who plays Winston?", chat_type="group")
        (typing,) = await emu.wait_for_async("sendChatAction", timeout=5)
        second = (await emu.wait_for_async("sendMessage", count=2, timeout=5))[-1]
    assert "Len Wiseman" in first.text and "Ian McShane" in second.text
    assert typing.params == {"chat_id": DEFAULT_GROUP_ID, "action": "typing"}
    assert asked + FAST.typing_delay <= typing.time < second.time - 0.5  # shown while it waited...
    assert typing.time - first.time < 1.5  # ...not itself held back by the group limit
    assert len(emu.calls_to("sendChatAction")) == 1  # and not sent again once the answer was out


async def test_follow_up_uses_the_chat_context(emu: BotAPIEmulator, bot: Application) -> None:
    first = await ask(emu, "who plays Winston?")
    assert "Ian McShane" in first.text
    follow = await ask(emu, "and Charon?")
    assert "Lance Reddick" in follow.text


async def test_start_help_about_cancel_and_command_menu(emu: BotAPIEmulator, bot: Application) -> None:
    menu = emu.get_commands()
    quiz = ["quiz", "score", "leaderboard", "skip", "stop", "quizsettings"]
    assert [c["command"] for c in menu] == ["start", "help", "ask", "about", "cancel", *quiz]
    assert [c["command"] for c in emu.get_commands({"type": "all_group_chats"})] == ["help", "ask", "about",
                                                                                    "cancel", *quiz]

    start = await ask(emu, "/start", first_name="Anna")
    assert "Hi, Anna" in start.text and "Ballerina" in start.text
    buttons = start.params["reply_markup"]["inline_keyboard"]
    assert buttons[0][0]["text"] == "Who directs Ballerina?"

    help_ = await ask(emu, "/help")
    assert "In groups, mention @ballerina_trivia_bot" in help_.text
    about = await ask(emu, "/about")
    assert "Sources" in about.text and "Cineworld" in about.text and "Collider" in about.text

    await ask(emu, "who plays Winston?")
    cancel = await ask(emu, "/cancel")
    assert "forgotten" in cancel.text
    after = await ask(emu, "and Charon?")
    assert "Lance Reddick" in after.text or "Charon" in after.text  # answered afresh, not as a follow-up


async def test_suggestion_button_press_asks_that_question(emu: BotAPIEmulator, bot: Application) -> None:
    unknown = await ask(emu, "what is the weather on mars")
    rows = unknown.params["reply_markup"]["inline_keyboard"]
    data = rows[0][0]["callback_data"]
    assert data == "ask:Who directs Ballerina?"
    emu.push_callback_query(data, message_id=unknown.result["message_id"])
    (answered,) = await emu.wait_for_async("answerCallbackQuery")
    answer = (await emu.wait_for_async("sendMessage", count=2))[-1]
    assert answer.text.startswith("❓ Who directs Ballerina?\n") and "Len Wiseman" in answer.text
    assert answer.entity_types[0] == "bold"
    assert answered.time <= answer.time


async def test_stale_button_is_answered_not_ignored(emu: BotAPIEmulator, bot: Application) -> None:
    emu.push_callback_query("something:else")
    (answered,) = await emu.wait_for_async("answerCallbackQuery")
    assert "expired" in answered.params["text"]


async def test_user_name_full_of_markdown_characters(emu: BotAPIEmulator, bot: Application) -> None:
    name = "*_[Bold]_(x)~`>#+-=|{}.!<b>&amp;"
    start = await ask(emu, "/start", first_name=name, user_id=2002)
    assert f"Hi, {name}!" in start.text
    weird = await ask(emu, f"who is {name} <i>?", user_id=2002)
    assert weird.ok and weird.text


# --------------------------------------------------------------------------- groups


async def test_group_mention_reply_and_ask_are_answered(emu: BotAPIEmulator, bot: Application) -> None:
    group = {"chat_type": "group"}
    mention = await ask(emu, f"@{USERNAME} who directs ballerina?", **group)
    assert "Len Wiseman" in mention.text
    assert quoted(mention)

    replied = await ask(emu, "and who plays Winston?", reply_to_bot=True, **group)
    assert "Ian McShane" in replied.text

    asked = await ask(emu, f"/ask@{USERNAME} when is ballerina out?", **group)
    assert "2024" in asked.text
    empty = await ask(emu, "/ask", **group)
    assert empty.params["reply_markup"]["inline_keyboard"]  # "ask me what?" with examples


async def test_answers_in_a_forum_topic_stay_in_that_topic(emu: BotAPIEmulator, bot: Application) -> None:
    topic = {"chat_type": "supergroup", "message_thread_id": 7}
    answer = await ask(emu, f"@{USERNAME} who directs ballerina?", **topic)
    assert "Len Wiseman" in answer.text and answer.params["message_thread_id"] == 7
    for command in ("/help", "/score", "/leaderboard", "/kb show Ballerina"):  # the front, quiz and admin
        reply = await ask(emu, f"{command.split()[0]}@{USERNAME} {' '.join(command.split()[1:])}".strip(), **topic)
        assert reply.params.get("message_thread_id") == 7, command
    general = await ask(emu, f"@{USERNAME} who plays Winston?", chat_type="supergroup")
    assert "message_thread_id" not in general.params


async def test_group_chatter_and_other_bots_commands_are_ignored(emu: BotAPIEmulator, bot: Application) -> None:
    for text in ("who directs ballerina?", "lol", "/start@other_bot", "/weather@other_bot", "hey @someone_else"):
        emu.push_message(text, chat_type="group")
    emu.push_message("@ballerina_trivia_bot hi", chat_type="group", is_bot=True, user_id=555)  # a bot
    await settle(emu)
    assert emu.sent_messages(DEFAULT_GROUP_ID) == []
    assert emu.calls_to("sendChatAction") == []


async def test_spoilers_hidden_in_groups_but_not_in_private(emu: BotAPIEmulator, bot: Application) -> None:
    question = "what happens in john wick 4"
    private = await ask(emu, question)
    assert "spoiler" not in private.entity_types
    group = await ask(emu, f"/ask {question}", chat_type="group")
    assert "spoiler" in group.entity_types
    assert "global journey" in group.text  # the words are there, hidden until tapped


# --------------------------------------------------------------------------- inline mode


async def test_inline_query_offers_the_answer(emu: BotAPIEmulator, bot: Application) -> None:
    emu.push_inline_query("who directs ballerina")
    (call,) = await emu.wait_for_async("answerInlineQuery")
    results = call.params["results"]
    assert results[0]["type"] == "article"
    assert "Len Wiseman" in results[0]["input_message_content"]["message_text"]
    assert call.params["button"]["start_parameter"] == "inline"

    emu.push_inline_query("")  # nothing typed yet: offer answers to the examples
    calls = await emu.wait_for_async("answerInlineQuery", count=2)
    assert len(calls[-1].params["results"]) >= 3


# --------------------------------------------------------------------------- bad input


async def test_bad_input_gets_a_sensible_reply_or_silence(emu: BotAPIEmulator, bot: Application) -> None:
    emu.push_sticker()
    sticker = (await emu.wait_for_async("sendMessage"))[-1]
    assert "only read text" in sticker.text
    emu.push_photo(caption="look")
    await emu.wait_for_async("sendMessage", count=2)
    unknown_command = await ask(emu, "/frobnicate")
    assert "don't know that command" in unknown_command.text

    long_text = await ask(emu, ("who directs ballerina " * 200)[:4096])
    assert long_text.ok

    await ask(emu, "who plays Winston?")
    emu.push_edited_message("who plays Charon?")  # an edited question is answered again, quoting it
    edited = (await emu.wait_for_async("sendMessage", count=6))[-1]
    assert "Lance Reddick" in edited.text and quoted(edited)

    emu.push_channel_post("hello channel")
    emu.push_update({"message": {"message_id": 99, "date": 0, "chat": {"id": 7, "type": "private"}}})
    emu.push_message("bot chatter", is_bot=True, user_id=556)
    emu.push_message("who directs ballerina?")
    await emu.wait_for_async("sendMessage", count=7)
    await settle(emu)
    # no reply to the channel post, the empty message or the bot
    assert len(emu.sent_messages()) == 7, "\n".join(f"{c.params['chat_id']} {c.text[:30]}" for c in emu.sent_messages())
    assert not [c for c in emu.calls if not c.ok]


async def test_unanswerable_message_gets_an_apology_and_the_bot_keeps_running(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Flaky(Brain):
        def reply(self, chat: str | None, user: str | None, text: str) -> Reply:
            if "boom" in text:
                raise RuntimeError("a bug in one answer")
            return super().reply(chat, user, text)

    app = make_app(emu, mind, settings, db, Flaky(mind, settings, open_storage(db)))
    async with running(app, poll_timeout=1):
        sorry = await ask(emu, "boom")
        assert sorry.text == APOLOGY
        sorry_group = await ask(emu, f"@{USERNAME} boom", chat_type="group")
        assert sorry_group.text == APOLOGY
        fine = await ask(emu, "who directs ballerina?")
        assert "Len Wiseman" in fine.text
    assert "a bug in one answer" in caplog.text


async def test_rejected_html_falls_back_to_plain_text(emu: BotAPIEmulator, bot: Application) -> None:
    emu.inject_fault("sendMessage", "bad_request", description="Bad Request: can't parse entities: injected")
    answer = await ask(emu, "who directs ballerina?")
    assert "Len Wiseman" in answer.text and "parse_mode" not in answer.params


# --------------------------------------------------------------------------- faults


async def test_429_is_honoured_and_the_message_still_delivered(emu: BotAPIEmulator, bot: Application) -> None:
    emu.inject_fault("sendMessage", "429", retry_after=1)
    answer = await ask(emu, "who directs ballerina?", timeout=8)
    assert "Len Wiseman" in answer.text
    failed = [c for c in emu.calls_to("sendMessage", include_failed=True) if not c.ok]
    assert [c.fault for c in failed] == ["429"]
    assert answer.time - failed[0].time >= 1.0  # waited as told
    assert len(emu.sent_messages()) == 1


async def test_502s_and_network_errors_are_retried_with_back_off(emu: BotAPIEmulator, bot: Application) -> None:
    emu.inject_fault("sendMessage", "502", times=2)
    emu.inject_fault("sendMessage", "500", times=1)
    answer = await ask(emu, "who directs ballerina?")
    assert "Len Wiseman" in answer.text
    faults = [c.fault for c in emu.calls_to("sendMessage", include_failed=True)]
    assert faults == ["502", "502", "500", None]
    assert len(emu.sent_messages()) == 1


async def test_getupdates_failures_do_not_lose_or_repeat_updates(emu: BotAPIEmulator, bot: Application) -> None:
    emu.inject_fault("getUpdates", "502", times=2)
    first = await ask(emu, "who directs ballerina?", timeout=10)
    assert "Len Wiseman" in first.text
    await settle(emu)
    assert len(emu.sent_messages()) == 1


async def test_token_is_not_logged(emu: BotAPIEmulator, bot: Application, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emu.inject_fault("sendMessage", "502")
    await ask(emu, "who directs ballerina?")
    assert TOKEN not in caplog.text
    assert "sendMessage failed (HTTP 502)" in caplog.text


# --------------------------------------------------------------------------- persistence and webhook


async def test_restart_keeps_the_chat_context(emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path) -> None:
    async with running(make_app(emu, mind, settings, db), poll_timeout=1):
        assert "Ian McShane" in (await ask(emu, "who plays Winston?")).text
        await settle(emu)
    # a new process: new Brain, new Application, same database
    async with running(make_app(emu, mind, settings, db), poll_timeout=1):
        follow = await ask(emu, "and Charon?")
    assert "Lance Reddick" in follow.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_mode_requires_the_secret_header(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path) -> None:
    port = _free_port()
    hook = WebhookConfig(f"http://127.0.0.1:{port}/tg/hook", "127.0.0.1", port, "s3cr3t_Token")
    async with running(make_app(emu, mind, settings, db), hook):
        assert emu.webhook_url == hook.url and emu.webhook_secret == "s3cr3t_Token"
        update = emu.push_message("who directs ballerina?")
        assert await emu.deliver_webhook_async(update, secret=None) == 403
        assert await emu.deliver_webhook_async(update, secret="wrong") == 403
        assert emu.sent_messages() == []
        assert await emu.deliver_webhook_async(update) == 200
        (answer,) = await emu.wait_for_async("sendMessage")
        assert "Len Wiseman" in answer.text
        follow = emu.push_message("who plays Winston?")
        assert await emu.deliver_webhook_async(follow) == 200
        await emu.wait_for_async("sendMessage", count=2)


def test_webhook_config_makes_up_a_secret_when_none_is_set(settings: Settings) -> None:
    s = settings.model_copy(deep=True)
    s.telegram.webhook_url = "https://example.com/hook"
    one, two = WebhookConfig.from_settings(s), WebhookConfig.from_settings(s)
    assert len(one.secret_token) >= 32 and one.secret_token != two.secret_token
    s.telegram.secret_token = "given"
    assert WebhookConfig.from_settings(s).secret_token == "given"


def test_build_application_needs_a_token_and_does_no_io(mind: Mind, settings: Settings, db: Path) -> None:
    with pytest.raises(ValueError, match="token"):
        build_application(Brain(mind, settings, open_storage(db)), settings.model_copy(deep=True))
    app = build_application(Brain(mind, settings, open_storage(db)), settings, token=TOKEN,
                            base_url="http://127.0.0.1:1/bot")
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, OutboxLimiter) and limiter.outbox is not None  # every message is kept until sent
    assert isinstance(limiter.inner, SharedRateLimiter)  # Telegram's limits as sliding windows, SQLite too
    assert app.bot.base_url == f"http://127.0.0.1:1/bot{TOKEN}"
    assert app.bot.base_file_url == f"http://127.0.0.1:1/file/bot{TOKEN}"


async def test_many_chats_at_once_each_get_every_reply_in_order(emu: BotAPIEmulator, bot: Application) -> None:
    users = range(3000, 3020)
    for user in users:
        emu.push_message("who plays Winston?", user_id=user)
        emu.push_message("and Charon?", user_id=user)
    await emu.wait_for_async("sendMessage", count=40, timeout=10)
    await settle(emu)
    for user in users:
        texts = [c.text or "" for c in emu.sent_messages(user)]
        assert len(texts) == 2 and "Ian McShane" in texts[0] and "Lance Reddick" in texts[1]
    assert DEFAULT_USER_ID not in users
