"""No reply lost: a real PTB Application against the Bot API emulator's injected faults, on both backends.

The outbox (bot/cluster/outbox.py, bot/channels/telegram_outbox.py) keeps every message until it is
delivered or clearly undeliverable; these tests break the network the ways Telegram's does and check
what the user ends up seeing.
"""
from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.channels.telegram import FrontRateLimiter, running
from bot.channels.telegram_outbox import LATE_APOLOGY
from bot.cluster.outbox import Outbox
from bot.config import Settings
from bot.dialogue import Brain, Mind
from bot.storage import Storage, open_storage
from tests.support.botapi_emulator import DEFAULT_GROUP_ID, DEFAULT_USER_ID, BotAPIEmulator, Call
from tests.support.telegram import FAST, make_app, until

# the outbox's first retry after 0.1 s instead of 2 s; it looks for due messages every 50 ms
QUICK = dataclasses.replace(FAST, outbox_backoff=0.1, outbox_poll=0.05)



def start(emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str,
          options: object = QUICK, **kwargs: object) -> tuple[Application, Storage]:
    storage = open_storage(database)
    return make_app(emu, Brain(mind, settings, storage), settings, options=options, **kwargs), storage


def outbox_of(storage: Storage) -> Outbox:
    return Outbox(storage)


def sends(emu: BotAPIEmulator, chat: int = DEFAULT_USER_ID) -> list[Call]:
    return [c for c in emu.calls_to("sendMessage", include_failed=True) if str(c.params.get("chat_id")) == str(chat)]


async def test_an_answer_gets_through_six_502s(emu: BotAPIEmulator, mind: Mind, settings: Settings,
                                               database: str) -> None:
    emu.inject_fault("sendMessage", "502", times=6)  # the request class gives up after 4 (FAST): 2 more
    app, storage = start(emu, mind, settings, database)
    async with running(app, poll_timeout=1):
        emu.push_message("who directs ballerina?")
        (answer,) = await emu.wait_for_async("sendMessage", timeout=15)
        await until(lambda: outbox_of(storage).outcomes()["delivered_retried"], "the delivery recorded")
    assert "Len Wiseman" in (answer.text or "")
    assert [c.fault for c in sends(emu)] == ["502"] * 6 + [None]  # delivered once, after the outbox retried
    assert LATE_APOLOGY not in (answer.text or "")  # seconds late, not minutes: no apology
    counts = outbox_of(storage).outcomes()
    assert counts["delivered_retried"] == 1 and counts["delivered"] == 0
    assert outbox_of(storage).waiting() == {}  # nothing left behind
    storage.close()


