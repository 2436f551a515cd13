"""Knowledge updates from Telegram, end to end over the Bot API emulator, on a copy of the project files."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from telegram.ext import Application

from bot.channels.telegram import running
from bot.config import Settings, load_settings
from bot.dialogue import Brain
from bot.knowledge.base import KnowledgeBase
from bot.storage import Storage, open_storage
from tests.support.botapi_emulator import BotAPIEmulator, Call
from tests.support.telegram import make_app

ADMIN, STRANGER = 501, 502


@pytest.fixture
def admin_settings(project: Path) -> Settings:
    return load_settings(project, env={"BOT_ADMINS": str(ADMIN)})


@pytest_asyncio.fixture
async def app(emu: BotAPIEmulator, admin_settings: Settings) -> AsyncIterator[Application]:
    brain = Brain.from_settings(admin_settings, open_storage(admin_settings.database))
    application = make_app(emu, brain, admin_settings)
    async with running(application, poll_timeout=1):
        yield application


async def send(emu: BotAPIEmulator, user: int, text: str, timeout: float = 15.0) -> Call:
    """A private message from ``user``; the bot's next message to them."""
    mark = len(emu.calls)
    emu.push_message(text, user_id=user, first_name=f"U{user}")
    found = await emu.wait_for_async(
        lambda c: c.method == "sendMessage" and emu.calls.index(c) >= mark and c.params.get("chat_id") == user,
        timeout=timeout)
    return found[0]


async def press(emu: BotAPIEmulator, user: int, data: str, timeout: float = 15.0) -> Call:
    mark = len(emu.calls)
    emu.push_callback_query(data, user_id=user)
    found = await emu.wait_for_async(
        lambda c: c.method == "sendMessage" and emu.calls.index(c) >= mark and c.params.get("chat_id") == user,
        timeout=timeout)
    return found[0]


def buttons(call: Call) -> list[tuple[str, str]]:
    markup = call.params.get("reply_markup") or {}
    return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]


async def test_non_admins_are_refused_and_nothing_changes(emu: BotAPIEmulator, app: Application,
                                                          admin_settings: Settings) -> None:
    before = admin_settings.knowledge.read_bytes()
    for command in ('/kb set Ballerina release "1 April 2030" --source Prank', "/kb undo", "/kb show ballerina",
                    "/kb unanswered", "/kbedit"):
        reply = await send(emu, STRANGER, command)
        assert "only the bot's admins" in reply.text, command
    assert admin_settings.knowledge.read_bytes() == before
    answer = await send(emu, STRANGER, "when is Ballerina out?")
    assert "2030" not in answer.text


async def test_admin_updates_the_release_date_and_the_bot_answers_with_it(emu: BotAPIEmulator, app: Application,
                                                                          admin_settings: Settings) -> None:
    assert "spring or summer 2024" in (await send(emu, ADMIN, "when is Ballerina out?")).text
    before = admin_settings.knowledge.read_bytes()
    preview = await send(emu, ADMIN, "/kb set Ballerina release 6 June 2025 --source Variety --preview")
    assert "due for release on 6 June 2025" in preview.text and "The bot would answer" in preview.text
    assert "Nothing was saved" in preview.text and admin_settings.knowledge.read_bytes() == before
    done = await send(emu, ADMIN, "/kb set Ballerina release 6 June 2025 --source Variety --known 2024-11-20")
    assert "6 June 2025" in done.text
    answer = await send(emu, STRANGER, "when is Ballerina out?")  # another user, at once, no restart
    assert "6 June 2025" in answer.text and "according to variety" in answer.text.lower()
    shown = await send(emu, ADMIN, "/kb show ballerina release")
    assert "6 June 2025" in shown.text and "2024-11-20" in shown.text
    undone = await send(emu, ADMIN, "/kb undo")
    assert "Undid" in undone.text
    assert "spring or summer 2024" in (await send(emu, STRANGER, "when is Ballerina out?")).text
    history = await send(emu, ADMIN, "/kb history")
    assert "set" in history.text and "(undone)" in history.text


