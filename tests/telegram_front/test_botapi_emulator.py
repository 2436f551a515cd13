"""Tests of the Bot API emulator, driven through the real python-telegram-bot stack.

Why: the emulator is only useful if PTB accepts what it returns and maps its
errors to the same exceptions as for the real Telegram, so every test goes
through ``telegram.Bot`` / ``telegram.ext.Application`` rather than raw HTTP
(except where raw HTTP is the thing being tested).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import pytest_asyncio
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from tests.support.botapi_emulator import BotAPIEmulator, Call, parse_entities
from tests.support.telegram import TOKEN

CHAT = 1001


@pytest_asyncio.fixture
async def bot(emu: BotAPIEmulator) -> AsyncIterator[Bot]:
    request = HTTPXRequest(read_timeout=3, connect_timeout=3)
    async with Bot(TOKEN, base_url=emu.base_url, request=request, get_updates_request=HTTPXRequest(read_timeout=5)) as b:
        yield b


# --------------------------------------------------------------------------- basics


@pytest.mark.asyncio
async def test_get_me_and_recording(emu: BotAPIEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "ballerina_trivia_bot"
    assert me.is_bot and me.id == 123
    # Bot.initialize() already called getMe once
    assert [c.method for c in emu.calls_to("getMe")] == ["getMe", "getMe"]


@pytest.mark.asyncio
async def test_wrong_token_and_unknown_method(emu: BotAPIEmulator) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=emu.base_url) as wrong:
            await wrong.get_me()
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{emu.base_url}{TOKEN}/noSuchMethod", json={})
        get_me = await client.get(f"{emu.base_url}{TOKEN}/getMe")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert get_me.json()["result"]["username"] == "ballerina_trivia_bot"


@pytest.mark.asyncio
async def test_request_encodings(emu: BotAPIEmulator, bot: Bot) -> None:
    """PTB form-encodes simple calls and uses multipart for files; JSON/GET also work."""
    assert await bot.set_webhook("https://example.com/hook", certificate=b"-----BEGIN CERT-----")
    (call,) = emu.calls_to("setWebhook")
    assert call.params["url"] == "https://example.com/hook"
    assert call.params["certificate"]["size"] == len(b"-----BEGIN CERT-----")
    await bot.delete_webhook()
    async with httpx.AsyncClient(base_url=f"{emu.base_url}{TOKEN}") as client:
        by_json = await client.post("/sendMessage", json={"chat_id": CHAT, "text": "42"})
        by_get = await client.get("/sendMessage", params={"chat_id": CHAT, "text": "true"})
        missing = await client.post("/sendMessage", json={"text": "no chat"})
        garbage = await client.post("/getUpdates", json={"offset": "not a number"})
    assert by_json.json()["result"]["text"] == "42"  # text stays a string
    assert by_get.json()["result"]["text"] == "true"
    assert missing.status_code == 400 and missing.json()["description"] == "Bad Request: chat_id is empty"
    assert garbage.status_code == 400


# --------------------------------------------------------------------------- formatting


@pytest.mark.asyncio
async def test_send_message_html_records_parsed_text_and_entities(emu: BotAPIEmulator, bot: Bot) -> None:
    message = await bot.send_message(
        CHAT, "<b>Q1</b>: who? <tg-spoiler>Pavlova</tg-spoiler> &lt;3", parse_mode=ParseMode.HTML
    )
    assert message.text == "Q1: who? Pavlova <3"
    assert message.from_user.username == "ballerina_trivia_bot"
    assert [e.type for e in message.entities] == ["bold", "spoiler"]
    call = emu.sent_messages(CHAT)[-1]
    assert call.text == "Q1: who? Pavlova <3"
    assert call.entity_types == ["bold", "spoiler"]
    second = await bot.send_message(CHAT, "next")
    assert second.message_id == message.message_id + 1


@pytest.mark.asyncio
@pytest.mark.parametrize("bad", ["<b>open", "<b>x</i>", "a < b", "fish & chips", "<blink>x</blink>"])
async def test_send_message_rejects_bad_html(bot: Bot, bad: str) -> None:
    with pytest.raises(BadRequest, match="(?i)Can't parse entities"):
        await bot.send_message(CHAT, bad, parse_mode=ParseMode.HTML)


@pytest.mark.asyncio
async def test_send_message_markdown_v2(emu: BotAPIEmulator, bot: Bot) -> None:
    text = r"*Bold* _it_ __u__ ~s~ ||secret|| `code` [site](https://example.com) 3\.5\!"
    message = await bot.send_message(CHAT, text, parse_mode=ParseMode.MARKDOWN_V2)
    assert message.text == "Bold it u s secret code site 3.5!"
    assert emu.sent_messages()[-1].entity_types == [
        "bold", "italic", "underline", "strikethrough", "spoiler", "code", "text_link",
    ]
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved and must be escaped"):
        await bot.send_message(CHAT, "Well done. Next", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match="(?i)Can't find end of Bold entity"):
        await bot.send_message(CHAT, r"*unbalanced", parse_mode=ParseMode.MARKDOWN_V2)
    failed = emu.calls_to("sendMessage", include_failed=True)
    assert [c.ok for c in failed] == [True, False, False]


def test_entity_parsing_details() -> None:
    text, entities = parse_entities("🩰 <b>tutu</b>", "HTML")
    assert text == "🩰 tutu"
    assert entities == [{"type": "bold", "offset": 3, "length": 4}]  # UTF-16 offsets
    text, entities = parse_entities('<pre><code class="language-python">x = 1</code></pre>', "HTML")
    assert entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]
    text, entities = parse_entities("```python\nprint(1)```\n>quoted", "MarkdownV2")
    assert text == "print(1)\nquoted"
    assert [e["type"] for e in entities] == ["pre", "blockquote"]
    assert parse_entities("*bold* and _it_", "Markdown")[0] == "bold and it"


@pytest.mark.asyncio
async def test_text_validation(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)Message text is empty"):
        await bot.send_message(CHAT, "<b></b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)Message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    # 4096 chars after parsing is fine even though the source is longer
    await bot.send_message(CHAT, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    too_long_data = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="x" * 65)]])
    with pytest.raises(BadRequest, match="(?i)Button_data_invalid"):
        await bot.send_message(CHAT, "pick", reply_markup=too_long_data)


@pytest.mark.asyncio
async def test_edit_message_and_not_modified(emu: BotAPIEmulator, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="answer:a")]])
    sent = await bot.send_message(CHAT, "Question", reply_markup=keyboard)
    assert sent.reply_markup == keyboard
    edited = await bot.edit_message_text("Answered", CHAT, sent.message_id)
    assert edited.text == "Answered" and edited.reply_markup is None
    with pytest.raises(BadRequest, match="(?i)Message is not modified"):
        await bot.edit_message_text("Answered", CHAT, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)Message to edit not found"):
        await bot.edit_message_text("x", CHAT, 999)
    assert await bot.delete_message(CHAT, sent.message_id)
    assert emu.get_message(CHAT, sent.message_id) is None
    assert [c.text for c in emu.sent_messages(CHAT)] == ["Question", "Answered"]


# --------------------------------------------------------------------------- polls, commands, members


@pytest.mark.asyncio
async def test_send_quiz_poll_and_stop(emu: BotAPIEmulator, bot: Bot) -> None:
    message = await bot.send_poll(
        -1001000000001, "Who created the role of Giselle?", ["Grisi", "Pavlova", "Taglioni"],
        type="quiz", correct_option_ids=[0], open_period=30, is_anonymous=False,
        explanation="<i>Carlotta Grisi</i>, 1841", explanation_parse_mode=ParseMode.HTML,
    )
    poll = message.poll
    assert poll.type == "quiz" and poll.correct_option_ids == (0,)
    assert not poll.allows_revoting and poll.options[1].text == "Pavlova"
    assert poll.explanation == "Carlotta Grisi, 1841"
    assert poll.explanation_entities[0].type == "italic"
    assert not poll.is_closed
    assert emu.calls_to("sendPoll")[-1].result["poll"]["open_period"] == 30
    answer = emu.push_poll_answer(poll.id, user_id=7, option_ids=[0])
    (update,) = await bot.get_updates()
    assert update.poll_answer.option_ids == (0,) and update.poll_answer.user.id == 7
    assert update.update_id == answer["update_id"]
    other = await bot.send_poll(CHAT, "Again?", ["Yes", "No"])
    assert other.poll.id != poll.id
    stopped = await bot.stop_poll(-1001000000001, message.message_id)
    assert stopped.is_closed and stopped.options[0].voter_count == 1
    with pytest.raises(BadRequest, match="(?i)wrong correct option id"):
        await bot.send_poll(CHAT, "Q", ["a", "b"], type="quiz", correct_option_ids=[5])


@pytest.mark.asyncio
async def test_commands_members_and_misc(emu: BotAPIEmulator, bot: Bot) -> None:
    assert await bot.set_my_commands([("start", "Start a quiz"), ("score", "Show score")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "score"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="(?i)Bot_command_invalid"):
        await bot.set_my_commands([("Bad-Command", "x")])

    group = -1001000000001
    emu.set_chat_admins(group, [42, 43], creator_id=41)
    admins = await bot.get_chat_administrators(group)
    assert [(a.status, a.user.id) for a in admins] == [("creator", 41), ("administrator", 42), ("administrator", 43)]
    assert (await bot.get_chat_member(group, 42)).status == "administrator"
    assert (await bot.get_chat_member(group, 99)).status == "member"

    sent = await bot.send_message(group, "pin me")
    assert await bot.pin_chat_message(group, sent.message_id)
    assert await bot.unpin_chat_message(group)
    assert await bot.send_chat_action(CHAT, "typing")
    assert await bot.close() and await bot.log_out()


# --------------------------------------------------------------------------- updates


@pytest.mark.asyncio
async def test_get_updates_offsets_and_long_polling(emu: BotAPIEmulator, bot: Bot) -> None:
    first = emu.push_message("/start@ballerina_trivia_bot hi @someone", chat_type="group")
    emu.push_callback_query("answer:1")
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [first["update_id"], first["update_id"] + 1]
    message = updates[0].message
    assert message.chat.type == "group"
    assert [e.type for e in message.entities] == ["bot_command", "mention"]
    assert updates[1].callback_query.data == "answer:1"
    assert updates[1].callback_query.message.from_user.is_bot
    # not confirmed yet -> returned again; confirming with offset removes them
    assert len(await bot.get_updates()) == 2
    assert await bot.get_updates(offset=updates[-1].update_id + 1) == ()

    # long poll: blocks until an update arrives
    threading.Timer(0.2, emu.push_inline_query, args=("giselle",)).start()
    started = asyncio.get_running_loop().time()
    polled = await bot.get_updates(timeout=3)
    assert polled[0].inline_query.query == "giselle"
    assert asyncio.get_running_loop().time() - started < 2

    # allowed_updates filters (and is remembered)
    emu.push_sticker(CHAT)
    emu.push_photo(CHAT, caption="my tutu")
    assert await bot.get_updates(offset=polled[-1].update_id + 1, allowed_updates=["inline_query"]) == ()
    assert emu.pending_updates == []


@pytest.mark.asyncio
async def test_stop_unblocks_long_poll() -> None:
    emulator = BotAPIEmulator(token=TOKEN).start()
    async with Bot(TOKEN, base_url=emulator.base_url, get_updates_request=HTTPXRequest(read_timeout=10)) as b:
        threading.Timer(0.2, emulator.stop).start()
        started = asyncio.get_running_loop().time()
        assert await b.get_updates(timeout=8) == ()
        assert asyncio.get_running_loop().time() - started < 3


def test_wait_for_timeout_reports_recorded_calls(emu: BotAPIEmulator) -> None:
    emu.push_message("hello")
    with pytest.raises(AssertionError, match="(?i)Recorded calls"):
        emu.wait_for("sendMessage", timeout=0.1)


# --------------------------------------------------------------------------- faults


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_faults(emu: BotAPIEmulator, bot: Bot) -> None:
    emu.inject_fault("sendMessage", "429", retry_after=7)
    with pytest.raises(RetryAfter, match="(?i)Retry in 7"):
        await bot.send_message(CHAT, "hi")

    emu.inject_fault("*", "502")
    with pytest.raises(NetworkError, match="(?i)Bad Gateway"):
        await bot.get_me()

    emu.inject_fault("sendMessage", "bad_request", description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match="(?i)Chat not found"):
        await bot.send_message(CHAT, "hi")

    emu.inject_fault("sendMessage", "forbidden", when=lambda p: p["chat_id"] == 555)
    assert (await bot.send_message(CHAT, "not affected")).text == "not affected"
    with pytest.raises(Forbidden, match="(?i)blocked by the user"):
        await bot.send_message(555, "blocked")

    emu.inject_fault("sendMessage", "slow", delay=0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "slow", read_timeout=0.1)

    assert (await bot.send_message(CHAT, "fine")).text == "fine"
    statuses = [(c.fault, c.ok) for c in emu.calls_to("sendMessage", include_failed=True)]
    assert statuses[:2] == [("429", False), ("bad_request", False)]
    assert ("forbidden", False) in statuses
    # the slow call still happened server-side, as it would on Telegram
    emu.wait_for(lambda c: c.text == "slow", timeout=2)


# --------------------------------------------------------------------------- webhooks


class _WebhookReceiver(BaseHTTPRequestHandler):
    """Tiny webhook endpoint that checks the secret like PTB's does."""

    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = self.headers.get("X-Telegram-Bot-Api-Secret-Token") == "s3cr3t"
        if ok:
            self.received.append(json.loads(body))
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebhookReceiver)
    _WebhookReceiver.received = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _WebhookReceiver.received
    server.shutdown()
    server.server_close()


