"""The aiohttp request backend (bot/channels/telegram_http.py) in the real PTB Application, against the
Bot API emulator: answers, retries (5xx, never-sent errors), 429, connection refused, read timeouts.

The bot's default; tests/telegram_front/test_telegram_e2e.py runs the same front on it too.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from telegram.error import NetworkError, TimedOut
from telegram.ext import Application

from bot.channels.telegram import FrontOptions, build_application, running
from bot.channels.telegram_http import AiohttpRequest, RetryingAiohttpRequest
from bot.channels.telegram_outbox import SendDeferred
from bot.config import Settings
from bot.dialogue import Brain, Mind
from bot.storage import Storage, open_storage
from tests.support.botapi_emulator import DEFAULT_USER_ID, BotAPIEmulator, Call
from tests.support.telegram import FAST, TOKEN
from tests.support.telegram import make_app as shared_make_app

def make_app(emu: BotAPIEmulator, mind: Mind, settings: Settings, db: Path, **kwargs: float) -> Application:
    return shared_make_app(emu, Brain(mind, settings, open_storage(db)), settings, **kwargs)


@pytest_asyncio.fixture
async def bot(emu: BotAPIEmulator, mind: Mind, settings: Settings, tmp_path: Path) -> AsyncIterator[Application]:
    app = make_app(emu, mind, settings, tmp_path / "bot.sqlite3")
    async with running(app, poll_timeout=1):
        yield app


async def ask(emu: BotAPIEmulator, text: str, *, timeout: float = 5.0) -> Call:
    """Push a private message and return the bot's next sendMessage in that chat."""
    seen = {id(c) for c in emu.calls}
    emu.push_message(text)
    calls = await emu.wait_for_async(
        lambda c: c.method == "sendMessage" and id(c) not in seen
        and str(c.params.get("chat_id")) == str(DEFAULT_USER_ID), timeout=timeout)
    return calls[-1]


def retries_logged(caplog: pytest.LogCaptureFixture, method: str) -> int:
    return sum(f"Bot API {method} failed" in r.getMessage() for r in caplog.records)


async def test_both_requests_are_aiohttp_and_a_question_gets_its_answer(
        emu: BotAPIEmulator, bot: Application) -> None:
    assert isinstance(bot.bot.request, RetryingAiohttpRequest)
    updates_request = bot.bot._request[0]
    assert isinstance(updates_request, AiohttpRequest) and not isinstance(updates_request, RetryingAiohttpRequest)
    answer = await ask(emu, "who directs ballerina?")
    assert "Len Wiseman" in answer.text
    assert answer.params["parse_mode"] == "HTML"  # the form fields arrived as sent
    follow = await ask(emu, "who plays Winston?")
    assert "Ian McShane" in follow.text
    assert not [c for c in emu.calls if not c.ok]


async def test_502_is_retried_and_the_answer_delivered_once(
        emu: BotAPIEmulator, bot: Application, caplog: pytest.LogCaptureFixture) -> None:
    emu.inject_fault("sendMessage", "502", times=2)
    answer = await ask(emu, "who directs ballerina?")
    assert "Len Wiseman" in answer.text
    assert [c.fault for c in emu.calls_to("sendMessage", include_failed=True)] == ["502", "502", None]
    assert len(emu.sent_messages()) == 1
    assert retries_logged(caplog, "sendMessage") == 2
    assert TOKEN not in caplog.text


