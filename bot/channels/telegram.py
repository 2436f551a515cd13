"""Telegram front: a python-telegram-bot v22 Application that turns updates into Brain calls.

    app = build_application(brain, settings)      # nothing touches the network yet
    run_polling(app)                              # or run_webhook(app, settings)

No trivia logic lives here: a message becomes `brain.reply(chat, user, text)` and the Reply is rendered
by `telegram_render`. Who is addressed (private chat, @mention, reply, /ask), which updates are ignored,
and how the network is survived (rate limiter, 429, 5xx back-off, apology on failure) is this module's job.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from telegram import (
    BotCommandScopeAllGroupChats,
    BotCommandScopeDefault,
    InlineQueryResultsButton,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from ..cluster.limits import SendBudget
from ..cluster.outbox import Outbox
from ..config import Settings
from ..dialogue import Brain
from ..cluster.knowledge import follow
from ..lifecycle import STOP_SIGNALS, complete, install_early_signal_handlers, owned_event_loop
from ..live import KnowledgeWatcher, Reloader
from .telegram_persistence import persistence_for
from ..locks import KeyedLocks
from ..logsafety import protect_logs
from ..reply import Reply
from ..runtime import tune_gc
from ..storage import Storage
from . import telegram_render as render
from .telegram_admin import TelegramAdmin
from .telegram_inbox import ClusterSetupError, InboxCluster, is_chat, update_key
from .telegram_limits import SharedRateLimiter
from .telegram_presend import run_after_send, run_before_send
from .telegram_outbox import OutboxLimiter, SendDeferred
from .telegram_quiz import LINK_PREFIX, TelegramQuiz
from .telegram_send import reply as send_reply
from .telegram_webhook import WebhookServer

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "inline_query", "poll_answer"]
# Methods that are safe to send twice: a retry after a read timeout cannot duplicate a visible message.
IDEMPOTENT_METHODS = frozenset({
    "getme", "getupdates", "getchat", "getchatmember", "getchatadministrators", "getwebhookinfo",
    "setwebhook", "deletewebhook", "setmycommands", "getmycommands", "deletemycommands",
    "sendchataction", "answercallbackquery", "answerinlinequery", "close", "logout",
})
# Updates handled at once (different chats; one chat stays in order). 16 is far more than Telegram's
# ~30 messages/s needs (16 in flight at 0.2 s each = 80/s), and httpcore scans its whole connection
# pool on every request, so a bigger pool makes every call dearer (bench/bench_telegram.py).
MAX_CONCURRENT_UPDATES = 16
CONNECTION_POOL_SIZE = 2 * MAX_CONCURRENT_UPDATES
UNBOUNDED_UPDATES = 1 << 30  # PTB's own limit, made one that is never reached: see PerChatUpdateProcessor  # typing + sendMessage each, never waits for a slot
# "typing…" is shown only for an answer that is not out within TYPING_DELAY: Telegram advises chat actions
# only "when a response from the bot will take a noticeable amount of time", and an answer sent at once
# clears the indicator before a client draws it. What delays an answer is the network: the group limit
# (20 a minute), a 429 wait, retries. Telegram shows an action for 5 s, so it is renewed while waiting.
TYPING_DELAY = 0.5  # s
TYPING_RENEW = 4.5  # s
STOP_STEP_TIMEOUT = 15.0  # s, for each step of the shut-down (see running())
APOLOGY = "Sorry, something went wrong on my side while answering that. Please try again in a moment."
NOT_TEXT = "I can only read text. Ask me anything about {title} in words!"
UNKNOWN_COMMAND = "I don't know that command. Try /help, or just ask me a question."
FORGOTTEN = "OK, I've forgotten what we were talking about. Ask me anything!"


# --------------------------------------------------------------------------- network


class RetryMixin(BaseRequest):
    """Retries 5xx answers and network errors with exponential back-off and jitter, around the
    do_request of the request class it is mixed into (RetryingRequest: httpx; telegram_http: aiohttp).
    Before each try it runs the steps the limiter and the outbox registered for the moment the bytes go
    out (telegram_presend.py): a place in Telegram's limits, the outbox's "on its way"; after it, the
    limiter's: the place is dated at the answer.

    429 is not handled here: RetryAfter goes up to the rate limiter (FrontRateLimiter), which waits as
    told and resends.
    A request that may have reached Telegram (read timeout, dropped connection) is retried only for
    idempotent methods, so a slow sendMessage is never delivered twice.
    """

    def __init__(self, *, attempts: int = 5, backoff: float = 0.5, max_backoff: float = 10.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff

    async def do_request(self, url: str, method: str, request_data: Any = None,
                         **timeouts: Any) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]  # never log `url`: it contains the token
        for attempt in range(1, self.attempts + 1):
            status = None
            try:
                await run_before_send()  # each try: its place in the limits, the outbox's "on its way"
                code, payload = await super().do_request(url, method, request_data, **timeouts)
                status = code
            except (TimedOut, NetworkError) as exc:
                if attempt == self.attempts or not _retryable(exc, api_method):
                    raise
                reason = type(exc.__cause__ or exc).__name__
            else:
                if code < 500 or attempt == self.attempts:
                    return code, payload
                reason = f"HTTP {code}"
            finally:
                await run_after_send(status)  # the try is over: Telegram has counted it by now, if ever
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            log.warning("Bot API %s failed (%s); retry %d/%d in %.2fs", api_method, reason, attempt,
                        self.attempts - 1, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


class RetryingRequest(RetryMixin, HTTPXRequest):
    """HTTPXRequest with the retries of RetryMixin."""


def _retryable(exc: TelegramError, api_method: str) -> bool:
    cause = exc.__cause__
    never_sent = isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
    if not never_sent and "aiohttp" in sys.modules:  # only FrontOptions(http="aiohttp") imports it
        from .telegram_http import NEVER_SENT
        never_sent = isinstance(cause, NEVER_SENT)
    return never_sent or api_method.lower() in IDEMPOTENT_METHODS


class FrontRateLimiter(AIORateLimiter):
    """AIORateLimiter for messages; chat actions ("typing…") go straight out.

    A chat action is not a message, so it does not use up a group's 20 messages a minute, and it is shown
    while an answer waits in the limiter's queue: queued behind that answer it would announce nothing.
    A chat action refused with 429 is dropped, not retried (the answer it announces is what matters).
    """

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        if endpoint == "sendChatAction":
            return await callback(*args, **kwargs)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates from different chats run concurrently; updates from one chat run in arrival order,
    so a follow-up ("and Charon?") is always answered after the question it follows.

    The one-process path applies the inbox's rule (bot/cluster/inbox.py ``is_chat``, used by InboxCluster
    too): ``concurrency`` updates of chats at once, and as many again of no chat (quiz poll votes, inline
    queries), each kind in its own slots. Under a backlog a chat's update waits mostly for Telegram's send
    limits; a vote sends nothing into a chat and counts only while its question is open, so it must not
    queue behind them (bench_cluster --sqlite: every right vote of 150 scored nothing behind 20,000
    updates). A chat's update takes its slot only once it is the chat's turn: waiting behind its own chat
    it holds none, so one busy chat cannot fill the slots of all the others.

    PTB's own semaphore (taken before ``do_process_update``, in arrival order) is made wide enough never
    to wait: the slots here are what limits. (It is sized by ``max_concurrent_updates``, so that stays
    PTB's: reported as twice the slots, it made the semaphore 32 wide, and a vote waited behind every chat
    update that had taken one of those 32 while it waited for its chat's turn or a slot: in bench_cluster
    --sqlite, 20 of 30 right votes reached the handler after their question had closed.)"""

    def __init__(self, concurrency: int = 256) -> None:
        super().__init__(UNBOUNDED_UPDATES)
        self.concurrency = concurrency
        self._locks = KeyedLocks()  # only the busy chats have one
        self._slots = {True: asyncio.Semaphore(concurrency), False: asyncio.Semaphore(concurrency)}  # is_chat

    async def do_process_update(self, update: object, coroutine: Coroutine[Any, Any, Any]) -> None:
        key = _update_key(update)
        async with self._locks.hold(key), self._slots[is_chat(key)]:
            await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _update_key(update: object) -> str:
    """The inbox's key (``update_key``: "chat:42", "user:7", "update:5"), for any object PTB queues."""
    return update_key(update) if isinstance(update, Update) else f"other:{id(update)}"


