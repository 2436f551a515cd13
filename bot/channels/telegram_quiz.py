"""Quizzes in Telegram: commands, quiz polls, typed answers. Telegram plumbing only; rules live in bot/quiz.

Typed answers are judged in handler group -1, before the chat handlers: a message that was an answer
stops there (ApplicationHandlerStop), anything else falls through to the Brain as usual. Games live in the
database, so every worker of one bot knows every chat's game: an answer is judged by whichever gets it.
Every engine call touches the database and runs in a worker thread, off the event loop.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode, PollType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from ..cluster.inbox import answers_waiting, received_at
from ..config import Settings
from ..dialogue import Brain
from ..quiz import Posted, QuizError, QuizRunner, build_engine, render
from ..quiz.runner import showing
from ..quiz.bank import Question
from ..quiz.state import Game, Round
from ..storage import Storage, open_storage
from . import telegram_render as tg_render
from .telegram_outbox import SendDeferred, SendTag, Unwanted
from .telegram_send import reply as send_reply

log = logging.getLogger(__name__)
ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
NOT_ALLOWED = "Only this chat's admins (or whoever started the quiz) can do that."
SETTINGS_NOT_ALLOWED = "Only this chat's admins can change the quiz settings."
LINK_PREFIX = "quiz"


def html(text: str, bold_first_line: bool = False) -> str:
    """Plain quiz text as Telegram HTML: everything escaped, the first line optionally bold."""
    if not bold_first_line:
        return tg_render.escape(text)
    first, _, rest = text.partition("\n")
    return f"<b>{tg_render.escape(first)}</b>" + (f"\n{tg_render.escape(rest)}" if rest else "")


def question_link(game: Game, rnd: Round) -> str:
    """The outbox link of a round's question message (telegram_outbox.Followup)."""
    return f"{LINK_PREFIX}:{game.id}:{rnd.number}"


def parse_link(link: str) -> tuple[str, int] | None:
    """``quiz:<game>:<round>`` -> (game, round); None for anything else."""
    prefix, game_id, number = (link.split(":") + ["", ""])[:3]
    return (game_id, int(number)) if prefix == LINK_PREFIX and game_id and number.isdigit() else None


class TelegramQuizIO:
    """How the runner's messages reach Telegram: one message per question, edited for hint and reveal."""

    def __init__(self, app: Application) -> None:
        self.app = app

    async def send_question(self, game: Game, rnd: Round, question: Question) -> Posted:
        bot = self.app.bot
        # a late delivery finds its round; urgent: the game waits for it (see telegram_limits.Urgent)
        tag = SendTag(kind="post", link=question_link(game, rnd), urgent=True, settles=showing())
        try:
            if game.mode == "poll":
                message = await bot.send_poll(
                    int(game.chat), render.clip(render.poll_question(game, rnd, question), 300),
                    [render.clip(o, 100) for o in rnd.options], is_anonymous=False, type=PollType.QUIZ,
                    correct_option_ids=rnd.correct, explanation=render.poll_explanation(question),
                    open_period=game.seconds, rate_limit_args=tag)
                return Posted(message.message_id, message.poll.id if message.poll else None)
            message = await bot.send_message(int(game.chat), html(render.question_text(game, rnd, question), True),
                                             parse_mode=ParseMode.HTML, rate_limit_args=tag)
        except SendDeferred as exc:  # in the outbox: QuizFollowup records it when some worker delivers it
            log.info("quiz question %s in chat %s waits in the outbox: %s", rnd.number, game.chat, exc)
            return Posted(None)
        except Unwanted as exc:  # the game moved on while it waited for its place, or another worker shows it
            log.info("quiz question %s in chat %s not sent: %s", rnd.number, game.chat, exc)
            return Posted(None)
        return Posted(message.message_id)

    async def edit_question(self, game: Game, message_id: int, text: str) -> None:
        await self.app.bot.edit_message_text(html(text, True), int(game.chat), message_id, parse_mode=ParseMode.HTML,
                                             rate_limit_args=SendTag(urgent=True, settles=showing()))

    async def close_poll(self, game: Game, message_id: int) -> None:
        await self.app.bot.stop_poll(int(game.chat), message_id, rate_limit_args=SendTag(urgent=True, settles=showing()))

    async def send_text(self, chat: str, text: str, reply_to: int | None = None) -> None:
        extra: dict[str, Any] = {"reply_to_message_id": reply_to, "allow_sending_without_reply": True} if reply_to else {}
        await self.app.bot.send_message(int(chat), html(text, True), parse_mode=ParseMode.HTML,
                                        rate_limit_args=SendTag(kind="post", urgent=True, settles=showing()), **extra)


