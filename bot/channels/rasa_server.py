"""The rasa-sdk action server for bot.channels.rasa_actions, run in this process.

rasa-sdk's own ``run`` goes through Sanic's worker manager: a worker process plus multiprocessing's
resource tracker, bound to 0.0.0.0 unless SANIC_HOST is set, and a SIGTERM in its first second can hang it.
Here the app comes from ``rasa_sdk.endpoint.create_app`` (same routes: /health, /actions, /webhook) and is
served by ``Sanic.create_server`` on our own asyncio loop, in one process, on 127.0.0.1 by default:

- SIGINT/SIGTERM at any moment stop it: before the loop runs they raise ``Shutdown`` (the CLI exits);
  once it runs they set an event, the server closes its socket and connections, and ``serve`` returns.
- /webhook bodies are checked first: over 4 MB as sent or once inflated -> 413 (a deflate body is inflated
  only up to the limit); another Content-Encoding -> 415; not UTF-8 JSON, nested too deep, or not an
  object -> 400 with an error body and one log line, never a traceback; a tracker with missing or
  odd-typed fields is completed with defaults; an unknown action stays rasa-sdk's 404.
- Errors keep their HTTP status (404 for an unknown route) instead of rasa-sdk's blanket 500.
"""
from __future__ import annotations

import asyncio
import json
import logging
import zlib
from typing import Any, Callable

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request

from ..incoming import BadInput, TooLarge, decode_object, field
from ..lifecycle import STOP_SIGNALS, Shutdown, install_early_signal_handlers  # noqa: F401 (Shutdown: re-exported)
from ..runtime import tune_gc
from . import rasa_actions

log = logging.getLogger(__name__)
ACTIONS_MODULE = "bot.channels.rasa_actions"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055
MAX_BODY = 4 * 1024 * 1024  # bytes, as sent and once inflated


def build_app(brain: Any = None) -> Sanic:
    if brain is not None:
        rasa_actions.configure(brain)
    executor = ActionExecutor()
    executor.register_package(ACTIONS_MODULE)
    app = create_app(executor, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = MAX_BODY
    app.config.ACCESS_LOG = False
    app.on_request(_check_webhook_body, priority=100)
    app.error_handler.add(SanicException, _sanic_error)
    return app


def _bad(message: str, status: int = 400) -> response.HTTPResponse:
    return response.json({"error": message}, status=status)


def _refuse(request: Request, message: str, status: int = 400) -> response.HTTPResponse:
    """A body we cannot take: one log line (never the body, never a traceback) and the client told why."""
    log.warning("refused %s %s from %s: %d %s", request.method, request.path, request.ip or "-", status, message)
    return _bad(message, status)


class BodyTooLarge(ValueError):
    pass


def inflate(data: bytes, limit: int) -> bytes:
    """Decompress a deflate (zlib) body, refusing it as soon as it grows past ``limit`` bytes: a 400 KB
    body can expand to gigabytes, so the limit must hold for what comes out, not what goes in."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge(limit)
    out += inflater.flush()
    if len(out) > limit:
        raise BodyTooLarge(limit)
    if not inflater.eof:
        raise zlib.error("incomplete or truncated stream")
    return out


async def _check_webhook_body(request: Request) -> response.HTTPResponse | None:
    if request.path != "/webhook" or request.method != "POST":
        return None
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:  # (Sanic runs this middleware on its own PayloadTooLarge error too)
        return _refuse(request, f"Request body exceeds the size limit ({MAX_BODY} bytes)", 413)
    raw = request.body or b""
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "deflate"):
        return _refuse(request, f"Content-Encoding {encoding[:40]!r} is not supported (use deflate or none)", 415)
    deflated = encoding == "deflate"
    if deflated:
        try:
            raw = inflate(raw, MAX_BODY)
        except BodyTooLarge:
            return _refuse(request, f"Request body exceeds the size limit ({MAX_BODY} bytes) once inflated", 413)
        except zlib.error as exc:
            return _refuse(request, f"Invalid body request: not deflate data ({exc})")
    try:
        body = decode_object(raw, limit=MAX_BODY, expected="a JSON object with next_action, tracker and domain")
        action = field(body, "next_action", (str,), required=True, nonempty=True)
    except TooLarge:
        return _refuse(request, f"Request body exceeds the size limit ({MAX_BODY} bytes)", 413)
    except BadInput as exc:
        return _refuse(request, f"Invalid body request: {exc}")
    for key, required in (("tracker", True), ("domain", False)):
        try:
            field(body, key, (dict,), required=required)
        except BadInput as exc:
            log.warning("refused %s %s: %s", request.method, request.path, exc)
            return response.json({"error": f"Invalid body request: {exc}", "action_name": action}, status=400)
    tracker = body["tracker"]
    if not isinstance(body.get("version"), str):
        body.pop("version", None)
    sender = tracker.get("sender_id", body.get("sender_id"))
    tracker["sender_id"] = str(sender) if isinstance(sender, (str, int)) and str(sender) else "default"
    for key, kind, default in (("slots", dict, {}), ("latest_message", dict, {}), ("events", list, []),
                               ("active_loop", dict, {}), ("stack", list, [])):
        if not isinstance(tracker.get(key), kind):
            tracker[key] = default
    for key in ("followup_action", "latest_action_name", "user_id"):
        if tracker.get(key) is not None and not isinstance(tracker.get(key), str):
            tracker[key] = None
    tracker["paused"] = bool(tracker.get("paused", False))
    # rasa-sdk reads the parsed body (or, for deflate, decompresses the raw one): hand it the checked one.
    request.parsed_json = body
    if deflated:
        request.body = zlib.compress(json.dumps(body).encode())
    return None


async def _sanic_error(request: Request, exc: SanicException) -> response.HTTPResponse:
    status = getattr(exc, "status_code", 500) or 500
    if status >= 500:
        log.error("error on %s %s", request.method, request.path, exc_info=exc)
    return _bad(str(exc) or type(exc).__name__, status)


async def serve_async(app: Sanic, host: str, port: int, ready: Callable[[str], None] | None = None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)  # replaces the early handlers, from here on
    server = await app.create_server(host=host, port=port, return_asyncio_server=True, access_log=False)
    if server is None:
        raise OSError(f"could not listen on {host}:{port}")
    try:
        await server.startup()
        await server.before_start()
        await server.after_start()
        if ready:
            ready(f"http://{host}:{port}")
        await stop.wait()
        await server.before_stop()
    finally:
        server.close()
        await server.wait_closed()
        try:
            await server.after_stop()
        except Exception:  # the socket is closed: nothing left worth failing over
            log.debug("after_stop failed", exc_info=True)
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        install_early_signal_handlers()  # a second signal while stopping still ends it quietly


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, brain: Any = None,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM. Call ``install_early_signal_handlers`` first (the CLI does)."""
    app = build_app(brain)
    tune_gc()  # a long-running server, like the Telegram front: see bot/runtime.py
    asyncio.run(serve_async(app, host, port, ready))
