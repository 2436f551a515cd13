"""The inbox: updates a webhook worker has acknowledged, kept in the database until a worker handles them.

Several ``serve`` workers on one PostgreSQL database are one bot; Telegram (through any load balancer) may
hand any update to any of them. So a worker does not answer what it receives: it stores it here, commits,
and only then tells Telegram 200 (bot/channels/telegram_webhook.py). Every worker then serves the inbox
(bot/channels/telegram_inbox.py): it claims a chat with a lock that it holds until it is done with that
chat or dies, handles the chat's updates in ``update_id`` order, marks each one handled, and lets go. So
one chat's messages are answered one at a time and in order, whichever worker received them, and an
update that a worker acknowledged and then died on is answered by another.

    inbox = Inbox(storage)
    inbox.store(StoredUpdate(update_id, "chat:-100", body))   # False: a redelivery, already here
    for chat in inbox.waiting_chats():                        # claim one (SessionLocks), then
        update = inbox.advance(chat)                          # the oldest, its attempt counted
        while update is not None:
            ...                                               # handle it
            update = inbox.advance(chat, done=update.update_id)  # it is done; the next one

A handled row keeps its ``update_id`` (its body emptied) for ``KEEP_HANDLED`` seconds, because Telegram
redelivers an update whose 200 it never saw, and a redelivery must not be answered twice; Telegram keeps
an update for at most 24 hours, so after that the row can go (``prune``).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..storage import Storage

CHANNEL = "bot_inbox"  # Storage.notify / listen: "an update is waiting"
KEEP_HANDLED = 26 * 3600.0  # s: Telegram's 24 hours of redelivery, and some slack for clocks
MAX_ATTEMPTS = 3  # an update that took down this many workers is given up on (a poison update)


def is_chat(key: str) -> bool:
    """Whether an inbox key is a chat's ("chat:42"), rather than a user's or an update's of no chat.

    Under a backlog a chat's updates wait mostly for Telegram's send limits (30 a second for the bot, 20
    a minute in a group), so every worker's slots fill with chats waiting for their turn to send. An
    update of no chat (a quiz poll vote, an inline query) sends nothing into a chat and counts only while
    its question is open: behind the backlog, a vote sent in time arrived after the question closed and
    scored nothing (bench/bench_cluster.py). So such updates come first, and have slots of their own."""
    return key.startswith("chat:")


@dataclass(frozen=True)
class StoredUpdate:
    """One update as Telegram sent it: ``body`` is its JSON text; ``chat`` what orders it ("chat:42")."""

    update_id: int
    chat: str
    body: str
    attempts: int = 0


_WAITING_CHATS = ("SELECT chat FROM inbox WHERE handled IS NULL GROUP BY chat "
                  "ORDER BY chat LIKE 'chat:%', MIN(update_id) LIMIT ?")


# the first waiting updates of no chat (part 0), and of all (part 1): (part, chat, update_id), read through
# inbox_others and inbox_queue (migration 9)
_WAITING_PAGE = ("SELECT 0, chat, update_id FROM (SELECT chat, update_id FROM inbox WHERE handled IS NULL "
                 "AND chat NOT LIKE 'chat:%' ORDER BY update_id LIMIT ?) AS others UNION ALL "
                 "SELECT 1, chat, update_id FROM (SELECT chat, update_id FROM inbox WHERE handled IS NULL "
                 "ORDER BY update_id LIMIT ?) AS queue")
PAGE_PER_CHAT = 2  # waiting updates read per key asked for: most chats wait with one or two


def _chats(rows: list[tuple[object, ...]], limit: int) -> list[str] | None:
    """The page's keys in ``waiting_chats``'s order; None when the page may have left out a key that
    belongs among the first ``limit`` (then only grouping every waiting row is sure). A key's first row in
    a page read in update_id order is its oldest update; a key the page did not reach waits behind every
    key it did."""
    others = sorted((int(u), str(c)) for part, c, u in rows if part == 0)  # type: ignore[call-overload]
    queue = sorted((int(u), str(c)) for part, c, u in rows if part == 1)  # type: ignore[call-overload]
    keys = list(dict.fromkeys(c for _, c in others))
    if len(others) >= limit and len(keys) < limit:
        return None  # more keys of no chat may wait, and they come before every chat
    keys += [c for c in dict.fromkeys(c for _, c in queue) if is_chat(c)]
    if len(queue) >= limit * PAGE_PER_CHAT and len(keys) < limit:
        return None
    return keys[:limit]


def _begun(rows: list[tuple[object, ...]]) -> StoredUpdate | None:
    if not rows:
        return None
    u, c, b, a = rows[0]
    return StoredUpdate(int(u), str(c), str(b), int(a))  # type: ignore[call-overload]


class Inbox:
    """The inbox's queries, for any Storage backend (the locks and wake-ups are the backend's)."""

    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.clock = clock

    def store(self, update: StoredUpdate) -> bool:
        """Keep ``update`` (committed when this returns) and wake the workers, the notice naming its chat;
        False if it was already kept (a redelivery: pending or handled, it is not handled again)."""
        return bool(self.storage.query_notify(*self._store(update), CHANNEL, update.chat))

    async def astore(self, update: StoredUpdate) -> bool:
        """``store``, awaited on the event loop (the webhook's side: see Storage.aquery)."""
        return bool(await self.storage.aquery_notify(*self._store(update), CHANNEL, update.chat))

    def _store(self, update: StoredUpdate) -> tuple[str, tuple[object, ...]]:
        return ("INSERT INTO inbox(update_id, chat, body, received) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(update_id) DO NOTHING RETURNING update_id",
                (update.update_id, update.chat, update.body, self.clock()))

    def waiting_chats(self, limit: int = 100) -> list[str]:
        """Chats with updates waiting: first those of no chat (a quiz vote, an inline query: see
        ``is_chat``), then the chats, each group the longest-waiting first.

        Read as the first page of the waiting updates in ``update_id`` order (two partial indexes,
        migration 9), each chat where it first appears: the order of its oldest update, as grouping every
        waiting row gave, but the rows read are a page, not the whole backlog. A page of fewer distinct
        chats than ``limit`` (chats with many updates each) is followed by the grouping query."""
        rows = self.storage.query(_WAITING_PAGE, (limit, limit * PAGE_PER_CHAT))
        return _chats(rows, limit) or [str(r[0]) for r in self.storage.query(_WAITING_CHATS, (limit,))]

    async def awaiting_chats(self, limit: int = 100) -> list[str]:
        """``waiting_chats``, awaited on the event loop."""
        rows = await self.storage.aquery(_WAITING_PAGE, (limit, limit * PAGE_PER_CHAT))
        return _chats(rows, limit) or [str(r[0]) for r in await self.storage.aquery(_WAITING_CHATS, (limit,))]

    def next_updates(self, chat: str, limit: int = 20) -> list[StoredUpdate]:
        """The chat's waiting updates, oldest first. Only the worker holding the chat's lock asks."""
        rows = self.storage.query("SELECT update_id, chat, body, attempts FROM inbox "
                                  "WHERE chat = ? AND handled IS NULL ORDER BY update_id LIMIT ?", (chat, limit))
        return [StoredUpdate(int(u), str(c), str(b), int(a)) for u, c, b, a in rows]  # type: ignore[call-overload]

    def begin(self, update_id: int) -> int:
        """Count an attempt at handling ``update_id`` before it starts; the attempts so far, this one included."""
        rows = self.storage.query("UPDATE inbox SET attempts = attempts + 1 WHERE update_id = ? "
                                  "RETURNING attempts", (update_id,))
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def advance(self, chat: str, done: int | None = None) -> StoredUpdate | None:
        """``done(done)`` (if given), then ``begin`` the chat's oldest waiting update and return it (None:
        nothing waits), in one transaction sent at once (``Storage.batch``): one round trip per update
        where ``done``, ``next_updates`` and ``begin`` took three. Only the worker holding the chat's lock
        asks. The attempt is counted before the update is handled, as with ``begin``."""
        return _begun(self.storage.batch(self._advance(chat, done))[-1])

    async def aadvance(self, chat: str, done: int | None = None) -> StoredUpdate | None:
        """``advance``, awaited on the event loop."""
        return _begun((await self.storage.abatch(self._advance(chat, done)))[-1])

    def _advance(self, chat: str, done: int | None) -> list[tuple[str, tuple[object, ...]]]:
        statements: list[tuple[str, tuple[object, ...]]] = []
        if done is not None:
            statements.append(self._done(done))
        statements.append(("UPDATE inbox SET attempts = attempts + 1 WHERE update_id = (SELECT update_id FROM inbox "
                           "WHERE chat = ? AND handled IS NULL ORDER BY update_id LIMIT 1) "
                           "RETURNING update_id, chat, body, attempts", (chat,)))
        return statements

    def done(self, update_id: int) -> None:
        """``update_id`` is handled: it is never handled again, and only its id is kept (see ``prune``)."""
        self.storage.query(*self._done(update_id))

    async def adone(self, update_id: int) -> None:
        await self.storage.aquery(*self._done(update_id))

    def _done(self, update_id: int) -> tuple[str, tuple[object, ...]]:
        return "UPDATE inbox SET handled = ?, body = '' WHERE update_id = ?", (self.clock(), update_id)

    def waiting(self) -> int:
        """How many updates wait to be handled (for monitoring: it should stay near zero)."""
        rows = self.storage.query("SELECT COUNT(*) FROM inbox WHERE handled IS NULL")
        return int(rows[0][0])  # type: ignore[call-overload]

    def handled(self, update_id: int) -> bool:
        rows = self.storage.query("SELECT handled FROM inbox WHERE update_id = ?", (update_id,))
        return bool(rows) and rows[0][0] is not None

    def prune(self, keep: float = KEEP_HANDLED) -> int:
        """Forget updates handled more than ``keep`` seconds ago; how many."""
        rows = self.storage.query("DELETE FROM inbox WHERE handled IS NOT NULL AND handled < ? RETURNING update_id",
                                  (self.clock() - keep,))
        return len(rows)
