"""Logs never hold a secret (the bot token, the webhook secret), at any level, and stay a sane size.

    protect_logs(settings.telegram.token, webhook.secret_token)   # before the first request is made

python-telegram-bot logs request URLs (they carry the token) and, at DEBUG, every Bot API call with its
parameters (setWebhook's carry the secret) and every result (getUpdates' carry whole update bodies: one
20 MB update made a 42 MB log line). A handler filter would cover only the handlers that exist when it is
added; so this wraps the log-record factory instead, and every record any logger creates, for any handler
added before or after, is cleaned once when it is made:

- each registered secret (and its URL-encoded form) becomes ``<redacted>``, in the message, its
  arguments and a traceback's text;
- a DEBUG record's message is cut to ``MAX_DEBUG_CHARS`` (``MAX_CHARS`` at other levels), saying how much
  was left out.

Records below a logger's level are never created, so a quiet logger costs nothing.
"""
from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import quote

MAX_DEBUG_CHARS = 2_000
MAX_CHARS = 20_000
MIN_SECRET = 6  # shorter "secrets" would redact ordinary words
REDACTED = "<redacted>"

_secrets: set[str] = set()
_lock = threading.Lock()
_installed: list[Any] = []  # the factory we wrapped, once installed


def protect_logs(*secrets: str | None) -> None:
    """Keep these values out of every log record from now on (idempotent; None and "" are ignored)."""
    with _lock:
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET:
                _secrets.update({secret, quote(secret, safe=""), quote(secret)})
        if not _installed:
            previous = logging.getLogRecordFactory()
            _installed.append(previous)

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                return scrub(previous(*args, **kwargs))

            logging.setLogRecordFactory(factory)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):  # longest first: a secret may contain another
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """The record with secrets redacted and an oversized message cut (in place; returned for chaining)."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it when the record is emitted
        return record
    clean = redact(message) if _secrets else message
    limit = MAX_DEBUG_CHARS if record.levelno <= logging.DEBUG else MAX_CHARS
    if len(clean) > limit:
        clean = f"{clean[:limit]}… [{len(clean) - limit} more characters not logged]"
    if clean is not message:
        record.msg, record.args = clean, None
    if _secrets and record.exc_info and not record.exc_text:
        # formatters reuse exc_text once it is set, so the traceback is redacted too
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if _secrets and record.exc_text:
        record.exc_text = redact(record.exc_text)
    if _secrets and record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record