@pytest.mark.asyncio
async def test_webhook_delivery_with_and_without_secret(
    emu: BotAPIEmulator, bot: Bot, receiver: tuple[str, list[dict]]
) -> None:
    url, received = receiver
    assert await bot.set_webhook(url, secret_token="s3cr3t")
    assert emu.webhook_url == url and emu.webhook_secret == "s3cr3t"
    info = await bot.get_webhook_info()
    assert info.url == url
    with pytest.raises(Conflict, match="(?i)webhook is active"):
        await bot.get_updates()

    update = emu.push_message("/start")
    assert (await bot.get_webhook_info()).pending_update_count == 1
    assert emu.deliver_webhook(update, use_registered_secret=False) == 403
    assert emu.pending_updates  # rejected -> still pending, Telegram would retry
    assert emu.deliver_webhook(secret="wrong") == 403
    assert emu.deliver_webhook() == 200
    assert received[0]["update_id"] == update["update_id"]
    assert received[0]["message"]["text"] == "/start"
    assert emu.pending_updates == []
    assert [d.status for d in emu.webhook_deliveries] == [403, 403, 200]

    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()


# --------------------------------------------------------------------------- a real Application


@pytest.mark.asyncio
async def test_application_polling_end_to_end(emu: BotAPIEmulator) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Pavlova", callback_data="a:1")]])
        await update.effective_message.reply_html("<b>Welcome!</b> Who danced the Dying Swan?",
                                                  reply_markup=keyboard)

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("Correct!")
        await update.callback_query.edit_message_text("✅ <tg-spoiler>Pavlova</tg-spoiler>",
                                                      parse_mode=ParseMode.HTML)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    app = ApplicationBuilder().token(TOKEN).base_url(emu.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(answer))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            emu.push_message("/start", user_id=CHAT, first_name="Anna")
            (welcome,) = await emu.wait_for_async("sendMessage")
            assert welcome.text == "Welcome! Who danced the Dying Swan?"
            assert welcome.entity_types == ["bold"]

            emu.push_callback_query("a:1", user_id=CHAT)
            (edit,) = await emu.wait_for_async("editMessageText")
            assert edit.entity_types == ["spoiler"]
            assert emu.calls_to("answerCallbackQuery")[0].params["text"] == "Correct!"

            emu.push_message("hello", user_id=CHAT)
            await emu.wait_for_async(lambda c: c.text == "echo: hello")
        finally:
            await app.updater.stop()
            await app.stop()
    assert emu.calls_to("deleteWebhook"), "start_polling removes any webhook first"
    assert all(isinstance(c, Call) for c in emu.calls)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.asyncio
