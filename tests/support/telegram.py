"""What the Telegram front's tests share: the bot's identity on the emulator, fast retry settings, and
building the real Application against an emulator."""
from __future__ import annotations

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
