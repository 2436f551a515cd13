"""A webhook worker's own database calls (the inbox, send claims, the outbox: Storage's async primitives, on
PostgreSQL run on the event loop itself) never hold the loop: while one chat's answer waits on the
database, the worker still acknowledges what Telegram posts. Real PostgreSQL, a real webhook worker, the
real Application against the Bot API emulator."""
from __future__ import annotations

import socket
import threading

import psycopg

from bot.channels.telegram import WebhookConfig, running
from bot.config import Settings
from bot.dialogue import Brain, Mind
from bot.storage import open_storage
from tests.support.botapi_emulator import BotAPIEmulator
from tests.support.postgres import PgSchema
from tests.support.telegram import make_app, until

SECRET = "hot-path-S3CRET"
FIRST, SECOND = 7001, 7002  # two users, each in a private chat with the bot
HOLD_AT_MOST = 20.0  # s: the blocker lets go by itself, so a worker that blocks its loop fails instead of hanging


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_to(emu: BotAPIEmulator, chat: int) -> list[object]:
    return [c for c in emu.calls_to("sendMessage") if c.params.get("chat_id") in (chat, str(chat))]


async def test_a_send_waiting_on_the_database_does_not_hold_up_the_webhook(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, pg: PgSchema) -> None:
    open_storage(pg.url, check_schema=False).upgrade()
    storage = open_storage(pg.url)
    # another transaction holds the send places: every send's claim waits for it
    blocker = psycopg.connect(pg.url)
    blocker.execute("LOCK TABLE send_slots IN EXCLUSIVE MODE")
    blocker_pid = blocker.info.backend_pid
    release = threading.Timer(HOLD_AT_MOST, blocker.rollback)
    release.start()
    port = free_port()
    hook = WebhookConfig(f"http://127.0.0.1:{port}/tg/hook", "127.0.0.1", port, SECRET)

    def claims_waiting() -> int:
        rows = pg.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", blocker_pid)
        return int(rows[0][0])  # type: ignore[call-overload]

    try:
        async with running(make_app(emu, Brain(mind, settings, storage), settings), hook, shared=storage):
            first = emu.push_message("who directs ballerina?", user_id=FIRST)
            assert await emu.deliver_webhook_async(first) == 200
            await until(claims_waiting, "the first answer's claim to wait on the budget's row")
            # the worker's loop is free: it stores and acknowledges the next update, from another chat
            second = emu.push_message("who plays Winston?", user_id=SECOND)
            assert await emu.deliver_webhook_async(second) == 200
            assert pg.execute("SELECT count(*) FROM inbox WHERE update_id = %s", second["update_id"]) == [(1,)]
            assert claims_waiting() and answers_to(emu, FIRST) == []  # still waiting: nothing went out
            blocker.rollback()
            (answer,) = await emu.wait_for_async(lambda c: c.method == "sendMessage"
                                                 and c.params.get("chat_id") in (FIRST, str(FIRST)), timeout=15)
            assert "Len Wiseman" in (answer.text or "")
            (answer,) = await emu.wait_for_async(lambda c: c.method == "sendMessage"
                                                 and c.params.get("chat_id") in (SECOND, str(SECOND)), timeout=15)
            assert "Ian McShane" in (answer.text or "")
    finally:
        release.cancel()
        blocker.close()
        storage.close()
