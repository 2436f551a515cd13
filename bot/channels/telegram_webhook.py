"""The webhook endpoint Telegram POSTs updates to: an aiohttp server feeding the Application's update queue.

    server = WebhookServer(app, secret_token="...", path="tg/hook", listen="127.0.0.1", port=8443)
    await server.start()            # then app.bot.set_webhook(url, secret_token=...)
    ...
    await server.stop()

It replaces python-telegram-bot's own (tornado) webhook server, which answers a malformed or non-UTF-8
body with 500, a JSON array with 400 and a CRITICAL traceback carrying the body, takes bodies up to
100 MB, and logs every body at DEBUG. Here, in this order:

- wrong path 404; not POST 405; no or a wrong ``X-Telegram-Bot-Api-Secret-Token`` 403 (compared in
  constant time);
- a ``Content-Encoding`` other than identity 415 (Telegram never compresses, and refusing is the only
  limit a decompression bomb respects); not ``application/json`` 415;
- over ``MAX_UPDATE_BYTES`` 413 (checked on Content-Length, and while reading, for chunked bodies);
- not UTF-8, not JSON, nested too deep, not an object, or not an update 400;

each refusal with one log line (never the body, never a traceback). An accepted update is put on
``app.update_queue``, exactly where PTB's server puts it, and answered 200 at once; or, given ``store``
(several workers on one database: bot/channels/telegram_inbox.py), handed to it with its JSON text and
answered 200 only once ``store`` returns (the update is committed), 500 if it fails, so that Telegram
delivers it again rather than lose it. There the update is not built when its chat can be read from its
JSON (telegram_inbox.quick_key): the worker that handles it builds it, and gives up on one it cannot.
"""
from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application, ExtBot

from ..cluster.inbox import StoredUpdate
from ..incoming import BadInput, TooLarge, decode_object, field
from .telegram_inbox import quick_key, update_key

log = logging.getLogger(__name__)
# Telegram's largest updates (a message with 4,096 characters of text and as many entities, a poll, a
# reply to another message) are tens of KB; 1 MB leaves room and bounds what a stranger can make us read.
MAX_UPDATE_BYTES = 1 << 20
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    def __init__(self, app: Application, *, secret_token: str, path: str, listen: str, port: int,
                 max_body: int = MAX_UPDATE_BYTES,
                 store: Callable[[StoredUpdate], Awaitable[None]] | None = None) -> None:
        self.app, self.secret, self.listen, self.port, self.max_body = app, secret_token, listen, port, max_body
        self.store = store
        self.path = "/" + path.strip("/")
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        web_app = web.Application(client_max_size=self.max_body)
        web_app.router.add_route("*", self.path, self._handle)
        web_app.router.add_route("*", self.path + "/", self._handle)
        # auto_decompress off: a compressed body is refused, never inflated
        self._runner = web.AppRunner(web_app, access_log=None, auto_decompress=False, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        log.info("webhook server listening on %s:%d%s", self.listen, self.port, self.path)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return _refuse(request, 405, "only POST is accepted")
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                                    self.secret.encode("utf-8")):
            return _refuse(request, 403, "no secret token" if given is None else "wrong secret token")
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding != "identity":
            return _refuse(request, 415, f"compressed bodies are not accepted ({encoding[:40]})")
        if request.content_type != "application/json":
            return _refuse(request, 415, f"expected application/json, not {request.content_type[:60]}")
        if (request.content_length or 0) > self.max_body:
            return _refuse(request, 413, f"body over {self.max_body} bytes")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _refuse(request, 413, f"body over {self.max_body} bytes")
        try:
            data = parse_update_json(raw, self.max_body)
            key = quick_key(data) if self.store is not None else None
            if key is not None:  # stored for whichever worker handles it, which builds the Update
                return await self._stored(StoredUpdate(int(data["update_id"]), key, raw.decode("utf-8")))
            update = Update.de_json(data, self.app.bot)
        except TooLarge as exc:
            return _refuse(request, 413, str(exc))
        except BadInput as exc:
            return _refuse(request, 400, str(exc))
        except Exception as exc:  # PTB could not build an Update from this object
            return _refuse(request, 400, f"not an update ({type(exc).__name__})")
        if update is None:
            return _refuse(request, 400, "not an update")
        if self.store is not None:
            return await self._stored(StoredUpdate(update.update_id, update_key(update), raw.decode("utf-8")))
        if isinstance(self.app.bot, ExtBot):
            self.app.bot.insert_callback_data(update)
        await self.app.update_queue.put(update)
        return web.json_response({"ok": True})


    async def _stored(self, item: StoredUpdate) -> web.Response:
        assert self.store is not None
        try:
            await self.store(item)
        except Exception as exc:  # the database is away: Telegram retries what is not answered 200
            log.error("webhook could not keep update %d (%s: %s); Telegram will deliver it again",
                      item.update_id, type(exc).__name__, str(exc)[:200])
            return web.json_response({"ok": False, "error": "try again"}, status=500)
        return web.json_response({"ok": True})


def parse_update_json(raw: bytes, limit: int = MAX_UPDATE_BYTES) -> dict[str, Any]:
    """The update object in ``raw`` (bot/incoming.py decodes it); BadInput says why it is not one.

    >>> parse_update_json(b'{"update_id": 1}')
    {'update_id': 1}
    """
    data = decode_object(raw, limit=limit, expected="a JSON object with an update_id")
    field(data, "update_id", (int,), required=True)
    return data


def _refuse(request: web.Request, status: int, reason: str) -> web.Response:
    log.warning("webhook refused a request from %s: %d %s", request.remote or "-", status, reason)
    return web.json_response({"ok": False, "error": reason}, status=status)
