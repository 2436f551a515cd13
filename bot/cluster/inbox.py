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
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
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
    """One update as Telegram sent it: ``body`` is its JSON text; ``chat`` what orders it ("chat:42");
    ``received``: when a webhook stored it (None until it is read back)."""

    update_id: int
    chat: str
    body: str
    attempts: int = 0
    received: float | None = None


_RECEIVED: ContextVar[float | None] = ContextVar("inbox_received", default=None)


@contextmanager
def receiving(at: float | None) -> Iterator[None]:
    """The update handled inside the block came at ``at`` (its ``received``): what counts for it is when it
    came, not when some worker got round to it (``received_at``)."""
    token = _RECEIVED.set(at)
    try:
        yield
    finally:
        _RECEIVED.reset(token)


def received_at() -> float | None:
    """When the update being handled came (``receiving``); None outside the inbox (one process answering as
    it receives: now is when it came).

    A quiz answer's time is this one. A worker that handles it later than it came (behind a backlog, or
    after the worker that had it was killed) must not judge it late: the player answered in time."""
    return _RECEIVED.get()


def answers_waiting(chat: str, poll_id: str | None, before: float) -> tuple[str, tuple[object, ...]]:
    """The statement whose one row says an answer to a quiz question that came by ``before`` is not handled
    yet: a vote on its poll (``poll_key``), or, for a typed answer, any update of its chat. The question's
    deadline waits for them (QuizEngine.answers_waiting). Through the inbox_waiting index."""
    key = poll_key(poll_id) if poll_id else f"chat:{chat}"
    return ("SELECT 1 FROM inbox WHERE chat = ? AND handled IS NULL AND received <= ? LIMIT 1", (key, before))


def poll_key(poll_id: str) -> str:
    """The inbox key of the votes on one poll: a poll's votes wait behind one another, and its question's
    deadline waits for those that came in time (``answers_waiting``).

    >>> poll_key("5000")
    'poll:5000'
    """
    return f"poll:{poll_id}"


def _skipping(skip: Sequence[str]) -> str:
    return f" AND chat NOT IN ({', '.join('?' * len(skip))})" if skip else ""


def _waiting_chats(skip: Sequence[str]) -> str:
    """The first waiting keys of no chat, and the first chats, but ``skip``, each by its oldest update:
    (chat, first). Reads every waiting row (the fallback of the page)."""
    return " UNION ALL ".join(
        f"SELECT chat, first FROM (SELECT chat, MIN(update_id) AS first FROM inbox WHERE handled IS NULL "
        f"AND chat {like} 'chat:%'{_skipping(skip)} GROUP BY chat ORDER BY first LIMIT ?) AS {name}"
        for like, name in (("NOT LIKE", "others"), ("LIKE", "chats")))


def _waiting_page(skip: Sequence[str]) -> str:
    """The keys of the first waiting updates of no chat (part 0), and of all (part 1), but ``skip``, each
    with its oldest update in the page and how many of the page's rows are its: (part, chat, first, rows),
    read through inbox_others and inbox_queue (migration 9), grouped by the server."""
    where = f"handled IS NULL{_skipping(skip)}"
    return (f"SELECT 0, chat, MIN(update_id), COUNT(*) FROM (SELECT chat, update_id FROM inbox WHERE {where} "
            "AND chat NOT LIKE 'chat:%' ORDER BY update_id LIMIT ?) AS others GROUP BY chat UNION ALL "
            f"SELECT 1, chat, MIN(update_id), COUNT(*) FROM (SELECT chat, update_id FROM inbox WHERE {where} "
            "ORDER BY update_id LIMIT ?) AS queue GROUP BY chat")


PAGE_PER_CHAT = 8  # waiting updates read per key asked for (a chat under a backlog waits with many)
PAGE_ROWS = 64  # and at least this many: a page of a few rows is one busy chat's


def _page_rows(keys: int) -> int:
    return PAGE_ROWS + keys * PAGE_PER_CHAT


def _chats(rows: list[tuple[object, ...]], limit: int, chats: int | None,
           pages: tuple[int, int]) -> list[str] | None:
    """The page's keys in ``waiting_chats``'s order; None when the page may have left out a key that
    belongs among those asked for (then only grouping every waiting row is sure). A key's first row in a
    page read in update_id order is its oldest update; a key the page did not reach waits behind every key
    it did. ``pages``: the rows read of each part."""
    parts: tuple[list[tuple[int, str]], list[tuple[int, str]]] = ([], [])
    read = [0, 0]
    for part, chat, first, count in rows:
        read[int(part)] += int(count)  # type: ignore[call-overload]
        if part == 0 or is_chat(str(chat)):
            parts[int(part)].append((int(first), str(chat)))  # type: ignore[call-overload]
    keys = [c for _, c in sorted(parts[0])]
    if read[0] >= pages[0] and len(keys) < limit:
        return None  # more keys of no chat may wait, and they come before every chat
    keys = keys[:limit]
    want = limit - len(keys) if chats is None else chats
    if read[1] >= pages[1] and len(parts[1]) < want:
        return None
    return keys + [c for _, c in sorted(parts[1])[:want]]


def _grouped(rows: list[tuple[object, ...]]) -> list[str]:
    """``_waiting_chats``'s rows in ``waiting_chats``'s order: the keys of no chat first."""
    return [str(c) for c, _ in sorted(rows, key=lambda r: (is_chat(str(r[0])), int(r[1])))]  # type: ignore


