"""What the Telegram front's tests share: the bot's identity on the emulator, fast retry settings, and
building the real Application against an emulator."""
from __future__ import annotations

import asyncio
import time
from typing import Any

from telegram.ext import Application

from bot.channels.telegram import FrontOptions, build_application
from bot.config import Settings
from bot.dialogue import Brain
from tests.support.botapi_emulator import BotAPIEmulator

TOKEN = "123:ABC"
USERNAME = "ballerina_trivia_bot"
# Retries after 10 ms instead of 0.5 s, and "typing…" after 0.3 s: the same behaviour, sooner.
FAST = FrontOptions(retry_attempts=4, retry_backoff=0.01, rate_limit_retries=3, typing_delay=0.3)


def make_app(emu: BotAPIEmulator, brain: Brain, settings: Settings, **kwargs: Any) -> Application:
    """The production Application for `brain`, talking to `emu` (not started)."""
    kwargs.setdefault("options", FAST)
    return build_application(brain, settings, token=TOKEN, base_url=emu.base_url, **kwargs)


async def until(check: Any, what: str, timeout: float = 30.0) -> Any:
    """Poll ``check()`` (run in a thread: it may query the database) until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