def quiet_network_logs(*values: str | None) -> None:
    """httpx logs every request URL (with the token) at INFO: keep it to warnings; and keep the token and
    the webhook secret out of every log record, at every level (bot/logsafety.py)."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    protect_logs(*values)


# --------------------------------------------------------------------------- the front


@dataclass
class FrontOptions:
    retry_attempts: int = 5
    retry_backoff: float = 0.5
    rate_limit_retries: int = 3
    typing: bool = True  # "typing…" while an answer is held up for more than typing_delay seconds
    typing_delay: float = TYPING_DELAY
    # aiohttp: a third of httpx's CPU per update, same behaviour
    # (bench/bench_telegram.py, tests/telegram_front/test_telegram_http.py)
    http: str = "aiohttp"  # or "httpx": PTB's own HTTPXRequest
    # the outbox (bot/cluster/outbox.py): a failed send's first retry after outbox_backoff s (doubling);
    # a worker holds a message it sends for outbox_lease s before another may take it over
    outbox_backoff: float = 2.0
    outbox_lease: float = 120.0
    outbox_poll: float = 1.0


class TelegramFront:
    """The handlers. One instance per Application; holds the Brain, no state of its own."""

    def __init__(self, brain: Brain, options: FrontOptions | None = None) -> None:
        self.brain = brain
        self.options = options or FrontOptions()
        self.brain_seconds: list[float] = []  # filled only when `measure` is on (bench)
        self.measure = False

    # registration ------------------------------------------------------------------------------
    def register(self, app: Application) -> None:
        new_message = filters.UpdateType.MESSAGE
        app.add_handler(CommandHandler("start", self.on_start, filters=new_message))
        app.add_handler(CommandHandler("help", self.on_help, filters=new_message))
        app.add_handler(CommandHandler("about", self.on_about, filters=new_message))
        app.add_handler(CommandHandler("cancel", self.on_cancel, filters=new_message))
        app.add_handler(CommandHandler("ask", self.on_ask))
        app.add_handler(MessageHandler(filters.COMMAND & new_message, self.on_unknown_command))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_text))
        # stickers, photos, voice...: a hint in private chats; service messages and empty updates: silence
        app.add_handler(MessageHandler(filters.ChatType.PRIVATE & new_message & filters.ATTACHMENT, self.on_not_text))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(InlineQueryHandler(self.on_inline))
        app.add_error_handler(self.on_error)

    async def post_init(self, app: Application) -> None:
        """Publish the command menu (private chats: all commands; groups: the ones that make sense)."""
        try:
            await app.bot.set_my_commands(render.bot_commands(), scope=BotCommandScopeDefault())
            await app.bot.set_my_commands(render.bot_commands(render.GROUP_COMMANDS),
                                          scope=BotCommandScopeAllGroupChats())
        except TelegramError as exc:  # a missing menu must not keep the bot from answering
            log.warning("could not set the command menu: %s", exc)
        admin = app.bot_data.get("admin")
        if admin is not None:
            await admin.publish_app_button(app.bot)  # the admin app in each admin's menu: nobody else's
        outbox = app.bot_data.get("outbox")
        if outbox is not None:
            outbox.start(app.bot)  # messages that failed before, here or on another worker, go out again
        quiz = app.bot_data.get("quiz")
        if quiz is not None:
            await quiz.resume()  # fire due quiz timers: a restart's or a dead worker's games carry on

    # helpers -------------------------------------------------------------------------------------
    @property
    def title(self) -> str:
        return self.brain.mind.kb.title

    async def _ask(self, chat: str | None, user: str | None, text: str) -> Reply:
        """The Brain's reply, computed in a worker thread: it reads and writes the database, and a database
        call on the event loop would hold up every other chat (PostgreSQL is a network away)."""
        return await asyncio.to_thread(self._ask_now, chat, user, text)

    def _ask_now(self, chat: str | None, user: str | None, text: str) -> Reply:
        if not self.measure:
            return self.brain.reply(chat, user, text)
        started = time.perf_counter()
        try:
            return self.brain.reply(chat, user, text)
        finally:
            self.brain_seconds.append(time.perf_counter() - started)

    @staticmethod
    def _ignored_sender(message: Message, bot_id: int) -> bool:
        """Bots (but not anonymous admins, who post as the group), and our own inline results."""
        if message.via_bot is not None and message.via_bot.id == bot_id:
            return True
        sender = message.from_user
        return sender is not None and sender.is_bot and message.sender_chat is None

    def _addressed_text(self, message: Message, bot_id: int, username: str) -> str | None:
        """The question in `message` if it is for us, else None (group chatter)."""
        text = message.text or ""
        if message.chat.type == ChatType.PRIVATE:
            return text
        mentioned = False
        for entity, value in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
            if entity.type == MessageEntity.MENTION and value[1:].lower() == username.lower():
                mentioned = True
            elif entity.user is not None and entity.user.id == bot_id:
                mentioned = True
        if mentioned:
            return render.strip_mention(text, username)
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
            return text
        return None

    async def _keep_typing(self, context: ContextTypes.DEFAULT_TYPE, message: Message) -> None:
        thread = message.message_thread_id if message.is_topic_message else None
        while True:
            with contextlib.suppress(TelegramError):
                await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING, message_thread_id=thread)
            await asyncio.sleep(TYPING_RENEW)

    async def _answer(self, context: ContextTypes.DEFAULT_TYPE, message: Message, text: str,
                      *, question: str | None = None, quote: bool | None = None) -> None:
        """Ask the Brain and send the rendered Reply; an apology if anything but sending fails."""
        group = message.chat.type != ChatType.PRIVATE
        try:
            reply = await self._ask(str(message.chat_id), _user_id(message), text)
            rendered = render.render_reply(reply, hide_spoilers=group, question=question)
        except Exception:
            log.exception("could not answer %r in chat %s", text[:200], message.chat_id)
            rendered = render.Rendered(render.escape(APOLOGY), None, APOLOGY)
        if not self.options.typing:
            await send_reply(message, rendered, quote=quote)
            return
        # "typing…" only if the answer is held up (see TYPING_DELAY); a timer costs less than a task
        typing: list[asyncio.Task[None]] = []

        def start_typing() -> None:
            typing.append(asyncio.create_task(self._keep_typing(context, message)))

        timer = asyncio.get_running_loop().call_later(self.options.typing_delay, start_typing)
        try:
            await send_reply(message, rendered, quote=quote)
        finally:
            timer.cancel()
            for task in typing:
                task.cancel()

    # handlers -------------------------------------------------------------------------------------
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._ignored_sender(message, context.bot.id):
            return
        text = self._addressed_text(message, context.bot.id, context.bot.username)
        if text is None:
            return  # group chatter that is not for us
        await self._answer(context, message, text, quote=True if update.edited_message else None)

    async def on_ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._ignored_sender(message, context.bot.id):
            return
        await self._answer(context, message, render.command_argument(message.text or ""))

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._ignored_sender(message, context.bot.id):
            return
        user = message.from_user
        group = message.chat.type != ChatType.PRIVATE
        text = render.greeting(user.first_name if user else None, self.title, group, context.bot.username)
        keyboard = render.suggestion_keyboard(self.brain.mind.answers.suggestions)
        await send_reply(message, render.Rendered(text, keyboard))

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._ignored_sender(message, context.bot.id):
            return
        core = await self._ask(None, _user_id(message), "help")
        text = render.help_text(core.text, self.title, context.bot.username)
        await send_reply(message, render.Rendered(text))

    async def on_about(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._ignored_sender(message, context.bot.id):
            return
        kb = self.brain.mind.kb
        from ..reply import SourceRef

        sources = [SourceRef(s.attribution, s.known, s.publication, s.title, s.url) for s in kb.sources.values()]
        text = render.about_text(self.title, len(kb.entities), len(kb.facts), sources)
        await send_reply(message, render.Rendered(text))

    async def on_cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._ignored_sender(message, context.bot.id):
            return
        await asyncio.to_thread(forget_context, self.brain, str(message.chat_id))
        await send_reply(message, render.Rendered(render.escape(FORGOTTEN)))

    async def on_unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._ignored_sender(message, context.bot.id):
            return
        command = (message.text or "").split(maxsplit=1)[0]
        target = command.partition("@")[2]
        if message.chat.type != ChatType.PRIVATE and target.lower() != (context.bot.username or "").lower():
            return  # another bot's command, or one not addressed to anyone in particular
        await send_reply(message, render.Rendered(render.escape(UNKNOWN_COMMAND)))

    async def on_not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._ignored_sender(message, context.bot.id):
            return
        text = NOT_TEXT.format(title=self.title)
        keyboard = render.suggestion_keyboard(self.brain.mind.answers.suggestions[:3])
        await send_reply(message, render.Rendered(render.escape(text), keyboard, text), quote=False)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        keyboard = message.reply_markup if isinstance(message, Message) else None
        question = render.question_from_callback(query.data, keyboard)
        if question is None or message is None:
            await query.answer("This button has expired: just type your question.")
            return
        await query.answer()  # stop the button's spinner at once; the answer follows as a message
        group = message.chat.type != ChatType.PRIVATE
        try:
            reply = await self._ask(str(message.chat.id), str(query.from_user.id), question)
            rendered = render.render_reply(reply, hide_spoilers=group, question=question)
        except Exception:
            log.exception("could not answer button %r in chat %s", question, message.chat.id)
            rendered = render.Rendered(render.escape(APOLOGY), None, APOLOGY)
        if isinstance(message, Message):
            await send_reply(message, rendered, quote=False)
        else:
            await context.bot.send_message(message.chat.id, rendered.text, parse_mode=ParseMode.HTML,
                                           reply_markup=rendered.keyboard)

    async def on_inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        text = query.query.strip()
        user = str(query.from_user.id)
        questions = [text] if text else list(self.brain.mind.answers.suggestions)
        results, seen = [], set()
        for number, question in enumerate(questions):
            reply = await self._ask(None, user, question)  # None: inline answers don't move any chat's topic
            if text and number == 0 and reply.kind in render.SUGGESTION_KINDS:
                questions += [s for s in reply.suggestions[:3] if s not in questions]
            article = render.inline_article(question, reply)
            if article.id not in seen:
                seen.add(article.id)
                results.append(article)
        button = InlineQueryResultsButton(text=f"Chat with me about {self.title}", start_parameter="inline")
        await query.answer(results[:10], cache_time=30, is_personal=False, button=button)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log with context and keep running; tell the user, when there is one to tell."""
        error = context.error
        where = ""
        if isinstance(update, Update):
            chat = update.effective_chat
            where = f" (update {update.update_id}, chat {chat.id if chat else '-'})"
        if isinstance(error, Forbidden):
            log.info("cannot write%s: %s", where, error)  # blocked by the user / removed from the group
            return
        if isinstance(error, SendDeferred):
            log.warning("a reply could not be sent yet%s: %s", where, error)  # the outbox sends it later
            return
        log.error("error while handling an update%s", where, exc_info=error)
        if not isinstance(update, Update) or isinstance(error, (RetryAfter, NetworkError)):
            return  # the network is what failed: an apology would fail the same way
        with contextlib.suppress(TelegramError):
            if update.callback_query is not None:
                await update.callback_query.answer(APOLOGY[:200])
            elif update.effective_message is not None and update.effective_chat is not None \
                    and update.effective_chat.type == ChatType.PRIVATE:
                await context.bot.send_message(update.effective_chat.id, APOLOGY)


