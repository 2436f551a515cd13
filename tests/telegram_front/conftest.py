"""Fixtures for the Telegram front's tests: the shipped settings and one trained Mind per module (read-only,
shared), a fresh SQLite file and a fresh Bot API emulator per test."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.dialogue import Mind, build_mind
from tests.support.botapi_emulator import BotAPIEmulator
from tests.support.telegram import TOKEN, USERNAME


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(env={})


@pytest.fixture(scope="module")
def mind(settings: Settings) -> Mind:
    return build_mind(settings)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


@pytest.fixture
def emu() -> Iterator[BotAPIEmulator]:
    with BotAPIEmulator(token=TOKEN, bot_username=USERNAME) as emulator:
        yield emulator
