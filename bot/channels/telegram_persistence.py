"""/kbedit across restarts and workers: PTB persistence backed by the bot's Storage (either backend).

PTB's own model keeps a ConversationHandler's states and ``user_data`` in the process: it loads them when
the Application starts and writes them back every minute and at stop. That survives a restart, but not a
second worker: the next step of a guided edit may land on a worker that loaded the states before the
edit began, and each worker's periodic write would put back its own stale copy. So here:

- a step's new state and the edit's draft are written, in one transaction, before the step replies
  (``SharedConversation.save_step``), never by PTB's periodic flush (its ``update_*`` do nothing);
- before an admin's update is routed, the conversation's state is read back from the database
  (``SharedConversation.refresh``, registered in a handler group ahead of it), and PTB's own
  ``refresh_user_data`` reads the draft back before each callback;
- only what /kbedit needs is kept: conversation states, and the ``user_data`` keys in ``KEPT``, of admins
  (nobody else can be in a guided edit), as JSON. A state older than the conversation's timeout is
  taken as abandoned.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from telegram import Update
from telegram.ext import Application, BaseHandler, BasePersistence, ConversationHandler, PersistenceInput

from ..storage import Storage, Tx

# PTB's shapes (telegram.ext._utils.types is private): a conversation's key, its states, callback data
ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]

KEPT = ("kbedit",)  # the user_data keys a conversation needs on another worker (the guided edit's draft)
MAX_AGE = 600.0  # s: a state untouched for longer is an abandoned conversation (telegram_admin.TIMEOUT)


class ConversationStore:
    """The rows: conversation states by (handler name, key), and kept user data by user id."""

    def __init__(self, storage: Storage, max_age: float = MAX_AGE) -> None:
        self.storage, self.max_age = storage, max_age

    def states(self, name: str) -> dict[ConversationKey, object]:
        rows = self.storage.query("SELECT conv_key, state FROM bot_conversations WHERE name = ? AND updated > ?",
                                  (name, time.time() - self.max_age))
        return {tuple(json.loads(str(k))): json.loads(str(s)) for k, s in rows}

    def state(self, name: str, key: ConversationKey) -> object | None:
        rows = self.storage.query("SELECT state FROM bot_conversations WHERE name = ? AND conv_key = ? "
                                  "AND updated > ?", (name, _key(key), time.time() - self.max_age))
        return json.loads(str(rows[0][0])) if rows else None

    def save_step(self, name: str, key: ConversationKey, state: object | None, user_id: int | None,
                  user_data: dict[str, Any] | None) -> None:
        """A step's state and the user's kept data, together (a reader never sees one without the other)."""
        with self.storage.transaction() as tx:
            self.save_state(name, key, state, tx)
            if user_id is not None and user_data is not None:
                self.save_user(user_id, user_data, tx)

    def save_state(self, name: str, key: ConversationKey, state: object | None, tx: Tx | None = None) -> None:
        run = tx or self.storage
        if state is None:
            run.query("DELETE FROM bot_conversations WHERE name = ? AND conv_key = ?", (name, _key(key)))
            return
        run.query("INSERT INTO bot_conversations(name, conv_key, state, updated) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT(name, conv_key) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                  (name, _key(key), json.dumps(state), time.time()))

    def users(self) -> dict[int, dict[str, Any]]:
        rows = self.storage.query("SELECT user_id, data FROM bot_user_data WHERE updated > ?",
                                  (time.time() - self.max_age,))
        return {int(str(u)): json.loads(str(d)) for u, d in rows}

    def user(self, user_id: int) -> dict[str, Any]:
        rows = self.storage.query("SELECT data FROM bot_user_data WHERE user_id = ? AND updated > ?",
                                  (str(user_id), time.time() - self.max_age))
        return json.loads(str(rows[0][0])) if rows else {}

    def save_user(self, user_id: int, data: dict[str, Any], tx: Tx | None = None) -> None:
        run = tx or self.storage
        kept = {k: data[k] for k in KEPT if k in data}
        if not kept:
            run.query("DELETE FROM bot_user_data WHERE user_id = ?", (str(user_id),))
            return
        run.query("INSERT INTO bot_user_data(user_id, data, updated) VALUES (?, ?, ?) "
                  "ON CONFLICT(user_id) DO UPDATE SET data = excluded.data, updated = excluded.updated",
                  (str(user_id), json.dumps(kept), time.time()))


def _key(key: ConversationKey) -> str:
    return json.dumps(list(key))


class StoragePersistence(BasePersistence[dict[str, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB persistence over ``ConversationStore``: loads at start, refreshes per update, writes through
    (``write_through``), and leaves PTB's periodic flush with nothing to do (see the module's docstring)."""

    def __init__(self, store: ConversationStore, keeps: Callable[[int], bool]) -> None:
        super().__init__(PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False),
                         update_interval=60)
        self.store = store
        self.keeps = keeps  # whose data is worth a database read (admins: nobody else edits)

    # loaded once, when the Application starts -----------------------------------------------------
    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        return await asyncio.to_thread(self.store.users)

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        return await asyncio.to_thread(self.store.states, name)

    # read back before each callback -----------------------------------------------------------------
    async def refresh_user_data(self, user_id: int, user_data: dict[str, Any]) -> None:
        if not self.keeps(user_id):
            return
        stored = await asyncio.to_thread(self.store.user, user_id)
        for key in KEPT:
            if key in stored:
                user_data[key] = stored[key]
            else:
                user_data.pop(key, None)

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        return None

    # written through by SharedConversation, so PTB's periodic flush writes nothing -----------------
    async def write_through(self, name: str, key: ConversationKey, state: object | None, user_id: int | None,
                    user_data: dict[str, Any] | None) -> None:
        await asyncio.to_thread(self.store.save_step, name, key, state, user_id, user_data)

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        return None  # this worker's copy may be stale: the state was written when its step was handled

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        return None  # likewise

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        return None

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def drop_user_data(self, user_id: int) -> None:
        await asyncio.to_thread(self.store.save_user, user_id, {})

    async def flush(self) -> None:
        return None