def _user_id(message: Message) -> str | None:
    return str(message.from_user.id) if message.from_user else None


def forget_context(brain: Brain, chat: str) -> None:
    """/cancel: reset the chat's context in memory and in storage."""
    brain.forget(chat)


# --------------------------------------------------------------------------- building and running


def build_application(
    brain: Brain,
    settings: Settings,
    *,
    token: str | None = None,
    base_url: str | None = None,
    rate_limiter: BaseRateLimiter | None = None,
    options: FrontOptions | None = None,
    read_timeout: float = 10.0,
) -> Application:
    """An Application for `brain`, not yet started. `base_url` (else settings.telegram.api_url) points
    it at a self-hosted Bot API server or a test emulator, e.g. "http://127.0.0.1:8081/bot"."""
    token = token or settings.telegram.token
    if not token:
        raise ValueError("a bot token is required (BOT_TOKEN or telegram.token in config.yml)")
    quiet_network_logs(token)  # first: building the bot logs its URLs, token and all, at DEBUG
    options = options or FrontOptions()
    front = TelegramFront(brain, options)
    if options.http == "aiohttp":
        from .telegram_http import AiohttpRequest, RetryingAiohttpRequest
        plain, retrying = AiohttpRequest, RetryingAiohttpRequest
    elif options.http == "httpx":
        plain, retrying = HTTPXRequest, RetryingRequest
    else:
        raise ValueError(f"unknown HTTP client {options.http!r}: 'httpx' or 'aiohttp'")
    builder = (
        ApplicationBuilder()
        .token(token)
        .request(retrying(attempts=options.retry_attempts, backoff=options.retry_backoff,
                          connection_pool_size=CONNECTION_POOL_SIZE, read_timeout=read_timeout,
                          write_timeout=read_timeout, connect_timeout=5.0, pool_timeout=30.0))
        .get_updates_request(plain(connection_pool_size=2, read_timeout=read_timeout + 30, connect_timeout=5.0))
        .rate_limiter(OutboxLimiter(rate_limiter or _flood_limiter(brain, options), _outbox(brain, options),
                                    poll=options.outbox_poll))
        .concurrent_updates(PerChatUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .post_init(front.post_init)
        .post_stop(_stop_quiz)
    )
    if brain.storage is not None:  # /kbedit continues after a restart, or on another worker
        builder = builder.persistence(persistence_for(brain.storage, settings.admins))
    url = base_url or settings.telegram.api_url
    if url:
        builder = builder.base_url(url).base_file_url(_file_url(url))
    app = builder.build()
    quiz = TelegramQuiz(brain, settings, app)
    quiz.register(app)  # first: the front's catch-all for unknown commands would shadow /quiz
    if isinstance(app.bot.rate_limiter, OutboxLimiter):
        app.bot.rate_limiter.follow(LINK_PREFIX, quiz.followup)
    reloader = Reloader(brain, settings)  # one for /kb edits and the file watcher: no double rebuilds
    admin = TelegramAdmin(brain, settings, reloader=reloader)
    admin.register(app)
    app.bot_data["admin"] = admin
    app.bot_data["reloader"] = reloader
    front.register(app)
    app.bot_data["front"] = front
    app.bot_data["quiz"] = quiz
    app.bot_data["outbox"] = app.bot.rate_limiter
    return app


def _flood_limiter(brain: Brain, options: FrontOptions) -> BaseRateLimiter:  # type: ignore[type-arg]
    """Telegram's limits counted in the storage's sliding windows: by every worker together on PostgreSQL,
    by the one process on SQLite. PTB's AIORateLimiter (a leaky bucket) is left for a Brain without
    storage only: it lets a full bucket out at once, and bench/bench_cluster.py measured 57 sends in one
    second and 22 to one group in a minute with it, where Telegram allows 30 and 20."""
    if brain.storage is not None:
        return SharedRateLimiter(SendBudget(brain.storage), max_retries=options.rate_limit_retries)
    return FrontRateLimiter(max_retries=options.rate_limit_retries)


def _outbox(brain: Brain, options: FrontOptions) -> Outbox | None:
    if brain.storage is None:
        return None  # nowhere to keep messages: sent as before, lost if the network fails for good
    return Outbox(brain.storage, lease=options.outbox_lease, backoff=options.outbox_backoff)


async def _stop_quiz(app: Application) -> None:
    quiz = app.bot_data.get("quiz")
    if quiz is not None:
        await quiz.shutdown()


def front_of(app: Application) -> TelegramFront:
    return app.bot_data["front"]  # type: ignore[no-any-return]


def _file_url(base_url: str) -> str:
    head, sep, tail = base_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else base_url


def webhook_parts(webhook_url: str) -> str:
    """The local path PTB serves, taken from the public URL ("https://x/tg/hook" -> "tg/hook")."""
    return urlsplit(webhook_url).path.strip("/") or "telegram"


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    listen: str
    port: int
    secret_token: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebhookConfig":
        tg = settings.telegram
        if not tg.webhook_url:
            raise ValueError("webhook mode needs a webhook URL")
        # Without a configured secret, make one up: Telegram then proves every request is its own.
        return cls(tg.webhook_url, tg.listen, tg.port, tg.secret_token or secrets.token_urlsafe(32))


@contextlib.asynccontextmanager
async def running(app: Application, webhook: WebhookConfig | None = None, *,
                  poll_timeout: float = 10, drop_pending_updates: bool = False,
                  shared: Storage | None = None) -> AsyncIterator[Application]:
    """Run `app` inside the current event loop (tests, benchmarks, embedding); stops it on exit.

    With a webhook and a ``shared`` database (PostgreSQL), this process is one of several workers that are
    one bot: updates go through the database's inbox (bot/channels/telegram_inbox.py)."""
    try:
        async with app:
            if app.post_init is not None:
                await app.post_init(app)
            await app.start()
            updater = app.updater
            assert updater is not None
            server: WebhookServer | None = None
            cluster: InboxCluster | None = None
            if webhook is None:
                await updater.start_polling(poll_interval=0, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES,
                                            drop_pending_updates=drop_pending_updates, bootstrap_retries=5)
            else:
                quiet_network_logs(webhook.secret_token)
                if shared is not None:
                    front = app.bot_data.get("front")
                    outbox = app.bot_data.get("outbox")
                    cluster = InboxCluster(app, shared, concurrency=MAX_CONCURRENT_UPDATES,
                                           holds=_ContextHolds(front.brain) if front is not None else None,
                                           superseding=outbox.supersede if isinstance(outbox, OutboxLimiter)
                                           else None)
                    quiz = app.bot_data.get("quiz")
                    if quiz is not None:
                        quiz.judge_from_inbox()
                    await cluster.start()
                server = WebhookServer(app, secret_token=webhook.secret_token, path=webhook_parts(webhook.url),
                                       listen=webhook.listen, port=webhook.port,
                                       store=cluster.store_item if cluster is not None else None)
                try:
                    await server.start()
                    if cluster is not None:
                        await cluster.register_webhook(webhook.url, webhook.secret_token, ALLOWED_UPDATES,
                                                       lambda: _set_webhook(app, webhook, drop_pending_updates))
                    else:
                        await _set_webhook(app, webhook, drop_pending_updates)
                except BaseException:
                    await server.stop()
                    if cluster is not None:
                        await cluster.stop()
                    raise
            try:
                yield app
            finally:
                # every step bounded: a stop that hangs (a stuck request, a lost wake-up) must not hang the
                # process; it is logged and the next step runs
                outbox = app.bot_data.get("outbox")
                if isinstance(outbox, OutboxLimiter):
                    outbox.leaving()  # answers waiting to try again go to the outbox, not in the stop's way
                if cluster is not None:  # take no more updates, finish the ones in hand, free their chats
                    if server is not None:
                        await _bounded(server.stop(), "stopping the webhook server")
                        server = None
                    await _bounded(cluster.stop(), "stopping the inbox worker", cluster.stop_timeout + 5)
                quiz = app.bot_data.get("quiz")
                if quiz is not None:
                    await _bounded(quiz.shutdown(), "stopping the quiz")
                if server is not None:
                    await _bounded(server.stop(), "stopping the webhook server")
                if updater.running:
                    await _bounded(updater.stop(), "stopping the updater")
                if app.running:
                    await _bounded(app.stop(), "stopping the application")
    finally:  # after the Application's own shut-down, whose last writes (outbox rows) use them
        for storage in {id(s): s for s in (shared, _storage_of(app)) if s is not None}.values():
            await _bounded(storage.aclose(), "closing the database's connections of this loop")


class _ContextHolds:
    """The inbox's holds of chats, as the Brain's holds of their contexts (a chat's key is "chat:ID", its
    context the Brain's chat "ID", as ``_ask`` passes it; keys of no chat hold no context)."""

    def __init__(self, brain: Brain) -> None:
        self.brain = brain

    def hold(self, key: str) -> None:
        if is_chat(key):
            self.brain.hold(key.removeprefix("chat:"))

    def release(self, key: str) -> None:
        if is_chat(key):
            self.brain.release(key.removeprefix("chat:"))


def _storage_of(app: Application) -> Storage | None:
    front = app.bot_data.get("front")
    return getattr(front.brain, "storage", None) if front is not None else None


async def _bounded(step: Coroutine[Any, Any, Any], what: str, seconds: float = STOP_STEP_TIMEOUT) -> None:
    try:
        await asyncio.wait_for(step, seconds)
    except asyncio.TimeoutError:
        log.error("%s took over %.0f s; going on with the shut-down", what, seconds)
    except Exception:
        log.exception("%s failed; going on with the shut-down", what)


async def _set_webhook(app: Application, webhook: WebhookConfig, drop_pending_updates: bool,
                       attempts: int = 5) -> None:
    """Register the webhook with Telegram, retrying network errors (as PTB's bootstrap does)."""
    for attempt in range(1, attempts + 1):
        try:
            await app.bot.set_webhook(webhook.url, secret_token=webhook.secret_token,
                                      allowed_updates=ALLOWED_UPDATES, drop_pending_updates=drop_pending_updates)
            return
        except (TimedOut, NetworkError) as exc:
            if attempt == attempts:
                raise
            log.warning("setWebhook failed (%s); retry %d/%d", type(exc).__name__, attempt, attempts - 1)
            await asyncio.sleep(min(10.0, 0.5 * 2 ** (attempt - 1)))


def run_polling(app: Application, *, poll_timeout: float = 30) -> None:
    """Long polling until SIGINT/SIGTERM (blocking; owns the event loop)."""
    _run_until_stopped(app, None, poll_timeout=poll_timeout)


def run_webhook(app: Application, webhook: WebhookConfig, shared: Storage | None = None) -> None:
    """Serve the webhook (bot/channels/telegram_webhook.py) until SIGINT/SIGTERM (blocking; owns the loop);
    with a ``shared`` database, as one of the workers that are one bot (see ``running``)."""
    _run_until_stopped(app, webhook, shared=shared)


def _run_until_stopped(app: Application, webhook: WebhookConfig | None, **options: Any) -> None:
    """``running(app)`` until a stop signal, in a loop of our own (not PTB's ``run_polling``).

    A stop signal only sets an event here, so start-up and shut-down always run to the end; PTB's own
    runner stops the loop from its signal handler, which raced with a signal landing during start-up and
    ended in "Event loop stopped before Future completed" inside its shut-down.
    """

    async def serve_until_stopped() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)  # replaces the early handlers (bot/lifecycle.py)
        try:
            async with running(app, webhook, **options):
                await stop.wait()
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)
            install_early_signal_handlers()

    with owned_event_loop() as loop:  # not asyncio.run: see bot/lifecycle.py
        complete(loop, serve_until_stopped())


