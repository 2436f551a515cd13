"""A chat's context lives in the database: the next message may land on any worker, on either backend."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.config import Settings
from bot.dialogue import Brain
from bot.reply import Reply
from bot.storage import Storage, open_storage
from tests.support.postgres import PgSchema



def meaning(reply: Reply) -> tuple[object, ...]:
    """What a reply says, whatever variant of its template was drawn (each worker draws its own)."""
    return reply.kind, reply.intent, reply.entities


def worker(settings: Settings, database: str, opened: list[Storage]) -> Brain:
    storage = open_storage(database)
    opened.append(storage)
    return Brain.from_settings(settings, storage, random.Random(7))


def test_a_follow_up_continues_on_another_worker(settings: Settings, database: str) -> None:
    opened: list[Storage] = []
    try:
        one, other = worker(settings, database, opened), worker(settings, database, opened)
        alone = worker(settings, str(Path(settings.database).with_name("alone.sqlite3")), opened)
        # what one worker answers for the whole conversation is what two workers answer between them
        expected = [meaning(alone.reply("solo", "u", "who plays winston?")),
                    meaning(alone.reply("solo", "u", "and charon?"))]
        fresh = meaning(alone.reply("fresh", "u", "and charon?"))  # the follow-up with no context
        assert expected[1] != fresh
        got = [meaning(one.reply("chat", "u", "who plays winston?")),
               meaning(other.reply("chat", "u", "and charon?"))]
        assert got == expected
    finally:
        for storage in opened:
            storage.close()


def test_a_worker_sees_a_context_changed_by_another_after_it_read_it(settings: Settings, database: str) -> None:
    """No stale copy: worker one answered the chat before, then the topic moved on worker two."""
    opened: list[Storage] = []
    try:
        one, other = worker(settings, database, opened), worker(settings, database, opened)
        alone = worker(settings, str(Path(settings.database).with_name("alone.sqlite3")), opened)
        script = ["who plays winston?", "who directs ballerina?", "what else has he directed?"]
        expected = [meaning(alone.reply("solo", "u", text)) for text in script]
        got = [meaning(one.reply("chat", "u", script[0])), meaning(other.reply("chat", "u", script[1])),
               meaning(one.reply("chat", "u", script[2]))]
        assert got == expected
    finally:
        for storage in opened:
            storage.close()


def test_cancel_on_one_worker_forgets_on_the_other(settings: Settings, database: str) -> None:
    opened: list[Storage] = []
    try:
        one, other = worker(settings, database, opened), worker(settings, database, opened)
        alone = worker(settings, str(Path(settings.database).with_name("alone.sqlite3")), opened)
        fresh = meaning(alone.reply("fresh", "u", "and charon?"))
        one.reply("chat", "u", "who plays winston?")
        other.forget("chat")
        assert meaning(one.reply("chat", "u", "and charon?")) == fresh
    finally:
        for storage in opened:
            storage.close()


def test_a_chat_held_by_a_worker_keeps_its_thread_and_the_next_hold_sees_the_other_workers_turn(
        settings: Settings, database: str) -> None:
    """The inbox's worker holds a chat while it answers the chat's waiting messages (Brain.hold): within a
    hold the context is the one it wrote; once it lets go, another worker's answer is what it reads next."""
    opened: list[Storage] = []
    try:
        one, other = worker(settings, database, opened), worker(settings, database, opened)
        alone = worker(settings, str(Path(settings.database).with_name("alone.sqlite3")), opened)
        script = ["who plays winston?", "and charon?", "who directs ballerina?", "what else has he directed?"]
        expected = [meaning(alone.reply("solo", "u", text)) for text in script]
        got = []
        for brain, turns, held in ((one, script[:2], True), (other, script[2:3], True), (one, script[3:], False)):
            if held:
                brain.hold("chat")
            got += [meaning(brain.reply("chat", "u", text)) for text in turns]
            if held:
                brain.release("chat")
        assert got == expected
        assert expected[3] != meaning(alone.reply("other", "u", script[3]))  # it needs the turn before it
    finally:
        for storage in opened:
            storage.close()