async def test_guided_edit_shows_the_change_and_saves_on_confirm(emu: BotAPIEmulator, app: Application,
                                                                 admin_settings: Settings) -> None:
    ask_entity = await send(emu, ADMIN, "/kbedit")
    assert "Which entity" in ask_entity.text
    facts = await send(emu, ADMIN, "balerina")  # a typo still finds it
    assert "Ballerina" in facts.text and ("release", "kbe:rel:release") in buttons(facts)
    ask_value = await press(emu, ADMIN, "kbe:rel:release")
    assert "spring or summer 2024" in ask_value.text
    ask_source = await send(emu, ADMIN, "Christmas 2025")
    assert "Who says so" in ask_source.text
    preview = await send(emu, ADMIN, "Empire")
    assert "from: spring or summer 2024" in preview.text and "to: Christmas 2025" in preview.text
    assert "The bot will answer:" in preview.text and "Christmas 2025, according to Empire" in preview.text
    assert ("✅ Save", "kbe:save") in buttons(preview)
    assert b"Christmas 2025" not in admin_settings.knowledge.read_bytes()  # nothing saved before the button
    saved = await press(emu, ADMIN, "kbe:save")
    assert "Saved" in saved.text
    assert "Christmas 2025" in KnowledgeBase.load(admin_settings.knowledge).facts_about("ballerina", "release")[0].object
    answer = await send(emu, STRANGER, "when is Ballerina out?")
    assert "Christmas 2025" in answer.text and "empire" in answer.text.lower()


async def test_guided_edit_can_be_cancelled_and_its_messages_are_not_questions(emu: BotAPIEmulator,
                                                                               app: Application,
                                                                               admin_settings: Settings) -> None:
    before = admin_settings.knowledge.read_bytes()
    await send(emu, ADMIN, "/kbedit")
    reply = await send(emu, ADMIN, "who directs Ballerina?")  # an answer to "which entity?", not a question
    assert "Len Wiseman" not in reply.text
    cancelled = await send(emu, ADMIN, "/cancel")
    assert "nothing was changed" in cancelled.text
    assert admin_settings.knowledge.read_bytes() == before
    assert "Len Wiseman" in (await send(emu, ADMIN, "who directs Ballerina?")).text


@pytest.mark.parametrize("value", [": {}", "!!python/object:os.system", "&anchor *anchor", "💃" * 300,
                                   "<b>bold</b> & *markdown* _x_"])
async def test_yaml_looking_and_odd_values_are_stored_as_plain_text(emu: BotAPIEmulator, app: Application,
                                                                     admin_settings: Settings, value: str) -> None:
    reply = await send(emu, ADMIN, f"/kb set Ballerina release '{value}' --source Odd")
    kb = KnowledgeBase.load(admin_settings.knowledge)  # still valid
    release = kb.facts_about("ballerina", "release")
    if "⚠️" in reply.text:
        assert release[0].object == "spring or summer 2024"  # refused: nothing changed
    else:
        assert release[0].object == value.strip()


async def test_clear_errors_for_unknown_names_and_missing_parts(emu: BotAPIEmulator, app: Application,
                                                                admin_settings: Settings) -> None:
    before = admin_settings.knowledge.read_bytes()
    unknown = await send(emu, ADMIN, "/kb set Titanic release 1997 --source Me")
    assert "⚠️" in unknown.text and "Titanic" in unknown.text
    relation = await send(emu, ADMIN, "/kb set Ballerina budget 90m --source Me")
    assert "⚠️" in relation.text and "budget" in relation.text
    no_source = await send(emu, ADMIN, "/kb set Ballerina release 2031")
    assert "--source" in no_source.text
    usage = await send(emu, ADMIN, "/kb frobnicate")
    assert "/kb show" in usage.text
    assert admin_settings.knowledge.read_bytes() == before