def serve(brain: Brain, settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    """What `python -m bot serve` runs: polling, or a webhook when settings.telegram.webhook_url is set."""
    quiet_network_logs(settings.telegram.token, settings.telegram.secret_token)
    app = build_application(brain, settings)
    # edits made with `python -m bot kb` (or by hand) reach the running bot within a second
    watcher = KnowledgeWatcher(brain, reloader=app.bot_data["reloader"]).start()
    # ...and, on a shared database, edits made on any worker or host (bot/cluster/knowledge.py)
    follower = follow(brain.storage, settings, app.bot_data["reloader"]) if brain.storage else None
    web = _start_admin_web(brain, settings, app.bot_data["reloader"]) if settings.admin_web.url else None
    tune_gc()  # after loading everything: see bot/runtime.py
    try:
        if settings.telegram.webhook_url:
            webhook = WebhookConfig.from_settings(settings)
            shared = brain.storage if brain.storage is not None and brain.storage.kind == "postgresql" else None
            if shared is not None and not settings.telegram.secret_token:
                raise ClusterSetupError("webhook workers on a shared database need one secret for all: "
                                        "give each the same --secret-token (or BOT_WEBHOOK_SECRET)")
            if on_ready:
                on_ready(f"webhook on {webhook.listen}:{webhook.port}/{webhook_parts(webhook.url)}"
                         + (", one of the workers sharing the database" if shared is not None else ""))
            run_webhook(app, webhook, shared)
        else:
            if on_ready:
                on_ready("long polling" + (f" against {settings.telegram.api_url}" if settings.telegram.api_url
                                           else ""))
            run_polling(app)
    finally:
        watcher.stop()
        if follower is not None:
            follower.stop()
        if web is not None:
            web.stop()


def _start_admin_web(brain: Brain, settings: Settings, reloader: Reloader):  # type: ignore[no-untyped-def]
    """The admin Mini App in this process, sharing the Brain and the reloader of /kb and the file watcher."""
    from ..storage import Storage, open_storage
    from ..webadmin import WebServer, build_admin_web

    conf = settings.admin_web
    storage = brain.storage or open_storage(settings.database)
    server = WebServer(build_admin_web(settings, brain, storage, reloader), conf.listen, conf.port).start()
    log.info("admin app on %s (opened from %s)", server.url, conf.url)
    return server