async def test_429_is_left_to_the_rate_limiter_which_waits_and_resends(
        emu: BotAPIEmulator, bot: Application, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    emu.inject_fault("sendMessage", "429", retry_after=1)
    answer = await ask(emu, "who directs ballerina?", timeout=8)
    assert "Len Wiseman" in answer.text
    assert [c.fault for c in emu.calls_to("sendMessage", include_failed=True)] == ["429", None]
    assert len(emu.sent_messages()) == 1
    assert "rate limit hit; every worker waits 1.1" in caplog.text  # the limiter honoured retry_after
    assert retries_logged(caplog, "sendMessage") == 0  # not a 5xx: RetryMixin left it alone


async def test_connection_refused_is_retried_then_a_clean_network_error(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(emu, mind, settings, tmp_path / "bot.sqlite3")
    async with app:  # initialize: sessions opened, getMe answered
        emu.stop()  # nothing listens on the port any more
        # let the loop read the server's FIN on the pooled keep-alive connection from getMe (kernel-queued
        # once stop() returns); else sendMessage would reuse it and fail with ServerDisconnectedError,
        # which is not "never sent" (the server may have read the request) and so is not retried
        await asyncio.sleep(0.1)
        with pytest.raises(NetworkError) as caught:
            await app.bot.send_message(DEFAULT_USER_ID, "hello")
        assert isinstance(caught.value, SendDeferred)  # kept in the outbox, to be sent once the server is back
        error = caught.value.__cause__  # what the request class raised
        assert isinstance(error, NetworkError) and not isinstance(error, TimedOut)
        assert isinstance(error.__cause__, aiohttp.ClientConnectorError)
        assert "aiohttp.ClientConnectorError" in str(error)
        # never sent, so even a non-idempotent method is retried: attempts - 1 retries, then the error
        assert retries_logged(caplog, "sendMessage") == FAST.retry_attempts - 1
    request = app.bot.request
    assert isinstance(request, AiohttpRequest) and request._session is None  # shut down, nothing left open
    assert TOKEN not in caplog.text


async def test_slow_send_message_times_out_and_is_not_retried(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(emu, mind, settings, tmp_path / "bot.sqlite3", read_timeout=0.3)
    async with app:
        emu.inject_fault("sendMessage", "slow", delay=1.5)
        with pytest.raises(TimedOut) as caught:
            await app.bot.send_message(DEFAULT_USER_ID, "hello")
        assert isinstance(caught.value.__cause__, aiohttp.ServerTimeoutError)  # SocketTimeoutError
        # Telegram still delivers it; a retry (after a 0.01 s back-off) would arrive before it does
        await emu.wait_for_async("sendMessage")
        assert len(emu.calls_to("sendMessage", include_failed=True)) == 1
        assert retries_logged(caplog, "sendMessage") == 0

        # an idempotent method that timed out is retried: the action happens twice, harmlessly
        emu.inject_fault("sendChatAction", "slow", delay=1.5)
        assert await app.bot.send_chat_action(DEFAULT_USER_ID, "typing")
        assert retries_logged(caplog, "sendChatAction") == 1
        await emu.wait_for_async("sendChatAction", count=2)


async def test_file_uploads_go_as_multipart(emu: BotAPIEmulator, bot: Application) -> None:
    emu.register_method("setChatPhoto", lambda params: True)
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    assert await bot.bot.set_chat_photo(-100123, photo=photo)
    (call,) = emu.calls_to("setChatPhoto")
    assert call.params["chat_id"] == -100123
    assert call.params["photo"]["size"] == len(photo) and call.params["photo"]["filename"]


def test_unknown_http_client_is_refused(mind: Mind, settings: Settings, tmp_path: Path) -> None:
    brain = Brain(mind, settings, open_storage(tmp_path / "bot.sqlite3"))
    with pytest.raises(ValueError, match="HTTP client"):
        build_application(brain, settings, token=TOKEN, options=FrontOptions(http="requests"))


async def test_httpx_remains_a_working_choice(emu: BotAPIEmulator, mind: Mind, settings: Settings,
                                              tmp_path: Path) -> None:
    from bot.channels.telegram import RetryingRequest

    brain = Brain(mind, settings, open_storage(tmp_path / "bot.sqlite3"))
    options = FrontOptions(retry_attempts=4, retry_backoff=0.01, rate_limit_retries=3, http="httpx")
    app = build_application(brain, settings, token=TOKEN, base_url=emu.base_url, options=options)
    assert isinstance(app.bot.request, RetryingRequest)
    async with running(app, poll_timeout=1):
        emu.inject_fault("sendMessage", "502", times=1)
        assert "Len Wiseman" in (await ask(emu, "who directs ballerina?")).text


def _proxy_env(monkeypatch: pytest.MonkeyPatch, proxy: str, no_proxy: str = "") -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    if no_proxy:
        monkeypatch.setenv("NO_PROXY", no_proxy)


async def test_requests_go_through_the_proxy_the_environment_names(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a host no resolver knows: the bot can only reach it through the proxy (the emulator, which like
    # any HTTP server takes absolute-form request targets), so an answer proves the proxy was used
    _proxy_env(monkeypatch, f"http://127.0.0.1:{emu.port}")
    brain = Brain(mind, settings, open_storage(tmp_path / "bot.sqlite3"))
    app = build_application(brain, settings, token=TOKEN, base_url="http://api.telegram.invalid/bot", options=FAST)
    async with running(app, poll_timeout=1):
        assert "Len Wiseman" in (await ask(emu, "who directs ballerina?")).text


async def test_no_proxy_hosts_are_reached_directly(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _proxy_env(monkeypatch, "http://127.0.0.1:9", no_proxy="127.0.0.1")  # nothing listens on port 9
    async with running(make_app(emu, mind, settings, tmp_path / "bot.sqlite3"), poll_timeout=1):
        assert "Len Wiseman" in (await ask(emu, "who directs ballerina?")).text