async def test_application_webhook_end_to_end(emu: BotAPIEmulator) -> None:
    """PTB's own webhook server runs in this loop, so delivery must be async."""
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text("hi from webhook")

    port = _free_port()
    app = ApplicationBuilder().token(TOKEN).base_url(emu.base_url).build()
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        await app.updater.start_webhook(
            listen="127.0.0.1", port=port, url_path="hook",
            webhook_url=f"http://127.0.0.1:{port}/hook", secret_token="s3cr3t",
        )
        try:
            assert emu.webhook_secret == "s3cr3t"
            update = emu.push_message("/start")
            assert await emu.deliver_webhook_async(update, secret="wrong") == 403
            assert await emu.deliver_webhook_async(update) == 200
            (reply,) = await emu.wait_for_async("sendMessage")
            assert reply.text == "hi from webhook"
        finally:
            await app.updater.stop()
            await app.stop()


# --------------------------------------------------------------------------- HTTP behaviour


def _raw_request(method: str, body: bytes, *, declared: int | None = None, extra: str = "") -> bytes:
    length = len(body) if declared is None else declared
    return (f"POST /bot{TOKEN}/{method} HTTP/1.1\r\nHost: test\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n{extra}\r\n"
            ).encode() + body


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def test_keep_alive_serves_many_requests_on_one_connection(emu: BotAPIEmulator) -> None:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        for n in range(3):
            sock.sendall(_raw_request("sendMessage", f"chat_id={CHAT}&text=n{n}".encode()))
            status, headers, body = _read_response(sock)
            assert status == 200 and headers["connection"] == "keep-alive"
            assert json.loads(body)["result"]["text"] == f"n{n}"
        sock.sendall(_raw_request("getMe", b"", extra="Connection: close\r\n"))
        status, headers, _ = _read_response(sock)
        assert status == 200 and headers["connection"] == "close"
        assert sock.recv(1) == b""  # the server hung up as asked
    assert [c.text for c in emu.sent_messages(CHAT)] == ["n0", "n1", "n2"]


