"""The cluster inbox (bot/cluster/inbox.py) and the coordination it stands on (locks, notices), on both
backends: SQLite (one process) and PostgreSQL (workers in several processes)."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.cluster.inbox import CHANNEL, KEEP_HANDLED, Inbox, StoredUpdate
from bot.storage import Storage, open_storage
from tests.support.postgres import PgSchema

ROOT = Path(__file__).resolve().parent.parent



def update(update_id: int, chat: str = "chat:1") -> StoredUpdate:
    return StoredUpdate(update_id, chat, f'{{"update_id": {update_id}}}')


def test_a_redelivered_update_is_kept_once_even_after_it_was_handled(store: Storage) -> None:
    inbox = Inbox(store)
    assert inbox.store(update(7)) is True
    assert inbox.store(update(7)) is False  # Telegram never saw our 200 and sent it again
    assert [u.update_id for u in inbox.next_updates("chat:1")] == [7]
    inbox.begin(7)
    inbox.done(7)
    assert inbox.store(update(7)) is False  # handled: still recognised, never handled twice
    assert inbox.next_updates("chat:1") == [] and inbox.waiting() == 0 and inbox.handled(7)


def test_a_chats_updates_come_oldest_first_and_the_longest_waiting_chat_first(store: Storage) -> None:
    inbox = Inbox(store)
    for update_id, chat in ((12, "chat:b"), (10, "chat:a"), (14, "chat:b"), (11, "chat:a"), (13, "chat:c")):
        inbox.store(update(update_id, chat))  # stored in another order than Telegram numbered them
    assert inbox.waiting_chats() == ["chat:a", "chat:b", "chat:c"]
    assert [u.update_id for u in inbox.next_updates("chat:b")] == [12, 14]
    assert inbox.next_updates("chat:a")[0].body == '{"update_id": 10}'
    inbox.done(10)
    inbox.done(11)
    assert inbox.waiting_chats() == ["chat:b", "chat:c"] and inbox.waiting() == 3


def test_updates_of_no_chat_come_before_the_chats_backlog(store: Storage) -> None:
    inbox = Inbox(store)
    for update_id in range(10, 15):
        inbox.store(update(update_id, f"chat:{update_id}"))  # a backlog of chats, each waiting its turn
    inbox.store(update(20, "user:7"))  # a quiz vote: it counts only while its question is open
    assert inbox.waiting_chats()[0] == "user:7"
    assert inbox.waiting_chats()[1:] == [f"chat:{n}" for n in range(10, 15)]


def test_a_chat_with_a_long_backlog_does_not_hide_the_chats_behind_it(store: Storage) -> None:
    inbox = Inbox(store)
    for update_id in range(100, 130):
        inbox.store(update(update_id, "chat:busy"))  # one group's thirty waiting updates come first
    inbox.store(update(200, "chat:quiet"))
    for update_id in range(300, 310):
        inbox.store(update(update_id, f"user:{update_id % 3}"))  # votes: three voters, several each
    assert inbox.waiting_chats(limit=2) == ["user:0", "user:1"]
    assert inbox.waiting_chats(limit=5) == ["user:0", "user:1", "user:2", "chat:busy", "chat:quiet"]


def test_the_chats_waiting_behind_those_being_served_are_found_past_their_backlogs(store: Storage) -> None:
    inbox = Inbox(store)
    for update_id in range(100, 300):
        inbox.store(update(update_id, f"chat:served{update_id % 4}"))  # four chats served, 50 waiting each
    inbox.store(update(300, "chat:next"))
    inbox.store(update(301, "user:7"))
    inbox.store(update(302, "chat:last"))
    served = [f"chat:served{n}" for n in range(4)]
    assert inbox.waiting_chats(limit=5, skip=served) == ["user:7", "chat:next", "chat:last"]
    assert inbox.waiting_chats(limit=1, skip=served, chats=1) == ["user:7", "chat:next"]
    assert inbox.waiting_chats(limit=0, skip=[*served, "chat:next"], chats=3) == ["chat:last"]
    assert inbox.waiting_chats(limit=3) == ["user:7", "chat:served0", "chat:served1"]
    for update_id in range(400, 600):
        inbox.store(update(update_id, "chat:long"))  # more waiting than a page reads: one key in the page
    inbox.store(update(600, "chat:after"))
    skip = [*served, "chat:next", "chat:last"]
    assert inbox.waiting_chats(limit=0, skip=skip, chats=2) == ["chat:long", "chat:after"]


async def test_a_quiz_vote_is_handled_while_every_chat_slot_is_busy(store: Storage) -> None:
    import asyncio

    import json

    from telegram import Update
    from telegram.ext import Application, MessageHandler, PollAnswerHandler, filters

    from bot.channels.telegram_inbox import InboxCluster
    from tests.support.botapi_emulator import BotAPIEmulator
    from tests.support.telegram import TOKEN, until

    emu = BotAPIEmulator(token=TOKEN).start()
    release = asyncio.Event()
    handled: list[str] = []

    async def on_message(update: object, _context: object) -> None:
        handled.append("message")
        await release.wait()  # a chat waiting for its place in Telegram's limits

    async def on_vote(update: object, _context: object) -> None:
        handled.append("vote")

    app = Application.builder().token(TOKEN).base_url(emu.base_url).build()
    app.add_handler(MessageHandler(filters.ALL, on_message))
    app.add_handler(PollAnswerHandler(on_vote))
    await app.initialize()
    cluster = InboxCluster(app, store, concurrency=2, poll_interval=0.1)
    await cluster.start()

    async def put(raw: dict[str, object]) -> None:  # as the webhook stores what it accepted
        await cluster.store(Update.de_json(raw, app.bot), json.dumps(raw))

    try:
        for n in range(3):
            body = emu.push_message(f"question {n}", chat_id=-100 - n, chat_type="group")
            await put(body)
        await until(lambda: handled.count("message") == 2, "both chat slots busy")
        await put(emu.push_poll_answer("p1", user_id=7, option_ids=[0]))
        await until(lambda: "vote" in handled, "the vote handled")
        assert handled.count("message") == 2  # the third chat still waits for a slot
        release.set()
        await until(lambda: handled.count("message") == 3, "the third chat handled")
    finally:
        release.set()
        await cluster.stop()
        await app.shutdown()
        emu.stop()


def test_attempts_are_counted_before_handling(store: Storage) -> None:
    inbox = Inbox(store)
    inbox.store(update(5))
    assert [inbox.begin(5) for _ in range(3)] == [1, 2, 3]
    assert inbox.next_updates("chat:1")[0].attempts == 3


def test_advance_marks_the_last_update_done_and_begins_the_chats_next_in_order(store: Storage) -> None:
    inbox = Inbox(store)
    for update_id, chat in ((21, "chat:a"), (20, "chat:a"), (30, "chat:b")):
        inbox.store(update(update_id, chat))
    first = inbox.advance("chat:a")
    assert first is not None and (first.update_id, first.attempts, first.body) == (20, 1, '{"update_id": 20}')
    again = inbox.advance("chat:a")  # the worker died before marking 20 done: the next one begins it again
    assert again is not None and (again.update_id, again.attempts) == (20, 2)
    second = inbox.advance("chat:a", done=20)
    assert second is not None and second.update_id == 21 and inbox.handled(20)
    assert inbox.advance("chat:a", done=21) is None  # nothing more: chat:b's update is not this chat's
    assert inbox.handled(21) and inbox.waiting_chats() == ["chat:b"]
    assert inbox.store(update(21, "chat:a")) is False  # a handled update is still recognised


def test_storing_an_update_wakes_a_listener_and_a_redelivery_does_not(store: Storage) -> None:
    inbox = Inbox(store)
    wakeups = store.listen(CHANNEL)
    try:
        assert inbox.store(update(40)) is True
        assert wakeups.wait(10.0) is True
        assert inbox.store(update(40)) is False
        assert wakeups.wait(0.3) is False
    finally:
        wakeups.close()


def test_handled_updates_are_forgotten_after_telegrams_redelivery_window(store: Storage) -> None:
    now = [1_000_000.0]
    inbox = Inbox(store, clock=lambda: now[0])
    for update_id in (1, 2, 3):
        inbox.store(update(update_id))
    inbox.done(1)
    inbox.done(2)
    now[0] += KEEP_HANDLED - 1
    assert inbox.prune() == 0
    now[0] += 2
    assert inbox.prune() == 2
    assert inbox.waiting() == 1 and not inbox.handled(1)


def test_a_lock_is_held_by_one_worker_until_it_lets_go(store: Storage) -> None:
    first, second = store.session_locks(), store.session_locks()
    try:
        assert first.try_lock("inbox/chat:1")
        assert not second.try_lock("inbox/chat:1")
        assert second.try_lock("inbox/chat:2")  # another chat is free
        first.unlock("inbox/chat:1")
        assert second.try_lock("inbox/chat:1")
        assert first.alive() and second.alive()
    finally:
        first.close()
        second.close()


def test_closing_a_workers_locks_frees_them(store: Storage) -> None:
    first, second = store.session_locks(), store.session_locks()
    try:
        assert first.try_lock("webhook")
        first.close()
        assert second.try_lock("webhook")
    finally:
        second.close()


def test_a_notice_wakes_a_listener_and_silence_times_out(store: Storage) -> None:
    wakeups = store.listen(CHANNEL)
    try:
        assert wakeups.wait(0.05) is False
        sender = threading.Timer(0.05, lambda: Inbox(store).store(update(99)))
        sender.start()
        assert wakeups.wait(10.0) is True  # store() notifies; bounded, so a lost notice fails the test
        sender.join()
    finally:
        wakeups.close()


async def test_async_locks_are_the_same_locks_as_the_sync_ones(store: Storage) -> None:
    holder = await store.asession_locks()
    other = store.session_locks()
    try:
        assert await holder.try_lock("inbox/chat:1")
        assert not other.try_lock("inbox/chat:1")  # one kind of lock, whichever side took it
        assert await holder.alive()
        await holder.unlock("inbox/chat:1")
        assert other.try_lock("inbox/chat:1")
        assert not await holder.try_lock("inbox/chat:1")
    finally:
        other.close()
        await holder.close()
        await store.aclose()


async def test_claiming_several_chats_takes_the_free_ones_in_order_and_no_more_than_asked(store: Storage) -> None:
    holder = await store.asession_locks()
    other = store.session_locks()
    try:
        assert other.try_lock("inbox/chat:b")  # another worker serves chat b
        chats, votes = await holder.try_lock_first([(["inbox/chat:a", "inbox/chat:b", "inbox/chat:c",
                                                      "inbox/chat:d"], 2), (["inbox/user:7"], 1)])
        assert chats.got == ["inbox/chat:a", "inbox/chat:c"] and chats.tried == 3  # b held, d never tried
        assert votes.got == ["inbox/user:7"] and votes.tried == 1
        assert not other.try_lock("inbox/chat:c") and not other.try_lock("inbox/user:7")  # held now
        assert other.try_lock("inbox/chat:d")  # the limit was reached before d: it was left free
        [rest] = await holder.try_lock_first([(["inbox/chat:b", "inbox/chat:e"], 5)])
        assert rest.got == ["inbox/chat:e"] and rest.tried == 2  # fewer free than asked: every one tried
        [none] = await holder.try_lock_first([(["inbox/chat:f"], 0)])
        assert none.got == [] and none.tried == 0 and other.try_lock("inbox/chat:f")
    finally:
        other.close()
        await holder.close()
        await store.aclose()


async def test_a_notice_reaches_an_async_listener_and_a_redelivery_sends_none(store: Storage) -> None:
    import asyncio

    woke = asyncio.Event()
    chats: list[str] = []
    listening = await store.alisten(CHANNEL, lambda chat: (chats.append(chat), woke.set()))
    inbox = Inbox(store)
    try:
        await asyncio.to_thread(inbox.store, update(41))  # from another worker, as it were
        await asyncio.wait_for(woke.wait(), 10.0)  # bounded: a lost notice fails the test
        woke.clear()
        assert await inbox.astore(update(41)) is False  # a redelivery: kept once, and nobody is woken
        assert await inbox.astore(update(42)) is True
        await asyncio.wait_for(woke.wait(), 10.0)
        assert [u.update_id for u in inbox.next_updates("chat:1")] == [41, 42]
        if store.kind == "postgresql":  # each notice names its update's chat (SQLite's carry nothing)
            assert chats == ["chat:1", "chat:1"]
    finally:
        await listening.close()
        await store.aclose()


LOCK_HOLDER = """
import sys
from bot.storage import open_storage
locks = open_storage(sys.argv[1]).session_locks()
assert locks.try_lock("inbox/chat:1")
print("held", flush=True)
sys.stdin.read()
"""


def test_a_killed_workers_locks_are_freed_by_the_database(pg: PgSchema) -> None:
    """kill -9 runs no clean-up: PostgreSQL frees the locks when the dead worker's connection closes."""
    open_storage(pg.url, check_schema=False).upgrade()
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, pg.url], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    store = open_storage(pg.url)
    locks = store.session_locks()
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert not locks.try_lock("inbox/chat:1")
        holder.kill()
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not locks.try_lock("inbox/chat:1"):
            assert time.monotonic() < deadline, "the dead worker's lock was never freed"
            time.sleep(0.02)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)
        locks.close()
        store.close()