class QuizFollowup:
    """The outbox's ``Followup`` for quiz questions: a question resent after its first send failed is
    posted only while its round is still the chat's, and once delivered (by whichever worker), its
    message is recorded on the game, so its hint and reveal edit it like any other."""

    def __init__(self, runner: QuizRunner) -> None:
        self.runner = runner

    async def wanted(self, chat: str, link: str) -> bool:
        parsed = parse_link(link)
        return parsed is not None and await self.runner.still_asking(chat, *parsed)

    async def delivered(self, chat: str, link: str, message: dict[str, Any]) -> None:
        parsed = parse_link(link)
        message_id = message.get("message_id")
        if parsed is None or not isinstance(message_id, int):
            return
        poll = message.get("poll")
        poll_id = str(poll["id"]) if isinstance(poll, dict) and poll.get("id") else None
        await self.runner.delivered_late(chat, parsed[0], parsed[1], message_id, poll_id)


class TelegramQuiz:
    def __init__(self, brain: Brain, settings: Settings, app: Application, storage: Storage | None = None) -> None:
        self.settings = settings
        storage = storage or brain.storage or open_storage(":memory:")
        self.engine = build_engine(settings, storage, lambda: brain.mind.kb)
        # Timers are due events in the database, fired by a poller on the loop PTB runs (bot/quiz/poller.py),
        # not JobQueue: a job lives in one process, and APScheduler spends ~0.5 ms adding each one.
        self.runner = QuizRunner(self.engine, TelegramQuizIO(app))
        self.followup = QuizFollowup(self.runner)  # for the outbox: questions it delivers late

    def register(self, app: Application) -> None:
        new = filters.UpdateType.MESSAGE
        app.add_handler(CommandHandler("quiz", self.on_quiz, filters=new))
        app.add_handler(CommandHandler("skip", self.on_skip, filters=new))
        app.add_handler(CommandHandler("stop", self.on_stop, filters=new))
        app.add_handler(CommandHandler("score", self.on_score, filters=new))
        app.add_handler(CommandHandler("leaderboard", self.on_leaderboard, filters=new))
        app.add_handler(CommandHandler("quizsettings", self.on_settings, filters=new))
        app.add_handler(PollAnswerHandler(self.on_poll_answer))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & new, self.on_answer), group=-1)

    def judge_from_inbox(self) -> None:
        """Updates wait in the database's inbox before a worker handles them (bot/channels/telegram_inbox.py):
        a question's deadline waits for the answers that came in time and wait there still (engine
        ``answers_waiting``); each is judged by when it came (``received_at``)."""
        self.engine.answers_waiting = answers_waiting

    async def shutdown(self, app: Application | None = None) -> None:
        """Stop firing timers (bounded): every game and its timers are already saved, for whichever worker
        or start comes next."""
        await self.runner.stop_timers()

    async def resume(self) -> None:
        """Start firing due timers: games a restart interrupted carry on, as do a dead worker's."""
        try:
            await self.runner.start_timers()
        except Exception:  # noqa: BLE001 - a broken old game must not keep the bot from starting
            log.exception("could not start the quiz timers")

    # commands --------------------------------------------------------------------------------------
    async def on_quiz(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        arg = tg_render.command_argument(message.text or "").strip().lower()
        count: int | None = None
        mode: str | None = None
        for word in arg.split()[:2]:
            if word.isdigit():
                count = int(word)
            elif word in ("poll", "text"):
                mode = word
            else:
                await self._reply(message, "Usage: /quiz, /quiz 10, or /quiz 5 text (typed answers).")
                return
        try:
            await self.runner.start(str(message.chat_id), str(message.from_user.id), _name(message), count, mode)
        except QuizError as exc:
            await self._reply(message, str(exc))

    async def on_skip(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._guarded(update, context, self.runner.skip)

    async def on_stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._guarded(update, context, self.runner.stop)

    async def _guarded(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                       action: Callable[[str], Awaitable[None]]) -> None:
        message = update.effective_message
        if message is None:
            return
        chat = str(message.chat_id)
        game = await asyncio.to_thread(self.engine.running, chat)
        if game is None:
            await self._reply(message, "No quiz is running here. Start one with /quiz!")
            return
        starter = message.from_user is not None and str(message.from_user.id) == game.started_by
        if not starter and not await self._is_chat_admin(message, context):
            await self._reply(message, NOT_ALLOWED)
            return
        try:
            await action(chat)
        except QuizError as exc:
            await self._reply(message, str(exc))

    async def on_score(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        game = await asyncio.to_thread(self.engine.running, str(message.chat_id))
        await self._reply(message, render.score_text(game, self.engine.standings(game) if game else []))

    async def on_leaderboard(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        everywhere = tg_render.command_argument(message.text or "").strip().lower() in ("global", "all", "world")
        chat = None if everywhere else str(message.chat_id)
        scope = "every chat" if everywhere else "this chat"
        board = await asyncio.to_thread(self.engine.leaderboard, chat)
        await self._reply(message, render.leaderboard_text(board, scope))

    async def on_settings(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        chat = str(message.chat_id)
        words = tg_render.command_argument(message.text or "").replace("=", " ").split()
        if not words:
            await self._reply(message, render.settings_text(await asyncio.to_thread(self.engine.settings, chat)))
            return
        if not await self._is_chat_admin(message, context):
            await self._reply(message, SETTINGS_NOT_ALLOWED)
            return
        if len(words) != 2:
            await self._reply(message, "Usage: /quizsettings seconds 30 (or questions, mode, difficulty).")
            return
        try:
            updated = await asyncio.to_thread(self.engine.change_setting, chat, words[0], words[1])
        except QuizError as exc:
            await self._reply(message, str(exc))
            return
        await self._reply(message, "✅ Saved. " + render.settings_text(updated))

    # answers ---------------------------------------------------------------------------------------
    async def on_answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = message.from_user if message else None
        if message is None or user is None or user.is_bot or not message.text:
            return
        outcome = await self.runner.on_text(str(message.chat_id), str(user.id), _name(message), message.text,
                                            message.message_id, at=received_at())
        if outcome.verdict is not None or not outcome.first_try:
            raise ApplicationHandlerStop  # it was a quiz answer: the chat bot must not answer it too

    async def on_poll_answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        answer = update.poll_answer
        if answer is None or answer.user is None:
            return  # votes on behalf of a chat carry no user: nobody to score
        # judged by when it came, not when this worker got to it (behind a backlog, or a killed worker)
        await self.runner.on_poll_answer(answer.poll_id, str(answer.user.id), answer.user.full_name,
                                         list(answer.option_ids), at=received_at())

    # helpers ---------------------------------------------------------------------------------------
    async def _is_chat_admin(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        if message.chat.type == ChatType.PRIVATE:
            return True
        if message.sender_chat is not None and message.sender_chat.id == message.chat_id:
            return True  # an anonymous admin posting as the group
        user = message.from_user
        if user is None:
            return False
        if user.id in self.settings.admins:
            return True
        try:
            member = await context.bot.get_chat_member(message.chat_id, user.id)
        except TelegramError as exc:
            log.warning("could not check admin rights in chat %s: %s", message.chat_id, exc)
            return False
        return member.status in ADMIN_STATUSES

    async def _reply(self, message: Message, text: str) -> None:
        await send_reply(message, tg_render.Rendered(html(text, True), plain=text))


def _name(message: Message) -> str:
    user = message.from_user
    return user.full_name if user else "Someone"
