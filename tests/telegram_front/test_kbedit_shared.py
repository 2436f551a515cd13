"""/kbedit lives in the database: a guided edit survives a restart, and its steps may land on any worker.

Real Applications against the Bot API emulator, on both backends. Two workers are two webhook servers
with one database; each step of the edit is posted to one or the other, as a load balancer would.
"""
from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.admin import Actor, Admin
from bot.channels.telegram import WebhookConfig, running
from bot.config import Settings, load_settings
from bot.dialogue import Brain
from bot.knowledge.base import KnowledgeBase
from bot.storage import Storage, open_storage
from tests.support.botapi_emulator import JSON, BotAPIEmulator, Call
from tests.support.postgres import PgSchema
from tests.support.telegram import make_app

ADMIN = 501
SECRET = "s3cret-token"
STEP = 15.0  # s: the bound on each reply


@pytest.fixture(params=["sqlite", "postgresql"])
def admin_settings(request: pytest.FixtureRequest, project: Path) -> Settings:
    env = {"BOT_ADMINS": str(ADMIN)}
    if request.param == "postgresql":
        schema: PgSchema = request.getfixturevalue("pg")
        open_storage(schema.url, check_schema=False).upgrade()
        env["BOT_DATABASE"] = schema.url
    return load_settings(project, env=env)


@pytest.fixture
def worker(emu: BotAPIEmulator, admin_settings: Settings):  # type: ignore[no-untyped-def]
    """worker() -> a new Application (its own Brain, storage and memory) on the one database."""
    opened: list[Storage] = []

    def make() -> Application:
        storage = open_storage(admin_settings.database)
        opened.append(storage)
        return make_app(emu, Brain.from_settings(admin_settings, storage), admin_settings)

    yield make
    for storage in opened:
        storage.close()


async def reply_to(emu: BotAPIEmulator, push: Callable[[], JSON],
                   deliver: Callable[[JSON], int] | None = None) -> Call:
    """Push an update (and post it to one worker, if given); the bot's next message to the admin."""
    mark = len(emu.calls)
    update = push()
    if deliver is not None:
        assert await asyncio.to_thread(deliver, update) == 200
    found = await emu.wait_for_async(
        lambda c: c.method == "sendMessage" and emu.calls.index(c) >= mark and c.params.get("chat_id") == ADMIN,
        timeout=STEP)
    return found[0]


def says(emu: BotAPIEmulator, text: str) -> Callable[[], JSON]:
    return lambda: emu.push_message(text, user_id=ADMIN, first_name="Admin")


def presses(emu: BotAPIEmulator, data: str) -> Callable[[], JSON]:
    return lambda: emu.push_callback_query(data, user_id=ADMIN)


async def test_a_guided_edit_continues_after_a_restart(emu: BotAPIEmulator, worker: Callable[[], Application],
                                                       admin_settings: Settings) -> None:
    async with running(worker(), poll_timeout=1):
        assert "Which entity" in (await reply_to(emu, says(emu, "/kbedit"))).text
        assert "Which fact" in (await reply_to(emu, says(emu, "balerina"))).text
        assert "spring or summer 2024" in (await reply_to(emu, presses(emu, "kbe:rel:release"))).text
    # the bot restarts: a new Application, nothing kept in memory
    async with running(worker(), poll_timeout=1):
        assert "Who says so" in (await reply_to(emu, says(emu, "Christmas 2025"))).text
        preview = await reply_to(emu, says(emu, "Empire"))
        assert "to: Christmas 2025" in preview.text
        assert "Saved" in (await reply_to(emu, presses(emu, "kbe:save"))).text
    assert "Christmas 2025" in release_of(admin_settings)


async def test_each_step_of_a_guided_edit_may_land_on_another_worker(
        emu: BotAPIEmulator, worker: Callable[[], Application], admin_settings: Settings) -> None:
    hooks = [hook_on(free_port()) for _ in range(2)]
    async with running(worker(), hooks[0]), running(worker(), hooks[1]):
        one, two = (lambda update, h=h: post(h, update) for h in hooks)
        assert "Which entity" in (await reply_to(emu, says(emu, "/kbedit"), one)).text
        assert "Which fact" in (await reply_to(emu, says(emu, "balerina"), two)).text
        assert "spring or summer 2024" in (await reply_to(emu, presses(emu, "kbe:rel:release"), one)).text
        assert "Who says so" in (await reply_to(emu, says(emu, "Christmas 2025"), two)).text
        assert "to: Christmas 2025" in (await reply_to(emu, says(emu, "Empire"), one)).text
        assert "Saved" in (await reply_to(emu, presses(emu, "kbe:save"), two)).text
        # the edit is over on both: a question is a question again, wherever it lands
        for deliver in (one, two):
            answer = await reply_to(emu, says(emu, "who directs ballerina?"), deliver)
            assert "Len Wiseman" in answer.text
    assert "Christmas 2025" in release_of(admin_settings)


async def test_a_guided_edit_saved_after_another_admin_changed_the_fact_is_refused_not_lost(
        emu: BotAPIEmulator, worker: Callable[[], Application], admin_settings: Settings) -> None:
    async with running(worker(), poll_timeout=1):
        await reply_to(emu, says(emu, "/kbedit"))
        await reply_to(emu, says(emu, "balerina"))
        await reply_to(emu, presses(emu, "kbe:rel:release"))
        await reply_to(emu, says(emu, "Christmas 2025"))
        assert "to: Christmas 2025" in (await reply_to(emu, says(emu, "Empire"))).text
        # meanwhile another admin (another worker, the admin app, `kb` on another machine) saves first
        storage = open_storage(admin_settings.database)
        try:
            await asyncio.to_thread(Admin(admin_settings, storage).set_fact, Actor.local_operator(), "Ballerina",
                                    "release", "Easter 2026", source="Deadline")
        finally:
            storage.close()
        refused = await reply_to(emu, presses(emu, "kbe:save"))
        assert "changed since you opened it" in refused.text and "Easter 2026" in refused.text
        assert "Easter 2026" in release_of(admin_settings)  # the other admin's change is kept
        await reply_to(emu, says(emu, "Christmas 2025"))  # this admin decides again, on what is there now
        await reply_to(emu, says(emu, "Empire"))
        assert "Saved" in (await reply_to(emu, presses(emu, "kbe:save"))).text
    assert "Christmas 2025" in release_of(admin_settings)


def release_of(settings: Settings) -> str:
    return KnowledgeBase.load(settings.knowledge).facts_about("ballerina", "release")[0].object


def hook_on(port: int) -> WebhookConfig:
    return WebhookConfig(f"http://127.0.0.1:{port}/tg/hook", "127.0.0.1", port, SECRET)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(hook: WebhookConfig, update: JSON) -> int:
    """POST ``update`` to this worker's webhook, as Telegram (through a load balancer) would."""
    request = urllib.request.Request(hook.url, data=json.dumps(update).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": SECRET})
    try:
        with urllib.request.urlopen(request, timeout=STEP) as response:  # a local test URL
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