def _begun(rows: list[tuple[object, ...]]) -> StoredUpdate | None:
    if not rows:
        return None
    u, c, b, a, r = rows[0]
    return StoredUpdate(int(u), str(c), str(b), int(a), float(r))  # type: ignore[call-overload, arg-type]


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

    def waiting_chats(self, limit: int = 100, skip: Collection[str] = (), chats: int | None = None) -> list[str]:
        """Keys with updates waiting, but those in ``skip`` (the ones the caller serves, or knows another
        worker serves): first those of no chat (a quiz vote, an inline query: see ``is_chat``), at most
        ``limit``, then the chats, each group the longest-waiting first; ``chats`` of them (by default, up to
        ``limit`` keys in all).

        Read as the first page of the waiting updates in ``update_id`` order (two partial indexes,
        migration 9), each key where it first appears, grouped by the server: the order of its oldest
        update, as grouping every waiting row gives, but the rows read are a page, not the whole backlog.
        Under a backlog the first waiting rows are the chats being served (each with many updates
        waiting), so they are skipped in the query itself; a page with fewer keys than asked for is
        followed by the grouping of every waiting row."""
        return self._waiting(self.storage.query, limit, skip, chats)

    async def awaiting_chats(self, limit: int = 100, skip: Collection[str] = (),
                             chats: int | None = None) -> list[str]:
        """``waiting_chats``, awaited on the event loop."""
        return await self._awaiting(self.storage.aquery, limit, skip, chats)

    def _waiting(self, query: Callable[..., list[tuple[object, ...]]], limit: int, skip: Collection[str],
                 chats: int | None) -> list[str]:
        skipped, want = sorted(skip), limit if chats is None else chats
        pages = _page_rows(limit), _page_rows(want)
        found = _chats(query(_waiting_page(skipped), (*skipped, pages[0], *skipped, pages[1])), limit, chats, pages)
        if found is not None:
            return found
        keys = _grouped(query(_waiting_chats(skipped), (*skipped, limit, *skipped, want)))
        return keys if chats is not None else keys[:limit]

    async def _awaiting(self, query: Callable[..., Awaitable[list[tuple[object, ...]]]], limit: int,
                        skip: Collection[str], chats: int | None) -> list[str]:
        skipped, want = sorted(skip), limit if chats is None else chats
        pages = _page_rows(limit), _page_rows(want)
        found = _chats(await query(_waiting_page(skipped), (*skipped, pages[0], *skipped, pages[1])), limit, chats,
                       pages)
        if found is not None:
            return found
        keys = _grouped(await query(_waiting_chats(skipped), (*skipped, limit, *skipped, want)))
        return keys if chats is not None else keys[:limit]

    def next_updates(self, chat: str, limit: int = 20) -> list[StoredUpdate]:
        """The chat's waiting updates, oldest first. Only the worker holding the chat's lock asks."""
        rows = self.storage.query("SELECT update_id, chat, body, attempts, received FROM inbox "
                                  "WHERE chat = ? AND handled IS NULL ORDER BY update_id LIMIT ?", (chat, limit))
        return [StoredUpdate(int(u), str(c), str(b), int(a), float(r))  # type: ignore[call-overload, arg-type]
                for u, c, b, a, r in rows]

    def begin(self, update_id: int) -> int:
        """Count an attempt at handling ``update_id`` before it starts; the attempts so far, this one included."""
        rows = self.storage.query("UPDATE inbox SET attempts = attempts + 1 WHERE update_id = ? "
                                  "RETURNING attempts", (update_id,))
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def advance(self, chat: str, done: int | None = None) -> StoredUpdate | None:
        """``done(done)`` (if given), then ``begin`` the chat's oldest waiting update and return it (None:
        nothing waits), in one transaction sent at once (``Storage.batch``): one round trip per update
        where ``done``, ``next_updates`` and ``begin`` took three. Only the worker holding the chat's lock
        asks. The attempt is counted before the update is handled, as with ``begin``. Not durable
        (Storage.query): a server that goes down forgets at most the last moment's marks, and those updates
        are handled again, as when a worker dies (at least once)."""
        statements = self._advance(chat, done)
        if len(statements) == 1:
            return _begun(self.storage.query(*statements[0], durable=False))
        return _begun(self.storage.batch(statements, durable=False)[-1])

    async def aadvance(self, chat: str, done: int | None = None) -> StoredUpdate | None:
        """``advance``, awaited on the event loop."""
        statements = self._advance(chat, done)
        if len(statements) == 1:
            return _begun(await self.storage.aquery(*statements[0], durable=False))
        return _begun((await self.storage.abatch(statements, durable=False))[-1])

    def _advance(self, chat: str, done: int | None) -> list[tuple[str, tuple[object, ...]]]:
        """The statements of ``advance``. On PostgreSQL ``done`` and the next ``begin`` are one statement (the
        done mark a data-modifying WITH, run to completion though nothing reads it): one statement the
        server plans once per connection (psycopg prepares a statement it sees again), where the two joined
        in one query string were parsed and planned anew for every update. Its parts share one snapshot, so
        the next update is looked up as "not the one just done" rather than through the done mark."""
        begin = ("UPDATE inbox SET attempts = attempts + 1 WHERE update_id = (SELECT update_id FROM inbox "
                 "WHERE chat = ? AND handled IS NULL{} ORDER BY update_id LIMIT 1) "
                 "RETURNING update_id, chat, body, attempts, received")
        if done is None:
            return [(begin.format(""), (chat,))]
        if self.storage.kind == "postgresql":
            mark, args = self._done(done)
            return [(f"WITH done AS ({mark}) " + begin.format(" AND update_id <> ?"), (*args, chat, done))]
        return [self._done(done), (begin.format(""), (chat,))]

    def done(self, update_id: int) -> None:
        """``update_id`` is handled: it is never handled again, and only its id is kept (see ``prune``)."""
        self.storage.query(*self._done(update_id), durable=False)

    async def adone(self, update_id: int) -> None:
        await self.storage.aquery(*self._done(update_id), durable=False)

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