def test_locks_of_two_bots_in_two_schemas_do_not_meet(pg: PgSchema) -> None:
    """Advisory locks belong to the whole database server; each bot's are named within its schema."""
    urls = [pg.url, pg.new()]
    stores = [open_storage(url, check_schema=False) for url in urls]
    locks = [s.session_locks() for s in stores]
    try:
        assert locks[0].try_lock("webhook") and locks[1].try_lock("webhook")
    finally:
        for item in (*locks, *stores):
            item.close()


def test_the_chat_read_from_an_updates_json_is_the_one_ptb_finds() -> None:
    """The webhook of a shared database files an update under its chat from its JSON (quick_key), without
    building it: the key must be the one PTB's Update gives, or one chat's updates would be served as two
    and could overtake each other. What the JSON alone does not settle is left to PTB (None)."""
    from telegram import Update

    from bot.channels.telegram_inbox import quick_key, update_key
    from tests.support.botapi_emulator import BotAPIEmulator
    from tests.support.telegram import TOKEN

    emu = BotAPIEmulator(token=TOKEN)
    shapes = [emu.push_message("who directs it?", chat_id=-1001, chat_type="group"),
              emu.push_message("and Charon?"),
              emu.push_message("who plays Winston?", chat_id=-1002, chat_type="group"),
              emu.push_edited_message("who plays Charon?", chat_id=-1002, chat_type="group"),
              emu.push_channel_post("a post"),
              emu.push_poll_answer("p1", user_id=7, option_ids=[0])]
    for raw in shapes:
        assert quick_key(raw) == update_key(Update.de_json(raw, None)), raw
    assert quick_key(emu.push_inline_query("ballerina")) is None  # PTB decides: a user's, not a chat's
    assert quick_key({"update_id": 8, "message": {"chat": 5}}) is None  # PTB refuses it at the webhook
    assert quick_key({"update_id": 9, "message": {"chat": {"id": "5"}}}) is None
