"""Hostile input at the Telegram edge, and what reaches the logs: the real Application against the Bot API
emulator, with every logger at DEBUG."""
from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.channels.telegram import WebhookConfig, running
from bot.channels.telegram_webhook import MAX_UPDATE_BYTES
from bot.config import Settings
from bot.dialogue import Brain, Mind
from bot.logsafety import MAX_DEBUG_CHARS
from bot.storage import Storage, open_storage
from tests.support.botapi_emulator import BotAPIEmulator
from tests.support.telegram import TOKEN, make_app

SECRET = "wh00k_S3cret-value"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def all_text(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) for r in records)


async def test_token_and_webhook_secret_never_reach_the_logs_at_debug(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    hook = WebhookConfig(f"http://127.0.0.1:{port}/tg/hook", "127.0.0.1", port, SECRET)
    async with running(make_app(emu, Brain(mind, settings, open_storage(db)), settings), hook):
        assert emu.webhook_secret == SECRET  # setWebhook was called with it, and PTB logs its parameters at DEBUG
        update = emu.push_message("who directs ballerina?")
        assert await emu.deliver_webhook_async(update) == 200
        (answer,) = await emu.wait_for_async("sendMessage")
        assert "Len Wiseman" in answer.text
        assert await emu.deliver_webhook_async(update, secret=SECRET[:-1]) == 403
    text = all_text(caplog.records)
    assert any(r.levelno == logging.DEBUG and r.name.startswith("telegram") for r in caplog.records)
    assert "setWebhook" in text  # the call is logged...
    assert TOKEN not in text and SECRET not in text  # ...without either secret


async def test_update_bodies_at_debug_are_truncated(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    huge = "who directs ballerina? " + "x" * 300_000
    async with running(make_app(emu, Brain(mind, settings, open_storage(db)), settings), poll_timeout=1):
        emu.push_message(huge)
        await emu.wait_for_async("sendMessage", timeout=10)
    longest = max(len(r.getMessage()) for r in caplog.records)
    assert longest < MAX_DEBUG_CHARS + 100, longest
    assert any("more characters not logged" in r.getMessage() for r in caplog.records)


BAD_BODIES = [
    (b"{not json", {}, 400),
    (b'{"update_id": 1, "message": "caf\xe9"}', {}, 400),
    (b"[1, 2, 3]", {}, 400),
    (b'{"update_id": 5, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", {}, 400),
    (b'{"update_id": 6, "x": ' + b"[" * 100 + b"]" * 100 + b"}", {}, 400),
    (b'{"update_id": "seven"}', {}, 400),
    (b'{"update_id": 8, "message": {"chat": 5}}', {}, 400),
    (gzip.compress(b'{"update_id": 9}'), {"Content-Encoding": "gzip"}, 415),
    (b'{"update_id": 10, "pad": "' + b" " * (MAX_UPDATE_BYTES + 10) + b'"}', {}, 413),
    (b'{"update_id": 11}', {"Content-Type": "text/plain"}, 415),
]


async def test_webhook_refuses_bad_bodies_with_400_and_one_log_line(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    hook = WebhookConfig(f"http://127.0.0.1:{port}/tg/hook", "127.0.0.1", port, SECRET)
    async with running(make_app(emu, Brain(mind, settings, open_storage(db)), settings), hook):
        for body, extra, status in BAD_BODIES:
            caplog.clear()
            headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET, **extra}
            got = await asyncio.to_thread(post, hook.url, body, headers)
            assert got == status, (body[:60], got)
            problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(problems) == 1 and "webhook refused" in problems[0].getMessage(), all_text(problems)
            assert not any(r.exc_info for r in caplog.records) and logging.CRITICAL not in {
                r.levelno for r in caplog.records}
        update = emu.push_message("who plays Winston?")  # and the bot still answers
        assert await emu.deliver_webhook_async(update) == 200
        (answer,) = await emu.wait_for_async("sendMessage")
        assert "Ian McShane" in answer.text


def test_redaction_covers_handlers_added_later_and_tracebacks() -> None:
    from bot.logsafety import protect_logs

    protect_logs("hunter2-long-secret")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("tests.redaction")
    logger.addHandler(Keep())
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("url %s", "https://x/bothunter2-long-secret/getMe")
        try:
            raise RuntimeError("failed with hunter2-long-secret")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.handlers.clear()
    text = "\n".join(logging.Formatter().format(r) for r in records)
    assert "hunter2" not in text and text.count("<redacted>") >= 3, text
    assert json.dumps(text)