def persistence_for(storage: Storage, admins: Iterable[int]) -> StoragePersistence:
    users = frozenset(int(a) for a in admins)
    return StoragePersistence(ConversationStore(storage), users.__contains__)


class SharedConversation(ConversationHandler[Any]):
    """A ConversationHandler whose state lives in the database (with a ``StoragePersistence``): read back
    before each update (``refresh``) and written by each step before it replies (``save_step``). Only
    then: a write after the reply could land after the next step, handled meanwhile on another worker, and
    put back this worker's older copy. Without a StoragePersistence, PTB's own handler."""

    _persistence: StoragePersistence | None = None  # set by RefreshConversation

    async def refresh(self, update: Update, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        persistence = application.persistence
        if not isinstance(persistence, StoragePersistence) or not self._keyed(update):
            return
        key = self._get_key(update)
        state = await asyncio.to_thread(persistence.store.state, str(self.name), key)
        if state is None:
            self._conversations.pop(key, None)
        else:
            self._conversations[key] = state

    def _keyed(self, update: Update) -> bool:
        """An update whose conversation state may be in the database: an admin's, in a chat."""
        user = update.effective_user
        persistence = self._persistence
        return (user is not None and update.effective_chat is not None and persistence is not None
                and persistence.keeps(user.id) and not update.channel_post)

    async def save_step(self, update: Update, context: Any, state: object) -> None:
        """Write the state a step moves to (``END``: none) and the draft now, before the step's reply:
        the admin's answer to it may reach another worker as soon as they see it."""
        persistence = self._persistence
        if persistence is None or not self._keyed(update):
            return
        user = update.effective_user
        await persistence.write_through(str(self.name), self._get_key(update), None if state == self.END else state,
                                        user.id if user else None, context.user_data)


class RefreshConversation(BaseHandler[Update, Any, None]):
    """Ahead of a SharedConversation (an earlier handler group): reads the admin's state back from storage,
    so a step begun on another worker, or before a restart, continues here. Claims only admins' updates."""

    def __init__(self, conversation: SharedConversation, persistence: StoragePersistence) -> None:
        super().__init__(self._refresh)
        self.conversation = conversation
        conversation._persistence = persistence

    def check_update(self, update: object) -> bool:
        return isinstance(update, Update) and self.conversation._keyed(update)

    async def _refresh(self, update: Update, context: Any) -> None:
        await self.conversation.refresh(update, context.application)
