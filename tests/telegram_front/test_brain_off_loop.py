"""The Brain's database calls run off the event loop: a chat whose database row is held up does not hold up
the other chats. Real PostgreSQL, the real Application against the Bot API emulator."""
from __future__ import annotations

import threading

import psycopg

from bot.channels.telegram import running
from bot.config import Settings
from bot.dialogue import Brain, Mind
from bot.storage import open_storage
from tests.support.botapi_emulator import BotAPIEmulator
from tests.support.postgres import PgSchema
from tests.support.telegram import make_app

SLOW_USER, OTHER_USER = 7001, 7002
HOLD_AT_MOST = 20.0  # s: the blocker lets go by itself, so a bot that blocks its loop fails instead of hanging


async def test_a_chat_waiting_on_the_database_does_not_hold_up_another_chat(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, pg: PgSchema) -> None:
    open_storage(pg.url, check_schema=False).upgrade()
    storage = open_storage(pg.url)
    # another transaction writes the slow chat's context and does not commit: saving it waits for that one
    blocker = psycopg.connect(pg.url)
    blocker.execute("INSERT INTO chat_context(chat, data, updated) VALUES (%s, '{}', 0)", (str(SLOW_USER),))
    release = threading.Timer(HOLD_AT_MOST, blocker.rollback)
    release.start()
    try:
        async with running(make_app(emu, Brain(mind, settings, storage), settings), poll_timeout=1):
            emu.push_message("who directs ballerina?", user_id=SLOW_USER)
            emu.push_message("who plays Winston?", user_id=OTHER_USER)
            (other,) = await emu.wait_for_async(lambda c: c.method == "sendMessage"
                                                and c.params.get("chat_id") in (OTHER_USER, str(OTHER_USER)),
                                                timeout=15)
            assert "Ian McShane" in (other.text or "")
            assert [c for c in emu.calls_to("sendMessage")
                    if c.params.get("chat_id") in (SLOW_USER, str(SLOW_USER))] == []  # still waiting
            blocker.rollback()
            (slow,) = await emu.wait_for_async(lambda c: c.method == "sendMessage"
                                               and c.params.get("chat_id") in (SLOW_USER, str(SLOW_USER)),
                                               timeout=15)
            assert "Len Wiseman" in (slow.text or "")
    finally:
        release.cancel()
        blocker.close()
        storage.close()