async def test_an_answer_refused_with_429_past_its_retries_arrives_later(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    emu.inject_fault("sendMessage", "429", times=3, retry_after=1)
    options = dataclasses.replace(QUICK, rate_limit_retries=1)  # the limiter waits out one 429, then gives up
    app, storage = start(emu, mind, settings, database, options)
    async with running(app, poll_timeout=1):
        emu.push_message("who plays Winston?")
        (answer,) = await emu.wait_for_async("sendMessage", timeout=20)
        await until(lambda: outbox_of(storage).outcomes()["delivered_retried"], "the delivery recorded")
    assert "Ian McShane" in (answer.text or "")
    faults = [c for c in sends(emu) if not c.ok]
    assert [c.fault for c in faults] == ["429"] * 3 and len(sends(emu)) == 4
    assert answer.time - faults[-1].time >= 1.0  # every 429 waited out as told, the outbox's too
    assert outbox_of(storage).outcomes()["delivered_retried"] == 1
    storage.close()


async def test_a_blocked_user_is_marked_and_never_retried(emu: BotAPIEmulator, mind: Mind, settings: Settings,
                                                          database: str) -> None:
    emu.inject_fault("sendMessage", "forbidden", when=lambda p: str(p["chat_id"]) == "777")
    emu.inject_fault("sendMessage", "bad_request", description="Bad Request: chat not found",
                     when=lambda p: str(p["chat_id"]) == "778")
    app, storage = start(emu, mind, settings, database)
    outbox = outbox_of(storage)
    async with running(app, poll_timeout=1):
        emu.push_message("who directs ballerina?", user_id=777)
        emu.push_message("who directs ballerina?", user_id=778)
        emu.push_message("who plays Winston?")  # someone else is answered as usual
        await emu.wait_for_async("sendMessage", timeout=10)
        await until(lambda: outbox.waiting().get("failed") == 2, "both undeliverable messages marked")
    assert [c.fault for c in sends(emu, 777)] == ["forbidden"]
    assert [c.fault for c in sends(emu, 778)] == ["bad_request"]
    assert outbox.outcomes()["undeliverable"] == 2
    assert sorted(item.chat for item, _ in outbox.failed()) == ["777", "778"]
    # no worker will ever take them up again, however much later it looks
    assert Outbox(storage, clock=lambda: time.time() + 10 ** 7).claim_due() == []
    storage.close()


async def test_an_answer_that_comes_minutes_late_apologises(emu: BotAPIEmulator, mind: Mind, settings: Settings,
                                                            database: str) -> None:
    emu.inject_fault("sendMessage", "502", times=4)  # the first send fails for good; the outbox's goes out
    app, storage = start(emu, mind, settings, database)
    async with running(app, poll_timeout=1):
        emu.push_message("who directs ballerina?", date=int(time.time()) - 120)  # asked two minutes ago
        (answer,) = await emu.wait_for_async("sendMessage", timeout=15)
        await until(lambda: outbox_of(storage).outcomes()["delivered_late"], "the delivery recorded")
    text = answer.text or ""
    assert text.startswith(LATE_APOLOGY) and "Len Wiseman" in text
    assert outbox_of(storage).outcomes()["delivered_late"] == 1
    storage.close()


async def test_a_dropped_connection_resends_an_answer_but_not_a_post(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    """The request reached Telegram but its answer never came back: an answer is resent (at least once),
    a message the bot posts on its own, like a quiz question, is not (at most once)."""
    app, storage = start(emu, mind, settings, database)
    outbox = outbox_of(storage)
    async with running(app, poll_timeout=1):
        emu.inject_fault("sendMessage", "drop", when=lambda p: str(p["chat_id"]) == str(DEFAULT_USER_ID))
        emu.push_message("who directs ballerina?")
        answers = await emu.wait_for_async(lambda c: c.method == "sendMessage" and c.fault is None, timeout=15)
        emu.inject_fault("sendMessage", "drop", when=lambda p: str(p["chat_id"]) == str(DEFAULT_GROUP_ID))
        with pytest.raises(Exception):  # noqa: B017 - the sender learns it may not have gone out
            await app.bot.send_message(DEFAULT_GROUP_ID, "Question 1 of 5")
        await until(lambda: outbox.outcomes()["unsure_dropped"] == 1, "the post given up")
        await until(lambda: outbox.outcomes()["delivered_retried"] == 1, "the answer's resend recorded")
    user_copies = [c for c in sends(emu) if c.ok]
    assert len(user_copies) == 2 and user_copies[0].fault == "drop" and answers[0] is user_copies[1]
    assert all("Len Wiseman" in (c.text or "") for c in user_copies)  # the same answer, twice: none lost
    assert [c.fault for c in sends(emu, DEFAULT_GROUP_ID)] == ["drop"]  # the post went out once, not resent
    counts = outbox.outcomes()
    assert counts["unsure_resent"] == 1 and counts["delivered_retried"] == 1 and counts["unsure_dropped"] == 1
    storage.close()


async def test_a_restart_between_failure_and_retry_delivers_from_the_next_process(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    emu.inject_fault("sendMessage", "502", times=4)
    slow = dataclasses.replace(QUICK, outbox_backoff=3.0)  # the first worker is gone before its retry is due
    first, storage = start(emu, mind, settings, database, slow)
    outbox = outbox_of(storage)
    async with running(first, poll_timeout=1):
        emu.push_message("who plays Winston?")
        # the answer waits to be tried again in its chat's turn; the process stops meanwhile
        await until(lambda: len(sends(emu)) == 4, "the first send's four 502s")
    stopped = time.time()
    assert [c.fault for c in sends(emu)] == ["502"] * 4
    assert outbox.waiting() == {"pending": 1}  # left to whichever process comes next
    second, storage2 = start(emu, mind, settings, database)  # a new process: new Brain, new Application
    async with running(second, poll_timeout=1):
        (answer,) = await emu.wait_for_async("sendMessage", timeout=15)
        await until(lambda: outbox_of(storage2).outcomes()["delivered_retried"], "the delivery recorded")
    assert "Ian McShane" in (answer.text or "") and answer.time > stopped
    assert len([c for c in sends(emu) if c.ok]) == 1
    assert outbox_of(storage2).outcomes()["delivered_retried"] == 1
    storage.close()
    storage2.close()


async def test_a_message_held_long_by_the_limits_is_not_taken_for_a_dead_workers(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    """A worker holds a message for a lease (1.5 s here); the second message in a group waits 4 s for its
    turn. Another worker looking for messages whose worker died must not take it and send it again."""
    options = dataclasses.replace(QUICK, outbox_lease=1.5)
    app, storage = start(emu, mind, settings, database, options,
                         rate_limiter=FrontRateLimiter(group_max_rate=1, group_time_period=4.0))
    other = Outbox(storage, owner="another worker", lease=1.5)
    taken = []
    async with app:
        sending = asyncio.gather(*(app.bot.send_message(DEFAULT_GROUP_ID, f"message {i}") for i in range(2)))
        deadline = time.monotonic() + 20
        while not sending.done():
            assert time.monotonic() < deadline, "the two messages were not sent within 20 s"
            taken += await asyncio.to_thread(other.claim_due)
            await asyncio.sleep(0.1)
        await sending
    group = [c for c in sends(emu, DEFAULT_GROUP_ID) if c.ok]
    assert sorted(c.text or "" for c in group) == ["message 0", "message 1"]  # each once
    assert group[1].time - group[0].time >= 3.5  # the second waited its turn, longer than a lease
    assert taken == []
    storage.close()


async def test_a_message_is_on_its_way_only_once_its_bytes_go_out(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    """A message waiting for its turn (here a place in the limits that the test gives when it chooses) has
    not left the worker: were the worker killed then, another would send it as a plain retry, a quiz post
    too. It is "sending" (it may have arrived) only from when the request layer sends it: here while the
    emulator holds it for a few seconds."""
    from bot.channels.telegram_outbox import SendTag
    from bot.channels.telegram_presend import LIMITS, before_send

    app, storage = start(emu, mind, settings, database, dataclasses.replace(QUICK, outbox_lease=30.0))
    emu.inject_fault("sendMessage", "slow", delay=3.0)
    outbox = outbox_of(storage)
    turn = asyncio.Event()

    async def its_turn() -> None:
        await turn.wait()

    async with app:
        with before_send(LIMITS, its_turn):
            sending = asyncio.ensure_future(app.bot.send_message(DEFAULT_GROUP_ID, "a quiz question",
                                                                 rate_limit_args=SendTag(kind="post")))
        await until(lambda: outbox.waiting(), "the message recorded")
        assert outbox.waiting() == {"queued": 1}  # waiting for its turn: it has not left
        turn.set()
        await until(lambda: outbox.waiting() == {"sending": 1}, "the message on its way")
        assert emu.faults_left("sendMessage") == 0  # ...because its bytes went out: the emulator holds it
        await sending
        await until(lambda: not outbox.waiting(), "the message delivered")
    assert [c.text for c in sends(emu, DEFAULT_GROUP_ID) if c.ok] == ["a quiz question"]
    storage.close()


@pytest.mark.parametrize("answer", ["502", "429"])
async def test_a_message_telegram_turned_away_is_no_longer_on_its_way_while_it_waits_to_go_again(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str, answer: str) -> None:
    """A 502 or a 429 is Telegram's answer that it did not take the message. While the request layer (or the
    limiter, for a 429) waits to send it again, its row is "queued", not "sending": were the worker killed
    then, another would send it as a plain retry, where a quiz post "sending" is dropped as one that may
    have arrived (at most once)."""
    from bot.channels.telegram_outbox import SendTag

    app, storage = start(emu, mind, settings, database,
                         dataclasses.replace(QUICK, retry_backoff=2.0, outbox_lease=30.0))
    emu.inject_fault("sendMessage", answer, times=1, retry_after=2)
    outbox = outbox_of(storage)
    async with app:
        sending = asyncio.ensure_future(app.bot.send_message(DEFAULT_GROUP_ID, "a quiz question",
                                                             rate_limit_args=SendTag(kind="post")))
        await until(lambda: [c for c in sends(emu, DEFAULT_GROUP_ID) if c.fault], "Telegram's refusal")
        await until(lambda: outbox.waiting() == {"queued": 1}, "the row no longer on its way")
        await asyncio.wait_for(sending, timeout=30)
        await until(lambda: not outbox.waiting(), "the message delivered")
    assert [c.text for c in sends(emu, DEFAULT_GROUP_ID) if c.ok] == ["a quiz question"]  # once, by this worker
    assert outbox.outcomes()["unsure_dropped"] == 0
    storage.close()


async def test_a_message_another_worker_took_over_is_not_sent_by_its_first_holder(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    """A worker that stalled past its lease (here: a message held before its place in the limits while the
    test plays the other worker) finds, just before the bytes would go out, that the row is another
    worker's now: it does not send it, so the one who took it over sends it once (bench_cluster: a
    message sent by both)."""
    from bot.channels.telegram_outbox import SendDeferred, SendTag
    from bot.channels.telegram_presend import LIMITS, before_send

    app, storage = start(emu, mind, settings, database, dataclasses.replace(QUICK, outbox_lease=30.0))
    heir = Outbox(storage, owner="the worker that took it over", clock=lambda: time.time() + 60.0)
    turn = asyncio.Event()

    async def its_turn() -> None:
        await turn.wait()

    async with app:
        with before_send(LIMITS, its_turn):
            sending = asyncio.ensure_future(app.bot.send_message(DEFAULT_GROUP_ID, "the answer",
                                                                 rate_limit_args=SendTag(kind="answer")))
        await until(lambda: outbox_of(storage).waiting(), "the message recorded")
        (taken,) = await asyncio.to_thread(heir.claim_due)  # as if its lease had run out: taken over
        turn.set()
        with pytest.raises(SendDeferred):  # its sender hears that someone else sends it
            await sending
    assert sends(emu, DEFAULT_GROUP_ID) == []  # not sent by the stalled worker
    assert outbox_of(storage).waiting() == {"queued": 1}  # still the heir's to send, once
    assert taken.params["text"] == "the answer"
    storage.close()


async def test_an_answer_resent_after_a_dropped_connection_comes_before_the_next_answer(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str) -> None:
    """The first answer's connection drops after its request went out: it is resent (at least once), and
    in its chat's turn, so both copies come before the answer to the chat's next question. Left to the
    outbox's resend loop, the copy came after it (bench_cluster --faults: one answer out of order)."""
    app, storage = start(emu, mind, settings, database, dataclasses.replace(QUICK, outbox_backoff=1.0))
    emu.inject_fault("sendMessage", "drop", times=1)
    emu.push_message("who directs ballerina?")
    emu.push_message("who plays Winston?")
    async with running(app, poll_timeout=1):
        await emu.wait_for_async(lambda c: c.method == "sendMessage" and "Ian McShane" in (c.text or ""),
                                 timeout=20)
        await until(lambda: outbox_of(storage).outcomes()["delivered_retried"], "the resend recorded")
    seen = ["Len Wiseman" if "Len Wiseman" in (c.text or "") else "Ian McShane" if "Ian McShane" in (c.text or "")
            else c.text for c in sends(emu) if c.ok]
    assert seen == ["Len Wiseman", "Len Wiseman", "Ian McShane"]
    counts = outbox_of(storage).outcomes()
    assert counts["unsure_resent"] == 1 and counts["delivered_retried"] == 1
    storage.close()
