"""Knowledge updates from Telegram: /kb commands and a guided /kbedit conversation with a confirm button.

Telegram plumbing only: every operation is bot/admin.py's, the same as `python -m bot kb`, run on a
thread (they take a file lock and fsync). The Admin swaps the new knowledge into the running Brain, so
the next message is answered with it. Non-admins are refused by the Admin itself, which logs the attempt.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shlex
import warnings
from collections.abc import Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MenuButtonWebApp, Message, Update, WebAppInfo
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from ..admin import Actor, Admin, Change, EntityView
from ..config import Settings
from ..dialogue import Brain
from ..errors import BotError, ChangedError, NotAdminError
from ..live import Reloader
from ..storage import Storage, open_storage
from . import telegram_render as render
from .telegram_persistence import RefreshConversation, SharedConversation, StoragePersistence
from .telegram_send import reply as send_reply

log = logging.getLogger(__name__)
USAGE = """Knowledge admin commands:
/kb show ENTITY [RELATION]
/kb set ENTITY RELATION VALUE --source SOURCE [--known YYYY-MM-DD] [--role CHARACTER] [--preview]
/kb add ENTITY RELATION VALUE --source SOURCE [--known ...] [--role ...] [--preview]
/kb remove ENTITY RELATION [VALUE]
/kb alias ENTITY ALIAS
/kb example INTENT TEXT
/kb unanswered [N]
/kb answer NUMBER ENTITY RELATION VALUE --source SOURCE
/kb history [N]
/kb undo
/kb reload
/kbedit: change a fact step by step.
Quote names with spaces: {example}"""
OPTIONS = {"--source": "source", "-s": "source", "--known": "known", "--role": "role", "--intent": "intent"}
FLAGS = {"--preview": "preview", "--dry-run": "preview"}  # options without a value
ENTITY, RELATION, VALUE, SOURCE, CONFIRM = range(5)
TIMEOUT = 600  # s: an abandoned guided edit ends by itself (telegram_persistence.MAX_AGE: also when stored)
MAX_SHOWN = 25  # facts listed in one reply


def parse_args(text: str) -> tuple[list[str], dict[str, str]]:
    """Words and --options of a /kb command. Quotes group words; a lone apostrophe is just a letter."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    positional: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(words):
        flag = FLAGS.get(words[i].lower())
        if flag:
            options[flag] = "yes"
            i += 1
            continue
        key = OPTIONS.get(words[i].lower())
        if key and i + 1 < len(words):
            options[key] = words[i + 1]
            i += 2
            continue
        positional.append(words[i])
        i += 1
    return positional, options


def _tail(words: list[str], start: int) -> str:
    """Everything from ``start`` on as one value, so an unquoted '6 June 2025' still works."""
    return " ".join(words[start:])


def entity_text(view: EntityView) -> str:
    lines = [f"{view.name} ({view.id}, {view.kind})"]
    if view.aliases:
        lines.append("aliases: " + ", ".join(view.aliases))
    for f in view.facts[:MAX_SHOWN]:
        role = f" as {f.role}" if f.role else ""
        lines.append(f"[{f.index}] {f.relation}: {f.value}{role} ({f.attribution}, {f.known})")
    if len(view.facts) > MAX_SHOWN:
        lines.append(f"... and {len(view.facts) - MAX_SHOWN} more (narrow it: /kb show {view.id} RELATION)")
    return "\n".join(lines)


