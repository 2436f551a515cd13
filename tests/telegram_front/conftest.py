"""Fixtures for the Telegram front's tests: the shipped settings and one trained Mind per module (read-only,
shared), a fresh SQLite file and a fresh Bot API emulator per test."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
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


@pytest.fixture(autouse=True)
async def _async_pools_closed_with_their_loop() -> AsyncIterator[None]:
    """A test that ends with ``storage.close()`` leaves the async PostgreSQL pools its app opened on the
    test's loop: they are closed here, on that loop, before it closes (see PostgresStorage.open_on)."""
    yield
    from bot.storage.postgres import PostgresStorage

    for storage in PostgresStorage.open_on(asyncio.get_running_loop()):
        await storage.aclose()
