"""Answering a message in its chat: the one way the chat, quiz and admin handlers reply to someone.

In groups the answer quotes the question (several people may be asking at once); in a forum topic it
stays in that topic. If Telegram rejects the HTML ("can't parse entities": a bug on our side), the words
are sent again as plain text, since they matter more than the formatting. An answer is tagged for the
outbox (bot/channels/telegram_outbox.py) with its question's time: if Telegram cannot be reached, it is
sent later, by any worker, and apologises when it comes more than a minute after the question.
"""
from __future__ import annotations

import logging

from telegram import Message
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest

from .telegram_outbox import OutboxLimiter, SendTag
from .telegram_render import Rendered

log = logging.getLogger(__name__)


async def reply(message: Message, rendered: Rendered, *, quote: bool | None = None) -> None:
    """Send `rendered` to `message`'s chat; `quote` defaults to quoting in groups only."""
    if quote is None:
        quote = message.chat.type != ChatType.PRIVATE
    bot = message.get_bot()
    thread = message.message_thread_id if message.is_topic_message else None
    extra: dict[str, object] = {"reply_to_message_id": message.message_id,
                                "allow_sending_without_reply": True} if quote else {}
    if isinstance(getattr(bot, "rate_limiter", None), OutboxLimiter):
        extra["rate_limit_args"] = SendTag("answer", asked=message.date.timestamp())
    try:
        await bot.send_message(message.chat_id, rendered.text, parse_mode=ParseMode.HTML,
                               reply_markup=rendered.keyboard, message_thread_id=thread, **extra)
    except BadRequest as exc:
        if not rendered.plain or "parse entities" not in str(exc).lower():
            raise
        log.error("Telegram rejected our HTML (%s); sending plain text", exc)
        await bot.send_message(message.chat_id, rendered.plain, reply_markup=rendered.keyboard,
                               message_thread_id=thread, **extra)
