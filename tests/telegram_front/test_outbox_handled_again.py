"""An update handled again after its worker died mid-update is answered once: the answer the dead worker had
recorded but not sent gives way to the new attempt's. Real PostgreSQL, a real webhook worker (the inbox
path), the real Application against the Bot API emulator; the dead worker is played by its rows."""
from __future__ import annotations

import json
import socket
import time

from bot.channels.telegram import WebhookConfig, running
from bot.cluster.inbox import Inbox, StoredUpdate
from bot.cluster.outbox import Outbox, answering
from bot.config import Settings
from bot.dialogue import Brain, Mind
from bot.storage import open_storage
from tests.support.botapi_emulator import BotAPIEmulator
from tests.support.postgres import PgSchema
from tests.support.telegram import FAST, USERNAME, make_app, until

SECRET = "handled-again-S3CRET"
GROUP = -100_777


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_update_handled_again_is_answered_once(emu: BotAPIEmulator, mind: Mind, settings: Settings,
                                                        pg: PgSchema) -> None:
    """The dead worker had begun the update and recorded its answer, still waiting for its turn in the
    limits (never sent) when it was killed. The survivor handles the update again and answers it; the
    dead worker's row must not go out a lease later as well (bench_cluster --kill: 15 questions
    answered twice, the second copy two minutes late with an apology, one after the chat's next answer)."""
    open_storage(pg.url, check_schema=False).upgrade()
    storage = open_storage(pg.url)
    question = emu.push_message(f"@{USERNAME} who directs ballerina?", chat_id=GROUP, chat_type="group")
    inbox = Inbox(storage)
    assert inbox.store(StoredUpdate(question["update_id"], f"chat:{GROUP}", json.dumps(question)))
    inbox.begin(question["update_id"])  # the dead worker's attempt
    dead = Outbox(storage, owner="the killed worker", lease=1.0)
    with answering(question["update_id"]):
        dead.record(str(GROUP), "answer", "sendMessage",
                    {"chat_id": str(GROUP), "text": "the dead worker's answer",
                     "reply_parameters": json.dumps({"message_id": question["message"]["message_id"]})})
    port = free_port()
    hook = WebhookConfig(f"http://127.0.0.1:{port}/tg/hook", "127.0.0.1", port, SECRET)
    try:
        async with running(make_app(emu, Brain(mind, settings, storage), settings, options=FAST), hook,
                           shared=storage):
            (answer,) = await emu.wait_for_async("sendMessage", timeout=30)
            await until(lambda: inbox.handled(question["update_id"]), "the update handled again")
        assert "Len Wiseman" in (answer.text or "")
        assert [c.text for c in emu.calls_to("sendMessage", include_failed=True)] == [answer.text]  # once
        outbox = Outbox(storage, clock=lambda: time.time() + 10 ** 6)
        assert outbox.claim_due() == []  # however late any worker looks, nothing of it is left to send
        (row, error), = outbox.failed()
        assert row.params["text"] == "the dead worker's answer" and error.startswith("superseded")
        assert outbox.outcomes()["superseded"] == 1
    finally:
        storage.close()
