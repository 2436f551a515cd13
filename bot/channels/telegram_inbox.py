"""Several webhook workers on one PostgreSQL database, one bot: the inbox served through PTB.

    cluster = InboxCluster(app, storage)
    await cluster.start()                                  # the worker below, and its locks
    server = WebhookServer(app, ..., store=cluster.store)  # acknowledge = stored and committed
    await cluster.register_webhook(webhook, set_webhook)   # setWebhook once for all the workers
    ...
    await cluster.stop()                                   # bounded: see STOP_TIMEOUT

The webhook server of whichever worker Telegram (or its load balancer) chose stores the update in the
inbox (bot/cluster/inbox.py) and answers 200 only after the commit. Every worker serves the inbox: it
claims a chat with a session-level advisory lock, held on one connection of its own, handles that chat's
waiting updates in ``update_id`` order through ``Application.process_update``, marks each one handled,
and lets the chat go. A worker learns of new updates by LISTEN/NOTIFY, and looks anyway every
``POLL_INTERVAL`` seconds: a worker that died frees its chats without telling anyone (PostgreSQL drops
its locks when its connection closes), and the poll is how another worker picks them up. Every database
call here is one of Storage's async primitives: on PostgreSQL it runs on the event loop, no thread hop.

What "handled" means: an update is marked handled after ``process_update`` returns for it (its handlers
ran, its answer was sent or given up on). A worker that dies mid-update (kill -9, the machine lost) has not
marked it, so another worker handles it again: delivery is **at least once**. The user may then see an
answer twice (when the first worker's send reached Telegram just before it died), but is never left
without one: an unanswered question is the worse failure for a trivia bot, and what a handler sends is
already safe to repeat (a reply, a quiz answer scored by the game's own state). An update that took down
``MAX_ATTEMPTS`` workers is given up on with an error in the log, so one poison update cannot block its
chat for good. Telegram's own redelivery (a 200 it never saw) is recognised by ``update_id`` and never
handled twice.

Order: per chat, updates are handled in ``update_id`` order among those stored; an update stored after
a later one of its chat was already handled (Telegram posted them in parallel and the later one won) is
still handled, late. Across chats there is no order, as with one process.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from telegram import Update
from telegram.ext import Application, ExtBot

from ..cluster.inbox import CHANNEL, MAX_ATTEMPTS, Inbox, StoredUpdate, is_chat, poll_key, receiving
from ..cluster.outbox import answering
from ..errors import BotError
from ..storage import Storage
from ..storage.base import AsyncSessionLocks, Listening

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # s between looks at the inbox without a notice (a dead worker's chats wait this long)
PRUNE_INTERVAL = 3600.0  # s between sweeps of long-handled rows (any worker may do it)
SIDE_LOOK = 0.25  # s between looks for quiz votes and the like while every chat slot is busy (is_chat)
STOP_TIMEOUT = 10.0  # s a stopping worker waits for the updates it is handling; then they go to another
WEBHOOK_LOCK = "webhook"  # the advisory lock of the worker (re)registering the webhook
WEBHOOK_LOCK_WAIT = 30.0  # s a starting worker waits for another one's registration


class ClusterSetupError(BotError):
    """Workers sharing a database were started in a way that cannot make them one bot (e.g. no secret)."""


def update_key(update: Update) -> str:
    """What one update must wait behind: its chat; for a poll answer, the other votes on its poll (a quiz
    question's deadline waits for those that came in time: bot/cluster/inbox.py ``answers_waiting``); else
    its user (inline queries); else nothing.

    >>> update_key(Update.de_json({"update_id": 5, "poll_answer": {"poll_id": "p", "option_ids": [0],
    ...     "option_persistent_ids": ["p-0"], "user": {"id": 7, "is_bot": False, "first_name": "A"}}}, None))
    'poll:p'
    """
    if update.poll_answer is not None:
        return poll_key(update.poll_answer.poll_id)
    if update.effective_chat is not None:
        return f"chat:{update.effective_chat.id}"
    if update.effective_user is not None:
        return f"user:{update.effective_user.id}"
    return f"update:{update.update_id}"


# the fields whose object's chat is the update's chat (Update.effective_chat reads them in this order)
_MESSAGE_FIELDS = ("message", "edited_message", "channel_post", "edited_channel_post", "business_message",
                   "edited_business_message")


def quick_key(data: dict[str, object]) -> str | None:
    """``update_key`` read from the update's JSON, for the shapes nearly every update has: one message-like
    field whose ``chat`` has an integer id ("chat:<id>"), or a poll answer ("poll:<poll id>"). None
    for anything else: then the caller builds PTB's Update and asks ``update_key``.

    The webhook of a worker on a shared database stores what it receives for whichever worker handles it,
    which builds the Update from the stored text again. Building it at the webhook too, only to learn the
    key, was half of what the webhook cost, and a tenth of a worker's CPU per update (bench_cluster,
    sampled). What PTB would refuse to build is then refused by the worker that handles it (logged, given
    up like a poison update), not with a 400: Telegram sends no such update.

    >>> quick_key({"update_id": 1, "message": {"message_id": 2, "chat": {"id": -5, "type": "group"}}})
    'chat:-5'
    >>> quick_key({"update_id": 1, "poll_answer": {"poll_id": "p", "user": {"id": 7}, "option_ids": [0]}})
    'poll:p'
    >>> quick_key({"update_id": 1, "message": {"chat": 5}}) is None
    True
    """
    fields = [k for k in data if k != "update_id"]
    if len(fields) != 1:
        return None
    value = data[fields[0]]
    if not isinstance(value, dict):
        return None
    if fields[0] in _MESSAGE_FIELDS:
        chat = value.get("chat")
        if isinstance(chat, dict) and type(chat.get("id")) is int:
            return f"chat:{chat['id']}"
        return None
    if fields[0] == "poll_answer" and isinstance(value.get("poll_id"), str):
        return poll_key(value["poll_id"])
    return None


_LOCK_PREFIX = "inbox/"


def _lock_name(chat: str) -> str:
    return f"{_LOCK_PREFIX}{chat}"


class Holds(Protocol):
    """Told when this worker starts and stops serving a key alone (under its lock): ``hold`` once the lock
    is taken, before the key's first update is handled, ``release`` after its last, before the lock goes.
    What is written under a hold is seen by no other worker's reader meanwhile (the Brain keeps a chat's
    context for the hold instead of reading it again for each message)."""

    def hold(self, key: str) -> None: ...
    def release(self, key: str) -> None: ...


class InboxCluster:
    """One worker's share of the inbox: it stores what its webhook receives and handles what it claims."""

    def __init__(self, app: Application, storage: Storage, *, concurrency: int = 16,
                 poll_interval: float = POLL_INTERVAL, stop_timeout: float = STOP_TIMEOUT,
                 holds: Holds | None = None, superseding: Callable[[int], Awaitable[object]] | None = None) -> None:
        self.app, self.storage, self.inbox, self.holds = app, storage, Inbox(storage), holds
        self.superseding = superseding  # an update handled again: its earlier attempt's answers give way
        self.concurrency, self.poll_interval, self.stop_timeout = concurrency, poll_interval, stop_timeout
        self._locks: AsyncSessionLocks | None = None
        self._busy: dict[str, asyncio.Task[None]] = {}  # chat -> the task handling it, under its lock
        self._wake = asyncio.Event()
        self._stopping = False
        self._lost = False  # the lock connection failed: the chats held may be another worker's by now
        self._task: asyncio.Task[None] | None = None
        self._listening: Listening | None = None
        self._last_prune = 0.0
        self._side_look = 0.0  # when the inbox was last read with only the slots of no chat free
        # chats another worker held at the last try: not tried again before the time noted (its holder
        # sees their new updates before it lets go, and a dead holder's chats are found by the poll)
        self._held_elsewhere: dict[str, float] = {}
        self.handled = 0  # updates this worker handled (for logs and tests)

    # the webhook's side ---------------------------------------------------------------------------
    async def store(self, update: Update, body: str) -> None:
        """Keep an update the webhook accepted; returns once it is committed (then Telegram gets 200)."""
        await self.store_item(StoredUpdate(update.update_id, update_key(update), body))

    async def store_item(self, item: StoredUpdate) -> None:
        """``store``, its key already known (``quick_key``)."""
        if not await self.inbox.astore(item):
            log.info("update %d was delivered again; it is already in the inbox", item.update_id)

    async def register_webhook(self, url: str, secret_token: str, allowed_updates: list[str],
                               set_webhook: Callable[[], Awaitable[None]]) -> bool:
        """Call ``set_webhook`` unless another worker already registered this URL with this secret; True if
        called. Under an advisory lock, so workers starting together register once: getWebhookInfo shows
        the URL but not the secret, so what was registered is also kept in the database (as a hash)."""
        assert self._locks is not None, "start() first"
        locks = self._locks
        fingerprint = hashlib.sha256(
            json.dumps([url, secret_token, sorted(allowed_updates)]).encode()).hexdigest()
        deadline = time.monotonic() + WEBHOOK_LOCK_WAIT
        while not await locks.try_lock(WEBHOOK_LOCK):
            if time.monotonic() > deadline:
                raise TimeoutError(f"another worker held the webhook lock for {WEBHOOK_LOCK_WAIT:.0f} s")
            await asyncio.sleep(0.05)  # another worker is registering: its answer is what this one needs
        try:
            rows = await asyncio.to_thread(self.storage.query,
                                           "SELECT fingerprint FROM cluster_webhook WHERE name = ?", ("telegram",))
            info = await self.app.bot.get_webhook_info()
            if info.url == url and rows and rows[0][0] == fingerprint:
                log.info("the webhook is already registered (by another worker): not setting it again")
                return False
            await set_webhook()
            log.info("registered the webhook for every worker")
            await asyncio.to_thread(
                self.storage.query,
                "INSERT INTO cluster_webhook(name, url, fingerprint, at) VALUES (?, ?, ?, ?) ON CONFLICT(name) "
                "DO UPDATE SET url = excluded.url, fingerprint = excluded.fingerprint, at = excluded.at",
                ("telegram", url, fingerprint, time.time()))
            return True
        finally:
            await locks.unlock(WEBHOOK_LOCK)

    # the worker's side -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._locks = await self.storage.asession_locks()
        self._listening = await self.storage.alisten(CHANNEL, self._notice)
        self._task = asyncio.create_task(self._run(), name="inbox-worker")
        log.info("inbox worker started (%s)", self.storage.describe())

    async def stop(self) -> None:
        """Stop claiming; let the updates in hand finish for up to ``stop_timeout`` s (the rest stay in the
        inbox for another worker), then free the locks. Every step is bounded."""
        self._stopping = True
        self._wake.set()
        tasks = [t for t in (self._task, *self._busy.values()) if t is not None]
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=self.stop_timeout)
            for task in late:
                task.cancel()
            if late:
                log.warning("stopped %d chats mid-update; another worker will handle them", len(late))
                await asyncio.wait(late, timeout=2.0)
        listening, self._listening = self._listening, None
        if listening is not None:
            with contextlib.suppress(Exception):
                await listening.close()
        if self._locks is not None:
            with contextlib.suppress(Exception):
                await self._locks.close()  # frees every lock this worker still holds
        log.info("inbox worker stopped after %d updates", self.handled)

    def _notice(self, chat: str) -> None:
        """An update of ``chat`` was stored (by any worker): look at the inbox, unless that chat is one this
        worker is serving (it reads the chat's next update before letting go) or one another worker held
        at the last try (so does that worker; a dead one's chats are found by the poll). Every stored update
        notifies every worker: without this, each worker read the inbox once per update stored anywhere.
        A notice without a chat ("", a backend that carries none) always wakes the worker."""
        if chat and (chat in self._busy or self._held_elsewhere.get(chat, 0.0) > time.monotonic()):
            return
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._claim()
            except Exception:
                log.exception("could not read the inbox; trying again in %.1f s", self.poll_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            if not self._wake.is_set() and not self._stopping:
                await self._idle()

    async def _claim(self) -> None:
        if self._lost:
            await self._reconnect()
        assert self._locks is not None
        locks = self._locks
        now = time.monotonic()
        if self._full(chats=True):
            # only the slots for updates of no chat are free: look for those at most every SIDE_LOOK s,
            # not at every notice (each stored update wakes every worker, and the chats' slots are full
            # for as long as a backlog lasts)
            if self._full(chats=False) or now - self._side_look < SIDE_LOOK:
                return
            self._side_look = now
        held = self._held_elsewhere
        for chat in [c for c, until in held.items() if until <= now]:
            del held[chat]
        # the keys of no chat and the chats, each up to its free slots (twice as many chats asked for as
        # slots: some may be another worker's by now), the ones served here or elsewhere left out by the
        # query; then tried in one call (one statement on PostgreSQL)
        limits = [self.concurrency - sum(1 for key in self._busy if is_chat(key) == chat_group)
                  for chat_group in (False, True)]
        waiting = await self.inbox.awaiting_chats(max(0, limits[0]), skip={*self._busy, *held},
                                                  chats=2 * max(0, limits[1]))
        if self._stopping or self._lost:
            return
        groups = [[_lock_name(c) for c in waiting if is_chat(c) == chat_group] for chat_group in (False, True)]
        try:
            tries = await locks.try_lock_first(list(zip(groups, limits)))
        except Exception:
            self._lose("claiming a chat")
            return
        if self._stopping or self._lost:
            return  # what was locked is freed with the lock connection (stop, or the connection lost)
        for names, tried in zip(groups, tries):
            got = set(tried.got)
            for name in names[:tried.tried]:
                chat = name.removeprefix(_LOCK_PREFIX)
                if name in got:
                    if self.holds is not None:
                        self.holds.hold(chat)
                    self._busy[chat] = asyncio.create_task(self._serve_chat(chat), name=f"inbox {chat}")
                else:  # another worker has it, and will see its new updates before letting go
                    held[chat] = now + self.poll_interval

    def _full(self, *, chats: bool) -> bool:
        """Whether this worker serves ``concurrency`` chats already (``chats``), or as many keys of no chat
        (quiz votes, inline queries: they have slots of their own, see ``is_chat``)."""
        return sum(1 for key in self._busy if is_chat(key) == chats) >= self.concurrency

    async def _serve_chat(self, chat: str) -> None:
        done: int | None = None  # the update handled last, marked done with the next one's claim
        try:
            while not (self._stopping or self._lost):
                item = await self.inbox.aadvance(chat, done)
                done = None
                if item is None:
                    break
                await self._handle(item)
                done = item.update_id
        except Exception:  # the database failed: the updates stay in the inbox, for the next claim
            log.exception("could not serve the inbox of %s", chat)
        finally:
            if done is not None:  # stopping: the last one handled is done, the next is left unbegun
                with contextlib.suppress(Exception):
                    await self.inbox.adone(done)
            self._busy.pop(chat, None)
            if self.holds is not None:
                self.holds.release(chat)
            if not self._lost and self._locks is not None:
                try:
                    await self._locks.unlock(_lock_name(chat))
                except Exception:
                    self._lose("letting a chat go")
            self._wake.set()  # an update may have come in after the last look and before the unlock

    async def _handle(self, item: StoredUpdate) -> None:
        """Handle one begun update (its attempt counted); the caller marks it done."""
        if item.attempts > MAX_ATTEMPTS:
            log.error("giving up on update %d of %s: %d workers stopped while handling it", item.update_id,
                      item.chat, item.attempts - 1)
        else:
            try:
                if item.attempts > 1 and self.superseding is not None:
                    await self.superseding(item.update_id)
                update = Update.de_json(json.loads(item.body), self.app.bot)
                if isinstance(self.app.bot, ExtBot):
                    self.app.bot.insert_callback_data(update)
                # the answers recorded now are this update's; what it answers counts from when it came
                with answering(item.update_id), receiving(item.received):
                    await self.app.process_update(update)  # handler errors end in the error handler, not here
            except Exception:
                log.exception("could not handle update %d of %s", item.update_id, item.chat)
        self.handled += 1

    async def _idle(self) -> None:
        """Between looks: is the lock connection still there; are there old rows to sweep."""
        locks = self._locks
        if locks is not None and not self._lost and not await locks.alive():
            self._lose("checking the connection")
        if time.monotonic() - self._last_prune > PRUNE_INTERVAL:
            self._last_prune = time.monotonic()
            try:
                pruned = await asyncio.to_thread(self.inbox.prune)
            except Exception:
                log.exception("could not prune the inbox")
            else:
                if pruned:
                    log.info("pruned %d long-handled updates from the inbox", pruned)

    def _lose(self, doing: str) -> None:
        if not self._lost:
            log.error("the lock connection failed while %s: finishing the updates in hand, then reconnecting",
                      doing)
        self._lost = True

    async def _reconnect(self) -> None:
        """Once the chats held under the lost connection are done, start again on a new one."""
        if self._busy:
            await asyncio.wait(list(self._busy.values()), timeout=self.stop_timeout)
        old, self._locks = self._locks, None
        if old is not None:
            with contextlib.suppress(Exception):
                await old.close()
        self._locks = await self.storage.asession_locks()
        self._lost = False
        log.info("the inbox worker has a new lock connection")