def test_chunked_request_body(emu: BotAPIEmulator) -> None:
    body = f"chat_id={CHAT}&text=chunked".encode()
    head = (f"POST /bot{TOKEN}/sendMessage HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n\r\n").encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:5], body[5:])) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(head + chunks)
        status, _, response = _read_response(sock)
    assert status == 200 and json.loads(response)["result"]["text"] == "chunked"


def test_request_abandoned_mid_body_is_not_acted_on(emu: BotAPIEmulator) -> None:
    """A client that hangs up before sending its whole request (PTB cancelling a task) must not get a
    truncated request handled: Telegram never sees it. The old server answered "chat_id is empty"."""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(_raw_request("sendChatAction", b"chat_id=10", declared=40))
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(_raw_request("getMe", b""))  # served after the hang-up was noticed (one loop)
        _read_response(sock)
    for _ in range(250):  # the hang-up and the getMe may be seen in either order
        if emu.aborted_requests:
            break
        threading.Event().wait(0.02)
    assert [(method, reason) for _, method, reason in emu.aborted_requests] == [
        ("sendChatAction", "connection closed before the whole body arrived")]
    assert [c.method for c in emu.calls] == ["getMe"]
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        status, _, _ = _read_response(sock)
    assert status == 400


@pytest.mark.asyncio
async def test_cancelled_typing_request_leaves_no_failed_call(emu: BotAPIEmulator, bot: Bot) -> None:
    emu.inject_fault("sendChatAction", "slow", delay=1.0)
    task = asyncio.create_task(bot.send_chat_action(CHAT, "typing"))
    done, _ = await asyncio.wait({task}, timeout=0.2)
    assert not done
    task.cancel()
    assert (await bot.send_message(CHAT, "after")).text == "after"
    assert not [c for c in emu.calls if not c.ok]


def test_emulator_in_a_child_process() -> None:
    from tests.support.emulator_process import EmulatorProcess

    with EmulatorProcess(token=TOKEN) as emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        pushed = emu.batch("push_message", [{"text": "a"}, {"text": "b", "user_id": 7}])
        assert [p["message"]["text"] for p in pushed] == ["a", "b"]

        async def fetch() -> tuple[Update, ...]:
            async with Bot(TOKEN, base_url=emu.base_url) as b:
                await b.send_message(CHAT, "<b>hi</b>", parse_mode=ParseMode.HTML)
                return await b.get_updates()

        updates = asyncio.run(fetch())
        assert [u.message.text for u in updates] == ["a", "b"]
        (sent,) = emu.wait_for("sendMessage")
        assert sent.text == "hi" and sent.entity_types == ["bold"] and sent.served_in is not None
        assert [c.method for c in emu.get("calls")][-2:] == ["sendMessage", "getUpdates"]
        with pytest.raises(LookupError):
            emu.push_edited_message("x", user_id=999)  # the child's exception, raised here