class TelegramAdmin:
    def __init__(self, brain: Brain, settings: Settings, storage: Storage | None = None,
                 reloader: Reloader | None = None) -> None:
        self.admin = Admin(settings, storage or brain.storage or open_storage(settings.database), brain=brain,
                           reloader=reloader)
        self.brain = brain
        self.app_url = settings.admin_web.url  # the admin Mini App, if it is served
        self._guided: SharedConversation | None = None

    def usage(self) -> str:
        """USAGE, its example about this bot's own film (read when asked: the knowledge may change)."""
        kb = self.brain.mind.kb
        film = kb.default_subject.name
        name = f'"{film}"' if " " in film else film
        relation = "release" if "release" in kb.relations else next(
            (r.id for r in kb.relations.values() if r.literal), "description")
        return USAGE.format(example=f'/kb set {name} {relation} "6 June 2025" --source Variety')

    async def publish_app_button(self, bot: Any) -> None:
        """Each admin's private-chat menu button opens the admin app (set per chat: nobody else gets it)."""
        if not self.app_url:
            return
        button = MenuButtonWebApp("Admin", WebAppInfo(self.app_url))
        for user_id in self.admin.settings.admins:
            try:
                await bot.set_chat_menu_button(chat_id=user_id, menu_button=button)
            except TelegramError as exc:  # e.g. an admin who never opened a chat with the bot
                log.warning("could not set the admin app button for admin %s: %s", user_id, exc)

    def _app_keyboard(self, message: Message) -> InlineKeyboardMarkup | None:
        if not self.app_url or message.chat.type != ChatType.PRIVATE:  # web_app buttons: private chats only
            return None
        return InlineKeyboardMarkup([[InlineKeyboardButton("🛠 Open the admin app", web_app=WebAppInfo(self.app_url))]])

    def register(self, app: Application) -> None:
        with warnings.catch_warnings():
            # per_message=False is what we want (the conversation follows the admin, not one message);
            # PTB warns that its buttons are then not tracked per message, which is fine here.
            warnings.filterwarnings("ignore", message=".*per_message=False.*")
            guided = self._conversation(persistent=isinstance(app.persistence, StoragePersistence))
        self._guided = guided
        # Group -2: before the quiz (-1) and the chat (0), and an edit's typed values stop there.
        if isinstance(app.persistence, StoragePersistence):  # a step may land on another worker (PTB persistence)
            app.add_handler(RefreshConversation(guided, app.persistence), group=-3)
        app.add_handler(guided, group=-2)
        app.add_handler(CommandHandler("kb", self.on_kb, filters=filters.UpdateType.MESSAGE), group=-2)

    def _conversation(self, persistent: bool = False) -> SharedConversation:
        return SharedConversation(
            entry_points=[CommandHandler("kbedit", self.edit_start)],
            states={
                ENTITY: [MessageHandler(filters.TEXT & ~filters.COMMAND, self.edit_entity)],
                RELATION: [CallbackQueryHandler(self.edit_relation, pattern=r"^kbe:rel:")],
                VALUE: [MessageHandler(filters.TEXT & ~filters.COMMAND, self.edit_value)],
                SOURCE: [MessageHandler(filters.TEXT & ~filters.COMMAND, self.edit_source),
                         CallbackQueryHandler(self.edit_source_button, pattern=r"^kbe:src:")],
                CONFIRM: [CallbackQueryHandler(self.edit_confirm, pattern=r"^kbe:(save|add|cancel)$")],
            },
            fallbacks=[CommandHandler("cancel", self.edit_cancel),
                       CallbackQueryHandler(self.edit_cancel, pattern=r"^kbe:cancel$")],
            conversation_timeout=TIMEOUT,
            name="kbedit",
            persistent=persistent,
        )

    # /kb ---------------------------------------------------------------------------------------------
    async def on_kb(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.from_user is None:
            raise ApplicationHandlerStop
        actor = Actor.telegram(message.from_user.id, message.from_user.username)
        words, options = parse_args(render.command_argument(message.text or ""))
        op = words[0].lower() if words else "help"
        keyboard = None
        try:
            text = await asyncio.to_thread(self._run, actor, op, words[1:], options)
            if op in ("help", "?"):
                keyboard = self._app_keyboard(message)
        except NotAdminError as exc:
            text = str(exc)
        except BotError as exc:
            text = f"⚠️ {exc}"
        except Exception:  # noqa: BLE001 - an admin typo must never take the bot down
            log.exception("/kb %s failed", op)
            text = "⚠️ Something went wrong; nothing was changed. See the bot's log."
        await self._reply(message, text, keyboard)
        raise ApplicationHandlerStop  # the chat front must not answer /kb as an unknown command

    def _run(self, actor: Actor, op: str, args: list[str], options: dict[str, str]) -> str:
        admin = self.admin
        need = {"show": 1, "set": 3, "add": 3, "remove": 2, "alias": 2, "example": 2, "answer": 4}
        if op in ("help", "?"):
            admin.require(actor, "kb help")
            return self.usage()
        if op not in need and op not in ("unanswered", "history", "undo", "reload"):
            admin.require(actor, f"kb {op}")
            return f"I don't know /kb {op[:40]}.\n\n{self.usage()}"
        if len(args) < need.get(op, 0):
            admin.require(actor, f"kb {op}")
            return f"Not enough words for /kb {op}.\n\n{self.usage()}"
        if op in ("set", "add", "answer") and "source" not in options:
            admin.require(actor, f"kb {op}")
            return f"Who says so? Add --source, e.g. --source Variety.\n\n{self.usage()}"
        known, role = options.get("known"), options.get("role")
        if op == "show":
            return entity_text(admin.show(actor, args[0], args[1] if len(args) > 1 else None))
        if op in ("set", "add") and options.get("preview"):
            return admin.preview_fact(actor, args[0], args[1], _tail(args, 2), options["source"], known, role,
                                      replace=op == "set").message
        if op == "set":
            return admin.set_fact(actor, args[0], args[1], _tail(args, 2), options["source"], known, role).message
        if op == "add":
            return admin.add_fact(actor, args[0], args[1], _tail(args, 2), options["source"], known, role).message
        if op == "remove":
            return admin.remove_fact(actor, args[0], args[1], _tail(args, 2) or None).message
        if op == "alias":
            return admin.add_alias(actor, args[0], _tail(args, 1)).message
        if op == "example":
            return admin.add_example(actor, args[0], _tail(args, 1)).message
        if op == "unanswered":
            items = admin.unanswered(actor, _number(args, 20))
            if not items:
                return "No unanswered questions. 🎉"
            return "\n".join(f"{n}. {q.text} (×{q.count})" for n, q in enumerate(items, 1))
        if op == "answer":
            if not args[0].isdigit():
                return "Usage: /kb answer NUMBER ENTITY RELATION VALUE --source SOURCE (NUMBER from /kb unanswered)"
            return admin.answer(actor, int(args[0]), args[1], args[2], _tail(args, 3), options["source"], known,
                                options.get("intent")).message
        if op == "history":
            entries = admin.history(actor, _number(args, 10))
            if not entries:
                return "No changes yet."
            return "\n".join(f"#{e.id} {_when(e.at)} {e.who}: {e.action} {e.target or ''}"
                             + (" (undone)" if e.undone else "") for e in entries)
        if op == "undo":
            return admin.undo(actor).message
        return admin.reload(actor)

    # /kbedit -----------------------------------------------------------------------------------------
    async def edit_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None:
            raise ApplicationHandlerStop(ConversationHandler.END)
        actor = Actor.telegram(user.id, user.username)
        try:
            await asyncio.to_thread(self.admin.require, actor, "kbedit")
        except NotAdminError as exc:
            await self._reply(message, str(exc))
            raise ApplicationHandlerStop(ConversationHandler.END) from None
        context.user_data["kbedit"] = {}  # type: ignore[index]  # JSON only: it may be stored (telegram_persistence.py)
        await self._at(update, context, ENTITY)
        await self._reply(message, "✏️ Which entity do you want to change? Send its name, e.g. "
                                   f"{self.brain.mind.kb.default_subject.name}. (/cancel to stop)")
        raise ApplicationHandlerStop(ENTITY)

    async def edit_entity(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        message = update.effective_message
        state = self._state(context)
        assert message is not None and message.text is not None
        try:
            view = await asyncio.to_thread(self.admin.show, _actor(update), message.text.strip())
        except BotError as exc:
            await self._reply(message, f"⚠️ {exc}\nTry another name, or /cancel.")
            raise ApplicationHandlerStop(ENTITY) from None
        state["entity"], state["entity_name"] = view.id, view.name
        relations = self.admin.relations_for(view.kind)
        rows = [[InlineKeyboardButton(label, callback_data=f"kbe:rel:{rel_id}")] for rel_id, label in relations]
        rows.append([InlineKeyboardButton("✖ Cancel", callback_data="kbe:cancel")])
        await self._at(update, context, RELATION)
        await self._reply(message, entity_text(view) + "\n\nWhich fact?", InlineKeyboardMarkup(rows))
        raise ApplicationHandlerStop(RELATION)

    async def edit_relation(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        state = self._state(context)
        assert query is not None and query.data is not None
        await query.answer()
        state["relation"] = query.data.removeprefix("kbe:rel:")
        current = await asyncio.to_thread(self.admin.show, _actor(update), state["entity"], state["relation"])
        now = "; ".join(f"{f.value} ({f.attribution}, {f.known})" for f in current.facts) or "nothing yet"
        state["current"] = now
        # what the admin saw: saving is refused if another admin (any worker) changes it meanwhile
        state["expect"] = await asyncio.to_thread(self.admin.fact_fingerprint, _actor(update), state["entity"],
                                                  state["relation"])
        await self._at(update, context, VALUE)
        await self._send(update, f"{state['entity_name']} · {state['relation']}\nNow: {now}\n\n"
                                 "Send the new value.")
        raise ApplicationHandlerStop(VALUE)

    async def edit_value(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        message = update.effective_message
        state = self._state(context)
        assert message is not None and message.text is not None
        state["value"] = message.text.strip()
        sources = self.admin.source_names()[:6]
        rows = [[InlineKeyboardButton(name[:60], callback_data=f"kbe:src:{sid}")] for sid, name in sources]
        await self._at(update, context, SOURCE)
        await self._reply(message, "Who says so? Send the source (e.g. Variety), or pick one:",
                          InlineKeyboardMarkup(rows) if rows else None)
        raise ApplicationHandlerStop(SOURCE)

    async def edit_source(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        message = update.effective_message
        assert message is not None and message.text is not None
        return await self._preview(update, context, message.text.strip())

    async def edit_source_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        assert query is not None and query.data is not None
        await query.answer()
        return await self._preview(update, context, query.data.removeprefix("kbe:src:"))

    async def _preview(self, update: Update, context: ContextTypes.DEFAULT_TYPE, source: str) -> int:
        state = self._state(context)
        state["source"] = source
        today = dt.date.today().isoformat()
        try:  # the change checked as it would be saved, and the answer the bot would then give
            preview = await asyncio.to_thread(self.admin.preview_fact, _actor(update), state["entity"],
                                              state["relation"], state["value"], source)
        except BotError as exc:
            await self._at(update, context, VALUE)
            await self._send(update, f"⚠️ {exc}\nNothing was changed. Send another value, or /cancel.")
            raise ApplicationHandlerStop(VALUE) from None
        shown = "; ".join(f.sentence for f in preview.facts)
        text = (f"Please confirm:\n{state['entity_name']} · {state['relation']}\n"
                f"from: {state['current']}\nto: {state['value']} (source: {source}, known {today})\n\n"
                f"It will read: {shown}."
                + (f"\nThe bot will answer: {preview.answer}" if preview.answer else ""))
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("✅ Save", callback_data="kbe:save"),
                                          InlineKeyboardButton("➕ Add alongside", callback_data="kbe:add")],
                                         [InlineKeyboardButton("✖ Cancel", callback_data="kbe:cancel")]])
        await self._at(update, context, CONFIRM)
        await self._send(update, text, keyboard)
        raise ApplicationHandlerStop(CONFIRM)

    async def edit_confirm(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        assert query is not None and query.data is not None
        state = self._state(context)
        if query.data == "kbe:cancel":
            return await self.edit_cancel(update, context)
        await query.answer("Saving…")
        operation: Callable[..., Change] = self.admin.set_fact if query.data == "kbe:save" else self.admin.add_fact
        try:
            change = await asyncio.to_thread(operation, _actor(update), state["entity"], state["relation"],
                                             state["value"], state["source"], expect=state.get("expect"))
        except ChangedError as exc:  # another admin saved first: show it, and let this one decide again
            current = await asyncio.to_thread(self.admin.show, _actor(update), state["entity"], state["relation"])
            state["current"] = "; ".join(f"{f.value} ({f.attribution}, {f.known})" for f in current.facts) \
                or "nothing yet"
            state["expect"] = await asyncio.to_thread(self.admin.fact_fingerprint, _actor(update), state["entity"],
                                                      state["relation"])
            await self._at(update, context, VALUE)
            await self._send(update, f"⚠️ {exc}\nNow: {state['current']}\n\nSend the new value again, or /cancel.")
            raise ApplicationHandlerStop(VALUE) from None
        except BotError as exc:
            await self._at(update, context, VALUE)
            await self._send(update, f"⚠️ {exc}\nNothing was changed. Send another value, or /cancel.")
            raise ApplicationHandlerStop(VALUE) from None
        if query.message is not None and isinstance(query.message, Message):
            await query.message.edit_reply_markup(None)  # the buttons are spent
        context.user_data.pop("kbedit", None)  # type: ignore[union-attr]
        await self._at(update, context, ConversationHandler.END)
        await self._send(update, f"✅ Saved. {change.message}\nUndo with /kb undo.")
        raise ApplicationHandlerStop(ConversationHandler.END)

    async def edit_cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        if update.callback_query is not None:
            await update.callback_query.answer()
        context.user_data.pop("kbedit", None)  # type: ignore[union-attr]
        await self._at(update, context, ConversationHandler.END)
        await self._send(update, "OK, nothing was changed.")
        raise ApplicationHandlerStop(ConversationHandler.END)

    # helpers -----------------------------------------------------------------------------------------
    async def _at(self, update: Update, context: ContextTypes.DEFAULT_TYPE, state: object) -> None:
        """Store the step the edit moves to before the admin sees its question: the answer may land on
        another worker at once (with no persistence, PTB keeps it in memory as usual)."""
        if self._guided is not None:
            await self._guided.save_step(update, context, state)

    @staticmethod
    def _state(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
        return context.user_data.setdefault("kbedit", {})  # type: ignore[union-attr,no-any-return]

    async def _send(self, update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
        chat = update.effective_chat
        if chat is not None:
            await update.get_bot().send_message(chat.id, render.escape(text), parse_mode=ParseMode.HTML,
                                                reply_markup=keyboard)

    async def _reply(self, message: Message, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
        text = text[:4000]
        await send_reply(message, render.Rendered(render.escape(text), keyboard, text))


def _actor(update: Update) -> Actor:
    """Who is editing: the update's user (a guided edit is per user, so it is never stored)."""
    user = update.effective_user
    assert user is not None
    return Actor.telegram(user.id, user.username)


def _number(args: list[str], default: int) -> int:
    return max(1, min(100, int(args[0]))) if args and args[0].isdigit() else default


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")
